import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { listValue, type DuckDBConnection } from '@duckdb/node-api';
import { firstDay, trainingMonth } from '../domain/month';
import { DataQualityError } from '../domain/errors';
import { runMonthCutOff, tooLittleHistory } from '../domain/training-history';
import type { RunParams } from '../domain/params';
import { SCORE_COMPONENTS, STABILITY_WEIGHTS, scoreSupport, type ScoreComponent } from '../domain/rules';
import { quoteIdent } from '../data/contract';
import type { StepProgress } from '../domain/progress';
import { checkpoint, withQueryProgress } from './context';
import {
  duckdbMemoryLimit,
  memoryLimitBytes,
  shareOfMemoryLimit,
  queryOne,
  queryRows,
  readSql,
  runScript,
  runSqlFiles,
  setVariable,
  sqlString,
  withConnection,
  writeParquetView,
} from './duckdb';
import { featuresFile } from '../store/layout';
import { MONTH_FOLDER, partitionOutput } from './load';
import { LOADED_QUARANTINE_COLUMNS, OUTSIDE_WINDOW } from './load-sql';
import type { UserFeature } from './user-features';
import {
  findTrainingMonth,
  storeScoringMonth,
  type FeatureMonthCache,
  type FeatureMonthReuse,
  type TrainingMonth,
} from './window-cache';

/** What the input provides, from the load stage. */
export interface FeatureInput {
  format: 'long' | 'snapshot';
  /** Contract columns present in the input; empty for the full contract (every column present). */
  inputColumns: string[];
  /** The user's own feature columns (load stage), joined onto the features table by subscriber and month. */
  userFeatures?: UserFeature[];
}

const FULL_INPUT: FeatureInput = { format: 'long', inputColumns: [] };

/** Features and the optional input columns they need; a feature whose column is absent is skipped, not faked. */
const FEATURE_INPUTS: Record<string, string[]> = {
  // required in monthly usage; a snapshot may lack them
  arpu: ['spend'],
  mou: ['voice_minutes'],
  dou: ['data_mb'],
  tenure_months: ['tenure_months'],
  sms: ['sms_count'],
  frequency: ['recharge_count'],
  recharge_amount: ['recharge_amount'],
  recharge_trend: ['recharge_count'],
  recency_days: ['last_recharge_date'],
  payment_delay_avg: ['payment_delay_days'],
  complaints_recent: ['complaints'],
  contract_months_left: ['contract_end_date'],
  call_circle: ['call_circle'],
};
const STICKY_INPUTS = ['has_broadband', 'has_family_bundle'];
/** Need months of history: last 3 months against the 3 before. */
const TREND_FEATURES = [
  'mou_trend',
  'dou_trend',
  'spend_trend',
  'recharge_trend',
  'spend_slope_rel',
  'spend_volatility',
  'mou_volatility',
];
const TREND_MONTHS = 6;

/**
 * The scores' components the input cannot support, as skipped features named `<score>.<component>`
 * (the score itself stays, rescaled over the rest), or the whole score when it has no component.
 */
function skippedScoreComponents(input: FeatureInput): { blanked: SkippedFeature[]; rescaled: SkippedFeature[] } {
  const blanked: SkippedFeature[] = [];
  const rescaled: SkippedFeature[] = [];
  for (const score of Object.keys(SCORE_COMPONENTS) as (keyof typeof SCORE_COMPONENTS)[]) {
    const { full } = SCORE_COMPONENTS[score];
    const support = scoreSupport(score, input.inputColumns);
    if (support.absent.length === 0) continue;
    const columns = (components: ScoreComponent[]) => components.map((c) => c.column).join(', ');
    if (support.present.length === 0) {
      blanked.push({ feature: score, reason: `input has no ${columns(support.absent)}` });
      continue;
    }
    const weight = (components: ScoreComponent[]) =>
      Math.round((components.reduce((sum, c) => sum + c.weight, 0) / full) * 100);
    const over = `${support.present.map((c) => c.component).join(', ')}: ${weight(support.present)} of 100 points`;
    for (const component of support.absent)
      rescaled.push({
        feature: `${score}.${component.component}`,
        reason: `input has no ${component.column}; ${score} is rescaled over the components it has (${over})`,
      });
  }
  return { blanked, rescaled };
}

export interface SkippedFeature {
  feature: string;
  reason: string;
}

export interface FeatureSummary {
  /** Features the input cannot support: NULL in the outputs, left out of the models. */
  skippedFeatures: SkippedFeature[];
  /** Subscribers scored this month (feature month = run month). */
  scoringRows: number;
  /** Subscribers with a known next-month outcome (feature month = run month - 1). */
  trainingRows: number;
  /**
   * Of them, those whose outcome is not known (every run-month row quarantined: unreadable, not
   * gone; or no user label): not missing from the run month. Absent from older stored summaries.
   */
  trainingUnknownOutcome?: number;
  trainingChurnRate: number;
  /** Months' features taken from and stored for other runs (absent when the run has no store). */
  monthReuse?: FeatureMonthReuse;
  seconds: number;
}

/** The feature SQL, run file by file in name order (dbt style): per partition, then combined. */
const PARTITION_SQL_DIR = new URL('./features/partition/', import.meta.url);
const COMBINED_SQL_DIR = new URL('./features/combined/', import.meta.url);

/** What a partition's per-subscriber step reports (its rows go on as Parquet beside its database). */
export interface PartitionFeatures {
  /** Distinct months of valid usage up to the run month. */
  monthsOfHistory: number;
  /** Whether the partition took its share of the stored training month (activities/window-cache.ts). */
  training?: TrainingMonth;
  seconds: number;
}

/**
 * Computes the features table in the run database for two feature months: the run month
 * (to score) and the month before it (to train on, labelled by whether the subscriber was gone
 * the month after). One database, one connection: the per-partition SQL, then the combining SQL.
 * With `months`, the training month's rows come from the run that scored that month when they are
 * stored (activities/window-cache.ts), and the scoring month's are stored for next month's run.
 */
export async function computeFeatures(
  dbPath: string,
  params: RunParams,
  input: FeatureInput = FULL_INPUT,
  sizing: BucketSizing = {},
  months?: FeatureMonthCache,
): Promise<FeatureSummary> {
  const started = performance.now();
  const training = months ? await findTrainingMonth(months) : null;
  return withConnection(dbPath, async (conn) => {
    await writeFeatureSettings(conn, params, input);
    const { written, scoringFiles } = await computeSubscriberFeatures(conn, dbPath, sizing, training, false);
    const scoring = months
      ? await storeScoringMonth(months, conn, scoringFiles ? { files: scoringFiles } : { table: 'subscriber_features' })
      : null;
    const monthsOfHistory = await countMonthsOfHistory(conn, params);
    await conn.run('CREATE OR REPLACE TEMP VIEW all_subscriber_features AS SELECT * FROM subscriber_features');
    const summary = await combineInto(conn, dbPath, input, monthsOfHistory, started);
    assertTrainingMonth(summary, params, input);
    await removeFiles(written);
    if (!training || !scoring) return summary;
    return { ...summary, monthReuse: monthReuseOf([training], scoring) };
  });
}

/**
 * Everything that depends on a subscriber's own rows, for one partition's subscribers, handed to
 * the combining step as Parquet beside the partition's database (DuckDB cannot attach a database
 * by a bound path, and Parquet is what another machine could read too).
 */
export async function computePartitionFeatures(
  dbPath: string,
  params: RunParams,
  input: FeatureInput = FULL_INPUT,
  months?: FeatureMonthCache,
): Promise<PartitionFeatures> {
  const started = performance.now();
  const training = months ? await findTrainingMonth(months) : null;
  return withConnection(dbPath, async (conn) => {
    await writeFeatureSettings(conn, params, input);
    const { written } = await computeSubscriberFeatures(conn, dbPath, {}, training, true);
    await setVariable(conn, 'features_file', partitionOutput(dbPath, 'subscriber-features'));
    await conn.run("COPY subscriber_features TO (getvariable('features_file')) (FORMAT parquet)");
    await removeFiles(written);
    return {
      monthsOfHistory: await countMonthsOfHistory(conn, params),
      ...(training ? { training } : {}),
      seconds: (performance.now() - started) / 1000,
    };
  });
}

export interface BucketSizing {
  /** Usage rows one aggregation pass may take; default from DuckDB's memory cap (rowsPerBucket). */
  rowsPerBucket?: number;
}

/**
 * Usage rows per aggregation pass: the per-subscriber aggregation keeps ~1 KB of state per
 * (feature month, subscriber), about 1/3 KB per usage row, so a bucket of memory/800 rows uses
 * under half the cap. (At 10M subscribers, one 58M-row pass under a 6 GB cap spilled to disk
 * and took 509 s.)
 */
export function rowsPerBucket(memoryLimit = duckdbMemoryLimit()): number {
  return Math.max(100_000, Math.floor(memoryLimitBytes(memoryLimit) / 800));
}

/**
 * Runs the per-subscriber SQL into `subscriber_features`, one bucket of subscribers (a range of ids)
 * at a time when the partition's rows would not fit one pass in memory. With a stored training
 * month, only the scoring month is aggregated and the training month's rows are read from the
 * store (a partition's `share`: the subscribers whose rows it holds).
 *
 * In one pass it is a TEMP table (the ranking and the write after read a table faster than a
 * file: ~0.8 s at 1M). In several, each bucket's rows go from the pass's query straight to
 * Parquet files beside the database and `subscriber_features` is a view over the files: kept as a
 * table, the buckets done filled DuckDB's memory while the next ones aggregated (at 10M the later
 * passes took twice the first one's time; docs/benchmark.md, "10M, session 16"). A pass writes
 * its scoring month's rows and its training month's to files of their own, so the scoring month
 * is stored for next month by linking its files, not by copying its rows out of them again (at
 * 10M the copy took ~10 s, the passes' two files ~4 s more than one; docs/benchmark.md, "Session 28").
 */
async function computeSubscriberFeatures(
  conn: DuckDBConnection,
  dbPath: string,
  sizing: BucketSizing,
  training: TrainingMonth | null,
  share: boolean,
): Promise<{
  /** The files and folders written beside the database, for the caller to remove once the rows are read. */
  written: string[];
  /** The files that hold the scoring month's rows and no other (null: they are in a table, one pass). */
  scoringFiles: string[] | null;
}> {
  await findUnreadableInRunMonth(conn);
  if (training?.found) await conn.run("DELETE FROM feature_months WHERE purpose = 'train'");
  const { rows } = await queryOne<{ rows: number }>(conn, 'SELECT count(*) AS rows FROM usage');
  const bounds = await bucketBounds(conn, Math.ceil(rows / (sizing.rowsPerBucket ?? rowsPerBucket())));
  const buckets = bounds.length + 1;
  await defineUnitsSquared(conn);
  const written: string[] = [];
  const passes: Record<'score' | 'train', string[]>[] = [];
  for (let bucket = 0; bucket < buckets; bucket++) {
    await defineBucket(conn, bounds, bucket);
    await runFeatureSql(
      conn,
      PARTITION_SQL_DIR,
      buckets === 1 ? 'features' : `features, bucket ${bucket + 1} of ${buckets}`,
    );
    if (buckets === 1) await conn.run('CREATE OR REPLACE TEMP TABLE subscriber_features AS FROM bucket_features');
    else {
      const dir = runFilePath(dbPath, `subscriber-features-${String(bucket).padStart(2, '0')}`);
      written.push(dir);
      passes.push(await copyByPurpose(conn, 'bucket_features', dir));
    }
    await runScript(conn, await readSql(import.meta.url, './features/bucket_written.sql'));
  }
  const files = passes.flatMap((pass) => [...pass.score, ...pass.train]);
  if (buckets > 1) await viewFiles(conn, 'subscriber_features', files);
  if (training?.found) {
    await checkpoint({ stage: 'features: reading the training month from the run that scored it' });
    await setVariable(conn, 'train_month_file', listValue(training.found.files));
    await setVariable(conn, 'train_month_share', share);
    await conn.run(await readSql(import.meta.url, './features/train_month_reused.sql'));
    if (buckets === 1) await conn.run('INSERT INTO subscriber_features FROM reused_training_rows');
    else {
      const trainingFile = runFilePath(dbPath, 'subscriber-features-training.parquet');
      written.push(trainingFile);
      await copyToFile(conn, 'reused_training_rows', trainingFile);
      await viewFiles(conn, 'subscriber_features', [...files, trainingFile]);
    }
    await conn.run('DROP VIEW reused_training_rows');
  }
  return { written, scoringFiles: buckets > 1 ? passes.flatMap((pass) => pass.score) : null };
}

/**
 * Subscriber ids that cut the usage rows into `buckets` ranges of about as many rows each (none
 * for one bucket), the quantiles of a seeded sample of the scoring month's rows (or of every
 * month's, for a partition without that month). Ranges of ids, unlike buckets by id hash, let a
 * pass skip the Parquet row groups whose ids lie outside its range: an extract sorted by
 * subscriber, as most are, leaves each month file's row groups narrow ranges (at 10M a pass took
 * ~8-10 s instead of ~14 s; docs/benchmark.md). Which bucket a subscriber falls in changes no
 * result, only how many rows a pass holds at once.
 */
async function bucketBounds(conn: DuckDBConnection, buckets: number): Promise<string[]> {
  if (buckets <= 1) return [];
  const quantiles = Array.from({ length: buckets - 1 }, (_, i) => (i + 1) / buckets).join(', ');
  for (const rows of ['FROM usage WHERE "month" = (SELECT max(as_of) FROM feature_months)', 'FROM usage']) {
    const bounds = await queryRows<{ bound: string | null }>(
      conn,
      `SELECT unnest(quantile_disc(subscriber_id, [${quantiles}])) AS bound
       FROM (SELECT subscriber_id ${rows}) USING SAMPLE 200000 ROWS (reservoir, 1)`,
    );
    if (bounds.length > 0 && bounds.every(({ bound }) => bound !== null))
      return bounds.map(({ bound }) => bound as string);
  }
  return [];
}

/** Defines in_feature_bucket(id), read by the pass SQL: whether `id` lies in range `bucket` of `bounds`. */
async function defineBucket(conn: DuckDBConnection, bounds: string[], bucket: number): Promise<void> {
  const low = bucket > 0 ? bounds[bucket - 1] : undefined;
  const high = bucket < bounds.length ? bounds[bucket] : undefined;
  // literals, not session variables: DuckDB prunes Parquet row groups by a comparison with a constant
  const conditions = [
    ...(low === undefined ? [] : [`id >= ${sqlString(low)}`]),
    ...(high === undefined ? [] : [`id < ${sqlString(high)}`]),
  ];
  await conn.run(`CREATE OR REPLACE TEMP MACRO in_feature_bucket(id) AS ${conditions.join(' AND ') || 'true'}`);
}

/**
 * Defines units_squared(x), the square of an amount in units that the aggregation sums exactly
 * (features/partition/02_aggregates.sql), as a BIGINT product when the usage's amounts allow, else
 * a HUGEINT one (features/units_squared_type.sql).
 */
async function defineUnitsSquared(conn: DuckDBConnection): Promise<void> {
  const { square_type: type } = await queryOne<{ square_type: 'BIGINT' | 'HUGEINT' }>(
    conn,
    await readSql(import.meta.url, './features/units_squared_type.sql'),
  );
  await conn.run(`CREATE OR REPLACE TEMP MACRO units_squared(x) AS x::${type} * x::${type}`);
}

/** A file or folder of the run's per-subscriber features, beside its database. */
function runFilePath(dbPath: string, name: string): string {
  return dbPath.replace(/\.duckdb$/, `.${name}`);
}

/** Writes a table's or view's rows (the name is one of this module's own) to a Parquet file at a bound path. */
async function copyToFile(conn: DuckDBConnection, table: string, path: string): Promise<void> {
  await setVariable(conn, 'bucket_file', path);
  await conn.run(`COPY ${table} TO (getvariable('bucket_file')) (FORMAT parquet)`);
}

/**
 * Writes a view's rows (the name is one of this module's own) into folder `dir`, a Parquet file
 * per purpose with the purpose column kept in it, and returns the files of each purpose.
 */
async function copyByPurpose(
  conn: DuckDBConnection,
  view: string,
  dir: string,
): Promise<Record<'score' | 'train', string[]>> {
  await rm(dir, { recursive: true, force: true }); // a retried attempt's
  await setVariable(conn, 'bucket_dir', dir);
  await conn.run(
    `COPY ${view} TO (getvariable('bucket_dir')) (FORMAT parquet, PARTITION_BY (purpose), WRITE_PARTITION_COLUMNS true)`,
  );
  const filesOf = async (purpose: string) => {
    const folder = join(dir, `purpose=${purpose}`);
    const names = await readdir(folder).catch(() => []);
    return names.filter((name) => name.endsWith('.parquet')).map((name) => join(folder, name));
  };
  return { score: await filesOf('score'), train: await filesOf('train') };
}

/**
 * A view's text holds its files' paths (as viewParquet's does): a view takes no parameters. The
 * purpose is a column of every file: folder names (purpose=score) are not read as columns.
 */
async function viewFiles(conn: DuckDBConnection, view: string, files: string[]): Promise<void> {
  await conn.run(
    `CREATE OR REPLACE TEMP VIEW ${view} AS FROM read_parquet([${files.map(sqlString).join(', ')}], hive_partitioning = false)`,
  );
}

async function removeFiles(paths: string[]): Promise<void> {
  await Promise.all(paths.map((path) => rm(path, { recursive: true, force: true })));
}

/**
 * Gathers every partition's subscriber features into the run database and adds what ranks
 * subscribers against each other (value tiers, star grades) and the row order models use.
 */
export async function combineFeatures(
  dbPath: string,
  partitionDbPaths: string[],
  params: RunParams,
  input: FeatureInput,
  partitions: PartitionFeatures[],
  months?: FeatureMonthCache,
): Promise<FeatureSummary> {
  const started = performance.now();
  return withConnection(dbPath, async (conn) => {
    await writeFeatureSettings(conn, params, input);
    await setVariable(
      conn,
      'feature_files',
      listValue(partitionDbPaths.map((path) => partitionOutput(path, 'subscriber-features'))),
    );
    await conn.run(
      "CREATE OR REPLACE TEMP VIEW all_subscriber_features AS SELECT * FROM read_parquet(getvariable('feature_files'))",
    );
    const scoring = months ? await storeScoringMonth(months, conn, { table: 'all_subscriber_features' }) : null;
    const monthsOfHistory = Math.max(...partitions.map((partition) => partition.monthsOfHistory));
    const summary = await combineInto(conn, dbPath, input, monthsOfHistory, started);
    assertTrainingMonth(summary, params, input);
    const seconds = summary.seconds + Math.max(...partitions.map((partition) => partition.seconds));
    if (!scoring) return { ...summary, seconds };
    const trainings = partitions.map((partition) => partition.training ?? null);
    return { ...summary, monthReuse: monthReuseOf(trainings, scoring), seconds };
  });
}

/**
 * Runs the combining SQL over view all_subscriber_features and writes the features, with those
 * the input cannot support blanked, to features.parquet beside the run database, read by the
 * view `features`: written once and only read after, and DuckDB writes the wide rows as Parquet
 * in about half the time it stores them as a table (docs/benchmark.md).
 */
async function combineInto(
  conn: DuckDBConnection,
  dbPath: string,
  input: FeatureInput,
  monthsOfHistory: number,
  started: number,
): Promise<FeatureSummary> {
  await runFeatureSql(conn, COMBINED_SQL_DIR, 'features: combining');
  const scores = skippedScoreComponents(input);
  const blankedFeatures = [...skippedFeaturesFor(input, monthsOfHistory), ...scores.blanked];
  // a score's absent component is no column: listed, not blanked
  const skippedFeatures = [...blankedFeatures, ...scores.rescaled];
  // `CASE WHEN false THEN x END`: NULL of the column's own type
  const blanked = blankedFeatures.map(
    ({ feature }) => `CASE WHEN false THEN f.${quoteIdent(feature)} END AS ${quoteIdent(feature)}`,
  );
  // column names are user_0, user_1, ... (UserFeature.column), never the user's own names
  const userColumns = (input.userFeatures ?? []).map((feature) => `, u.${quoteIdent(feature.column)}`).join('');
  const userJoin = input.userFeatures?.length
    ? 'LEFT JOIN user_feature_rows u ON u.subscriber_id = f.subscriber_id AND u."month" = f.as_of'
    : '';
  await checkpoint({ stage: 'features: writing features.parquet' });
  // The Parquet writer's buffers lie outside DuckDB's memory cap, which the stage's temporary
  // tables fill by now: at 10M subscribers the process rose well over the cap while writing
  // (docs/benchmark.md, "10M, session 15"). Under a lower cap DuckDB spills more of those tables.
  await conn.run(`SET memory_limit = '${shareOfMemoryLimit(3 / 4)}'`);
  await writeParquetView(
    conn,
    'features',
    `SELECT f.*${blanked.length ? ` REPLACE (${blanked.join(', ')})` : ''}${userColumns} FROM feature_rows f ${userJoin}`,
    featuresFile(dbPath),
    'database',
    // written once and read by every later stage: snappy writes it in two thirds of zstd's time
    // (1.1 against 1.6 s at 1M) and reads it as fast, for a file a fifth larger (181 against 149 MB)
    'snappy',
  );
  await conn.run(`SET memory_limit = '${duckdbMemoryLimit()}'`);
  await conn.run('DROP VIEW feature_rows');
  await conn.run('DROP VIEW all_subscriber_features');
  const counts = await queryOne<{
    scoring: number;
    training: number;
    unknown_outcome: number;
    churn_rate: number | null;
  }>(conn, await readSql(import.meta.url, './features/row_counts.sql'));
  return {
    skippedFeatures,
    scoringRows: counts.scoring,
    trainingRows: counts.training,
    trainingUnknownOutcome: counts.unknown_outcome,
    trainingChurnRate: counts.churn_rate ?? 0,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Stops a run of monthly usage whose month before holds nobody (the input starts at the run
 * month) here, where it is known, rather than after clustering, where the churn stage would stop
 * it in the same words. A snapshot extract trains on its own month's labelled rows: the churn
 * stage judges those.
 */
function assertTrainingMonth(summary: FeatureSummary, params: RunParams, input: FeatureInput): void {
  if (input.format === 'long' && summary.trainingRows === 0)
    throw new DataQualityError(tooLittleHistory({ train: 0, churners: 0 }, params));
  assertRunMonthHeld(summary, params, input);
}

/**
 * Stops a run of monthly usage whose run month holds far fewer subscribers than the month before
 * (under minRunMonthShare of them, 80% when left out): a delivery cut off part way, whose missing
 * subscribers the absence-based label would call churners, before any model trains on that. A
 * snapshot extract scores and trains on the same month; the user's labels (a churn_label column
 * or a labels file) call nobody a churner for being absent. Checked again on a reused stage
 * output (stage-cache.ts), as the share may differ from the storing run's.
 */
export function assertRunMonthHeld(
  summary: Pick<FeatureSummary, 'scoringRows' | 'trainingRows' | 'trainingUnknownOutcome'>,
  params: RunParams,
  input: Pick<FeatureInput, 'format' | 'inputColumns'>,
): void {
  if (input.format !== 'long' || input.inputColumns.includes('churn_label')) return;
  // a subscriber whose run-month rows were all quarantined is unreadable there, not missing: the
  // label leaves it out, so the check does too (15% of a month quarantined stopped a run at 0.8)
  const train = summary.trainingRows - (summary.trainingUnknownOutcome ?? 0);
  const problem = runMonthCutOff({ score: summary.scoringRows, train }, params);
  if (problem) throw new DataQualityError(problem);
}

async function countMonthsOfHistory(conn: DuckDBConnection, params: RunParams): Promise<number> {
  const { months } = await queryOne<{ months: number }>(
    conn,
    'SELECT count(DISTINCT "month") AS months FROM usage WHERE "month" <= $month::DATE',
    { month: firstDay(params.month) },
  );
  return months;
}

/** Runs a folder's SQL files, reporting the file and, while it runs, DuckDB's rows scanned. */
async function runFeatureSql(conn: DuckDBConnection, dir: URL, label: string): Promise<void> {
  let current: StepProgress = { step: label };
  await withQueryProgress(
    conn,
    () => current,
    () =>
      runSqlFiles(conn, dir, (file, index, total) => {
        current = { step: `${label}: ${file}`, done: index, total };
        return checkpoint({ stage: current.step, done: index, total });
      }),
  );
}

/**
 * The features an input cannot support: those whose optional columns are absent, and the trends
 * when there are fewer than six months of history (a snapshot has one).
 */
function skippedFeaturesFor(input: FeatureInput, monthsOfHistory: number): SkippedFeature[] {
  if (input.inputColumns.length === 0) return [];
  const has = new Set(input.inputColumns);
  const skipped = new Map<string, string>();
  if (monthsOfHistory < TREND_MONTHS) {
    for (const feature of TREND_FEATURES)
      skipped.set(feature, `needs ${TREND_MONTHS} months of history; the input has ${monthsOfHistory}`);
  }
  for (const [feature, columns] of Object.entries(FEATURE_INPUTS)) {
    const absent = columns.filter((column) => !has.has(column));
    if (absent.length > 0 && !skipped.has(feature)) skipped.set(feature, `input has no ${absent.join(', ')}`);
  }
  if (STICKY_INPUTS.every((column) => !has.has(column)))
    skipped.set('sticky_services', `input has no ${STICKY_INPUTS.join(' or ')}`);
  return [...skipped].map(([feature, reason]) => ({ feature, reason }));
}

/**
 * Table unreadable_in_run_month: the subscribers whose every run-month row was quarantined (a
 * database the load did not make, without a quarantine table, has none). Needs run_month set
 * (writeFeatureSettings).
 */
export async function findUnreadableInRunMonth(conn: DuckDBConnection): Promise<void> {
  await conn.run(`CREATE TABLE IF NOT EXISTS quarantine ${LOADED_QUARANTINE_COLUMNS}`);
  await setVariable(conn, 'month_folder_pattern', MONTH_FOLDER.source);
  await setVariable(conn, 'outside_window_reason', OUTSIDE_WINDOW);
  await conn.run(await readSql(import.meta.url, './features/unreadable_in_run_month.sql'));
}

/** Feature months and rule settings as one-row tables, every value bound, never spliced. */
async function writeFeatureSettings(
  conn: DuckDBConnection,
  params: RunParams,
  input: FeatureInput = FULL_INPUT,
): Promise<void> {
  const trainMonth = trainingMonth(params.month, input.format);
  await setVariable(conn, 'run_month', params.month);
  await conn.run(await readSql(import.meta.url, './features/feature_months.sql'), {
    score_month: firstDay(params.month),
    train_month: firstDay(trainMonth),
  });
  // a component the input lacks weighs 0 and the rest are rescaled (scoreSupport)
  const w = scoreSupport('stability_score', input.inputColumns);
  const stars = scoreSupport('star_grade', input.inputColumns);
  await conn.run(await readSql(import.meta.url, './features/feature_settings.sql'), {
    history_months: params.historyMonths,
    use_user_labels: input.inputColumns.includes('churn_label'),
    tenure_cap_months: STABILITY_WEIGHTS.tenureCapMonths,
    w_tenure: w.weights.tenure,
    w_contract: w.weights.contract,
    w_broadband: w.weights.broadband,
    w_family_bundle: w.weights.family_bundle,
    call_circle_cap: STABILITY_WEIGHTS.callCircleCap,
    w_call_circle: w.weights.call_circle,
    w_premium_number: w.weights.premium_number,
    stability_scale: w.scale,
    star_spend: stars.weights.spend,
    star_frequency: stars.weights.frequency,
    star_tenure: stars.weights.tenure,
    star_payment_delay: stars.weights.payment_delay,
    star_complaints: stars.weights.complaints,
    star_scale: stars.scale,
  });
}

/**
 * What the stage did with stored months: the training month as the partitions (or the one
 * computation) found it, and the scoring month as stored.
 */
function monthReuseOf(
  trainings: (TrainingMonth | null)[],
  scoring: { key: string | null; stored: FeatureMonthReuse['stored'] },
): FeatureMonthReuse {
  const taken = trainings.filter((training) => training?.found);
  const first = trainings[0];
  return {
    trainKey: first?.key ?? null,
    scoreKey: scoring.key,
    reused: taken[0]?.found ? [taken[0].found.artifact] : [],
    // partitions look the month up one by one: a store pruned in between leaves some computing it
    reason:
      taken.length === 0 || taken.length === trainings.length
        ? (first?.reason ?? 'no partition looked up the training month')
        : `${taken.length} of ${trainings.length} partitions took the stored training month, the others computed it: ${trainings.find((training) => !training?.found)?.reason}`,
    stored: scoring.stored,
  };
}
