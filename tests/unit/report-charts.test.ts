import { describe, expect, it } from 'vitest';
import { dataQualityChart, textWidth, wrapLines } from '../../activities/report/charts';
import { churnModelsSection } from '../../activities/report/sections/churn-models';

/** A quarantine reason as load gives it for an id a spreadsheet wrote in scientific notation (an analyst's input). */
const SCIENTIFIC =
  '用户ID (subscriber_id): a number in scientific notation (1.38E+10): a spreadsheet rounded the id; export the id column as text';

/** A phone's width in CSS px (the analyst's 390 px), less the page's and the section's padding and borders. */
const PHONE_SECTION = 390 - 2 * 12 - 2 * 12 - 2;

/** The text marks of one Vega role, each as its lines (tspans), with its x and anchor. */
function textMarks(svg: string, role: string): { lines: string[]; x: number; anchor: string }[] {
  return svg
    .split(`role-${role}`)
    .slice(1)
    .flatMap((part) =>
      [...part.split('</g>')[0].matchAll(/<text([^>]*)>(.*?)<\/text>/g)].map(([, attributes, body]) => ({
        lines: body.includes('<tspan') ? [...body.matchAll(/<tspan[^>]*>([^<]*)<\/tspan>/g)].map((m) => m[1]) : [body],
        x: Number(/translate\(([-\d.]+),/.exec(attributes)?.[1]),
        anchor: /text-anchor="(\w+)"/.exec(attributes)?.[1] ?? 'start',
      })),
    );
}

/** The bars of a chart: their fill and width (Vega draws a bar as a path "M x,y h width v height h -width Z"), by aria-label. */
function bars(svg: string): { label: string; fill: string; width: number }[] {
  return [
    ...svg.matchAll(
      /<path aria-label="([^"]*)"[^>]*aria-roledescription="bar" d="M[-\d.]+,[-\d.]+h([-\d.]+)[^"]*" fill="([^"]+)"/g,
    ),
  ].map(([, label, width, fill]) => ({ label, fill, width: Number(width) }));
}

/** The x axis's labels of a chart (a y axis's stand left of the plot, at x < 0), each as the span it covers. */
function xAxisLabels(svg: string): { text: string; from: number; to: number }[] {
  return textMarks(svg, 'axis-label')
    .filter((label) => label.x >= 0)
    .map(({ lines, x, anchor }) => {
      const width = textWidth({ fontSize: 10 }, lines[0]);
      const from = anchor === 'start' ? x : anchor === 'end' ? x - width : x - width / 2;
      return { text: lines[0], from, to: from + width };
    });
}

/** Where the plot starts in the chart: the left padding that holds the y axis's labels. */
const plotLeft = (svg: string) => Number(/<g[^>]* transform="translate\(([\d.]+),[\d.]+\)"/.exec(svg)?.[1]);

describe('report charts', () => {
  it('wraps a text into lines no wider than asked, cutting a word wider than a line, and cuts the lines past the last with "…"', () => {
    const lines = wrapLines(SCIENTIFIC, 180, 10, 4);
    expect(lines.join(' ')).toBe(SCIENTIFIC);
    for (const line of lines) expect(textWidth({ fontSize: 10 }, line)).toBeLessThanOrEqual(180);
    expect(wrapLines('a_column_name_far_too_long_for_one_line_of_the_chart', 60, 10, 9).join('')).toBe(
      'a_column_name_far_too_long_for_one_line_of_the_chart',
    );
    const cut = wrapLines(SCIENTIFIC, 180, 10, 2);
    expect(cut).toHaveLength(2);
    expect(cut[1].endsWith('…')).toBe(true);
    expect(textWidth({ fontSize: 10 }, cut[1])).toBeLessThanOrEqual(180);
  });

  it("data quality: a long quarantine reason is wrapped, not drawn on one line, so the bars start inside a phone's screen", async () => {
    const reasons = [SCIENTIFIC, 'repeated header row', '账期 (month): not a valid date'];
    const svg = await dataQualityChart([
      { outcome: 'loaded', rows: 116_352, kind: 'loaded' },
      ...reasons.map((outcome) => ({ outcome, rows: 1, kind: 'quarantined' as const })),
    ]);
    const labels = textMarks(svg, 'axis-label');
    // every reason whole, in lines the axis draws one under the other
    for (const reason of reasons) expect(labels.map((l) => l.lines.join(' '))).toContain(reason);
    const scientific = labels.find((l) => l.lines[0].startsWith('用户ID'));
    expect(scientific?.lines.length).toBeGreaterThan(1);
    for (const label of labels)
      for (const line of label.lines) expect(textWidth({ fontSize: 10 }, line)).toBeLessThan(200);
    // the label column was ~540 px: the first bar began off a 390 px screen
    expect(plotLeft(svg)).toBeLessThan(PHONE_SECTION - 100);
  });

  it('data quality: a reason with 1 row has a bar, and rows of months outside the window are grey, last, and said to be no error', async () => {
    const svg = await dataQualityChart([
      { outcome: 'loaded', rows: 116_352, kind: 'loaded' },
      { outcome: 'month: outside the run window', rows: 90_927, kind: 'left out' },
      { outcome: 'repeated header row', rows: 1, kind: 'quarantined' },
      { outcome: 'duplicate (subscriber_id, month)', rows: 3, kind: 'quarantined' },
    ]);
    const drawn = bars(svg);
    const bar = (outcome: string) => drawn.find((b) => b.label.endsWith(`outcome: ${outcome}`));
    // on a log axis from 1, 1 row was a bar of no length: only its count showed
    expect(bar('repeated header row')?.width).toBeGreaterThan(10);
    expect(bar('duplicate (subscriber_id, month)')?.width).toBeGreaterThan(bar('repeated header row')?.width ?? 0);
    expect(bar('loaded')?.fill).toBe('#16a34a');
    expect(bar('repeated header row')?.fill).toBe('#dc2626');
    // the rows left out were as red as the errors, and second, nearly as long as the loaded
    expect(bar('month: outside the run window')?.fill).toBe('#9ca3af');
    expect(textMarks(svg, 'axis-label').map((l) => l.lines.join(' '))).toEqual([
      // the x axis: powers of 10 from 1, though the bars start below it
      '1',
      '10',
      '100',
      '1k',
      '10k',
      '100k',
      '1M',
      'loaded',
      'duplicate (subscriber_id, month)',
      'repeated header row',
      'month: outside the run window',
    ]);
    expect(textMarks(svg, 'legend-label').map((l) => l.lines.join(' '))).toEqual([
      'loaded',
      'quarantined: broke the input contract',
      'left out: a month outside the run window, not an error',
    ]);
    // no legend for a month with nothing quarantined
    expect(await dataQualityChart([{ outcome: 'loaded', rows: 10, kind: 'loaded' }])).not.toContain('role-legend');
  });

  it("reliability: the x axis's labels leave room between them (they read '0.000.02' and '0.180.20')", async () => {
    const tree = {
      name: 'tree',
      rocAuc: 0.8,
      prAuc: 0.3,
      precisionAtTopDecile: 0.2,
      liftByDecile: [3, 1, 1, 1, 1, 1, 1, 0.5, 0.5, 0.5],
      roc: [
        { fpr: 0, tpr: 0 },
        { fpr: 1, tpr: 1 },
      ],
    };
    // the analyst's report: the riskiest bin near 0.19, so both axes run to 0.20
    const reliability = [
      { predicted: 0.001, observed: 0.001, rows: 3_000 },
      { predicted: 0.004, observed: 0.006, rows: 600 },
      { predicted: 0.02, observed: 0.015, rows: 300 },
      { predicted: 0.19, observed: 0.185, rows: 60 },
    ];
    const { html } = await churnModelsSection({
      scoringModel: 'boosted',
      models: [tree, { ...tree, name: 'boosted ensemble' }],
      holdout: { rows: 4_043, churners: 84 },
      calibration: {
        trees: 35,
        a: 1,
        b: 0,
        applied: true,
        brierUncalibrated: 0.02,
        brierCalibrated: 0.019,
        reliability,
      },
      exactReasons: 0,
    });
    const svg = html.split('<svg').find((chart) => chart.includes('Reliability of the churn probabilities')) ?? '';
    const labels = xAxisLabels(svg);
    expect(labels.map((l) => l.text)).toEqual(['0%', '5%', '10%', '15%', '20%']);
    // a browser's font is a little wider than the metrics (0.8 px apart, the labels touched): at least 4 px
    for (let i = 1; i < labels.length; i++) expect(labels[i].from - labels[i - 1].to).toBeGreaterThanOrEqual(4);
  });
});
