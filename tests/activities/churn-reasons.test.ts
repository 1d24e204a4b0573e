import { DOUBLE, INTEGER, UTINYINT, VARCHAR, type DuckDBConnection } from '@duckdb/node-api';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { reasonTable, writeReasons, type RowReasons } from '../../activities/churn-reasons';
import { queryRows, withConnection } from '../../activities/duckdb';
import { appendColumns, releaseColumns, type ColumnSet } from '../../activities/ml/columns';
import type { FeatureMeta } from '../../activities/ml/feature-matrix';
import { describeFeature } from '../../domain/feature-words';

/** The table as churn.ts wrote it before churn-reasons.ts: one row and one text per reason, grouped in SQL. */
async function referenceReasons(conn: DuckDBConnection, reasons: RowReasons, current: ColumnSet, meta: FeatureMeta[]) {
  const { features, contributions, k } = reasons;
  const columns: (number | string)[][] = [[], [], [], [], [], []];
  for (let i = 0; i < current.rows; i++)
    for (let s = 0; s < k && features[i * k + s] >= 0; s++) {
      const f = features[i * k + s];
      const name = current.names[f];
      const x = current.columns[f][i];
      const categories = meta[f].categorical ? meta[f].categories : undefined;
      const words = categories ? `${name}: ${categories[x] ?? 'missing'}` : describeFeature(name, x);
      [i, s + 1, name, x, Math.round(contributions[i * k + s] * 1e6) / 1e6, words].forEach((v, c) =>
        columns[c].push(v),
      );
    }
  await conn.run(
    'CREATE TEMP TABLE reference_rows (row_idx INTEGER, reason_rank UTINYINT, feature VARCHAR, "value" DOUBLE, contribution DOUBLE, words VARCHAR)',
  );
  await appendColumns(conn, 'reference_rows', [INTEGER, UTINYINT, VARCHAR, DOUBLE, DOUBLE, VARCHAR], columns, 'test');
  await conn.run(
    `CREATE TABLE reference AS
     SELECT row_idx, list(struct_pack(feature, "value", contribution) ORDER BY reason_rank) AS churn_reasons,
            list(words ORDER BY reason_rank) AS reason_words
     FROM reference_rows GROUP BY row_idx`,
  );
}

describe('writeReasons', () => {
  const dir = mkdtempSync(join(tmpdir(), 'segflow-reasons-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // arpu and mou repeat values (texts shared), -0 reads "-0" where 0 reads "0", the category has a gap
  const rows = 400;
  const arpu = Float64Array.from({ length: rows }, (_, i) => [0, -0, 12.4, 12.6, 99.5, -0.3][i % 6]);
  const mou = Float64Array.from({ length: rows }, (_, i) => (i * 37) % 11);
  const plan = Float64Array.from({ length: rows }, (_, i) => (i % 7 === 0 ? Number.NaN : i % 3));
  const current: ColumnSet = { names: ['arpu', 'mou', 'plan'], columns: [arpu, mou, plan], rows };
  const meta: FeatureMeta[] = [
    { name: 'arpu', source: 'contract', categorical: false },
    { name: 'mou', source: 'contract', categorical: false },
    { name: 'plan', source: 'user', categorical: true, categories: ['basic', 'family', 'pro'] },
  ];
  const k = 3;
  const features = new Int16Array(rows * k).fill(-1);
  const contributions = new Float64Array(rows * k);
  for (let i = 0; i < rows; i++) {
    const count = i % 4; // 0..3 reasons
    for (let s = 0; s < count; s++) {
      features[i * k + s] = (i + s) % 3;
      contributions[i * k + s] = 1 / (i + s + 1.234567891);
    }
  }

  it('writes the same table as one text per reason grouped in SQL, with the columns released before', async () => {
    const [diff] = await withConnection(':memory:', async (conn) => {
      const scoring = { ...current, columns: [...current.columns] };
      const table = reasonTable({ features, contributions, k }, scoring, meta);
      releaseColumns(scoring);
      expect(scoring.columns).toEqual([]);
      await writeReasons(conn, table, join(dir, 'reasons.parquet'));
      await referenceReasons(conn, { features, contributions, k }, current, meta);
      return queryRows<{ ours: number; theirs: number; rows: number; types: number }>(
        conn,
        `SELECT (SELECT count(*) FROM (FROM churn_reasons EXCEPT ALL FROM reference)) AS ours,
                (SELECT count(*) FROM (FROM reference EXCEPT ALL FROM churn_reasons)) AS theirs,
                (SELECT count(*) FROM churn_reasons) AS rows,
                (SELECT count(DISTINCT data_type || column_name) FROM information_schema.columns
                 WHERE table_name IN ('churn_reasons', 'reference')) AS types`,
      );
    });
    expect(diff).toEqual({ ours: 0, theirs: 0, rows: 300, types: 3 });
  });

  it('writes an empty table of the same columns when no ensemble scores', async () => {
    const columns = await withConnection(':memory:', async (conn) => {
      await writeReasons(conn, reasonTable(null, current, meta), join(dir, 'none.parquet'));
      return queryRows<{ column_name: string; data_type: string }>(
        conn,
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'churn_reasons'",
      );
    });
    expect(columns.map((c) => `${c.column_name} ${c.data_type}`)).toEqual([
      'row_idx INTEGER',
      'churn_reasons STRUCT(feature VARCHAR, "value" DOUBLE, contribution DOUBLE)[]',
      'reason_words VARCHAR[]',
    ]);
  });
});
