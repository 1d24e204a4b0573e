import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DuckDBConnection } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import {
  appendRows,
  queryRows,
  runScript,
  runSqlFiles,
  viewParquet,
  withConnection,
  withReadOnlyConnection,
  writeParquetView,
} from '../../activities/duckdb';
import { SCORED_TABLES, scoredTableFile, viewStageOutputs } from '../../activities/stage-outputs';
import { linkOrCopy } from '../../store/files';
import { hashFile } from '../../store/hashing';
import { tempDir } from '../helpers';

describe('running SQL scripts', () => {
  it('leaves a semicolon inside a string literal or a comment alone', async () => {
    const rows = await withConnection(':memory:', async (conn) => {
      await runScript(
        conn,
        [
          '-- a comment; with a semicolon',
          "CREATE TABLE notes AS SELECT 'first;",
          "second line' AS note;",
          "INSERT INTO notes VALUES ('ends with a semicolon;'), ('two",
          "lines; one literal'); -- trailing comment;",
        ].join('\n'),
      );
      return queryRows<{ note: string }>(conn, 'SELECT note FROM notes ORDER BY note');
    });
    expect(rows.map((row) => row.note)).toEqual([
      'ends with a semicolon;',
      'first;\nsecond line',
      'two\nlines; one literal',
    ]);
  });

  it('runs the files of a folder in name order, each statement after the one before', async () => {
    const dir = await tempDir();
    await writeFile(
      join(dir, '02_fill.sql'),
      "INSERT INTO t VALUES (1, 'a;b');\nINSERT INTO t SELECT id + 1, label FROM t;",
    );
    await writeFile(join(dir, '01_create.sql'), 'CREATE TABLE t (id INTEGER, label VARCHAR);');
    await writeFile(join(dir, 'notes.txt'), 'not SQL');
    const seen: string[] = [];
    const rows = await withConnection(':memory:', async (conn) => {
      await runSqlFiles(conn, pathToFileURL(`${dir}/`), async (file) => {
        seen.push(file);
      });
      return queryRows<{ id: number; label: string }>(conn, 'SELECT id, label FROM t ORDER BY id');
    });
    expect(seen).toEqual(['01_create.sql', '02_fill.sql']);
    expect(rows).toEqual([
      { id: 1, label: 'a;b' },
      { id: 2, label: 'a;b' },
    ]);
  });

  it("appends rows in the table's column order and types, and nothing of a row that does not fit", async () => {
    const { rows, failure } = await withConnection(':memory:', async (conn) => {
      await conn.run('CREATE TEMP TABLE grid (tier VARCHAR, stable BOOLEAN, priority INTEGER, channel VARCHAR)');
      await appendRows(conn, 'grid', [
        ['gold', true, 1, 'call'],
        ['bronze', false, 5, null],
      ]);
      const failure = await appendRows(conn, 'grid', [['silver', true, 2, 'sms'], ['short']]).catch(
        (error: Error) => error,
      );
      return { rows: await queryRows(conn, 'SELECT * FROM grid ORDER BY priority'), failure };
    });
    expect(rows).toEqual([
      { tier: 'gold', stable: true, priority: 1, channel: 'call' },
      { tier: 'bronze', stable: false, priority: 5, channel: null },
    ]);
    expect(failure).toBeInstanceOf(Error);
    expect(String(failure)).toMatch(/a row of 1 values for the 4 columns of grid/);
  });
});

describe('memory caps', () => {
  it('gives a read-only connection (the clustering and churn stages, side by side) half the cap', async () => {
    const dbPath = join(await tempDir(), 'run.duckdb');
    const cap = async (conn: DuckDBConnection) =>
      (await queryRows<{ cap: string }>(conn, "SELECT current_setting('memory_limit') AS cap"))[0].cap;
    const configured = process.env.SEGFLOW_DUCKDB_MEMORY_LIMIT;
    process.env.SEGFLOW_DUCKDB_MEMORY_LIMIT = '3GiB';
    try {
      expect({ whole: await withConnection(dbPath, cap), half: await withReadOnlyConnection(dbPath, cap) }).toEqual({
        whole: '3.0 GiB',
        half: '1.5 GiB',
      });
    } finally {
      if (configured === undefined) delete process.env.SEGFLOW_DUCKDB_MEMORY_LIMIT;
      else process.env.SEGFLOW_DUCKDB_MEMORY_LIMIT = configured;
    }
  });
});

describe('tables kept as Parquet files', () => {
  it('writes a new file instead of writing through a hard link into the stage cache', async () => {
    const dir = await tempDir();
    const stored = join(dir, "stored 'scores'.parquet");
    const run = join(dir, 'run.parquet');
    const rows = await withConnection(join(dir, 'run.duckdb'), async (conn) => {
      await writeParquetView(conn, 'scores', 'SELECT 1 AS score', stored);
      const before = await hashFile(stored);
      await linkOrCopy(stored, run);
      await viewParquet(conn, 'scores', run);
      const restored = await queryRows<{ score: number }>(conn, 'FROM scores');
      // a retried attempt computes again into the same run folder
      await writeParquetView(conn, 'scores', 'SELECT 2 AS score', run);
      expect(await hashFile(stored)).toEqual(before);
      return [...restored, ...(await queryRows<{ score: number }>(conn, 'FROM scores'))];
    });
    expect(rows).toEqual([{ score: 1 }, { score: 2 }]);
  });

  it('replaces a table of the same name (a run database an older version wrote)', async () => {
    const dir = await tempDir();
    const rows = await withConnection(join(dir, 'run.duckdb'), async (conn) => {
      await conn.run('CREATE TABLE scores AS SELECT 1 AS score');
      await writeParquetView(conn, 'scores', 'SELECT 2 AS score', join(dir, 'scores.parquet'));
      return queryRows<{ score: number }>(conn, 'FROM scores');
    });
    expect(rows).toEqual([{ score: 2 }]);
  });
  it("reads the clustering's segments from the run database when an older version's clustering left them there (an upgrade mid-run)", async () => {
    const dir = await tempDir();
    const dbPath = join(dir, 'work.duckdb');
    const segments = await withConnection(dbPath, async (conn) => {
      await conn.run('CREATE TABLE segments AS SELECT 0 AS row_idx, 3 AS segment_id, 0.5 AS distance');
      for (const table of SCORED_TABLES)
        await writeParquetView(conn, table, 'SELECT 0 AS row_idx', scoredTableFile(dir, table), 'connection');
      await viewStageOutputs(conn, dbPath, [
        { segmentId: 3, name: 'Loyal', recommendedProduct: 'family plan', channel: 'app', contactMoment: 'payday' },
      ]);
      return queryRows<{ segment_id: number; segment_name: string }>(
        conn,
        'SELECT segment_id, segment_name FROM segments JOIN segment_catalog USING (segment_id)',
      );
    });
    expect(segments).toEqual([{ segment_id: 3, segment_name: 'Loyal' }]);
  });
});
