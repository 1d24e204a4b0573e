import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { decimals } from './html';

/**
 * Charts for the run report as Vega-Lite specs, rendered to static SVG on the worker: the
 * report needs no script and no network to display, and the same data gives the same bytes.
 */
export async function renderChart(spec: TopLevelSpec): Promise<string> {
  const full = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: CHART_THEME,
    ...spec,
  } as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(full).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Vega sizes a chart around its text. Without a canvas it guesses 0.8 x the font size per
 * character, half again as wide as the charts' Helvetica: long segment names were cut short
 * ("lower te…") and every label and title got a wide empty margin, making charts wider than a
 * half-screen window. Widths from Helvetica's font metrics instead (Arial and Liberation Sans
 * have the same), in thousandths of the font size: close to what a browser draws, and the
 * same on every machine. Vega calls textMetrics.width when it is set to another function.
 */
const REGULAR = [
  278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556,
  556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833,
  722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556,
  556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334,
  260, 334, 584,
];
const BOLD = [
  278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556,
  556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833,
  722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611,
  556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389,
  280, 389, 584,
];
const OTHER: Record<string, number> = { '·': 278, '…': 1000, '–': 556, '—': 1000, '¥': 556, '×': 584, '−': 584 };

interface TextItem {
  fontSize?: number;
  fontWeight?: string | number;
  limit?: number;
}

/** A text's width in pixels as Vega's textMetrics.width: at most the item's limit, past which Vega cuts it. */
export function textWidth(item: TextItem, text?: unknown): number {
  const size = item.fontSize != null ? +item.fontSize || 0 : 11;
  const bold = item.fontWeight === 'bold' || item.fontWeight === 'bolder' || Number(item.fontWeight) >= 600;
  let thousandths = 0;
  for (const char of text == null ? '' : String(text).trim()) {
    // an accented letter as wide as its letter; unknown characters wide, CJK a full em
    const code = char.normalize('NFD').charCodeAt(0);
    thousandths +=
      code >= 32 && code < 127 ? (bold ? BOLD : REGULAR)[code - 32] : (OTHER[char] ?? (code >= 0x2e80 ? 1000 : 667));
  }
  const width = (thousandths * size) / 1000;
  return item.limit && item.limit > 0 ? Math.min(width, item.limit) : width;
}

(vega as unknown as { textMetrics: { width: typeof textWidth } }).textMetrics.width = textWidth;

const CHART_THEME = {
  font: 'Helvetica, Arial, sans-serif',
  view: { stroke: 'transparent' },
  axis: { labelColor: '#444', titleColor: '#222', gridColor: '#e5e7eb', domainColor: '#9ca3af' },
  range: { category: ['#2563eb', '#16a34a', '#ea580c', '#9333ea', '#0891b2', '#dc2626', '#ca8a04', '#4b5563'] },
  // a legend under a chart starts at its left edge, under the axis labels (Vega's config, passed on
  // by Vega-Lite): from the plot's, on a phone it began off-screen
  legend: { layout: { bottom: { anchor: 'start', frame: 'bounds' } } },
} as const;

/** Bar charts' plot width: with their labels and legend they fit a half-screen window (800px). */
const WIDTH = 460;

export function segmentSizes(rows: { segment: string; subscribers: number; revenue_share: number }[]) {
  return renderChart({
    width: WIDTH,
    height: { step: 26 },
    title: 'Subscribers per segment',
    data: { values: rows },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      // no limit: a segment's name is never cut (its width is measured, see textWidth)
      y: { field: 'segment', type: 'nominal', sort: null, title: null, axis: { labelLimit: 0 } },
      x: { field: 'subscribers', type: 'quantitative', title: 'subscribers' },
      color: {
        field: 'revenue_share',
        type: 'quantitative',
        title: 'revenue share',
        scale: { scheme: 'blues' },
        legend: { format: '.0%' },
      },
    },
  });
}

export function paretoCurve(points: { subscriber_share: number; revenue_share: number }[]) {
  return renderChart({
    width: WIDTH,
    height: 260,
    title: 'Revenue pyramid: revenue share of the top subscribers',
    data: { values: points },
    layer: [
      {
        mark: { type: 'area', opacity: 0.25, color: '#2563eb' },
        encoding: {
          x: {
            field: 'subscriber_share',
            type: 'quantitative',
            axis: { format: '.0%' },
            title: 'top share of subscribers (by ARPU)',
          },
          y: { field: 'revenue_share', type: 'quantitative', axis: { format: '.0%' }, title: 'share of revenue' },
        },
      },
      {
        mark: { type: 'line', color: '#2563eb' },
        encoding: {
          x: { field: 'subscriber_share', type: 'quantitative' },
          y: { field: 'revenue_share', type: 'quantitative' },
        },
      },
    ],
  });
}

export function valueStabilityGrid(
  cells: { value_tier: string; stability: string; subscribers: number; priority: number }[],
) {
  return renderChart({
    width: 320,
    height: 200,
    // short: a title wider than the grid would widen the chart
    title: 'Subscribers by value and stability',
    data: { values: cells.map((c) => ({ ...c, label: `${c.subscribers.toLocaleString('en-US')} (P${c.priority})` })) },
    encoding: {
      x: { field: 'stability', type: 'nominal', sort: ['unstable', 'stable'], title: null, axis: { labelAngle: 0 } },
      y: { field: 'value_tier', type: 'nominal', sort: ['key', 'high', 'mid', 'low'], title: 'value tier' },
    },
    layer: [
      {
        mark: 'rect',
        encoding: {
          color: {
            field: 'priority',
            type: 'quantitative',
            scale: { scheme: 'orangered', reverse: true },
            legend: null,
          },
        },
      },
      {
        mark: { type: 'text', fontSize: 12 },
        encoding: {
          text: { field: 'label', type: 'nominal' },
          // white on the two darkest (most urgent) cells
          color: { condition: { test: 'datum.priority <= 2', value: 'white' }, value: '#111827' },
        },
      },
    ],
  });
}

export function rocChart(points: { fpr: number; tpr: number }[], auc: number) {
  return renderChart({
    width: 300,
    height: 300,
    title: `Churn holdout ROC (AUC ${decimals(auc, 3)})`,
    layer: [
      {
        data: {
          values: [
            { x: 0, y: 0 },
            { x: 1, y: 1 },
          ],
        },
        mark: { type: 'line', strokeDash: [4, 4], color: '#9ca3af' },
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } },
      },
      {
        data: { values: points },
        mark: { type: 'line', color: '#dc2626' },
        encoding: {
          x: { field: 'fpr', type: 'quantitative', title: 'false positive rate' },
          y: { field: 'tpr', type: 'quantitative', title: 'true positive rate' },
        },
      },
    ],
  });
}

export function liftChart(liftByDecile: number[]) {
  return renderChart({
    width: 300,
    height: 300,
    title: 'Lift by score decile (1 = riskiest 10%)',
    data: { values: liftByDecile.map((lift, i) => ({ decile: i + 1, lift })) },
    layer: [
      {
        mark: { type: 'bar', color: '#ea580c' },
        encoding: {
          x: { field: 'decile', type: 'ordinal', axis: { labelAngle: 0 } },
          y: { field: 'lift', type: 'quantitative', title: 'churn rate / base rate' },
        },
      },
      { mark: { type: 'rule', color: '#4b5563', strokeDash: [4, 4] }, encoding: { y: { datum: 1 } } },
    ],
  });
}

export function importanceChart(importance: { label: string; share: number }[]) {
  return renderChart({
    width: WIDTH,
    height: { step: 20 },
    title: 'What the churn tree splits on (share of impurity decrease)',
    data: { values: importance },
    mark: { type: 'bar', color: '#9333ea' },
    encoding: {
      // no limit: a feature's label is never cut
      y: { field: 'label', type: 'nominal', sort: '-x', title: null, axis: { labelLimit: 0 } },
      x: { field: 'share', type: 'quantitative', axis: { format: '.0%' }, title: null },
    },
  });
}

/**
 * Subscribers from last month's segment (rows) to this month's (columns). Rows and columns are
 * labelled and ordered by the caller (segment id, with joiners and leavers last), so a segment
 * that kept its id sits on the diagonal even when its name changed.
 */
export function migrationChart(
  cells: { from: string; to: string; subscribers: number }[],
  order: { from: string[]; to: string[] },
  previousMonth: string,
  month: string,
) {
  return renderChart({
    width: { step: 56 },
    height: { step: 30 },
    title: `Subscribers by segment: ${previousMonth} (rows) to ${month} (columns)`,
    // white numbers on the darkest cells
    data: {
      values: cells.map((c) => ({ ...c, dark: c.subscribers > 0.3 * Math.max(...cells.map((x) => x.subscribers)) })),
    },
    encoding: {
      x: {
        field: 'to',
        type: 'nominal',
        sort: order.to,
        title: month,
        axis: { orient: 'top', labelAngle: -40, labelAlign: 'left', labelLimit: 0 },
      },
      y: { field: 'from', type: 'nominal', sort: order.from, title: previousMonth, axis: { labelLimit: 0 } },
    },
    layer: [
      {
        mark: 'rect',
        encoding: {
          color: {
            field: 'subscribers',
            type: 'quantitative',
            scale: { scheme: 'greens', type: 'sqrt' },
            legend: null,
          },
        },
      },
      {
        mark: { type: 'text', fontSize: 11 },
        encoding: {
          text: { field: 'subscribers', type: 'quantitative', format: ',' },
          color: { condition: { test: 'datum.dark', value: 'white' }, value: '#111827' },
        },
      },
    ],
  });
}

/** The data-quality chart's reasons are cut into lines this wide (px): a long one made the chart 1,043 px wide. */
const REASON_WIDTH = 180;
/** Axis labels' font size (Vega-Lite's default). */
const LABEL_FONT_SIZE = 10;
/** A reason takes at most this many lines; the rest is cut with "…" (quarantine.parquet has it whole). */
const REASON_LINES = 4;
/** Vega's line height: the font size and 2 px. */
const LINE_HEIGHT = LABEL_FONT_SIZE + 2;

/**
 * A text cut into lines at most `width` px wide (as textWidth measures), at spaces where it can
 * be, inside a word wider than a line; at most `maxLines`, the last cut short with "…".
 */
export function wrapLines(text: string, width: number, fontSize: number, maxLines: number): string[] {
  const fits = (line: string) => textWidth({ fontSize }, line) <= width;
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const joined = line ? `${line} ${word}` : word;
    if (fits(joined)) {
      line = joined;
      continue;
    }
    if (line) lines.push(line);
    line = '';
    // a word wider than a line (a long column name): cut it where the line is full
    let rest = word;
    while (!fits(rest)) {
      let cut = 1;
      while (cut < rest.length && fits(rest.slice(0, cut + 1))) cut++;
      lines.push(rest.slice(0, cut));
      rest = rest.slice(cut);
    }
    line = rest;
  }
  if (line) lines.push(line);
  if (lines.length <= maxLines) return lines;
  const kept = lines.slice(0, maxLines);
  let last = `${kept[maxLines - 1]}…`;
  while (!fits(last) && last.length > 1) last = `${last.slice(0, -2).trimEnd()}…`;
  kept[maxLines - 1] = last;
  return kept;
}

/** What became of input rows: loaded; quarantined, for breaking the input contract; or left out, of a month outside the run window (no error). */
export type RowsKind = 'loaded' | 'quarantined' | 'left out';

/** Each kind's colour and legend words: rows left out are grey, not the red of errors. */
const ROWS_KINDS: Record<RowsKind, { colour: string; words: string }> = {
  loaded: { colour: '#16a34a', words: 'loaded' },
  quarantined: { colour: '#dc2626', words: 'quarantined: broke the input contract' },
  'left out': { colour: '#9ca3af', words: 'left out: a month outside the run window, not an error' },
};

/** Where the bars start on the log axis: below 1, so that a reason with 1 row has a bar. */
const LOG_AXIS_START = 0.5;

/**
 * Rows per outcome on a log axis (a handful of quarantined rows still shows beside millions
 * loaded): loaded first, then the reasons rows were quarantined for, most rows first, then the
 * rows left out. Bars start at half a row, so that 1 row is a bar (from 1 it was none); the ticks
 * are powers of 10 from 1. Each reason is wrapped into lines of REASON_WIDTH px: the label column
 * stays narrow enough for the bars to show on a phone (a static SVG has no tooltip for a cut label).
 */
export function dataQualityChart(rows: { outcome: string; rows: number; kind: RowsKind }[]) {
  const bar = { field: 'rows', type: 'quantitative', title: 'rows (log scale)' } as const;
  const order = Object.keys(ROWS_KINDS);
  const shown = rows
    .filter((r) => r.rows > 0)
    .sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind) || b.rows - a.rows);
  const lines = shown.map((r) => wrapLines(r.outcome, REASON_WIDTH, LABEL_FONT_SIZE, REASON_LINES));
  const step = Math.max(24, LINE_HEIGHT * Math.max(1, ...lines.map((l) => l.length)) + 6);
  // the axis ends at the power of 10 at or above the most rows
  const decades = Math.max(1, Math.ceil(Math.log10(Math.max(1, ...shown.map((r) => r.rows)))));
  const kinds = (Object.keys(ROWS_KINDS) as RowsKind[]).filter((kind) => shown.some((r) => r.kind === kind));
  return renderChart({
    width: WIDTH,
    height: { step },
    // from the chart's left edge: centred over the bars, a phone showed its middle only
    title: { text: 'Input rows: loaded and quarantined (by reason)', anchor: 'start', frame: 'bounds' },
    // a reason's lines joined by a line break, split again by the axis
    data: { values: shown.map((r, i) => ({ ...r, label: lines[i].join('\n'), legend: ROWS_KINDS[r.kind].words })) },
    encoding: {
      y: {
        field: 'label',
        type: 'nominal',
        sort: null,
        title: null,
        axis: {
          labelExpr: "split(datum.value, '\\n')",
          labelLimit: REASON_WIDTH + 2,
          labelFontSize: LABEL_FONT_SIZE,
          // a label of several lines centred on its bar (Vega sets the first line at the tick)
          encoding: {
            labels: { dy: { value: { signal: `-(length(split(datum.value, '\\n')) - 1) * ${LINE_HEIGHT / 2}` } } },
          },
        },
      },
    },
    layer: [
      {
        // as thick as with one-line labels, when a reason of several lines makes the rows taller
        mark: { type: 'bar', height: 19 },
        encoding: {
          // a log scale has no 0
          x: {
            ...bar,
            scale: { type: 'log', domain: [LOG_AXIS_START, 10 ** decades], nice: false },
            axis: { format: '~s', values: Array.from({ length: decades + 1 }, (_, i) => 10 ** i) },
          },
          x2: { datum: LOG_AXIS_START },
          color: {
            field: 'legend',
            type: 'nominal',
            scale: { domain: kinds.map((k) => ROWS_KINDS[k].words), range: kinds.map((k) => ROWS_KINDS[k].colour) },
            // under the chart, one kind a line: beside it, the legend would widen the chart on a phone
            legend:
              kinds.length > 1
                ? { title: null, orient: 'bottom', direction: 'vertical', labelLimit: 0, labelFontSize: 11 }
                : null,
          },
          tooltip: { field: 'outcome', type: 'nominal', title: 'outcome' },
        },
      },
      {
        mark: { type: 'text', align: 'left', dx: 4, fontSize: 11 },
        encoding: { x: bar, text: { field: 'rows', type: 'quantitative', format: ',' } },
      },
    ],
  });
}
