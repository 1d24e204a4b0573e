import { DOUBLE, INTEGER, UTINYINT, VARCHAR, type DuckDBConnection } from '@duckdb/node-api';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fillNumericGaps } from '../../activities/churn-features';
import { reasonTable, writeReasons, type RowReasons } from '../../activities/churn-reasons';
import { queryRows, withConnection } from '../../activities/duckdb';
import { appendColumns, releaseColumns, type ColumnSet } from '../../activities/ml/columns';
import type { FeatureMeta } from '../../activities/ml/feature-matrix';
import { describeFeature } from '../../domain/feature-words';

/**
 * The table as churn.ts wrote it before churn-reasons.ts: one row and one text per reason, grouped
 * in SQL; a missing category's value NULL.
 */
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
     SELECT row_idx, list({'feature': feature, 'value': CASE WHEN NOT isnan("value") THEN "value" END, 'contribution': contribution}
                          ORDER BY reason_rank) AS churn_reasons,
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

  it('a reason on a missing number says it is missing (NULL value, "<feature> missing"), not that it is 0', async () => {
    // gprs_gb_bill missing on every third row; 0.5 elsewhere, never 0
    const n = 9;
    const gprs = Float64Array.from({ length: n }, (_, i) => (i % 3 === 0 ? Number.NaN : 0.5));
    const calls = Float64Array.from({ length: n }, (_, i) => (i === 4 ? Number.NaN : i));
    const plans = Float64Array.from({ length: n }, (_, i) => (i === 3 ? Number.NaN : 1));
    const scored: ColumnSet = {
      names: ['gprs_gb_bill', 'CustServ Calls', 'plan'],
      columns: [gprs, calls, plans],
      rows: n,
    };
    const scoredMeta: FeatureMeta[] = [
      { name: 'gprs_gb_bill', source: 'user', categorical: false },
      { name: 'CustServ Calls', source: 'user', categorical: false },
      { name: 'plan', source: 'user', categorical: true, categories: ['basic', 'pro'] },
    ];
    // as the churn stage and publishing do: the models see 0, the reasons the gaps
    const gaps = fillNumericGaps(scored.columns, scoredMeta);
    expect(gprs.every((x) => x === 0 || x === 0.5)).toBe(true);
    expect(Array.from(gaps, (rows) => [...rows])).toEqual([[0, 3, 6], [4], []]);
    const slots = 3;
    const reasonFeatures = Int16Array.from({ length: n * slots }, (_, e) => e % slots);
    const reasonContributions = Float64Array.from({ length: n * slots }, (_, e) => 1 - (e % slots) / 10);
    const written = await withConnection(':memory:', async (conn) => {
      const table = reasonTable(
        { features: reasonFeatures, contributions: reasonContributions, k: slots },
        scored,
        scoredMeta,
        Int32Array.from({ length: n }, (_, i) => 100 + i),
        gaps,
      );
      await writeReasons(conn, table, join(dir, 'gaps.parquet'));
      return queryRows<{ row_idx: number; values: (number | null)[]; words: string[] }>(
        conn,
        `SELECT row_idx, list_transform(churn_reasons, r -> r."value") AS "values", reason_words AS words
         FROM churn_reasons ORDER BY row_idx`,
      );
    });
    expect(written.map((row) => row.row_idx)).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108]);
    for (const row of written) {
      const i = row.row_idx - 100;
      expect(row.values[0]).toBe(i % 3 === 0 ? null : 0.5);
      expect(row.words[0]).toBe(i % 3 === 0 ? 'gprs_gb_bill missing' : describeFeature('gprs_gb_bill', 0.5));
      expect(row.values[1]).toBe(i === 4 ? null : i);
      expect(row.words[1]).toBe(i === 4 ? 'CustServ Calls missing' : describeFeature('CustServ Calls', i));
      expect(row.values[2]).toBe(i === 3 ? null : 1);
      expect(row.words[2]).toBe(i === 3 ? 'plan: missing' : 'plan: pro');
    }
    expect(written.flatMap((row) => row.words)).not.toContain('gprs_gb_bill = 0');
  });

  it('writes the same bytes without gaps as before gaps were known', async () => {
    const bytes = await withConnection(':memory:', async (conn) => {
      const plain = { names: ['arpu', 'mou'], columns: [arpu, mou], rows };
      const plainMeta = meta.slice(0, 2);
      const twoFeatures = features.map((f) => (f === 2 ? 1 : f));
      const files: string[] = [];
      for (const gaps of [undefined, fillNumericGaps(plain.columns, plainMeta)]) {
        const file = join(dir, `plain-${files.length}.parquet`);
        await writeReasons(
          conn,
          reasonTable({ features: twoFeatures, contributions, k }, plain, plainMeta, undefined, gaps),
          file,
        );
        files.push(file);
      }
      return files.map((file) => readFileSync(file));
    });
    expect(bytes[1].equals(bytes[0])).toBe(true);
  });
});
