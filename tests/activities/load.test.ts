import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { queryRows, withConnection } from '../../activities/duckdb';
import { loadUsage } from '../../activities/load';
import type { SampleSummary } from '../../data/generate';
import { smallSample, storeIn, tempDir, writeParquet } from '../helpers';

let dir: string;
let sample: SampleSummary;
const run = (id: string) => ({ workflowId: `load-${id}`, runId: 'r1' });

beforeAll(async () => {
  dir = await tempDir();
  sample = await smallSample(dir, 1_500, 8);
});

const parquetFrom = (path: string, select: string) => writeParquet(sample, path, select);

describe('loadUsage on real Parquet', () => {
  it('loads the window, skips month folders outside it, and reconciles counts', async () => {
    const summary = await loadUsage(storeIn(dir), run('ok'), { month: '2026-06', input: join(sample.outDir, 'usage') });
    expect(summary.windowStart).toBe('2025-12');
    expect(summary.inputFiles).toHaveLength(7);
    expect(summary.filesOutsideWindow).toBe(1);
    expect(summary.rowsLoaded + summary.rowsQuarantined).toBe(summary.rowsRead);
    expect(summary.rowsQuarantined).toBe(0);
    expect(summary.inputFiles.every((f) => /^[0-9a-f]{64}$/.test(f.sha256) && f.rows > 0)).toBe(true);
    const [{ rows }] = await withConnection(summary.dbPath, (conn) =>
      queryRows<{ rows: number }>(conn, 'SELECT count(*) AS rows FROM usage'),
    );
    expect(rows).toBe(summary.rowsLoaded);
  });

  it('quarantines bad rows with a counted reason and keeps the rest', async () => {
    const input = join(dir, 'mixed');
    await cp(join(sample.outDir, 'usage'), input, { recursive: true });
    await parquetFrom(
      join(input, 'extra.parquet'),
      `SELECT * EXCLUDE (voice_minutes, data_mb), CASE WHEN row_number() OVER () <= 3 THEN -1.0 ELSE voice_minutes END AS voice_minutes,
              CASE WHEN row_number() OVER () BETWEEN 4 AND 5 THEN 'NaN'::DOUBLE ELSE data_mb END AS data_mb
       FROM {june} LIMIT 5`,
    );
    const summary = await loadUsage(storeIn(dir), run('mixed'), { month: '2026-06', input });
    // the five extra rows are also duplicates of June rows, but a broken value is reported first
    expect(summary.quarantineByReason).toEqual({
      'voice_minutes: outside [0, 44640]': 3,
      'data_mb: not a finite number': 2,
    });
    expect(summary.rowsLoaded + summary.rowsQuarantined).toBe(summary.rowsRead);
  });

  it("checks month by month, and all at once when a month folder holds another month's rows", async () => {
    const input = join(dir, 'late-copy');
    await cp(join(sample.outDir, 'usage'), input, { recursive: true });
    // a copy of a May row, in June's folder: checked month by month it would meet no other copy
    const may = join(input, 'usage_month=2026-05', 'part_0.parquet');
    await parquetFrom(
      join(input, 'usage_month=2026-06', 'late.parquet'),
      `SELECT * FROM read_parquet('${may}') ORDER BY subscriber_id LIMIT 1`,
    );
    const summary = await loadUsage(storeIn(dir), run('late-copy'), { month: '2026-06', input });
    // files are read in path order: the copy in June's folder is the duplicate
    expect(summary.quarantineByReason).toEqual({ 'duplicate (subscriber_id, month)': 1 });
    expect(summary.rowsOutsideMonthFolder).toBe(0);
    expect(summary.rowsLoaded + summary.rowsQuarantined).toBe(summary.rowsRead);
    const [quarantined] = await withConnection(summary.dbPath, (conn) =>
      queryRows<{ source_file: string; month: string }>(conn, 'SELECT source_file, "month" FROM quarantine'),
    );
    expect(quarantined).toEqual({ source_file: join(input, 'usage_month=2026-06', 'late.parquet'), month: '2026-05' });
  });

  it('stops with a typed error when too many rows are bad', async () => {
    const input = join(dir, 'mostly-bad');
    await mkdir(input);
    await parquetFrom(join(input, 'june.parquet'), `SELECT * REPLACE (-1.0 AS spend) FROM {june}`);
    await expect(loadUsage(storeIn(dir), run('bad'), { month: '2026-06', input })).rejects.toMatchObject({
      name: 'DataQualityError',
      message: expect.stringMatching(/spend: outside \[0, 1000000\]/),
    });
  });

  it('refuses files that are not Parquet, lack required columns, or do not exist', async () => {
    const corrupt = join(dir, 'corrupt');
    await mkdir(corrupt);
    await writeFile(join(corrupt, 'usage.parquet'), 'PAR1 this is not really parquet');
    await expect(loadUsage(storeIn(dir), run('corrupt'), { month: '2026-06', input: corrupt })).rejects.toMatchObject({
      name: 'InputFileError',
    });

    const missing = join(dir, 'missing-column');
    await mkdir(missing);
    await parquetFrom(join(missing, 'june.parquet'), 'SELECT * EXCLUDE (spend) FROM {june}');
    await expect(loadUsage(storeIn(dir), run('missing'), { month: '2026-06', input: missing })).rejects.toMatchObject({
      name: 'SchemaContractError',
      message: expect.stringMatching(/lacks required column\(s\): spend/),
    });

    await expect(
      loadUsage(storeIn(dir), run('none'), { month: '2026-06', input: join(dir, 'nowhere') }),
    ).rejects.toMatchObject({ name: 'InputFileError' });
  });

  it('refuses invalid parameters before reading anything', async () => {
    await expect(loadUsage(storeIn(dir), run('params'), { month: '2026-13', input: dir, k: 1 })).rejects.toMatchObject({
      name: 'InvalidParamsError',
      message: expect.stringMatching(/month[\s\S]*k:/),
    });
  });
});
