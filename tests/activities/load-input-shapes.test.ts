import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { queryRows, withConnection } from '../../activities/duckdb';
import { loadUsage } from '../../activities/load';
import type { SampleSummary } from '../../data/generate';
import { smallSample, storeIn, tempDir, writeParquet } from '../helpers';

let dir: string;
let sample: SampleSummary;
const run = (id: string) => ({ workflowId: `load-shapes-${id}`, runId: 'r1' });

beforeAll(async () => {
  dir = await tempDir();
  sample = await smallSample(dir, 600, 8);
});

/**
 * The sample's month folders written anew under `name`, each month's rows selected by
 * `select(month)` from `{month}` (its file), as Parquet or CSV.
 */
async function monthFolders(name: string, select: (month: string) => string, format: 'parquet' | 'csv' = 'parquet') {
  const input = join(dir, name);
  const usage = join(sample.outDir, 'usage');
  for (const folder of await readdir(usage)) {
    const month = folder.replace('usage_month=', '');
    await mkdir(join(input, folder), { recursive: true });
    const from = `read_parquet('${join(usage, folder, 'part_0.parquet')}')`;
    const query = select(month).replace('{month}', from);
    if (format === 'parquet') await writeParquet(sample, join(input, folder, 'part.parquet'), query);
    else
      await withConnection(':memory:', (conn) =>
        conn.run(`COPY (${query}) TO '${join(input, folder, 'part.csv')}' (FORMAT csv, HEADER)`),
      );
  }
  return input;
}

/** Rows per month of the run's valid rows with and without a value in `column` of table `table`. */
const valuesByMonth = (dbPath: string, table: string, column: string) =>
  withConnection(dbPath, (conn) =>
    queryRows<{ month: string; rows: number; values: number }>(
      conn,
      `SELECT strftime("month", '%Y-%m') AS "month", count(*)::INTEGER AS rows, count("${column}")::INTEGER AS "values"
       FROM ${table} GROUP BY ALL ORDER BY 1`,
    ),
  );

describe('month folders whose files gained a column during the year', () => {
  it('reads an optional contract column the earlier months lack as NULL there, in Parquet as in CSV', async () => {
    for (const format of ['parquet', 'csv'] as const) {
      const input = await monthFolders(
        `sms-from-may-${format}`,
        (month) => `SELECT * EXCLUDE (usage_month${month < '2026-05' ? ', sms_count' : ''}) FROM {month}`,
        format,
      );
      const summary = await loadUsage(storeIn(dir), run(`sms-${format}`), { month: '2026-06', input });
      expect(summary.rowsQuarantined, format).toBe(0);
      expect(summary.inputColumns, format).toContain('sms_count');
      const months = await valuesByMonth(summary.dbPath, 'usage', 'sms_count');
      expect(months.length, format).toBe(7);
      for (const { month, rows, values } of months)
        expect(values, `${format} ${month}`).toBe(month < '2026-05' ? 0 : rows);
    }
  });

  it('reads a user feature the earlier months lack as missing there ("features": "auto")', async () => {
    const input = await monthFolders(
      'brand-from-may',
      (month) =>
        `SELECT * EXCLUDE (usage_month)${month < '2026-05' ? '' : ", (['Huawei', 'Apple', 'Xiaomi'])[1 + (hash(subscriber_id) % 3)::INTEGER] AS handset_brand"} FROM {month}`,
    );
    const mapping = join(dir, 'auto.json');
    await writeFile(mapping, JSON.stringify({ features: 'auto' }));
    const summary = await loadUsage(storeIn(dir), run('brand'), { month: '2026-06', input, mapping });
    expect(summary.rowsQuarantined).toBe(0);
    const brand = summary.userFeatures.find((feature) => feature.name === 'handset_brand');
    expect(brand).toMatchObject({ type: 'categorical', categories: ['Apple', 'Huawei', 'Xiaomi'] });
    const months = await valuesByMonth(summary.dbPath, 'user_feature_rows', brand?.column ?? '');
    for (const { month, rows, values } of months) expect(values, month).toBe(month < '2026-05' ? 0 : rows);
  });

  it('stops, naming the files, when a column it reads is stored as types that cannot be read together', async () => {
    const input = await monthFolders(
      'activation-types',
      (month) =>
        `SELECT * EXCLUDE (usage_month), ${month < '2026-05' ? '[1, 2]' : "DATE '2025-01-01'"} AS activation FROM {month}`,
    );
    const mapping = join(dir, 'activation.json');
    await writeFile(mapping, JSON.stringify({ features: { activation: 'categorical' } }));
    const error = await loadUsage(storeIn(dir), run('types'), { month: '2026-06', input, mapping }).catch(
      (thrown: Error) => thrown,
    );
    expect(error).toMatchObject({
      name: 'SchemaContractError',
      message: expect.stringMatching(/^column "activation" is stored as types that cannot be read together: /),
    });
    const { message } = error as Error;
    expect(message).toContain(`INTEGER[] in ${join(input, 'usage_month=2025-12', 'part.parquet')}`);
    expect(message).toContain(`DATE in ${join(input, 'usage_month=2026-05', 'part.parquet')}`);
    expect(message).toMatch(/export the column with one type in every file$/);
  });
});

describe('an empty input file', () => {
  it('is refused as empty, naming it, alone or beside other files', async () => {
    const alone = join(dir, 'empty', 'usage.csv');
    await mkdir(join(dir, 'empty'), { recursive: true });
    await writeFile(alone, '');
    await expect(loadUsage(storeIn(dir), run('empty'), { month: '2026-06', input: alone })).rejects.toMatchObject({
      name: 'InputFileError',
      message: `usage.csv is empty (0 bytes), with no header and no rows (${alone}): was its export cut off? Export it again, or take it out of the input`,
    });
    // beside the sample's months, a month's CSV holding only a byte-order mark and blank lines
    const input = await monthFolders('blank-june', () => `SELECT * EXCLUDE (usage_month) FROM {month}`);
    const blank = join(input, 'usage_month=2026-06', 'late.csv');
    await writeFile(blank, '\uFEFF\r\n\r\n');
    await expect(loadUsage(storeIn(dir), run('blank'), { month: '2026-06', input })).rejects.toMatchObject({
      name: 'InputFileError',
      message: expect.stringContaining(`late.csv is empty (only blank lines), with no header and no rows (${blank})`),
    });
  });
});
