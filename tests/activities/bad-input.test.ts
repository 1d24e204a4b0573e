import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { queryRows, setVariable, withConnection } from '../../activities/duckdb';
import { loadUsage, planLoad } from '../../activities/load';
import type { SampleSummary } from '../../data/generate';
import { monthDir, runDir, type StoreConfig } from '../../store/layout';
import { resolveSnapshot } from '../../store/snapshots';
import { smallSample, storeIn, tempDir, writeParquet } from '../helpers';

/**
 * The bad-input corpus: every case either stops before any work with a typed error naming the
 * problem, or quarantines exactly the bad rows with a counted reason, and rows read always
 * equal rows loaded plus rows quarantined.
 */
let dir: string;
let sample: SampleSummary;
let store: StoreConfig;
let caseNo = 0;

beforeAll(async () => {
  dir = await tempDir();
  sample = await smallSample(dir, 1_500, 8);
  store = storeIn(dir);
});

/** A fresh input folder holding the good sample plus whatever the case adds. */
async function inputWith(extra: (input: string) => Promise<void>, withSample = true): Promise<string> {
  const input = join(dir, `case-${++caseNo}`);
  if (withSample) await cp(join(sample.outDir, 'usage'), input, { recursive: true });
  else await mkdir(input, { recursive: true });
  await extra(input);
  return input;
}

const load = (input: string, params: Record<string, unknown> = {}) =>
  loadUsage(store, { workflowId: 'corpus', runId: `case-${caseNo}` }, { month: '2026-06', input, ...params });

/** Five copies of real June rows with `replace` applied: a small, recognisable set of bad rows. */
const badRows = (replace: string) => async (input: string) =>
  writeParquet(sample, join(input, 'bad.parquet'), `SELECT * REPLACE (${replace}) FROM {june} LIMIT 5`);

describe('bad files stop the run before any work, with a typed error naming the problem', () => {
  const refused: [string, (input: string) => Promise<void>, string, RegExp][] = [
    [
      'corrupt Parquet',
      async (input) => writeFile(join(input, 'bad.parquet'), Buffer.from('PAR1 garbage garbage PAR1')),
      'InputFileError',
      /bad\.parquet is not a readable Parquet file/,
    ],
    [
      'truncated Parquet',
      async (input) => {
        const whole = await readFile(join(sample.outDir, 'usage', 'usage_month=2026-06', 'part_0.parquet'));
        await writeFile(join(input, 'cut.parquet'), whole.subarray(0, Math.floor(whole.length / 2)));
      },
      'InputFileError',
      /cut\.parquet is not a readable Parquet file/,
    ],
    [
      'empty file',
      async (input) => writeFile(join(input, 'empty.parquet'), ''),
      'InputFileError',
      /empty\.parquet is empty \(0 bytes\), with no header and no rows/,
    ],
    [
      'empty CSV file',
      async (input) => writeFile(join(input, 'empty.csv'), ''),
      'InputFileError',
      /empty\.csv is empty \(0 bytes\), with no header and no rows/,
    ],
    [
      'CSV named .parquet',
      async (input) => writeFile(join(input, 'usage.parquet'), 'subscriber_id,month\nS1,2026-06-01\n'),
      'InputFileError',
      /usage\.parquet is not a readable Parquet file/,
    ],
    [
      'missing required column',
      async (input) =>
        writeParquet(sample, join(input, 'no-spend.parquet'), 'SELECT * EXCLUDE (spend, tenure_months) FROM {june}'),
      'SchemaContractError',
      /lacks required column\(s\): spend, tenure_months/,
    ],
  ];
  for (const [name, build, type, message] of refused) {
    it(name, async () => {
      const input = await inputWith(build);
      await expect(load(input)).rejects.toMatchObject({ name: type, message: expect.stringMatching(message) });
    });
  }

  it('a folder with neither Parquet nor CSV (wrong file type)', async () => {
    const input = await inputWith(async (folder) => writeFile(join(folder, 'notes.md'), 'usage export\n'), false);
    await expect(load(input)).rejects.toMatchObject({
      name: 'InputFileError',
      message: expect.stringMatching(/no \.parquet or \.csv files under/),
    });
    // a data file of another format is named: passed over, its rows would be left out unseen
    await writeFile(join(input, 'usage.xlsx'), 'PK');
    await expect(load(input)).rejects.toMatchObject({
      name: 'InputFileError',
      message: expect.stringMatching(/^a file under .* that segflow cannot read: usage\.xlsx\./),
    });
  });

  it('a CSV without the contract columns', async () => {
    const input = await inputWith(async (folder) => writeFile(join(folder, 'usage.csv'), 'a,b\n1,2\n'), false);
    await expect(load(input)).rejects.toMatchObject({
      name: 'SchemaContractError',
      message: expect.stringMatching(/usage\.csv lacks required column\(s\): subscriber_id, month[^;]*$/),
    });
    // a row per subscriber without months: it says how to read it as a snapshot
    await writeFile(join(input, 'usage.csv'), 'subscriber_id,voice_minutes,data_mb,spend,tenure_months\nS1,1,2,3,4\n');
    await expect(load(input)).rejects.toMatchObject({
      name: 'SchemaContractError',
      message: expect.stringMatching(/lacks required column\(s\): month .*set "format": "snapshot" in the mapping$/),
    });
  });

  it('a CSV cut off in its last line: the stop names the line and its columns, not its text, and what a cut-off file looks like', async () => {
    const rows = Array.from({ length: 30_000 }, (_, i) => `S${i},2026-06-01,${i % 90}.5,${i % 700},1.5,3,12`);
    const input = await inputWith(
      async (folder) =>
        writeFile(
          join(folder, 'usage.csv'),
          ['subscriber_id,month,spend,voice_minutes,data_mb,sms,tenure_months', ...rows, 'S99999,2026-06-01,12.'].join(
            '\n',
          ),
        ),
      false,
    );
    await expect(load(input)).rejects.toMatchObject({
      name: 'InputFileError',
      message: expect.stringContaining(
        'CSV Error on Line: 30002; Expected Number of Columns: 7 Found: 3. A line shorter than the header: a line broken in two, or the last line of a file cut off',
      ),
    });
    // the line's own text is a subscriber's row: it would reach the audit log and Temporal's history
    await expect(load(input)).rejects.toSatisfy((error: Error) => !error.message.includes('S99999'));
  });

  it("a small CSV with a line short of the header's fields: the stop says so, not that every column is missing", async () => {
    const header = 'subscriber_id,month,spend,voice_minutes,data_mb,sms,tenure_months';
    const rows = Array.from({ length: 2_000 }, (_, i) => `S${i},2026-06-01,${i % 90}.5,${i % 700},1.5,3,12`);
    for (const [name, lines] of [
      ['short-in-the-middle', [header, ...rows.slice(0, 100), 'S99999,2026-06-01,12.', ...rows.slice(100)]],
      ['cut-off', [header, ...rows, 'S99999,2026-06-01,12.']],
    ] as const) {
      const input = await inputWith(async (folder) => writeFile(join(folder, 'usage.csv'), lines.join('\n')), false);
      await expect(load(input), name).rejects.toMatchObject({
        name: 'InputFileError',
        message: expect.stringContaining('Most often a line has another number of fields than the header'),
      });
    }
  });

  it('a mapping file that names a column the input lacks', async () => {
    const input = await inputWith(async () => {}, true);
    const mapping = join(dir, `mapping-${caseNo}.json`);
    await writeFile(mapping, JSON.stringify({ columns: { spend: 'MonthlyCharges' } }));
    await expect(load(input, { mapping })).rejects.toMatchObject({
      name: 'SchemaContractError',
      message: expect.stringMatching(/the mapping reads spend from column "MonthlyCharges", but .* has no such column/),
    });
    // a slip of spelling: the closest of the file's columns, and what the file has (one of case is
    // found: tests/activities/column-case.test.ts)
    await writeFile(mapping, JSON.stringify({ columns: { spend: 'SPNED' } }));
    await expect(load(input, { mapping })).rejects.toMatchObject({
      name: 'SchemaContractError',
      message: expect.stringMatching(/has no such column \(did you mean "spend"\?\); its columns: subscriber_id, /),
    });
  });

  it('a CSV with two columns of a name the mapping reads', async () => {
    const input = await inputWith(
      (folder) =>
        writeFile(
          join(folder, 'usage.csv'),
          'subscriber_id;month;voice_minutes;data_mb;"出账收入";tenure_months;出账收入\nS1;2026-06;1;2;3;4;5\n',
        ),
      false,
    );
    const mapping = join(dir, `mapping-${caseNo}.json`);
    await writeFile(mapping, JSON.stringify({ columns: { spend: '出账收入' } }));
    await expect(load(input, { mapping })).rejects.toMatchObject({
      name: 'SchemaContractError',
      message: expect.stringMatching(
        /usage\.csv has more than one column named "出账收入", which the mapping reads: .*\(DuckDB reads the second as "出账收入_1"/,
      ),
    });
  });

  it('a mapping file that is not valid', async () => {
    const mapping = join(dir, 'bad-mapping.json');
    await writeFile(mapping, JSON.stringify({ columns: { not_a_contract_column: 'x' }, format: 'wide' }));
    await expect(load(join(dir, 'sample', 'usage'), { mapping })).rejects.toMatchObject({
      name: 'InvalidParamsError',
      message: expect.stringMatching(
        /invalid mapping file[\s\S]*format: [\s\S]*columns\.not_a_contract_column: not a column of the usage contract/,
      ),
    });
  });

  it('months written as 202606: the stop says how to read them', async () => {
    const input = await inputWith(
      (folder) =>
        writeParquet(
          sample,
          join(folder, 'usage.parquet'),
          `SELECT * REPLACE (strftime("month", '%Y%m') AS "month") FROM {june}`,
        ),
      false,
    );
    await expect(load(input)).rejects.toMatchObject({
      name: 'DataQualityError',
      message: expect.stringMatching(
        // rows whose month cannot be read are not placed outside the window: said so
        /^\d+ of \d+ rows in the run window or of a month that could not be read \(100\.0%\)[\s\S]*x month: not a valid date[\s\S]*needs the mapping's monthFormat, e\.g\. "%Y%m"/,
      ),
    });
  });

  it('a file named neither .parquet nor .csv', async () => {
    const text = join(dir, 'usage.txt');
    await writeFile(text, 'subscriber_id\tmonth\nS1\t2026-06-01\n');
    await expect(load(text)).rejects.toMatchObject({
      name: 'InputFileError',
      message: expect.stringMatching(/usage\.txt is neither a \.parquet nor a \.csv file/),
    });
  });

  it('a Parquet file with the right columns but no rows', async () => {
    const input = await inputWith(
      async (folder) => writeParquet(sample, join(folder, 'none.parquet'), 'SELECT * FROM {june} LIMIT 0'),
      false,
    );
    await expect(load(input)).rejects.toMatchObject({
      name: 'DataQualityError',
      message: expect.stringMatching(/the 1 input file\(s\) hold no rows/),
    });
  });
});

describe('bad rows are quarantined with a counted reason; rows read = loaded + quarantined', () => {
  /** Case, what it adds, the reasons counted, and the file whose first five rows are quarantined (default bad.parquet). */
  const quarantined: [string, (input: string) => Promise<void>, Record<string, number>, string?][] = [
    [
      'text where a number belongs',
      badRows("'lots'::VARCHAR AS voice_minutes"),
      { 'voice_minutes: not a valid double': 5 },
    ],
    ['NULL keys', badRows('NULL::VARCHAR AS subscriber_id'), { 'subscriber_id: missing': 5 }],
    ['negative usage', badRows('-3.0 AS data_mb'), { 'data_mb: outside [0, 10000000]': 5 }],
    ['NaN spend', badRows("'NaN'::DOUBLE AS spend"), { 'spend: not a finite number': 5 }],
    ['infinite minutes', badRows("'Infinity'::DOUBLE AS voice_minutes"), { 'voice_minutes: not a finite number': 5 }],
    [
      'absurd minutes (more than a month holds)',
      badRows('1e9 AS voice_minutes'),
      { 'voice_minutes: outside [0, 44640]': 5 },
    ],
    ['absurd tenure', badRows('5000 AS tenure_months'), { 'tenure_months: outside [0, 1200]': 5 }],
    // the copy that comes first in path order is kept: bad.parquet sorts before usage_month=...
    [
      'duplicate (subscriber, month) rows',
      badRows('subscriber_id AS subscriber_id'),
      { 'duplicate (subscriber_id, month)': 5 },
      'usage_month=2026-06/part_0.parquet',
    ],
    ['months outside the run window', badRows("DATE '2019-01-01' AS month"), { 'month: outside the run window': 5 }],
    ['extremely long strings', badRows("repeat('x', 100000) AS plan"), { 'plan: longer than 128 characters': 5 }],
    ['non-UTF-8 text', badRows("'\\xFF\\xFE\\x80'::BLOB AS plan"), { 'plan: not valid UTF-8 text': 5 }],
    [
      'a key longer than any subscriber id',
      badRows("repeat('9', 65) AS subscriber_id"),
      { 'subscriber_id: longer than 64 characters': 5 },
    ],
  ];
  for (const [name, build, reasons, file = 'bad.parquet'] of quarantined) {
    it(name, async () => {
      const input = await inputWith(build);
      const summary = await load(input);
      expect(summary.quarantineByReason).toEqual(reasons);
      expect(summary.rowsLoaded + summary.rowsQuarantined).toBe(summary.rowsRead);
      expect(summary.rowsQuarantined).toBe(5);
      // each quarantined row names its file and row
      const where = await withConnection(summary.dbPath, (conn) =>
        queryRows<{ source_file: string; file_row: number }>(conn, 'SELECT source_file, file_row FROM quarantine'),
      );
      expect(where).toEqual([0, 1, 2, 3, 4].map((row) => ({ source_file: join(input, file), file_row: row })));
    });
  }
});

describe('month folders and text months', () => {
  it("month folders' names are not columns: the user's own columns are typed without them", async () => {
    const mapping = join(dir, `mapping-auto-${++caseNo}.json`);
    await writeFile(mapping, JSON.stringify({ features: 'auto' }));
    const summary = await load(join(sample.outDir, 'usage'), { mapping });
    expect(summary.userFeatures.map((feature) => feature.column)).not.toContain('usage_month');
    expect(summary.rowsQuarantined).toBe(0);
  });

  it('a CSV whose months read 2026-06 (year and month) loads as one whose months read 2026-06-01', async () => {
    const csv = await inputWith(async (folder) => {
      await withConnection(':memory:', async (conn) => {
        await setVariable(conn, 'june', join(sample.outDir, 'usage', 'usage_month=2026-06', 'part_0.parquet'));
        await setVariable(conn, 'target', join(folder, 'june.csv'));
        await conn.run(
          `COPY (SELECT * REPLACE (strftime("month", '%Y-%m') AS "month") FROM read_parquet(getvariable('june')))
           TO (getvariable('target')) (HEADER)`,
        );
      });
    }, false);
    const summary = await load(csv);
    expect(summary.rowsQuarantined).toBe(0);
    expect(summary.subscribersInMonth).toBe(summary.rowsRead);
  });
});

describe('labels from their own file', () => {
  it("a column of the input named as the labels file's label column is left out of the features (a leak)", async () => {
    const input = await inputWith(
      (folder) =>
        writeParquet(sample, join(folder, 'june.parquet'), 'SELECT *, hash(subscriber_id) % 2 = 0 AS gone FROM {june}'),
      false,
    );
    const labels = join(dir, `labels-${caseNo}.parquet`);
    await writeParquet(sample, labels, 'SELECT subscriber_id, hash(subscriber_id) % 2 = 0 AS gone FROM {june}');
    const mapping = join(dir, `mapping-${caseNo}.json`);
    await writeFile(mapping, JSON.stringify({ format: 'snapshot', features: 'auto' }));
    const summary = await load(input, { mapping, labels });
    expect(summary.skippedUserFeatures).toContainEqual({
      feature: 'gone',
      reason: expect.stringMatching(/^named like a churn label: a leak\?/),
    });
    expect(summary.userFeatures.map((feature) => feature.column)).not.toContain('gone');
  });

  /** The subscribers who churn in these cases (SQL over subscriber_id): a third of them, by id. */
  const CHURNED = 'hash(subscriber_id) % 3 = 0';
  const HANDSET = "['A', 'B', 'C', 'D'][1 + (hash(subscriber_id || 'handset') % 4)::INTEGER] AS handset";
  /** Writes `select` to `path` (CSV with a header, or Parquet); it may read `{usage}`: every month of the sample. */
  const copyTo = (path: string, select: string) =>
    withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'usage', join(sample.outDir, 'usage', '*', '*.parquet'));
      await setVariable(conn, 'target', path);
      const usage = "read_parquet(getvariable('usage'), hive_partitioning = false)";
      await conn.run(
        `COPY (${select.replaceAll('{usage}', usage)}) TO (getvariable('target')) (${path.endsWith('.csv') ? 'HEADER' : 'FORMAT parquet'})`,
      );
    });

  it('a label column named churned or word is read from the labels file (not from the words segflow matches it against)', async () => {
    const input = await inputWith((folder) => writeParquet(sample, join(folder, 'june.parquet'), 'FROM {june}'), false);
    const expected = await withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'june', join(sample.outDir, 'usage', 'usage_month=2026-06', 'part_0.parquet'));
      return queryRows<{ churned: number; stayed: number }>(
        conn,
        `SELECT count(*) FILTER (WHERE ${CHURNED}) AS churned, count(*) FILTER (WHERE NOT ${CHURNED}) AS stayed
         FROM read_parquet(getvariable('june'))`,
      );
    });
    for (const column of ['churned', 'word']) {
      const labels = join(dir, `labels-${caseNo}-${column}.csv`);
      await copyTo(
        labels,
        `SELECT subscriber_id, CASE WHEN ${CHURNED} THEN 'yes' ELSE 'no' END AS ${column} FROM {usage} WHERE "month" = '2026-06-01'`,
      );
      const summary = await load(input, { labels });
      const labelled = await withConnection(summary.dbPath, (conn) =>
        queryRows<{ churned: number; stayed: number }>(
          conn,
          `SELECT count(*) FILTER (WHERE churn_label) AS churned, count(*) FILTER (WHERE NOT churn_label) AS stayed
           FROM usage WHERE "month" = '2026-06-01'`,
        ),
      );
      expect(labelled, column).toEqual(expected);
    }
  });

  it('"auto" leaves out a column that copies the labels file\'s label under another name, with the reason, as for a label in the input', async () => {
    const input = await inputWith(
      (folder) =>
        writeParquet(
          sample,
          join(folder, 'june.parquet'),
          `SELECT *, CASE WHEN ${CHURNED} THEN 'Y' ELSE 'N' END AS exit_flag,
                  CASE WHEN ${CHURNED} THEN hash(subscriber_id) % 7 ELSE 30 + hash(subscriber_id) % 20 END AS days_to_exit,
                  ${HANDSET}
           FROM {june}`,
        ),
      false,
    );
    const labels = join(dir, `labels-${caseNo}.csv`);
    await copyTo(
      labels,
      `SELECT subscriber_id, CASE WHEN ${CHURNED} THEN 'Yes' ELSE 'No' END AS status FROM {usage} WHERE "month" = '2026-06-01'`,
    );
    const mapping = join(dir, `mapping-${caseNo}.json`);
    await writeFile(mapping, JSON.stringify({ format: 'snapshot', features: 'auto' }));
    const summary = await load(input, { mapping, labels });
    const june = summary.subscribersInMonth;
    const skipped = Object.fromEntries(summary.skippedUserFeatures.map((s) => [s.feature, s.reason]));
    const leak = (how: string) =>
      `predicts the churn label almost perfectly: a leak? (${how} ${june} of ${june} labelled rows right; declare it in the mapping's features to use it anyway)`;
    expect(skipped.exit_flag).toBe(leak('its values alone get'));
    expect(skipped.days_to_exit).toBe(leak('one threshold gets'));
    expect(summary.userFeatures.map((feature) => [feature.name, feature.type])).toEqual([['handset', 'categorical']]);
  });

  it('checks monthly rows against the month each subscriber left: a column flagging the month before is left out', async () => {
    const input = await inputWith(
      (folder) =>
        copyTo(
          join(folder, 'all-months.parquet'),
          `SELECT *, (${CHURNED} AND "month" = '2026-04-01')::INTEGER AS leaves_next_month, ${HANDSET} FROM {usage}`,
        ),
      false,
    );
    // the month left: May for a third of those with April usage (their April rows churned), none for the others
    const labels = join(dir, `labels-${caseNo}.csv`);
    await copyTo(
      labels,
      `SELECT subscriber_id, CASE WHEN ${CHURNED} THEN '2026-05' END AS left_month FROM {usage} WHERE "month" = '2026-04-01'`,
    );
    const mapping = join(dir, `mapping-${caseNo}.json`);
    await writeFile(mapping, JSON.stringify({ features: 'auto' }));
    // run in May: the model trains on April's rows, labelled by who left in May
    const plan = await planLoad(
      store,
      { workflowId: 'corpus', runId: `case-${caseNo}` },
      { month: '2026-05', input, mapping, labels },
    );
    expect(plan.labels).toMatchObject({ kind: 'month-left', labelColumn: 'left_month' });
    const skipped = Object.fromEntries(plan.skippedUserFeatures.map((s) => [s.feature, s.reason]));
    expect(skipped.leaves_next_month).toMatch(
      /^predicts the churn label almost perfectly: a leak\? \(one threshold gets (\d+) of \1 labelled rows right;/,
    );
    expect(plan.userFeatures.map((feature) => feature.name)).toEqual(['handset']);
  });

  it("judges each column on the training month's rows: the month left, repeated on every row of its subscriber, is left out", async () => {
    // a third of the subscribers leave in June, a few others left in March; their rows end the
    // month before, each carrying the month left (06.2026, and 2026-06 in a second column)
    const left = `CASE WHEN ${CHURNED} THEN '2026-06' WHEN hash(subscriber_id) % 5 = 1 THEN '2026-03' END`;
    const usage = `(SELECT *, ${left} AS lm FROM {usage})`;
    const input = await inputWith(
      (folder) =>
        copyTo(
          join(folder, 'all-months.parquet'),
          `SELECT * EXCLUDE (lm), substr(lm, 6, 2) || '.' || substr(lm, 1, 4) AS "Abgang", lm AS exit_month, ${HANDSET}
           FROM ${usage} WHERE lm IS NULL OR "month" < (lm || '-01')::DATE`,
        ),
      false,
    );
    const labels = join(dir, `labels-${caseNo}.csv`);
    await copyTo(labels, `SELECT DISTINCT subscriber_id, lm AS left_month FROM ${usage} WHERE lm IS NOT NULL`);
    const mapping = join(dir, `mapping-${caseNo}.json`);
    await writeFile(mapping, JSON.stringify({ features: 'auto' }));
    const plan = await planLoad(
      store,
      { workflowId: 'corpus', runId: `case-${caseNo}` },
      { month: '2026-06', input, mapping, labels },
    );
    expect(plan.labels).toMatchObject({ kind: 'month-left', labelColumn: 'left_month' });
    // the model trains on May's rows (labelled: gone in June): there the month left is exact
    const [{ may }] = await withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'input', join(input, 'all-months.parquet'));
      return queryRows<{ may: number }>(
        conn,
        `SELECT count(*) AS may FROM read_parquet(getvariable('input')) WHERE "month" = '2026-05-01'`,
      );
    });
    const skipped = Object.fromEntries(plan.skippedUserFeatures.map((s) => [s.feature, s.reason]));
    const leak = (how: string) =>
      `predicts the churn label almost perfectly: a leak? (${how} ${Number(may)} of ${Number(may)} labelled rows right; declare it in the mapping's features to use it anyway)`;
    expect(skipped.Abgang).toBe(leak('one threshold gets')); // 06.2026 reads as a number
    expect(skipped.exit_month).toBe(leak('its values alone get'));
    expect(plan.userFeatures.map((feature) => feature.name)).toEqual(['handset']);
  });

  it("finds the training month through the mapping's month encodings too (M052026 for May)", async () => {
    const left = `CASE WHEN ${CHURNED} THEN '2026-06' WHEN hash(subscriber_id) % 5 = 1 THEN '2026-03' END`;
    const usage = `(SELECT *, ${left} AS lm FROM {usage})`;
    const input = await inputWith(
      (folder) =>
        copyTo(
          join(folder, 'coded-months.parquet'),
          `SELECT * EXCLUDE ("month", lm), 'M' || strftime("month", '%m%Y') AS "Monat", lm AS exit_month, ${HANDSET}
           FROM ${usage} WHERE lm IS NULL OR "month" < (lm || '-01')::DATE`,
        ),
      false,
    );
    const labels = join(dir, `labels-${caseNo}.csv`);
    await copyTo(labels, `SELECT DISTINCT subscriber_id, lm AS left_month FROM ${usage} WHERE lm IS NOT NULL`);
    const codes = Object.fromEntries(
      Array.from({ length: 24 }, (_, i) => {
        const month = `${2025 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}`;
        return [`M${month.slice(5)}${month.slice(0, 4)}`, month];
      }),
    );
    const mapping = join(dir, `mapping-${caseNo}.json`);
    await writeFile(
      mapping,
      JSON.stringify({ columns: { month: 'Monat' }, values: { month: codes }, features: 'auto' }),
    );
    const plan = await planLoad(
      store,
      { workflowId: 'corpus', runId: `case-${caseNo}` },
      { month: '2026-06', input, mapping, labels },
    );
    const skipped = Object.fromEntries(plan.skippedUserFeatures.map((s) => [s.feature, s.reason]));
    // before: every coded month read NULL, no row was the training month's, and nothing was checked
    expect(skipped.exit_month).toMatch(
      /^predicts the churn label almost perfectly: a leak\? \(its values alone get (\d+) of \1 labelled rows right/,
    );
    expect(plan.userFeatures.map((feature) => feature.name)).toEqual(['handset']);
  });
});

describe("a mapped file's reasons name the user's own columns", () => {
  it('a renamed column and a summed one are named as the file has them, the contract column beside', async () => {
    /** June's rows under the user's names, the first three with a negative spend. */
    const extract = (spendColumn: string) =>
      inputWith(
        (folder) =>
          writeParquet(
            sample,
            join(folder, 'extract.parquet'),
            `SELECT * EXCLUDE (subscriber_id, "month", spend, voice_minutes),
                    subscriber_id AS msisdn, "month" AS bill_month,
                    CASE WHEN row_number() OVER () <= 3 THEN -1.0 ELSE spend END AS "${spendColumn}",
                    voice_minutes / 2 AS voice_local, voice_minutes / 2 AS voice_roam
             FROM {june}`,
          ),
        false,
      );
    const mapping = join(dir, `mapping-${caseNo}.json`);
    const columns = {
      subscriber_id: 'msisdn',
      month: 'bill_month',
      voice_minutes: { sum: ['voice_local', 'voice_roam'] },
    };
    await writeFile(mapping, JSON.stringify({ columns: { ...columns, spend: 'arpu' } }));
    expect((await load(await extract('arpu'), { mapping })).quarantineByReason).toEqual({
      'arpu (spend): outside [0, 1000000]': 3,
    });
    // a user's column name is text in the reason, never SQL: a quote in it is kept as it is
    await writeFile(mapping, JSON.stringify({ columns: { ...columns, spend: "arpu's" } }));
    expect((await load(await extract("arpu's"), { mapping })).quarantineByReason).toEqual({
      "arpu's (spend): outside [0, 1000000]": 3,
    });
    // a summed column with no number in it (the plan's text, named by mistake) stops the plan
    await writeFile(
      mapping,
      JSON.stringify({ columns: { ...columns, spend: 'arpu', voice_minutes: { sum: ['voice_local', 'plan'] } } }),
    );
    await expect(load(await extract('arpu'), { mapping })).rejects.toMatchObject({
      name: 'SchemaContractError',
      message: expect.stringMatching(
        /^the mapping sums voice_minutes from "plan" \(e\.g\. '[^']+'\), which holds no number: is it the column meant\?/,
      ),
    });
  });

  it("yes/no words the contract does not read (是/否): the stop quotes one and says how the mapping's values map it", async () => {
    const input = await inputWith(
      (folder) =>
        writeParquet(
          sample,
          join(folder, 'usage.parquet'),
          `SELECT * REPLACE (CASE WHEN has_broadband THEN '是' ELSE '否' END AS has_broadband) FROM {june}`,
        ),
      false,
    );
    await expect(load(input)).rejects.toMatchObject({
      name: 'DataQualityError',
      message: expect.stringMatching(
        /x has_broadband: not a valid boolean, e\.g\. '[是否]': yes\/no cells read true\/false, 1\/0, yes\/no or y\/n; map the column's own words in the mapping's "values", e\.g\. "values": \{ "has_broadband": \{ "<its word for yes>": true, "<its word for no>": false \} \}/,
      ),
    });
  });

  it('says how months are read only where unread months are most of what broke, not beside one odd month', async () => {
    const input = await inputWith(
      (folder) =>
        writeParquet(
          sample,
          join(folder, 'usage.parquet'),
          `SELECT * REPLACE (replace(round(spend, 2)::VARCHAR, '.', ',') AS spend,
                  CASE WHEN subscriber_id = (SELECT min(subscriber_id) FROM {june}) THEN '2026-13-01'
                       ELSE strftime("month", '%Y-%m-%d') END AS "month") FROM {june}`,
        ),
      false,
    );
    const stop = await load(input).then(
      () => undefined,
      (error: Error) => error.message,
    );
    expect(stop).toMatch(/x spend: not a valid double, e\.g\. '\d+,\d+': set "decimalSeparator": "," in the mapping/);
    expect(stop).toMatch(/1 x month: not a valid date/);
    expect(stop).not.toMatch(/Months are read/);
  });

  it('a renamed month column written as 202606: the stop names it and says how to read it', async () => {
    const input = await inputWith(
      (folder) =>
        writeParquet(
          sample,
          join(folder, 'usage.parquet'),
          `SELECT * EXCLUDE ("month"), strftime("month", '%Y%m') AS bill_month FROM {june}`,
        ),
      false,
    );
    const mapping = join(dir, `mapping-${caseNo}.json`);
    await writeFile(mapping, JSON.stringify({ columns: { month: 'bill_month' } }));
    await expect(load(input, { mapping })).rejects.toMatchObject({
      name: 'DataQualityError',
      message: expect.stringMatching(
        /x bill_month \(month\): not a valid date[\s\S]*needs the mapping's monthFormat, e\.g\. "%Y%m"/,
      ),
    });
    // a monthFormat that is not the file's: named as not a date under it, not as missing
    await writeFile(mapping, JSON.stringify({ columns: { month: 'bill_month' }, monthFormat: '%Y-%m' }));
    await expect(load(input, { mapping })).rejects.toMatchObject({
      name: 'DataQualityError',
      message: expect.stringMatching(
        /x bill_month \(month\): not a valid date, e\.g\. '2026\d\d'\nMonths are read with the mapping's monthFormat "%Y-%m", or as dates/,
      ),
    });
    // and the right one reads them
    await writeFile(mapping, JSON.stringify({ columns: { month: 'bill_month' }, monthFormat: '%Y%m' }));
    expect((await load(input, { mapping })).rowsQuarantined).toBe(0);
    // a month stored as a DATE reads with a format too (its text is 2026-06-01)
    const dates = await inputWith(
      (folder) => writeParquet(sample, join(folder, 'usage.parquet'), 'SELECT * FROM {june}'),
      false,
    );
    await writeFile(mapping, JSON.stringify({ monthFormat: '%Y-%m-%d' }));
    expect((await load(dates, { mapping })).rowsQuarantined).toBe(0);
  });
  it('months written as Excel\'s serial day numbers: the stop says so, and the monthFormat "excel" reads them', async () => {
    // 46174 is 2026-06-01; a time of day is a fraction (Excel's date and time cells saved as numbers)
    const input = await inputWith(
      (folder) =>
        writeParquet(
          sample,
          join(folder, 'usage.parquet'),
          `SELECT * EXCLUDE ("month"), ("month" - DATE '1899-12-30') + 0.25 AS bill_month FROM {june}`,
        ),
      false,
    );
    const mapping = join(dir, `mapping-${caseNo}.json`);
    await writeFile(mapping, JSON.stringify({ columns: { month: 'bill_month' } }));
    await expect(load(input, { mapping })).rejects.toMatchObject({
      name: 'DataQualityError',
      message: expect.stringMatching(
        /x bill_month \(month\): not a valid date, e\.g\. '46174\.25'[\s\S]*look like Excel's serial day numbers \(46296 is 2026-10-01\), which the mapping's monthFormat "excel" reads/,
      ),
    });
    await writeFile(mapping, JSON.stringify({ columns: { month: 'bill_month' }, monthFormat: 'excel' }));
    const read = await load(input, { mapping });
    expect(read.rowsQuarantined).toBe(0);
    expect(read.subscribersInMonth).toBeGreaterThan(0);
  });
});

describe('rows of months outside the run window', () => {
  it('are quarantined with their reason but not counted as breaking the contract: a file of every month passes', async () => {
    // a whole month's rows (about a seventh of what the window holds) from two years before
    const input = await inputWith((folder) =>
      writeParquet(
        sample,
        join(folder, 'older.parquet'),
        // what else an old month's row breaks does not matter: it is not read
        "SELECT * REPLACE (DATE '2024-01-01' AS month, -1.0 AS spend) FROM {june}",
      ),
    );
    const summary = await load(input, { maxQuarantineShare: 0.02 });
    expect(Object.keys(summary.quarantineByReason)).toEqual(['month: outside the run window']);
    // counted apart from the rows that broke the contract (the run's result and the report say both)
    expect(summary.rowsOutsideWindow).toBe(summary.rowsQuarantined);
    expect(summary.quarantineByReason['month: outside the run window']).toBeGreaterThan(1_000);
    // a run month the input does not reach says where its rows are
    await expect(load(input, { month: '2026-09' })).rejects.toThrow(
      /no valid usage rows for the run month 2026-09 .*row\(s\) lie in months outside the window/,
    );
    // a real break over the share still stops the run, counted against the rows in the window
    const broken = await inputWith(async (folder) => {
      await writeParquet(
        sample,
        join(folder, 'older.parquet'),
        "SELECT * REPLACE (DATE '2024-01-01' AS month) FROM {june}",
      );
      await writeParquet(sample, join(folder, 'bad.parquet'), 'SELECT * REPLACE (-1.0 AS spend) FROM {june} LIMIT 400');
    });
    await expect(load(broken, { maxQuarantineShare: 0.02 })).rejects.toThrow(
      /^400 of \d+ rows in the run window \(\d+\.\d%\) break the usage contract[^]*400 x spend: /,
    );
  });
});

describe('parameters and paths are checked before any work', () => {
  it('refuses out-of-range parameters and creates nothing', async () => {
    caseNo += 1;
    const run = { workflowId: 'corpus', runId: `case-${caseNo}` };
    await expect(loadUsage(store, run, { month: '2026-13', input: dir, k: 1, treeDepth: 0 })).rejects.toMatchObject({
      name: 'InvalidParamsError',
      message: expect.stringMatching(/month: month must be YYYY-MM[\s\S]*k: [\s\S]*treeDepth: /),
    });
    expect(existsSync(runDir(store, run))).toBe(false);
  });

  it('keeps inputs inside the data root, symlinks and ../ included', async () => {
    const confined = { ...store, dataRoot: join(dir, 'sample') };
    await expect(
      loadUsage(
        confined,
        { workflowId: 'corpus', runId: 'escape' },
        { month: '2026-06', input: join(dir, 'sample', '..', '..') },
      ),
    ).rejects.toMatchObject({
      name: 'InvalidParamsError',
      message: expect.stringMatching(/outside the data root/),
    });
  });

  it('follows symlinks: linked month files and folders, and a link named without .parquet', async () => {
    const usage = join(sample.outDir, 'usage');
    const whole = await load(usage);
    // a folder of links to each month's file, one month linked as a whole folder
    const linked = await inputWith(async (folder) => {
      for (const month of await readdir(usage)) {
        if (month === 'usage_month=2026-06') await symlink(join(usage, month), join(folder, month));
        else {
          await mkdir(join(folder, month));
          await symlink(join(usage, month, 'part_0.parquet'), join(folder, month, 'part_0.parquet'));
        }
      }
      // a link back up the tree is walked once, not for ever
      await symlink(folder, join(folder, 'usage_month=2026-05', 'loop'));
    }, false);
    const viaLinks = await load(linked);
    expect([viaLinks.rowsRead, viaLinks.rowsLoaded, viaLinks.inputFiles.length]).toEqual([
      whole.rowsRead,
      whole.rowsLoaded,
      whole.inputFiles.length,
    ]);
    // links beside the real files to what is read anyway add nothing, whatever their names sort
    // before; each file keeps the path (and month folder) of the real tree
    const beside = await inputWith(async (folder) => {
      const june = join(folder, 'usage_month=2026-06');
      await symlink(join(june, 'part_0.parquet'), join(folder, 'current.parquet'));
      await symlink(join(june, 'part_0.parquet'), join(folder, 'latest'));
      await symlink(june, join(folder, 'current'));
      await symlink(june, join(folder, 'usage_month=2020-01'));
    });
    const withLinks = await load(beside);
    expect([withLinks.rowsRead, withLinks.rowsQuarantined]).toEqual([whole.rowsRead, 0]);
    expect(withLinks.inputFiles.map((file) => relative(beside, file.path))).toEqual(
      whole.inputFiles.map((file) => relative(usage, file.path)),
    );
    // a link named "latest" to a single month's Parquet file is read as Parquet
    const latest = join(dir, `latest-${++caseNo}`);
    await symlink(join(usage, 'usage_month=2026-06', 'part_0.parquet'), latest);
    expect((await load(latest)).subscribersInMonth).toBe(whole.subscribersInMonth);
    // inside a data root, a link that leads out of it is refused
    const root = await inputWith(async (folder) => {
      await symlink(join(usage, 'usage_month=2026-06', 'part_0.parquet'), join(folder, 'june.parquet'));
    }, false);
    await expect(
      loadUsage(
        { ...store, dataRoot: root },
        { workflowId: 'corpus', runId: 'link-out' },
        { month: '2026-06', input: root },
      ),
    ).rejects.toMatchObject({ name: 'InvalidParamsError', message: expect.stringMatching(/outside the data root/) });
  });

  it('refuses an input file whose path DuckDB would read as a pattern, and a mapping outside the data root', async () => {
    // `*.parquet` beside June's file read June twice and a hidden file too, recording one file
    const starred = await inputWith(async (folder) => {
      const june = join(folder, 'usage_month=2026-06');
      await cp(join(june, 'part_0.parquet'), join(june, '*.parquet'));
      await cp(join(june, 'part_0.parquet'), join(june, '_hidden.parquet'));
    });
    await expect(load(starred)).rejects.toMatchObject({
      name: 'InputFileError',
      message: expect.stringMatching(
        /usage_month=2026-06\/\*\.parquet: its path holds \*, which DuckDB reads as a file pattern/,
      ),
    });
    const confined = { ...store, dataRoot: join(dir, 'sample') };
    const outside = join(dir, 'outside-mapping.json');
    await writeFile(outside, '{"secret": "x"}');
    await expect(
      loadUsage(
        confined,
        { workflowId: 'corpus', runId: 'mapping-out' },
        { month: '2026-06', input: join(sample.outDir, 'usage'), mapping: outside },
      ),
    ).rejects.toMatchObject({ name: 'InvalidParamsError', message: expect.stringMatching(/outside the data root/) });
  });

  it('refuses month and snapshot references that would leave the store', async () => {
    expect(() => monthDir(store, '../../etc')).toThrow(/not a month/);
    await expect(resolveSnapshot(store, '../2026-06')).rejects.toMatchObject({ name: 'UsageError' });
    await expect(resolveSnapshot(store, '2026-06/v1/../../x')).rejects.toMatchObject({ name: 'UsageError' });
  });
});
