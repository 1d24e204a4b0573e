import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { queryOne, setVariable, withConnection } from '../../activities/duckdb';
import { seededRandom } from '../../activities/ml/random';
import { resolveUserFeatures } from '../../activities/user-features';
import { InputMappingSchema } from '../../domain/mapping';
import { tempDir } from '../helpers';

/**
 * A wide extract, as the security review's (500 extra numeric columns under `"*": "auto"`, which
 * took planLoad past 15 GB): "auto" types its columns a batch per statement, not all in one.
 */
const ROWS = 2_000;
const WIDE = 60;
const CITIES = Array.from({ length: 120 }, (_, i) => `city${i}`);

function wideCsv(): { csv: string; header: string[] } {
  const random = seededRandom(49);
  const wide = Array.from({ length: WIDE }, (_, j) => `wide_${String(j).padStart(3, '0')}`);
  const header = [
    ...['msisdn', 'Churn', 'fee', 'device_age', 'has_5g', 'contract', 'city', 'note'],
    ...['joined', 'port_out', 'model_code', 'balance', ...wide],
  ];
  const lines = [header.join(',')];
  for (let i = 0; i < ROWS; i++) {
    const churn = random() < 0.2;
    const city = random() < 0.7 ? CITIES[Math.floor(random() * 10)] : CITIES[Math.floor(random() * 120)];
    lines.push(
      [
        `4670${1_000_000 + i}`,
        churn ? 'Yes' : 'No',
        (20 + random() * 80).toFixed(2),
        i % 400 === 0 ? 'n/a' : String(Math.floor(random() * 60)),
        random() < 0.3 ? '0' : '',
        ['Monthly', 'Annual', 'Biennial'][Math.floor(random() * 3)],
        city,
        `free text ${Math.floor(random() * 1_500)}`,
        `2024-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`,
        churn !== (i % 500 === 0) ? 'ported' : 'kept',
        i % 5 === 0 ? `X${i % 97}` : String(100 + (i % 89)),
        `"${(1_000 + random() * 9_000).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}"`,
        ...wide.map((_, j) => (j % 3 === 0 ? String(Math.floor(random() * 10)) : (random() * 100).toFixed(1))),
      ].join(','),
    );
  }
  return { csv: lines.join('\n') + '\n', header };
}

describe('typing many user columns', () => {
  let csv: string;
  let header: string[];
  beforeAll(async () => {
    const wide = wideCsv();
    header = wide.header;
    csv = join(await tempDir(), 'wide.csv');
    await writeFile(csv, wide.csv);
  });

  const mapping = InputMappingSchema.parse({
    format: 'snapshot',
    columns: { subscriber_id: 'msisdn', churn_label: 'Churn' },
    features: { '*': 'auto' },
  });
  /** The columns typed, and every statement the typing ran. */
  const resolve = (columnsPerPass?: number) =>
    withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'wide_csv', csv);
      const statements = [vi.spyOn(conn, 'run'), vi.spyOn(conn, 'runAndReadAll')];
      const result = await resolveUserFeatures(
        conn,
        "SELECT * FROM read_csv(getvariable('wide_csv'), header = true, all_varchar = true)",
        header,
        mapping,
        undefined,
        { columnsPerPass },
      );
      // the copy of the rows the passes read is gone
      const { left } = await queryOne<{ left: number }>(
        conn,
        "SELECT count(*) AS left FROM duckdb_tables() WHERE table_name = 'user_feature_rows'",
      );
      return { result, left, sql: statements.flatMap((spy) => spy.mock.calls.map(([sql]) => sql)) };
    });

  it('no statement types more than 50 columns, and every wide column is typed', async () => {
    const { result, sql } = await resolve();
    // DuckDB holds each expression's working vectors beside its memory limit: 100 columns in one
    // statement took 1.1-1.8 GB, 500 over 15 GB
    const userColumns = header.filter((column) => column !== 'msisdn' && column !== 'Churn');
    const columnsPerStatement = sql.map(
      (statement) => userColumns.filter((column) => statement.includes(`"${column}"`)).length,
    );
    expect(Math.max(...columnsPerStatement)).toBe(50);
    const wide = result.features.filter((feature) => feature.name.startsWith('wide_'));
    expect(wide).toHaveLength(WIDE);
    expect(wide.every((feature) => feature.type === 'numeric')).toBe(true);
    // two passes read the CSV itself
    expect(sql.some((statement) => statement.startsWith('CREATE OR REPLACE TEMP TABLE'))).toBe(false);
  });

  it('types every kind of column as one pass over all of them does', async () => {
    const inOnePass = await resolve(1_000);
    // one pass: no copy of the rows, a statement naming every column
    expect(inOnePass.sql.some((statement) => statement.startsWith('CREATE OR REPLACE TEMP TABLE'))).toBe(false);
    const inBatches = await resolve(4);
    expect(inBatches.result).toEqual(inOnePass.result);
    // past two passes, the passes read a copy of the rows (not the CSV again each), dropped at the end
    const copies = inBatches.sql.filter((statement) => statement.startsWith('CREATE OR REPLACE TEMP TABLE'));
    expect(copies).toHaveLength(1);
    expect(inBatches.left).toBe(0);
    const { features, skipped } = inBatches.result;
    // each kind met: numbers with gaps or thousands separators, 0 or blank, categories, the most
    // frequent, dates
    const types = Object.fromEntries(features.map((feature) => [feature.name, feature]));
    expect(types.device_age).toMatchObject({ type: 'numeric', note: "5 values not numbers taken as missing: 'n/a'" });
    expect(types.has_5g).toMatchObject({ type: 'categorical', categories: ['0'], numbers: [0] });
    expect(types.contract).toMatchObject({ type: 'categorical', categories: ['Annual', 'Biennial', 'Monthly'] });
    expect(types.city).toMatchObject({ type: 'categorical', otherValues: expect.any(Number) });
    expect(types.joined).toMatchObject({ type: 'date' });
    expect(types.balance).toMatchObject({ type: 'numeric' });
    // a leak, free text and codes among numbers: skipped, each with its reason
    const reasons = Object.fromEntries(skipped.map((s) => [s.feature, s.reason]));
    expect(reasons.port_out).toMatch(/^predicts the churn label almost perfectly/);
    expect(reasons.note).toMatch(/^1124 distinct values, more than maxCategories=50 and no numbers/);
    expect(reasons.model_code).toMatch(/^186 distinct values, more than maxCategories=50; 400 values \(20%\)/);
  });

  it('skips id columns of a few thousand subscribers as ids (an approximate count of them read ~25% low)', async () => {
    const ids = join(await tempDir(), 'ids.csv');
    const lines = ['msisdn,Churn,email,imsi,fee'];
    for (let i = 0; i < ROWS; i++)
      lines.push(
        `4670${1_000_000 + i},${i % 5 === 0 ? 'Yes' : 'No'},user${i}@example.com,46001${7_000_000 + i},${20 + (i % 80)}`,
      );
    await writeFile(ids, lines.join('\n') + '\n');
    const { skipped, features } = await withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'ids_csv', ids);
      return resolveUserFeatures(
        conn,
        "SELECT * FROM read_csv(getvariable('ids_csv'), header = true, all_varchar = true)",
        ['msisdn', 'Churn', 'email', 'imsi', 'fee'],
        mapping,
      );
    });
    const reasons = Object.fromEntries(skipped.map((s) => [s.feature, s.reason]));
    expect(reasons.email).toMatch(/^looks like an id: 2000 distinct values for 2000 subscribers, one each/);
    expect(reasons.imsi).toMatch(/^looks like an id: /);
    expect(features.map((feature) => feature.name)).toEqual(['fee']);
  });
});
