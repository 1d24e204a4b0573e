import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
  await rm(options.outDir, { recursive: true, force: true });
  await mkdir(options.outDir, { recursive: true });

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
  return summary;
}
