import { expect, it } from 'vitest';
import { queryOne, queryRows, readSql, withConnection } from '../../activities/duckdb';

const REPORT_SQL = new URL('../../activities/report/report.ts', import.meta.url).href;

it("the revenue curve holds the top fifth's own point: the headline's top 20% is 20%, for any count of subscribers", async () => {
  await withConnection(':memory:', async (conn) => {
    // 15,939 subscribers (the demo's): every 159th rank is a point, and none of them is 20%
    await conn.run(
      'CREATE TEMP TABLE snapshot_subscribers AS SELECT (i * 7919 % 15939)::DOUBLE + 1 AS arpu FROM range(15939) t(i)',
    );
    const points = await queryRows<{ subscriber_share: number; revenue_share: number }>(
      conn,
      await readSql(REPORT_SQL, './sql/pareto.sql'),
    );
    const fifth = points.find((point) => point.subscriber_share >= 0.2);
    const exact = await queryOne<{ share: number; top: number }>(
      conn,
      `SELECT sum(arpu) FILTER (WHERE rank <= ceil(0.2 * 15939)) / sum(arpu) AS share, ceil(0.2 * 15939) AS top
       FROM (SELECT arpu, row_number() OVER (ORDER BY arpu DESC) AS rank FROM snapshot_subscribers)`,
    );
    expect(fifth?.subscriber_share).toBe(exact.top / 15939);
    expect(fifth?.revenue_share).toBeCloseTo(exact.share, 12);
    expect(points.length).toBeGreaterThan(100);
  });
});
