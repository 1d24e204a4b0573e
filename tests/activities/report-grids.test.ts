import { describe, expect, it } from 'vitest';
import { queryRows, readSql, withConnection } from '../../activities/duckdb';
import { gridsSection, type ContactRow, type GridRow } from '../../activities/report/sections/grids';

const REPORT_SQL = new URL('../../activities/report/report.ts', import.meta.url).href;

describe("the report's grids", () => {
  it('leave the held-out control group out of the contacts to make, and count it apart', async () => {
    await withConnection(':memory:', async (conn) => {
      await conn.run(`CREATE TEMP VIEW snapshot_grids AS SELECT * FROM (VALUES
        ('R1', 'R1-G01', 10, 1.0, 1.0, 1.0, 1, 0), ('R1', 'R1-G02', 10, 1.0, 1.0, 1.0, 0, 0))
        t(region, grid, subscribers, mou, dou, revenue, high_risk_subscribers, high_value_at_risk)`);
      // R1-G01's list: ranks 1-3, the first held out; R1-G02's: one subscriber, held out
      await conn.run(`CREATE TEMP VIEW snapshot_dispatch AS SELECT * FROM (VALUES
        ('R1', 'R1-G01', 1, 'S1', true), ('R1', 'R1-G01', 2, 'S2', false), ('R1', 'R1-G01', 3, 'S3', false),
        ('R1', 'R1-G02', 1, 'S4', true)) t(region, grid, contact_rank, subscriber_id, control)`);
      const grids = await queryRows(conn, await readSql(REPORT_SQL, './sql/grids.sql'));
      expect(grids.map(({ grid, to_contact, held_out }) => ({ grid, to_contact, held_out }))).toEqual([
        { grid: 'R1-G01', to_contact: 2, held_out: 1 },
        { grid: 'R1-G02', to_contact: 0, held_out: 1 },
      ]);
      const first = (await readSql(REPORT_SQL, './sql/first_contacts.sql')).replace(
        /SELECT region, grid, contact_rank, subscriber_id,[^]*?FROM/,
        'SELECT region, grid, contact_rank, subscriber_id FROM',
      );
      const contacts = await queryRows(conn, first, { per_grid: 1 });
      // the first to contact is S2, whose rank stays its dispatch.parquet rank
      expect(contacts).toEqual([{ region: 'R1', grid: 'R1-G01', contact_rank: 2, subscriber_id: 'S2' }]);
    });
  });

  it("are their region's: a grid code used in two regions, or no grid, is two grids with their own lists", async () => {
    const first = (await readSql(REPORT_SQL, './sql/first_contacts.sql')).replace(
      /SELECT region, grid, contact_rank, subscriber_id,[^]*?FROM/,
      'SELECT region, grid, contact_rank, subscriber_id FROM',
    );
    await withConnection(':memory:', async (conn) => {
      await conn.run(`CREATE TEMP VIEW snapshot_grids AS SELECT * FROM (VALUES
        ('north', 'G1', 2, 1.0, 1.0, 1.0, 1, 0), ('north', NULL, 1, 1.0, 1.0, 1.0, 1, 0),
        ('south', 'G1', 1, 1.0, 1.0, 1.0, 1, 0), ('south', NULL, 1, 1.0, 1.0, 1.0, 1, 0))
        t(region, grid, subscribers, mou, dou, revenue, high_risk_subscribers, high_value_at_risk)`);
      await conn.run(`CREATE TEMP VIEW snapshot_dispatch AS SELECT * FROM (VALUES
        ('north', 'G1', 1, 'N1', false), ('north', 'G1', 2, 'N2', false), ('north', NULL, 1, 'N3', false),
        ('south', 'G1', 1, 'S1', false), ('south', NULL, 1, 'S2', false))
        t(region, grid, contact_rank, subscriber_id, control)`);
      const grids = await queryRows(conn, await readSql(REPORT_SQL, './sql/grids.sql'));
      expect(grids.map(({ region, grid, to_contact }) => ({ region, grid, to_contact }))).toEqual([
        { region: 'north', grid: 'G1', to_contact: 2 },
        { region: 'north', grid: null, to_contact: 1 },
        { region: 'south', grid: 'G1', to_contact: 1 },
        { region: 'south', grid: null, to_contact: 1 },
      ]);
      const contacts = await queryRows(conn, first, { per_grid: 5 });
      expect(contacts.map((c) => `${c.region}/${c.grid}: ${c.subscriber_id}`)).toEqual([
        'north/G1: N1',
        'north/G1: N2',
        'north/null: N3',
        'south/G1: S1',
        'south/null: S2',
      ]);
      // and the page shows each grid its own contacts
      const described = contacts.map(
        (c): ContactRow =>
          ({
            ...c,
            segment_name: 'steady',
            operation_priority: 1,
            churn_score: 0.5,
            risk_band: 'high',
            churn_reasons: [],
            tags: [],
            retention_style: 'care',
            recommended_product: 'plan',
            channel: 'call',
            contact_moment: 'now',
          }) as unknown as ContactRow,
      );
      const html = gridsSection(grids as unknown as GridRow[], described, 5, {
        order: 'priority',
        maxPriority: 2,
      }).html;
      const south = html.slice(html.indexOf('<summary>south'));
      expect(south).toContain('S1');
      expect(south).not.toContain('N1');
    });
  });
});

/**
 * The dispatch list (publish's 04_dispatch.sql) of `subscribers`, SQL giving region, grid,
 * subscriber_id and churn_score (every other column alike: priority 1, high risk), under
 * `controlShare`; `query` reads table snapshot_dispatch.
 */
async function dispatchOf<T>(controlShare: number, subscribers: string, query: string): Promise<T[]> {
  const publishSql = (file: string) =>
    readSql(new URL('../../activities/publish.ts', import.meta.url).href, `./publish/tables/${file}`);
  const dispatchSql = await publishSql('04_dispatch.sql');
  return withConnection(':memory:', async (conn) => {
    // the macros every snapshot table may use
    await conn.run(await publishSql('00_macros.sql'));
    await conn.run(`CREATE TEMP VIEW action_settings AS
      SELECT 9 AS dispatch_max_priority, 'priority' AS dispatch_order, ${controlShare} AS control_share`);
    await conn.run(`CREATE TEMP VIEW snapshot_subscribers AS
      SELECT region, grid, DATE '2026-06-01' AS "month", subscriber_id, 'high' AS risk_band, 1 AS operation_priority,
             1.0 AS revenue_at_risk, churn_score, 'steady' AS segment_name, [] AS reason_words, [] AS tags,
             'care' AS retention_style, 'plan' AS recommended_product, 'call' AS channel, 'now' AS contact_moment
      FROM (${subscribers})`);
    await conn.run(dispatchSql);
    return queryRows<T & Record<string, unknown>>(conn, query);
  });
}

describe('the dispatch list', () => {
  it('ranks and holds out within a grid of its region: a code used in two regions is two lists', async () => {
    const rows = await dispatchOf<{ region: string; grid: string | null; contact_rank: number; subscriber_id: string }>(
      0,
      `SELECT * FROM (VALUES ('north', 'G1', 'N1', 0.9), ('north', 'G1', 'N2', 0.5), ('south', 'G1', 'S1', 0.7),
                             ('north', NULL, 'N3', 0.8), ('south', NULL, 'S2', 0.6)) t(region, grid, subscriber_id, churn_score)`,
      'SELECT region, grid, contact_rank, subscriber_id FROM snapshot_dispatch',
    );
    expect(rows.map((r) => `${r.region}/${r.grid}#${r.contact_rank}: ${r.subscriber_id}`)).toEqual([
      'north/G1#1: N1',
      'north/G1#2: N2',
      'north/null#1: N3',
      'south/G1#1: S1',
      'south/null#1: S2',
    ]);
  });

  it("keeps a control group in each region's grid: a stratum big enough for one gets one", async () => {
    // five on each region's G1 list: 5 x 0.2 = 1, one control at least in each
    const controls = await dispatchOf<{ region: string; controls: number }>(
      0.2,
      `SELECT region, 'G1' AS grid, region || i AS subscriber_id, 0.5 AS churn_score
       FROM (VALUES ('north'), ('south')) r(region), range(5) t(i)`,
      'SELECT region, count(*) FILTER (WHERE control)::INTEGER AS controls FROM snapshot_dispatch GROUP BY ALL ORDER BY 1',
    );
    expect(controls.map((c) => c.region)).toEqual(['north', 'south']);
    for (const { region, controls: held } of controls) expect(held, region).toBeGreaterThanOrEqual(1);
  });
});
