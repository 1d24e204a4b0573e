import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { addMonths, monthBefore } from '../../domain/month';
import { queryRows, withConnection } from '../../activities/duckdb';
import { loadPartition, loadUsage, planLoad } from '../../activities/load';
import { numberFormatHint, THOUSANDS_HINT } from '../../activities/load-sql';
import { usageMonthFile } from '../../store/layout';
import type { SampleSummary } from '../../data/generate';
import { encodedText, smallSample, storeIn, tempDir, writeParquet } from '../helpers';

let dir: string;
let sample: SampleSummary;
const run = (id: string) => ({ workflowId: `load-${id}`, runId: 'r1' });

beforeAll(async () => {
  dir = await tempDir();
  sample = await smallSample(dir, 1_500, 8);
});

const parquetFrom = (path: string, select: string) => writeParquet(sample, path, select);

/** A load's valid rows by month (YYYY-MM). */
const monthsOf = (summary: { dbPath: string }) =>
  withConnection(summary.dbPath, (conn) =>
    queryRows<{ month: string; rows: number }>(
      conn,
      `SELECT strftime("month", '%Y-%m') AS "month", count(*)::INTEGER AS rows FROM usage GROUP BY ALL ORDER BY 1`,
    ),
  );

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

  it("reads a mapped column named as the value encodings' own columns as the input's", async () => {
    const input = join(dir, 'encoded-names');
    await mkdir(input, { recursive: true });
    // spend under the name source_value, one row's spend written 'free' (the mapping's 0.5)
    await parquetFrom(
      join(input, 'june.parquet'),
      `SELECT * EXCLUDE (spend), CASE WHEN row_number() OVER () = 1 THEN 'free' ELSE spend::VARCHAR END AS source_value
       FROM {june}`,
    );
    const mapping = join(dir, 'encoded-names.json');
    await writeFile(mapping, JSON.stringify({ columns: { spend: 'source_value' }, values: { spend: { free: 0.5 } } }));
    const summary = await loadUsage(storeIn(dir), run('encoded-names'), { month: '2026-06', input, mapping });
    expect(summary.rowsQuarantined).toBe(0);
    const [loaded] = await withConnection(summary.dbPath, (conn) =>
      queryRows<{ half: number; rows: number }>(
        conn,
        'SELECT count(*) FILTER (WHERE spend = 0.5) AS half, count(*) AS rows FROM usage',
      ),
    );
    // before: every row's spend was the encoding's 0.5 (the name read value_encodings' own column)
    expect(loaded.rows).toBeGreaterThan(100);
    expect(loaded.half).toBeLessThan(5);
  });

  it('stops with a typed error when too many rows are bad', async () => {
    const input = join(dir, 'mostly-bad');
    await mkdir(input);
    await parquetFrom(join(input, 'june.parquet'), `SELECT * REPLACE (-1.0 AS spend) FROM {june}`);
    const error = await loadUsage(storeIn(dir), run('bad'), { month: '2026-06', input }).catch((e: Error) => e);
    expect(error).toMatchObject({
      name: 'DataQualityError',
      message: expect.stringMatching(/spend: outside \[0, 1000000\]/),
    });
    // spend has no unit to convert: no hint
    expect((error as Error).message).not.toMatch(/is read in/);
  });

  it('says in which unit a usage column is read when many of its values lie outside its range (bytes for megabytes)', async () => {
    const input = join(dir, 'bytes');
    await mkdir(input);
    await parquetFrom(
      join(input, 'june.parquet'),
      `SELECT * EXCLUDE (data_mb), data_mb * 1048576 + 10000000 AS data_bytes FROM {june}`,
    );
    const mapping = join(dir, 'bytes.json');
    await writeFile(mapping, JSON.stringify({ columns: { data_mb: 'data_bytes' } }));
    const error = await loadUsage(storeIn(dir), run('bytes'), { month: '2026-06', input, mapping }).catch(
      (e: Error) => e,
    );
    expect(error).toMatchObject({ name: 'DataQualityError' });
    expect((error as Error).message).toContain('data_bytes (data_mb): outside [0, 10000000]');
    expect((error as Error).message).toContain(
      '\ndata_mb is read in megabytes: if the column holds bytes, a sum\'s scale converts them, e.g. "data_mb": { "sum": ["data_bytes"], "scale": 9.5367431640625e-7 }',
    );
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

  it('refuses a data file it cannot read in the input folder instead of leaving its rows out, and reads a .tsv', async () => {
    const input = join(dir, 'with-a-text-file');
    await cp(join(sample.outDir, 'usage'), input, { recursive: true });
    // June exported as tab-separated text twice: once as .txt (not read), once as .tsv (read as a CSV)
    const june = join(input, 'usage_month=2026-06');
    await withConnection(':memory:', (conn) =>
      conn.run(
        `COPY (FROM read_parquet('${june}/*.parquet')) TO '${join(input, 'usage-2026-06.txt')}' (HEADER, DELIMITER '\t')`,
      ),
    );
    // a README, a mapping, Spark's _SUCCESS and a file of a month folder outside the window are passed over
    await writeFile(join(input, 'README.txt'), 'usage export\n');
    await writeFile(join(input, 'mapping.json'), '{}');
    await writeFile(join(input, '_SUCCESS'), '');
    await mkdir(join(input, 'usage_month=2025-01'));
    await writeFile(join(input, 'usage_month=2025-01', 'export.json'), '{}');
    await expect(loadUsage(storeIn(dir), run('text-file'), { month: '2026-06', input })).rejects.toMatchObject({
      name: 'InputFileError',
      message: expect.stringMatching(
        /^a file under .* that segflow cannot read: usage-2026-06\.txt\. segflow reads Parquet and CSV/,
      ),
    });
    const tsv = join(dir, 'june.tsv');
    await cp(join(input, 'usage-2026-06.txt'), tsv);
    const summary = await loadUsage(storeIn(dir), run('tsv'), { month: '2026-06', input: tsv });
    expect(summary.rowsLoaded).toBeGreaterThan(1_000);
    expect(summary.rowsQuarantined).toBe(0);
  });

  it("passes over hidden files and folders, as Spark and DuckDB do: a notebook's checkpoint copy, a write's _temporary", async () => {
    const input = join(dir, 'with-hidden-copies');
    await cp(join(sample.outDir, 'usage'), input, { recursive: true });
    const june = join(input, 'usage_month=2026-06');
    await mkdir(join(june, '.ipynb_checkpoints'));
    await cp(join(june, 'part_0.parquet'), join(june, '.ipynb_checkpoints', 'part_0-checkpoint.parquet'));
    await mkdir(join(june, '_temporary'));
    await cp(join(june, 'part_0.parquet'), join(june, '_temporary', 'part_0.parquet'));
    await cp(join(june, 'part_0.parquet'), join(june, '.part_0.parquet'));
    const summary = await loadUsage(storeIn(dir), run('hidden-copies'), { month: '2026-06', input });
    // the copies would each add June's rows again, quarantined as duplicates
    expect(summary.inputFiles.map((file) => file.path).filter((path) => path.startsWith(june))).toEqual([
      join(june, 'part_0.parquet'),
    ]);
    expect(summary.rowsQuarantined).toBe(0);
  });

  it('"auto" checks columns against the label segflow gives monthly usage (no row the month after): a copied churn flag is a leak', async () => {
    const csv = join(dir, 'flagged.csv');
    await withConnection(':memory:', async (conn) => {
      await conn.run(
        `CREATE TABLE u AS FROM read_parquet('${join(sample.outDir, 'usage')}/*/*.parquet', hive_partitioning = false)`,
      );
      // exit_flag: Y on a May row whose subscriber has no June row, as an operator's own churn flag would be
      await conn.run(
        `COPY (SELECT u.*, CASE WHEN u."month" = DATE '2026-05-01' AND u.subscriber_id NOT IN
                 (SELECT subscriber_id FROM u WHERE "month" = DATE '2026-06-01') THEN 'Y' ELSE 'N' END AS exit_flag,
               (hash(u.subscriber_id) % 7)::INTEGER AS device_age
         FROM u ORDER BY u.subscriber_id, u."month") TO '${csv}' (HEADER)`,
      );
    });
    const mapping = join(dir, 'auto-features.json');
    await writeFile(mapping, JSON.stringify({ features: 'auto' }));
    const plan = await planLoad(storeIn(dir), run('flagged'), { month: '2026-06', input: csv, mapping });
    expect(plan.skippedUserFeatures).toContainEqual({
      feature: 'exit_flag',
      reason: expect.stringMatching(/^predicts the churn label almost perfectly: a leak\? \(its values alone get/),
    });
    expect(plan.userFeatures.map((feature) => feature.name)).toEqual(['device_age']);
  });

  it('reads months stored as instants (TIMESTAMPTZ) as the month each stamps, whatever the zone that wrote them', async () => {
    const expected = await monthsOf(
      await loadUsage(storeIn(dir), run('dates'), { month: '2026-06', input: join(sample.outDir, 'usage') }),
    );
    // each month's first midnight in the warehouse's zone: the evening before in UTC east of
    // Greenwich (2026-05-31 16:00 UTC for June in Shanghai; 11:00 in Auckland's summer), the
    // morning of it west (10:00 in Honolulu)
    for (const zone of ['Asia/Shanghai', 'America/New_York', 'Pacific/Auckland', 'Pacific/Honolulu', 'UTC']) {
      const file = join(dir, `instants-${zone.replace('/', '-')}.parquet`);
      await withConnection(':memory:', async (conn) => {
        await conn.run(`COPY (SELECT * REPLACE (("month"::TIMESTAMP AT TIME ZONE '${zone}') AS "month")
                        FROM read_parquet('${join(sample.outDir, 'usage')}/*/*.parquet'))
                        TO '${file}' (FORMAT parquet)`);
      });
      const summary = await loadUsage(storeIn(dir), run(`instants-${zone.replace('/', '-')}`), {
        month: '2026-06',
        input: file,
      });
      // the window's six months read, the month before it left out as with month folders
      expect(Object.keys(summary.quarantineByReason), zone).toEqual(['month: outside the run window']);
      expect(await monthsOf(summary), zone).toEqual(expected);
    }
    // dates in some files, instants in others (June exported later, by another system)
    const mixed = join(dir, 'instants-mixed');
    await mkdir(mixed);
    const usage = `read_parquet('${join(sample.outDir, 'usage')}/*/*.parquet', hive_partitioning = false)`;
    await withConnection(':memory:', async (conn) => {
      await conn.run(
        `COPY (FROM ${usage} WHERE "month" < DATE '2026-06-01') TO '${join(mixed, 'history.parquet')}' (FORMAT parquet)`,
      );
      await conn.run(`COPY (SELECT * REPLACE (("month"::TIMESTAMP AT TIME ZONE 'Asia/Shanghai') AS "month")
                            FROM ${usage} WHERE "month" = DATE '2026-06-01') TO '${join(mixed, 'june.parquet')}' (FORMAT parquet)`);
    });
    expect(
      await monthsOf(await loadUsage(storeIn(dir), run('instants-mixed'), { month: '2026-06', input: mixed })),
    ).toEqual(expected);
    // a labels file's months left stored as instants: the same labels as stored as dates
    const churnedByMonth = async (type: 'DATE' | 'TIMESTAMPTZ') => {
      const labels = join(dir, `months-left-${type}.parquet`);
      await withConnection(':memory:', async (conn) => {
        const left = `max("month") + INTERVAL 1 MONTH`;
        await conn.run(`COPY (SELECT subscriber_id, ${type === 'DATE' ? `(${left})::DATE` : `(${left})::TIMESTAMP AT TIME ZONE 'Asia/Shanghai'`} AS month_left
                              FROM ${usage} GROUP BY subscriber_id HAVING max("month") < DATE '2026-06-01')
                        TO '${labels}' (FORMAT parquet)`);
      });
      const summary = await loadUsage(storeIn(dir), run(`months-left-${type}`), {
        month: '2026-06',
        input: join(sample.outDir, 'usage'),
        labels,
      });
      return withConnection(summary.dbPath, (conn) =>
        queryRows(
          conn,
          `SELECT strftime("month", '%Y-%m') AS "month", count(*) FILTER (WHERE churn_label)::INTEGER AS churned FROM usage GROUP BY ALL ORDER BY 1`,
        ),
      );
    };
    const byDates = await churnedByMonth('DATE');
    expect(byDates.some((row) => Number(row.churned) > 0)).toBe(true);
    expect(await churnedByMonth('TIMESTAMPTZ')).toEqual(byDates);
  });

  it("reads whole-number ids stored as floats (pandas' integer column with a gap) as the integers, as a labels file's ids are", async () => {
    const input = join(dir, 'float-ids.parquet');
    const numbered = `SELECT *, (13800000000 + dense_rank() OVER (ORDER BY subscriber_id)) AS number
                      FROM read_parquet('${join(sample.outDir, 'usage')}/*/*.parquet')`;
    await withConnection(':memory:', async (conn) => {
      await conn.run(`COPY (SELECT * EXCLUDE (number) REPLACE (number::DOUBLE AS subscriber_id) FROM (${numbered}))
                      TO '${input}' (FORMAT parquet)`);
      // labels as a CRM keeps them: integer ids, a flag for each subscriber of June
      await conn.run(`COPY (SELECT DISTINCT number AS subscriber_id, false AS churned FROM (${numbered})
                            WHERE "month" = DATE '2026-06-01')
                      TO '${join(dir, 'float-ids-labels.parquet')}' (FORMAT parquet)`);
    });
    const summary = await loadUsage(storeIn(dir), run('float-ids'), {
      month: '2026-06',
      input,
      labels: join(dir, 'float-ids-labels.parquet'),
    });
    const ids = await withConnection(summary.dbPath, (conn) =>
      queryRows<{ id: string }>(conn, 'SELECT DISTINCT subscriber_id AS id FROM usage ORDER BY 1 LIMIT 2'),
    );
    expect(ids.map((row) => row.id)).toEqual(['13800000001', '13800000002']);
    expect(summary.labels).toMatchObject({ unknownIds: 0 });
    // integers in the earlier months' files, floats in June's: one subscriber each, labelled
    const mixed = join(dir, 'mixed-ids');
    await mkdir(mixed);
    await withConnection(':memory:', async (conn) => {
      await conn.run(`COPY (SELECT * EXCLUDE (number) REPLACE (number AS subscriber_id) FROM (${numbered}) WHERE "month" < DATE '2026-06-01')
                      TO '${join(mixed, 'history.parquet')}' (FORMAT parquet)`);
      await conn.run(`COPY (SELECT * EXCLUDE (number) REPLACE (number::DOUBLE AS subscriber_id) FROM (${numbered}) WHERE "month" = DATE '2026-06-01')
                      TO '${join(mixed, 'june.parquet')}' (FORMAT parquet)`);
    });
    const both = await loadUsage(storeIn(dir), run('mixed-ids'), {
      month: '2026-06',
      input: mixed,
      labels: join(dir, 'float-ids-labels.parquet'),
    });
    const [{ dotted, labelled }] = await withConnection(both.dbPath, (conn) =>
      queryRows<{ dotted: number; labelled: number }>(
        conn,
        `SELECT count(*) FILTER (WHERE contains(subscriber_id, '.'))::INTEGER AS dotted,
                count(churn_label)::INTEGER AS labelled FROM usage`,
      ),
    );
    expect({ dotted, labelled: labelled > 0 }).toEqual({ dotted: 0, labelled: true });
    // text in some files, floats in others: refused, not read as two ids for one subscriber
    const textAndFloats = join(dir, 'text-and-float-ids');
    await mkdir(textAndFloats);
    await withConnection(':memory:', async (conn) => {
      await conn.run(`COPY (SELECT * EXCLUDE (number) REPLACE (number::VARCHAR AS subscriber_id) FROM (${numbered}) WHERE "month" < DATE '2026-06-01')
                      TO '${join(textAndFloats, 'history.parquet')}' (FORMAT parquet)`);
      await conn.run(`COPY (SELECT * EXCLUDE (number) REPLACE (number::DOUBLE AS subscriber_id) FROM (${numbered}) WHERE "month" = DATE '2026-06-01')
                      TO '${join(textAndFloats, 'june.parquet')}' (FORMAT parquet)`);
    });
    await expect(
      loadUsage(storeIn(dir), run('text-and-float-ids'), { month: '2026-06', input: textAndFloats }),
    ).rejects.toMatchObject({
      name: 'SchemaContractError',
      message: expect.stringMatching(
        /^subscriber ids are text in some input files and floating-point numbers in others/,
      ),
    });
    // ids that match none of the input's stop the plan, with one of each, not for want of churners later
    const other = join(dir, 'other-ids-labels.csv');
    await writeFile(other, 'customer,churned\n,no\nC-1,no\nC-2,yes\n'); // a row without an id is no match either
    await expect(
      loadUsage(storeIn(dir), run('other-ids'), { month: '2026-06', input, labels: other }),
    ).rejects.toMatchObject({
      name: 'DataQualityError',
      message: `none of the 2 subscriber ids in the labels file ${other} (column "customer") is one of the input's, e.g. 'C-1' in the labels file and '13800000001' in the input: are they the same ids, written alike?`,
    });
  });

  it("reads a partitioned export's months from its folders (month=2026-06-01/ holding files without the column)", async () => {
    const expected = await monthsOf(
      await loadUsage(storeIn(dir), run('folders'), { month: '2026-06', input: join(sample.outDir, 'usage') }),
    );
    const usage = `read_parquet('${join(sample.outDir, 'usage')}/*/*.parquet', hive_partitioning = false)`;
    /** The sample as DuckDB's (and Spark's) partitioned write lays it out: the key only in the folder names. */
    const partitioned = async (key: string) => {
      const folder = join(dir, `partitioned-${key}`);
      await withConnection(':memory:', async (conn) => {
        await conn.run(`COPY (SELECT * EXCLUDE ("month"), "month" AS ${key} FROM ${usage})
                        TO '${folder}' (FORMAT parquet, PARTITION_BY (${key}))`);
      });
      return folder;
    };
    const summary = await loadUsage(storeIn(dir), run('partitioned'), {
      month: '2026-06',
      input: await partitioned('month'),
    });
    // the month before the window is left out by its folder, as a month folder is
    expect(summary).toMatchObject({ filesOutsideWindow: 1, rowsQuarantined: 0, monthFromFolders: true });
    expect(await monthsOf(summary)).toEqual(expected);
    // a folder key of its own: named, with the rename that reads it
    const mapping = join(dir, 'partitioned-bill_month.json');
    await writeFile(mapping, JSON.stringify({ columns: { month: 'bill_month' } }));
    await expect(
      loadUsage(storeIn(dir), run('partitioned-bill'), {
        month: '2026-06',
        input: await partitioned('bill_month'),
        mapping,
      }),
    ).rejects.toMatchObject({
      name: 'SchemaContractError',
      message: expect.stringMatching(
        /; its folder bill_month=\d{4}-\d\d… names a month: segflow takes the months of a partitioned export from folders named month= or usage_month= \(rename bill_month= to month=, and leave month out of the mapping\)$/,
      ),
    });
    // folders of another month (an extract's), over files that carry their own: read whatever their names
    const extracts = join(dir, 'extract-months');
    await withConnection(':memory:', async (conn) => {
      await conn.run(`COPY (SELECT *, strftime("month" + INTERVAL 1 MONTH, '%Y-%m') AS extract_month FROM ${usage})
                      TO '${extracts}' (FORMAT parquet, PARTITION_BY (extract_month))`);
    });
    const byExtract = await loadUsage(storeIn(dir), run('extract-months'), { month: '2026-06', input: extracts });
    expect(byExtract.monthFromFolders).toBeUndefined();
    expect(await monthsOf(byExtract)).toEqual(expected);
  });

  it('stops a run whose window lacks a month between months that have rows (a delivery missing a file)', async () => {
    const input = join(dir, 'missing-month');
    await cp(join(sample.outDir, 'usage'), input, { recursive: true });
    await rm(join(input, 'usage_month=2026-03'), { recursive: true });
    await expect(loadUsage(storeIn(dir), run('missing-month'), { month: '2026-06', input })).rejects.toMatchObject({
      name: 'DataQualityError',
      message: expect.stringMatching(
        /^no or almost no valid usage rows for 2026-03 \(0\), inside the run window \(2025-12\.\.2026-06\) between months that hold up to \d+: is the input missing that month's files, or were all its rows quarantined\? Every window feature/,
      ),
    });
    // a month of which a few rows came (a share of its files): the same
    await mkdir(join(input, 'usage_month=2026-03'));
    await parquetFrom(
      join(input, 'usage_month=2026-03', 'part_0.parquet'),
      `SELECT * REPLACE (DATE '2026-03-01' AS "month") FROM {june} LIMIT 3`,
    );
    await expect(loadUsage(storeIn(dir), run('thin-month'), { month: '2026-06', input })).rejects.toMatchObject({
      message: expect.stringMatching(/^no or almost no valid usage rows for 2026-03 \(3\), inside the run window/),
    });
    // months before the first the input holds are history it does not reach, not a gap; nor does
    // a late record of such a month (three rows of December) make December the first
    await rm(join(input, 'usage_month=2026-03'), { recursive: true });
    for (const month of ['2025-12', '2026-01', '2026-02'])
      await rm(join(input, `usage_month=${month}`), { recursive: true });
    await cp(join(sample.outDir, 'usage', 'usage_month=2026-03'), join(input, 'usage_month=2026-03'), {
      recursive: true,
    });
    await mkdir(join(input, 'usage_month=2025-12'));
    await parquetFrom(
      join(input, 'usage_month=2025-12', 'late.parquet'),
      `SELECT * REPLACE (DATE '2025-12-01' AS "month") FROM {june} LIMIT 3`,
    );
    const short = await loadUsage(storeIn(dir), run('short-history'), { month: '2026-06', input });
    expect(short.rowsLoaded).toBeGreaterThan(0);
  });

  it('says a run month the input does not hold yet may be a month whose data has not arrived, and how to run it later', async () => {
    await expect(
      loadUsage(storeIn(dir), run('not-yet'), { month: '2026-07', input: join(sample.outDir, 'usage') }),
    ).rejects.toThrow(
      "no valid usage rows for the run month 2026-07 (window 2026-01..2026-07): has 2026-07's data arrived? Once it has, run the month (a schedule's: segflow schedule backfill --from 2026-07 --to 2026-07)",
    );
    // a month that has not ended: no backfill can run it yet, and the stop says why
    const ended = monthBefore(new Date());
    const month = addMonths(ended, 1);
    await expect(
      loadUsage(storeIn(dir), run('not-ended'), { month, input: join(sample.outDir, 'usage') }),
    ).rejects.toThrow(
      new RegExp(
        `: ${month} has not ended yet, so none of its usage can have arrived \\(the last month that has ended is ${ended}\\)$`,
      ),
    );
  });

  it('refuses invalid parameters before reading anything', async () => {
    await expect(loadUsage(storeIn(dir), run('params'), { month: '2026-13', input: dir, k: 1 })).rejects.toMatchObject({
      name: 'InvalidParamsError',
      message: expect.stringMatching(/month[\s\S]*k:/),
    });
  });
});

describe('month files copied as they are', () => {
  /** A copy of the sample's usage in folder `name`. */
  async function copySample(name: string): Promise<string> {
    const input = join(dir, name);
    await cp(join(sample.outDir, 'usage'), input, { recursive: true });
    return input;
  }

  /** Rewrites `month`'s file of `input` with `select`, which reads `{rows}`: the file's rows. */
  async function rewriteMonth(input: string, month: string, select: string): Promise<string> {
    const file = join(input, `usage_month=${month}`, 'part_0.parquet');
    const rows = `${input}-${month}.parquet`;
    await cp(file, rows);
    await rm(file);
    await parquetFrom(file, select.replaceAll('{rows}', `read_parquet('${rows}')`));
    return file;
  }

  it("copies a clean month folder's file as its checked rows and writes those of a month with a bad row", async () => {
    const input = await copySample('as-is');
    const may = await rewriteMonth(
      input,
      '2026-05',
      'SELECT * REPLACE (CASE WHEN row_number() OVER () = 1 THEN -1.0 ELSE spend END AS spend) FROM {rows}',
    );
    const summary = await loadUsage(storeIn(dir), run('as-is'), { month: '2026-06', input });
    expect(summary.quarantineByReason).toEqual({ 'spend: outside [0, 1000000]': 1 });
    const june = join(input, 'usage_month=2026-06', 'part_0.parquet');
    expect((await readFile(usageMonthFile(summary.dbPath, '2026-06'))).equals(await readFile(june))).toBe(true);
    expect((await readFile(usageMonthFile(summary.dbPath, '2026-05'))).equals(await readFile(may))).toBe(false);
    // the contract's columns in its order, whichever way a month's file came; the input's own columns left out
    const [view, rows] = await withConnection(summary.dbPath, (conn) =>
      Promise.all([
        queryRows<{ columns: string }>(conn, "SELECT string_agg(column_name, ',') AS columns FROM (DESCRIBE usage)"),
        queryRows<{ rows: number; labels: number; june: number }>(
          conn,
          `SELECT count(*) AS rows, count(churn_label) AS labels, count(*) FILTER (WHERE "month" = '2026-06-01') AS june FROM usage`,
        ),
      ]),
    );
    expect(view[0].columns).toMatch(/^subscriber_id,month,voice_minutes,data_mb,.*,churn_label$/);
    expect(rows[0]).toMatchObject({ rows: summary.rowsLoaded, labels: 0, june: summary.subscribersInMonth });
  });

  it('finds a repeated row in a file that could be copied, quarantines it and writes the month', async () => {
    // every value in range, one (subscriber, month) twice: only the duplicate check can tell
    const input = await copySample('repeated');
    const june = await rewriteMonth(input, '2026-06', 'FROM {rows} UNION ALL (FROM {rows} LIMIT 1)');
    const summary = await loadUsage(storeIn(dir), run('repeated'), { month: '2026-06', input });
    expect(summary.quarantineByReason).toEqual({ 'duplicate (subscriber_id, month)': 1 });
    expect((await readFile(usageMonthFile(summary.dbPath, '2026-06'))).equals(await readFile(june))).toBe(false);
    expect(
      (await readFile(usageMonthFile(summary.dbPath, '2026-05'))).equals(
        await readFile(join(input, 'usage_month=2026-05', 'part_0.parquet')),
      ),
    ).toBe(true);
    const [{ rows: loaded }] = await withConnection(summary.dbPath, (conn) =>
      queryRows<{ rows: number }>(conn, 'SELECT count(*) AS rows FROM usage'),
    );
    expect(loaded).toBe(summary.rowsLoaded);
    expect(summary.rowsLoaded + summary.rowsQuarantined).toBe(summary.rowsRead);
  });

  it("reads ids written with `.0` (pandas' float ids saved as text) as the other months' integers, and copies no such file as it is", async () => {
    const input = await copySample('decimal-ids');
    const numbered = (suffix: string) =>
      `SELECT * REPLACE ((13800000000 + substr(subscriber_id, 2)::BIGINT)::VARCHAR || '${suffix}' AS subscriber_id) FROM {rows}`;
    const months = ['2025-11', '2025-12', '2026-01', '2026-02', '2026-03', '2026-04', '2026-05', '2026-06'];
    for (const month of months) await rewriteMonth(input, month, numbered(month === '2026-05' ? '.0' : ''));
    // a bad row in April: May is checked at once, without counting first
    await rewriteMonth(
      input,
      '2026-04',
      'SELECT * REPLACE (CASE WHEN row_number() OVER () = 1 THEN -1.0 ELSE spend END AS spend) FROM {rows}',
    );
    const summary = await loadUsage(storeIn(dir), run('decimal-ids'), { month: '2026-06', input });
    expect(summary.rowsQuarantined).toBe(1);
    const ids = await withConnection(summary.dbPath, (conn) =>
      queryRows<{ month: string; ids: number; first: string; dotted: number }>(
        conn,
        `SELECT strftime("month", '%Y-%m') AS "month", count(*)::INTEGER AS ids, min(subscriber_id) AS first,
                count(*) FILTER (WHERE contains(subscriber_id, '.'))::INTEGER AS dotted
         FROM usage WHERE "month" >= '2026-05-01' GROUP BY ALL ORDER BY 1`,
      ),
    );
    expect(ids.map(({ first, dotted }) => ({ first, dotted }))).toEqual(
      Array(2).fill({ first: ids[0].first, dotted: 0 }),
    );
    expect(ids[0].first).toMatch(/^138\d{8}$/);
    // May's file holds other text than its checked rows: written, not copied; June's is copied
    const file = (month: string) => join(input, `usage_month=${month}`, 'part_0.parquet');
    expect((await readFile(usageMonthFile(summary.dbPath, '2026-05'))).equals(await readFile(file('2026-05')))).toBe(
      false,
    );
    expect((await readFile(usageMonthFile(summary.dbPath, '2026-06'))).equals(await readFile(file('2026-06')))).toBe(
      true,
    );
  });

  it('keeps a subscriber whose ids are written with `.0` in one month in one partition (hashed as the checks read them)', async () => {
    const input = join(dir, 'decimal-ids-csv');
    await mkdir(input, { recursive: true });
    await withConnection(':memory:', async (conn) => {
      for (const month of ['2026-01', '2026-02', '2026-03', '2026-04', '2026-05', '2026-06'])
        await conn.run(
          `COPY (SELECT * REPLACE ((13800000000 + substr(subscriber_id, 2)::BIGINT)::VARCHAR || '${month === '2026-03' ? '.0' : ''}' AS subscriber_id)
                 FROM read_parquet('${join(sample.outDir, 'usage')}/*/*.parquet') WHERE strftime("month", '%Y-%m') = '${month}')
           TO '${join(input, `usage-${month}.csv`)}' (HEADER)`,
        );
    });
    const plan = await planLoad(storeIn(dir), run('decimal-ids-split'), { month: '2026-06', input }, 2);
    for (const index of plan.partitionDbPaths.keys()) await loadPartition(plan, index);
    const idsOf = (dbPath: string) =>
      withConnection(dbPath, (conn) =>
        queryRows<{ id: string }>(conn, 'SELECT DISTINCT subscriber_id AS id FROM usage'),
      );
    const [first, second] = await Promise.all(plan.partitionDbPaths.map(idsOf));
    const inFirst = new Set(first.map((row) => row.id));
    expect(first.length).toBeGreaterThan(100);
    expect(second.filter((row) => inFirst.has(row.id))).toEqual([]);
  });

  it('stops when a file changes between the plan and the read, instead of copying other rows than it checked', async () => {
    const input = await copySample('changing');
    const plan = await planLoad(storeIn(dir), run('changing'), { month: '2026-06', input });
    // the same rows, valid, in another order: only the hash tells them apart
    await rewriteMonth(input, '2026-06', 'FROM {rows} ORDER BY subscriber_id DESC');
    await expect(loadPartition(plan, 0)).rejects.toMatchObject({
      name: 'InputFileError',
      message: expect.stringMatching(/changed while it was loaded/),
    });
  });
});

describe('a CSV whose numbers are written with a decimal comma', () => {
  /** June's rows under a user's names (voice minutes in two parts, a numeric and a categorical column of the user's own). */
  const BASE = `SELECT subscriber_id, "month", voice_minutes / 2 AS voice_day, voice_minutes / 2 AS voice_night, data_mb,
      spend, tenure_months, round(tenure_months / 7 + (hash(subscriber_id) % 5) / 3, 3) AS device_age,
      ['A', 'B', 'C'][1 + (hash(subscriber_id) % 3)::INTEGER] AS handset,
      row_number() OVER () AS n
    FROM {june}`;
  const MAPPING = {
    columns: { voice_minutes: { sum: ['voice_day', 'voice_night'] } },
    values: { spend: { free: 0.5 } },
    features: 'auto',
  };

  /**
   * Writes June's rows as CSV: numbers with `mark` as decimal mark, values separated by
   * `delimiter`; spend 'abc' in the first two rows, 'free' (encoded by the mapping) in the fourth.
   */
  async function writeCsv(
    path: string,
    mark: '.' | ',',
    delimiter: string,
    spend = "CASE WHEN n <= 2 THEN 'abc' WHEN n = 4 THEN 'free' ELSE {spend} END",
  ) {
    const text = (column: string) => (mark === ',' ? `replace(${column}::VARCHAR, '.', ',')` : `${column}::VARCHAR`);
    const select = `SELECT * EXCLUDE (n) REPLACE (${spend.replace('{spend}', text('spend'))} AS spend,
        ${['voice_day', 'voice_night', 'data_mb', 'device_age'].map((c) => `${text(c)} AS ${c}`).join(', ')})
      FROM (${BASE})`;
    const parquet = `${path}.parquet`;
    await parquetFrom(parquet, select);
    await withConnection(':memory:', (conn) =>
      conn.run(`COPY (FROM read_parquet('${parquet}')) TO '${path}' (HEADER, DELIMITER '${delimiter}')`),
    );
    await rm(parquet);
  }

  async function loadCsv(name: string, csv: string, mapping: object) {
    const mappingFile = join(dir, `${name}.json`);
    await writeFile(mappingFile, JSON.stringify(mapping));
    return loadUsage(storeIn(dir), run(name), { month: '2026-06', input: csv, mapping: mappingFile });
  }

  const totals = (dbPath: string) =>
    withConnection(dbPath, (conn) =>
      queryRows<Record<string, unknown>>(
        conn,
        `SELECT count(*) AS rows, sum(voice_minutes) AS voice, sum(data_mb) AS data, sum(spend) AS spend,
           sum(tenure_months) AS tenure, (SELECT sum(user_0) + sum(user_2) FROM user_feature_rows) AS user_numbers
         FROM usage`,
      ),
    );

  it('loads its numbers as numbers with decimalSeparator ",", as the same file written with points', async () => {
    const pointCsv = join(dir, 'points.csv');
    const commaCsv = join(dir, 'commas.csv');
    await writeCsv(pointCsv, '.', ',');
    await writeCsv(commaCsv, ',', ';');
    expect((await readFile(commaCsv, 'utf8')).split('\n')[3]).toMatch(/;\d+,\d+;/);

    const points = await loadCsv('decimal-points', pointCsv, MAPPING);
    const commas = await loadCsv('decimal-commas', commaCsv, { ...MAPPING, decimalSeparator: ',' });
    // the good rows load alike, the two bad ones are quarantined alike
    expect(commas.quarantineByReason).toEqual({ 'spend: not a valid double': 2 });
    expect(points.quarantineByReason).toEqual(commas.quarantineByReason);
    expect(commas.rowsLoaded).toBe(points.rowsLoaded);
    expect(commas.userFeatures).toEqual(points.userFeatures);
    // the summed columns stay features of their own
    expect(commas.userFeatures.map((feature) => [feature.name, feature.type, feature.note])).toEqual([
      ['voice_day', 'numeric', undefined],
      ['voice_night', 'numeric', undefined],
      ['device_age', 'numeric', undefined],
      ['handset', 'categorical', undefined],
    ]);
    const [read] = await totals(commas.dbPath);
    expect(read).toMatchObject({ rows: commas.rowsLoaded, voice: expect.any(Number), spend: expect.any(Number) });
    expect(read.user_numbers).toEqual(expect.any(Number));
    expect(await totals(points.dbPath)).toEqual([read]);

    // without the option its numbers are not numbers: nearly every row is quarantined, and the run stops
    const unread = await loadCsv('decimal-commas-unread', commaCsv, MAPPING).catch((error: Error) => error);
    // its message quotes a value as the file writes it, and says what to set
    expect(unread).toMatchObject({
      name: 'DataQualityError',
      message: expect.stringMatching(
        /\n {2}\d+ x data_mb: not a valid double, e\.g\. '\d+,\d+': set "decimalSeparator": "," in the mapping(\n|$)/,
      ),
    });
  });

  it('reads a decimal comma or thousands separators from an example of a value that is not a number', () => {
    expect(numberFormatHint('103,03')).toBe('set "decimalSeparator": "," in the mapping');
    expect(numberFormatHint('-0,5')).toBe('set "decimalSeparator": "," in the mapping');
    expect(numberFormatHint('103,03', ',')).toBeUndefined();
    // three digits after the comma: it may as well separate thousands
    expect(numberFormatHint('12,345')).toBe(
      'a decimal comma (set "decimalSeparator": "," in the mapping) or a thousands separator (not read alone: write numbers without it)',
    );
    // separators in groups of three are read (textNumberSql): the hint is for those that are not
    for (const value of ['17.48,80', '1,7488.0', '1.23.4567', '1,00,000'])
      expect(numberFormatHint(value, ','), value).toBe(THOUSANDS_HINT);
    expect(THOUSANDS_HINT).toMatch(/^thousands separators are not read here/);
    for (const value of ['abc', 'n/a', '1.5', ',5', '12,', '1e3,5'])
      expect(numberFormatHint(value), value).toBeUndefined();
  });

  it("reads a contract number column's thousands separators (a US Excel export's \"1,744.38\", a German one's 1.744,38) as the same numbers written plainly", async () => {
    // spend x 10 (many of them 1,000 or more), rows 1 and 2 'abc' as in every file here
    const plain = "CASE WHEN n <= 2 THEN 'abc' ELSE round(spend * 10, 2)::VARCHAR END";
    const us = "CASE WHEN n <= 2 THEN 'abc' ELSE format('{:,.2f}', spend * 10) END";
    const german = `CASE WHEN n <= 2 THEN 'abc' ELSE translate(format('{:,.2f}', spend * 10), ',.', '.,') END`;
    const [plainCsv, usCsv, germanCsv] = ['plain', 'us', 'german'].map((name) => join(dir, `thousands-${name}.csv`));
    await writeCsv(plainCsv, '.', ',', plain);
    await writeCsv(usCsv, '.', ',', us);
    await writeCsv(germanCsv, ',', ';', german);
    expect(await readFile(usCsv, 'utf8')).toMatch(/,"\d,\d{3}\.\d\d",/);
    expect(await readFile(germanCsv, 'utf8')).toMatch(/;\d\.\d{3},\d\d;/);
    const loaded = [
      await loadCsv('thousands-plain', plainCsv, MAPPING),
      await loadCsv('thousands-us', usCsv, MAPPING),
      await loadCsv('thousands-german', germanCsv, { ...MAPPING, decimalSeparator: ',' }),
    ];
    const spend = async (summary: { dbPath: string }) => (await totals(summary.dbPath))[0].spend as number;
    const [plainSpend, usSpend, germanSpend] = await Promise.all(loaded.map(spend));
    for (const summary of loaded) expect(summary.quarantineByReason).toEqual({ 'spend: not a valid double': 2 });
    expect(usSpend).toBeCloseTo(plainSpend, 6);
    expect(germanSpend).toBeCloseTo(plainSpend, 6);
  });

  it("quarantines a number whose separators are not read with the stop's hint in its reason, whether the run stops or not", async () => {
    const lone =
      'a decimal comma (set "decimalSeparator": "," in the mapping) or a thousands separator (not read alone: write numbers without it)';
    // a few rows: 1,003 (a lone comma before three digits) and 1,00,004.5 (groups of two): the run goes on
    const few =
      "CASE WHEN n <= 2 THEN 'abc' WHEN n BETWEEN 3 AND 5 THEN '1,00' || n || '' WHEN n = 6 THEN '1,00,004.5' ELSE {spend} END";
    const fewCsv = join(dir, 'thousands-few.csv');
    await writeCsv(fewCsv, '.', ',', few);
    const summary = await loadCsv('thousands-few', fewCsv, MAPPING);
    expect(summary.quarantineByReason).toEqual({
      [`spend: not a valid double: ${lone}`]: 3,
      'spend: not a valid double': 2,
      [`spend: not a valid double: ${THOUSANDS_HINT}`]: 1,
    });
    const reasons = await withConnection(summary.dbPath, (conn) =>
      queryRows<{ reason: string }>(conn, 'SELECT DISTINCT reason FROM quarantine ORDER BY reason'),
    );
    expect(reasons.map((row) => row.reason)).toEqual(Object.keys(summary.quarantineByReason).sort());
    // every row so: the run stops, quoting a value and the same hint, once
    const many = "CASE WHEN n <= 2 THEN 'abc' ELSE '1,' || lpad((n % 1000)::VARCHAR, 3, '0') END";
    const manyCsv = join(dir, 'thousands-many.csv');
    await writeCsv(manyCsv, '.', ',', many);
    const stopped = await loadCsv('thousands-many', manyCsv, MAPPING).catch((error: Error) => error);
    expect(stopped).toMatchObject({ name: 'DataQualityError' });
    expect((stopped as Error).message).toMatch(
      new RegExp(
        `\\n {2}\\d+ x spend: not a valid double, e\\.g\\. '1,\\d{3}': ${lone.replace(/[()]/g, '\\$&')}(\\n|$)`,
      ),
    );
    // the same in Parquet, a column of text, read in two partitions: 17,4880.0 (a group of four)
    const input = join(dir, 'thousands-parquet');
    await mkdir(input, { recursive: true });
    await parquetFrom(
      join(input, 'june.parquet'),
      "SELECT * REPLACE (CASE WHEN spend >= 0 THEN '17,' || lpad((row_number() OVER () % 10000)::VARCHAR, 4, '0') || '.0' END AS spend) FROM {june}",
    );
    await expect(
      loadUsage(storeIn(dir), run('thousands-parquet'), { month: '2026-06', input }, 2),
    ).rejects.toMatchObject({
      name: 'DataQualityError',
      message: expect.stringMatching(
        /x spend: not a valid double, e\.g\. '17,\d{4}\.0': thousands separators are not read here: they are read only between groups of three digits/,
      ),
    });
  });

  it('reads a number written with a point as no number, as DuckDB reads such a file', async () => {
    const csv = join(dir, 'commas-and-a-point.csv');
    await writeCsv(csv, ',', ';', "CASE WHEN n <= 2 THEN 'abc' WHEN n = 3 THEN '1.234' ELSE {spend} END");
    const summary = await loadCsv('decimal-point-in-commas', csv, { ...MAPPING, decimalSeparator: ',' });
    expect(summary.quarantineByReason).toEqual({ 'spend: not a valid double': 3 });
  });

  it("reads a number the mapping's values give a number column as text like the number, with a point or the comma", async () => {
    const csv = join(dir, 'commas-free.csv');
    await writeCsv(csv, ',', ';');
    const spend = async (name: string, free: unknown) => {
      const summary = await loadCsv(name, csv, { ...MAPPING, values: { spend: { free } }, decimalSeparator: ',' });
      // only the two 'abc' rows are quarantined: the 'free' row reads 0.5
      expect(summary.quarantineByReason, name).toEqual({ 'spend: not a valid double': 2 });
      return (await totals(summary.dbPath))[0].spend;
    };
    const number = await spend('free-number', 0.5);
    expect(await spend('free-text', '0.5')).toBe(number);
    expect(await spend('free-comma-text', '0,5')).toBe(number);
  });

  it('reads NULL, \\N, NA and the like as missing, as an empty cell, and a value the mapping maps to null as missing', async () => {
    const csv = join(dir, 'missing-markers.csv');
    const lines = [
      'subscriber_id,month,voice_minutes,data_mb,spend,tenure_months,sms_count,complaints,plan,region',
      'S1,2026-06,10,20,30.5,12,,,basic,',
      'S2,2026-06,10,20,30.5,12,NULL,\\N,NULL,\\N',
      'S3,2026-06,10,20,30.5,12,NA,#N/A,None,n/a',
      'S4,2026-06,10,20,30.5,12,3,1,basic,north',
      'S5,2026-06,10,20,30.5,12,5,0,basic,unknown',
      'S6,2026-06,10,20,30.5,12,5,0,basic,NA',
    ];
    await writeFile(csv, lines.join('\n') + '\n');
    // the region 'unknown' mapped to null: missing too
    const summary = await loadCsv('missing-markers', csv, { values: { region: { unknown: null } } });
    expect(summary.rowsQuarantined).toBe(0);
    const rows = await withConnection(summary.dbPath, (conn) =>
      queryRows<Record<string, unknown>>(
        conn,
        'SELECT subscriber_id, sms_count, complaints, plan, region FROM usage ORDER BY subscriber_id',
      ),
    );
    expect(rows).toEqual([
      { subscriber_id: 'S1', sms_count: null, complaints: null, plan: 'basic', region: null },
      { subscriber_id: 'S2', sms_count: null, complaints: null, plan: null, region: null },
      { subscriber_id: 'S3', sms_count: null, complaints: null, plan: null, region: null },
      { subscriber_id: 'S4', sms_count: 3, complaints: 1, plan: 'basic', region: 'north' },
      { subscriber_id: 'S5', sms_count: 5, complaints: 0, plan: 'basic', region: null },
      { subscriber_id: 'S6', sms_count: 5, complaints: 0, plan: 'basic', region: null },
    ]);
    // a cell the mapping's values name is read as written, in every column: 'NA' the region north
    // america, and so sms_count's 'NA' is mapped to null too (else it would be no integer)
    const named = await loadCsv('missing-markers-named', csv, {
      values: { region: { NA: 'north america' }, sms_count: { NA: null } },
    });
    expect(named.rowsQuarantined).toBe(0);
    const regions = await withConnection(named.dbPath, (conn) =>
      queryRows<Record<string, unknown>>(
        conn,
        "SELECT subscriber_id, sms_count, region FROM usage WHERE subscriber_id IN ('S3', 'S6') ORDER BY 1",
      ),
    );
    expect(regions).toEqual([
      { subscriber_id: 'S3', sms_count: null, region: null },
      { subscriber_id: 'S6', sms_count: 5, region: 'north america' },
    ]);
  });

  it('reads numbers as a spreadsheet formats them: ¥12.50, 12.50元, 12% and (12.50)', async () => {
    const csv = join(dir, 'formatted.csv');
    const lines = [
      'subscriber_id,month,voice_minutes,data_mb,spend,tenure_months,balance,share',
      'S1,2026-06,10,20,¥138.22,12,(12.50),12%',
      'S2,2026-06,10,20,138.22元,12,3.5,-27.3%',
      'S3,2026-06,10,20,$ 5,12,¥4,0%',
      ...Array.from({ length: 57 }, (_, i) => `T${i},2026-06,10,20,${i}.5,12,${i},${i}%`),
    ];
    await writeFile(csv, lines.join('\n') + '\n');
    const summary = await loadCsv('formatted', csv, { features: 'auto' });
    expect(summary.rowsQuarantined).toBe(0);
    expect(summary.userFeatures.map((feature) => [feature.name, feature.type, feature.note])).toEqual([
      ['balance', 'numeric', undefined],
      ['share', 'numeric', undefined],
    ]);
    const read = await withConnection(summary.dbPath, (conn) =>
      queryRows<Record<string, unknown>>(
        conn,
        `SELECT u.subscriber_id, u.spend, f.user_0 AS balance, f.user_1 AS share FROM usage u
         JOIN user_feature_rows f USING (subscriber_id) WHERE u.subscriber_id IN ('S1', 'S2', 'S3') ORDER BY 1`,
      ),
    );
    expect(read).toEqual([
      { subscriber_id: 'S1', spend: 138.22, balance: -12.5, share: 12 },
      { subscriber_id: 'S2', spend: 138.22, balance: 3.5, share: -27.3 },
      { subscriber_id: 'S3', spend: 5, balance: 4, share: 0 },
    ]);
  });

  it('quarantines ids a spreadsheet wrote in scientific notation, instead of taking many subscribers for one', async () => {
    const csv = join(dir, 'excel-ids.csv');
    const rows = Array.from({ length: 80 }, (_, i) => `${13800000000 + i},2026-06,10,20,30.5,12`);
    // Excel shows 13800000077 to 79 as 1.38E+10, and saves them so (with a decimal comma in some locales)
    rows[77] = '1.38E+10,2026-06,10,20,30.5,12';
    rows[78] = '1.38E+10,2026-06,11,21,31.5,13';
    rows[79] = '"1,38E+10",2026-06,11,21,31.5,13';
    await writeFile(csv, ['用户号码,month,voice_minutes,data_mb,spend,tenure_months', ...rows].join('\n') + '\n');
    const summary = await loadCsv('excel-ids', csv, { columns: { subscriber_id: '用户号码' } });
    expect(summary.quarantineByReason).toEqual({
      '用户号码 (subscriber_id): a number in scientific notation (1.38E+10): a spreadsheet rounded the id; export the id column as text': 3,
    });
    expect(summary.rowsLoaded).toBe(77);
  });

  it('reads a CSV separated by commas whose decimal-comma numbers are quoted, and refuses one whose are not', async () => {
    // COPY quotes each value holding its delimiter: "103,03"
    const quoted = join(dir, 'quoted-commas.csv');
    await writeCsv(quoted, ',', ',');
    const semicolons = join(dir, 'semicolons-again.csv');
    await writeCsv(semicolons, ',', ';');
    const mapping = { ...MAPPING, decimalSeparator: ',' };
    const [a, b] = [
      await loadCsv('quoted-commas', quoted, mapping),
      await loadCsv('semicolons-again', semicolons, mapping),
    ];
    expect(a.quarantineByReason).toEqual(b.quarantineByReason);
    expect(await totals(a.dbPath)).toEqual(await totals(b.dbPath));
    const bare = join(dir, 'bare-commas.csv');
    await writeFile(bare, 'subscriber_id,month,spend\n"S1","2026-06",103,03\n"S2","2026-06",5,5\n');
    await expect(loadCsv('bare-commas', bare, mapping)).rejects.toMatchObject({
      name: 'InvalidParamsError',
      message: expect.stringContaining('quote its numbers ("103,03")'),
    });
  });

  it('refuses decimalSeparator "," for a CSV separated by commas, and for Parquet, naming both', async () => {
    const csv = join(dir, 'commas-between.csv');
    await writeCsv(csv, '.', ',');
    await expect(loadCsv('decimal-comma-delimited', csv, { ...MAPPING, decimalSeparator: ',' })).rejects.toMatchObject({
      name: 'InvalidParamsError',
      message: expect.stringMatching(
        /decimalSeparator is ",", but .*commas-between\.csv separates its values with "," too/,
      ),
    });
    await expect(
      loadCsv('decimal-comma-parquet', join(sample.outDir, 'usage'), { decimalSeparator: ',' }),
    ).rejects.toMatchObject({
      name: 'InvalidParamsError',
      message: expect.stringMatching(/decimalSeparator "," is for CSV files, but .*\.parquet is Parquet/),
    });
    await expect(loadCsv('decimal-semicolon', csv, { decimalSeparator: ';' })).rejects.toMatchObject({
      name: 'InvalidParamsError',
      message: expect.stringContaining('decimalSeparator: decimalSeparator takes "." or ","'),
    });
  });
});

describe('a CSV saved in GB18030, as Excel saves one on Chinese Windows', () => {
  /** The GB18030 bytes of the file's Chinese words (iconv -f UTF-8 -t GB18030); ASCII is the same in both. */
  const GB18030: Record<string, string> = {
    用户号码: 'd3c3bba7bac5c2eb',
    统计月份: 'cdb3bcc6d4c2b7dd',
    通话分钟: 'cda8bbb0b7d6d6d3',
    流量: 'c1f7c1bf',
    月消费: 'd4c2cffbb7d1',
    在网月数: 'd4dacdf8d4c2cafd',
    地市: 'b5d8cad0',
    广东: 'b9e3b6ab',
    深圳: 'c9eedbda',
    是否流失: 'cac7b7f1c1f7caa7',
    是: 'cac7',
    否: 'b7f1',
  };
  const encoded = (text: string) => encodedText(GB18030, text);
  const MAPPING = {
    columns: {
      subscriber_id: '用户号码',
      month: '统计月份',
      voice_minutes: '通话分钟',
      data_mb: '流量',
      spend: '月消费',
      tenure_months: '在网月数',
      region: '地市',
    },
    values: { churn_label: { 是: true, 否: false } },
  };

  it('is read with the mapping\'s "encoding", its labels file too, a UTF-8 file beside them as it is; without it the stop says what to set', async () => {
    const folder = join(dir, 'gb18030');
    await mkdir(folder);
    const rows = Array.from(
      { length: 40 },
      (_, i) => `S${i},2026-06,${100 + i},${200 + i},${30 + i}.5,${12 + i},${i % 2 ? '深圳' : '广东'}`,
    );
    const text = ['用户号码,统计月份,通话分钟,流量,月消费,在网月数,地市', ...rows].join('\r\n') + '\r\n';
    const csv = join(folder, 'usage.csv');
    await writeFile(csv, encoded(text));
    expect(new TextDecoder('gb18030').decode(await readFile(csv))).toBe(text);
    const labels = join(folder, 'labels.csv');
    await writeFile(
      labels,
      encoded(['用户号码,是否流失', ...rows.map((_, i) => `S${i},${i % 4 ? '否' : '是'}`)].join('\r\n')),
    );
    const mappingFile = join(folder, 'mapping.json');

    await writeFile(mappingFile, JSON.stringify({ ...MAPPING, encoding: 'gb18030' }));
    const summary = await loadUsage(storeIn(dir), run('gb18030'), {
      month: '2026-06',
      input: csv,
      mapping: mappingFile,
      labels,
    });
    expect(summary).toMatchObject({ rowsLoaded: 40, rowsQuarantined: 0, labels: { labelColumn: '是否流失' } });
    // hashed and recorded as the user's file, not the copy read
    expect(summary.inputFiles.map((file) => file.path)).toEqual([csv]);
    const read = await withConnection(summary.dbPath, (conn) =>
      queryRows<{ region: string; subscribers: number; churned: number }>(
        conn,
        'SELECT region, count(*) AS subscribers, count(*) FILTER (WHERE churn_label) AS churned FROM usage GROUP BY region ORDER BY region',
      ),
    );
    expect(read).toEqual([
      { region: '广东', subscribers: 20, churned: 10 },
      { region: '深圳', subscribers: 20, churned: 0 },
    ]);
    // the labels file saved as UTF-8 (another system's): read as it is, with the same mapping
    await writeFile(labels, ['用户号码,是否流失', ...rows.map((_, i) => `S${i},${i % 4 ? '否' : '是'}`)].join('\r\n'));
    const mixed = await loadUsage(storeIn(dir), run('gb18030-and-utf8'), {
      month: '2026-06',
      input: csv,
      mapping: mappingFile,
      labels,
    });
    expect(mixed).toMatchObject({ rowsLoaded: 40, labels: { labelColumn: '是否流失' } });
    expect(
      await withConnection(mixed.dbPath, (conn) =>
        queryRows(conn, 'SELECT count(*) FILTER (WHERE churn_label)::INTEGER AS churned FROM usage'),
      ),
    ).toEqual([{ churned: 10 }]);

    await writeFile(mappingFile, JSON.stringify(MAPPING));
    await expect(
      loadUsage(storeIn(dir), run('gb18030-unnamed'), { month: '2026-06', input: csv, mapping: mappingFile }),
    ).rejects.toMatchObject({
      name: 'InputFileError',
      message: expect.stringMatching(/not UTF-8 text: name its encoding in the mapping, e\.g\. "encoding": "gb18030"/),
    });
  });
});
