import { describe, expect, it } from 'vitest';
import { queryRows, readSql, withConnection } from '../../activities/duckdb';

const REPORT_SQL = new URL('../../activities/report/report.ts', import.meta.url).href;

describe("the report's grids", () => {
  it('leave the held-out control group out of the contacts to make, and count it apart', async () => {
    await withConnection(':memory:', async (conn) => {
      await conn.run(`CREATE TEMP VIEW snapshot_grids AS SELECT * FROM (VALUES
        ('R1', 'R1-G01', 10, 1.0, 1.0, 1.0, 1, 0), ('R1', 'R1-G02', 10, 1.0, 1.0, 1.0, 0, 0))
        t(region, grid, subscribers, mou, dou, revenue, high_risk_subscribers, high_value_at_risk)`);
      // R1-G01's list: ranks 1-3, the first held out; R1-G02's: one subscriber, held out
      await conn.run(`CREATE TEMP VIEW snapshot_dispatch AS SELECT * FROM (VALUES
        ('R1-G01', 1, 'S1', true), ('R1-G01', 2, 'S2', false), ('R1-G01', 3, 'S3', false),
        ('R1-G02', 1, 'S4', true)) t(grid, contact_rank, subscriber_id, control)`);
      const grids = await queryRows(conn, await readSql(REPORT_SQL, './sql/grids.sql'));
      expect(grids.map(({ grid, to_contact, held_out }) => ({ grid, to_contact, held_out }))).toEqual([
        { grid: 'R1-G01', to_contact: 2, held_out: 1 },
        { grid: 'R1-G02', to_contact: 0, held_out: 1 },
      ]);
      const first = (await readSql(REPORT_SQL, './sql/first_contacts.sql')).replace(
        /SELECT grid, contact_rank, subscriber_id,[^]*?FROM/,
        'SELECT grid, contact_rank, subscriber_id FROM',
      );
      const contacts = await queryRows(conn, first, { per_grid: 1 });
      // the first to contact is S2, whose rank stays its dispatch.parquet rank
      expect(contacts).toEqual([{ grid: 'R1-G01', contact_rank: 2, subscriber_id: 'S2' }]);
    });
  });
});
