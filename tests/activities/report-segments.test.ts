import { describe, expect, it } from 'vitest';
import { queryRows, readSql, withConnection } from '../../activities/duckdb';
import { segmentsSection, type SegmentRow } from '../../activities/report/sections/segments';

const REPORT_SQL = new URL('../../activities/report/report.ts', import.meta.url).href;

describe("the report's actions per segment", () => {
  it("give the channels and moments the segment's subscribers get, with their shares, not the segment's one channel", async () => {
    await withConnection(':memory:', async (conn) => {
      // the segment's own channel ("SMS and app push") is nobody's: each subscriber's comes from the operation grid
      await conn.run(`CREATE TEMP VIEW snapshot_segments AS SELECT * FROM (VALUES
        (6, 'low value · light user', 4, 0.1, 20.0, 100.0, 500.0, 0.2, 1, 'recharge bonus on a low-cost plan',
         'SMS and app push', 'in the week before the monthly bill; not 21:00-09:00'))
        t(segment_id, segment_name, subscribers, revenue_share, arpu, mou, dou, mean_churn_score,
          high_risk_subscribers, recommended_product, channel, contact_moment)`);
      await conn.run(`CREATE TEMP VIEW snapshot_subscribers AS SELECT * FROM (VALUES
        (6, 'care: loyalty points', 'outbound call and app push', 'in the week before the monthly bill; not 21:00-09:00', ['loyal']),
        (6, 'care: loyalty points', 'outbound call and app push', 'in the week before the monthly bill; not 21:00-09:00', []),
        (6, 'care: loyalty points', 'outbound call and app push', 'within 7 days, before the next bill (churn warning); not 21:00-09:00', ['warning']),
        (6, 'steel binding: contract renewal', 'account manager call', 'in the week before the monthly bill; not 21:00-09:00', []))
        t(segment_id, retention_style, channel, contact_moment, tags)`);
      const rows = await queryRows<SegmentRow & Record<string, unknown>>(
        conn,
        await readSql(REPORT_SQL, './sql/segments.sql'),
      );
      const { html } = await segmentsSection(rows);
      const actions = html.slice(html.indexOf('<table class="actions">'));
      expect(actions).not.toContain('SMS and app push');
      expect(actions).toContain(
        '<ul class="plain"><li><b>outbound call and app push</b> <span class="share">75%</span></li><li><b>account manager call</b> <span class="share">25%</span></li></ul>',
      );
      expect(actions).toContain(
        '<li><b>in the week before the monthly bill</b> <span class="share">75%</span></li><li><b>within 7 days, before the next bill (churn warning)</b> <span class="share">25%</span></li>',
      );
      expect(actions).toContain('<b>care</b> loyalty points <span class="share">75%</span>');
      expect(actions).toContain('by their value tier and stability (the operation grid)');
      expect(actions).toContain('No calls or pushes 21:00-09:00 (local time).');
      // the profiles' units: a month, in the units of the grids' totals and the churn words (¥, MB)
      const profiles = html.slice(0, html.indexOf('<table class="actions">'));
      expect(profiles).toContain(
        '<th class="num">ARPU (¥ a month)</th><th class="num">MOU (min a month)</th><th class="num">DOU (MB a month)</th>',
      );
      expect(profiles).toContain('<td class="num">20.0</td><td class="num">100</td><td class="num">500</td>');
      expect(profiles).toContain("ARPU, MOU and DOU are the averages of the segment's subscribers for the month");
    });
  });
});
