import { describe, expect, it } from 'vitest';
import { segmentSizes, textWidth } from '../../activities/report/charts';
import { renderReport } from '../../activities/report/report';
import { parseRunParams } from '../../domain/params';

/** The texts of one Vega role's text marks, in drawing order. */
function texts(svg: string, role: string): string[] {
  const group = svg.split(`role-${role}`).slice(1);
  return group.flatMap((part) => [...part.split('</g>')[0].matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]));
}

/** Room for a chart in a section of an 800px window (main and section padding taken off). */
const HALF_SCREEN = 750;

const SEGMENTS = [
  '1 high value · heavy user',
  '2 high value · balanced · bundled',
  '3 mid value · voice heavy · lower tenure',
  '4 mid value · data heavy',
  '5 mid value · voice heavy · higher tenure',
  '6 low value · light user',
  '7 low value · data heavy',
];

describe('report layout', () => {
  it('measures text with Helvetica widths, bold wider, at most the limit Vega cuts at', () => {
    // H e l v e t i c a: 722 + 556 + 222 + 500 + 556 + 278 + 222 + 500 + 556 thousandths of the size
    expect(textWidth({ fontSize: 10 }, 'Helvetica')).toBeCloseTo(41.12, 5);
    expect(textWidth({ fontSize: 10, fontWeight: 'bold' }, 'Helvetica')).toBeGreaterThan(41.12);
    expect(textWidth({ fontSize: 10, limit: 30 }, 'Helvetica')).toBe(30);
    // a middle dot is narrow, an accented letter as wide as its letter
    expect(textWidth({ fontSize: 10 }, '·')).toBeCloseTo(2.78, 5);
    expect(textWidth({ fontSize: 10 }, 'é')).toBe(textWidth({ fontSize: 10 }, 'e'));
  });

  it("shows every segment's whole name, and the chart fits a half-screen window", async () => {
    const svg = await segmentSizes(
      SEGMENTS.map((segment, i) => ({ segment, subscribers: 1000 + 400 * i, revenue_share: 0.05 + 0.02 * i })),
    );
    const labels = texts(svg, 'axis-label');
    for (const name of SEGMENTS) expect(labels).toContain(name);
    expect(svg).not.toContain('…');
    const width = Number(/<svg[^>]* width="(\d+)"/.exec(svg)?.[1]);
    expect(width).toBeGreaterThan(400);
    expect(width).toBeLessThanOrEqual(HALF_SCREEN);
  });

  it('scales a chart wider than its window instead of cutting it, and prints without cutting', () => {
    const parsed = parseRunParams({ month: '2026-06', input: 'data' });
    if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
    const html = renderReport(
      { header: { params: parsed.params, paramsHash: 'abcdef0123456789', k: 5 }, kpis: '', sections: [] },
      { version: 1, publishedAt: '2026-07-01T06:05:09.123Z', requestedBy: 'test' },
    );
    expect(html).toContain('svg.marks { max-width: 100%; height: auto; }');
    expect(html).toMatch(/@media \(max-width: 900px\) \{\s+header \{[^}]*\}\s+main \{ padding: 8px 12px 32px; \}/);
    const print = html.slice(html.indexOf('@media print'));
    // the header's white text on its blue background, which browsers leave out when printing
    expect(print).toContain('header { print-color-adjust: exact; -webkit-print-color-adjust: exact; }');
    // a section scrolls sideways on screen; on paper what sticks out would be lost
    expect(print).toContain('section { overflow: visible;');
  });
});
