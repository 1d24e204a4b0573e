import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../domain/errors';
import { RANDOM_MACROS, queryOne, readSql, runScript, setVariable, withConnection } from '../activities/duckdb';
import { addMonths, firstDay, isMonth } from '../domain/month';

export interface SampleOptions {
  /** Output folder: usage/usage_month=YYYY-MM/*.parquet, truth.parquet, sample.json. */
  outDir: string;
  subscribers: number;
  months: number;
  /** Last month of the sample, 'YYYY-MM'. */
  lastMonth: string;
  seed: number;
}

export interface SampleSummary extends SampleOptions {
  firstMonth: string;
  usageRows: number;
  churners: number;
  seconds: number;
}

/** What a sample folder holds of the sample's own: a new sample replaces these, nothing else. */
const SAMPLE_ENTRIES = ['usage', 'truth.parquet', 'sample.json', '.spill', '.generating'];
/** Present while a sample is written: one cut short may be replaced, though it has no sample.json yet. */
const GENERATING = '.generating';

/**
 * Makes `outDir` ready for a sample: a new or empty folder, or an earlier sample's (its
 * sample.json written by this generator, or a generation cut short), whose own entries are
 * removed (what else it holds, such as a simulated contact log, stays). Any other folder that
 * holds files is refused: `--out ~/data` must not remove someone's data.
 */
async function clearSampleFolder(outDir: string): Promise<void> {
  const entries: string[] = await readdir(outDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  if (entries.length > 0 && !entries.includes(GENERATING) && !(await isSampleMeta(join(outDir, 'sample.json'))))
    throw new UsageError(
      `${outDir} holds ${entries.length} file${entries.length === 1 ? '' : 's'} or folder${entries.length === 1 ? '' : 's'} and is not a generated sample (no sample.json of one): give a new or empty folder, which the sample is written into`,
    );
  for (const entry of SAMPLE_ENTRIES) await rm(join(outDir, entry), { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, GENERATING), '');
}

/** Whether `path` is the sample.json this generator writes (a file of that name alone is not enough). */
async function isSampleMeta(path: string): Promise<boolean> {
  const meta = await readFile(path, 'utf8')
    .then((text) => JSON.parse(text) as Partial<SampleSummary> | null)
    .catch(() => undefined);
  return typeof meta?.subscribers === 'number' && typeof meta.seed === 'number' && typeof meta.firstMonth === 'string';
}

/**
 * Writes a deterministic synthetic sample: usage Parquet partitioned by month, and the ground
 * truth (planted group, churn month) in a separate file so tests can score the pipeline.
 */
export async function generateSample(options: SampleOptions): Promise<SampleSummary> {
  if (!Number.isInteger(options.subscribers) || options.subscribers < 1)
    throw new RangeError('subscribers must be a positive integer');
  if (!Number.isInteger(options.months) || options.months < 2 || options.months > 120)
    throw new RangeError('months must be 2..120');
  if (!isMonth(options.lastMonth)) throw new RangeError(`lastMonth must be YYYY-MM: ${options.lastMonth}`);
  const started = performance.now();
  const firstMonth = addMonths(options.lastMonth, -(options.months - 1));
  const script = await readSql(import.meta.url, './generate.sql');
  const usageDir = join(options.outDir, 'usage');
  await clearSampleFolder(options.outDir);

  const counts = await withConnection(
    ':memory:',
    async (conn) => {
      await runScript(conn, RANDOM_MACROS);
      await conn.run(
        'CREATE TEMP TABLE gen_params AS SELECT $seed::BIGINT AS seed, $subscribers::BIGINT AS subscribers, $months::INTEGER AS months, $first_month::DATE AS first_month',
        {
          seed: options.seed,
          subscribers: options.subscribers,
          months: options.months,
          first_month: firstDay(firstMonth),
        },
      );
      await runScript(conn, script);
      await setVariable(conn, 'usage_dir', usageDir);
      await conn.run(
        `COPY (SELECT * FROM usage ORDER BY usage_month, subscriber_id) TO (getvariable('usage_dir')) (FORMAT parquet, PARTITION_BY (usage_month), FILENAME_PATTERN 'part_{i}')`,
      );
      await setVariable(conn, 'truth_path', join(options.outDir, 'truth.parquet'));
      await conn.run(
        `COPY (SELECT * FROM truth ORDER BY subscriber_id) TO (getvariable('truth_path')) (FORMAT parquet)`,
      );
      return queryOne<{ usage_rows: number; churners: number }>(
        conn,
        'SELECT (SELECT count(*) FROM usage) AS usage_rows, (SELECT count(*) FROM truth WHERE churn_month IS NOT NULL) AS churners',
      );
    },
    { spillDir: join(options.outDir, '.spill') },
  );
  await rm(join(options.outDir, '.spill'), { recursive: true, force: true });

  const summary: SampleSummary = {
    ...options,
    firstMonth,
    usageRows: counts.usage_rows,
    churners: counts.churners,
    seconds: (performance.now() - started) / 1000,
  };
  await writeFile(
    join(options.outDir, 'sample.json'),
    JSON.stringify({ ...summary, seconds: undefined }, null, 2) + '\n',
  );
  await rm(join(options.outDir, GENERATING), { force: true });
  return summary;
}
