import { describe, expect, it } from 'vitest';
import { queryRows, readSql, runScript, withConnection } from '../../activities/duckdb';
import { LOADED_QUARANTINE_COLUMNS } from '../../activities/load-sql';

const publishSql = (file: string) =>
  readSql(new URL('../../activities/publish.ts', import.meta.url).href, `./publish/tables/${file}`);

describe("the published quarantine.parquet's month", () => {
  it('shows a month that could not be read as the file wrote it, and a read month as before', async () => {
    await withConnection(':memory:', async (conn) => {
      await conn.run(`CREATE TABLE quarantine ${LOADED_QUARANTINE_COLUMNS}`);
      await conn.run(`INSERT INTO quarantine VALUES
        ('/in/a.csv', 2, 'S1', '2026-06', 'spend: negative', NULL),
        ('/in/a.csv', 3, 'S2', NULL, 'month: not a valid date', '2026-6'),
        ('/in/a.csv', 4, 'S3', NULL, 'subscriber_id: missing', NULL)`);
      await runScript(conn, await publishSql('00_macros.sql'));
      await runScript(conn, await publishSql('05_quarantine.sql'));
      expect(await queryRows(conn, 'SELECT subscriber_id, "month", reason FROM snapshot_quarantine')).toEqual([
        { subscriber_id: 'S1', month: '2026-06', reason: 'spend: negative' },
        { subscriber_id: 'S2', month: '2026-6', reason: 'month: not a valid date' },
        { subscriber_id: 'S3', month: null, reason: 'subscriber_id: missing' },
      ]);
    });
  });
});
