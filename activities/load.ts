import { mkdir, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { listValue, type DuckDBConnection } from '@duckdb/node-api';
import { USAGE_CONTRACT, quoteIdent } from '../data/contract';
import { DataQualityError, InputFileError, InvalidParamsError, SchemaContractError } from '../domain/errors';
import { IDENTITY_MAPPING, InputMappingSchema, type InputMapping } from '../domain/mapping';
import { addMonths, firstDay } from '../domain/month';
import { MAX_PARTITIONS, parseRunParams, type RunParams } from '../domain/params';
import { runDir, type RunRef, type StoreConfig } from '../store/layout';
import { checkpoint, withQueryProgress } from './context';
import { hashFile, paramsHash } from '../store/hashing';
import { appendRows, queryOne, queryRows, readSql, setVariable, withConnection } from './duckdb';
import { buildCheckSql } from './load-sql';

export interface InputFile {
  path: string;
  sha256: string;
  bytes: number;
  rows: number;
}

/** What the load stage decided before reading any rows: small, so it travels between activities. */
export interface LoadPlan {
  params: RunParams;
  /** sha256 of the canonical parameters: equal for reruns with the same parameters. */
  paramsHash: string;
  /** Months the run reads: the history window plus one month before it for churn training. */
  windowStart: string;
  windowEnd: string;
  inputFiles: InputFile[];
  /** Month-partitioned files outside the window, not read at all. */
  filesOutsideWindow: number;
  mapping: InputMapping;
  /** Contract column -> the DuckDB type of the input column it is read from (MIXED when files disagree). */
  presentColumns: [string, string][];
  /** The run's database, where the partitions' results are combined. */
  dbPath: string;
  /** One database per partition; with a single partition it is the run's database. */
  partitionDbPaths: string[];
  seconds: number;
}

/** One partition's rows: every row of a subscriber lands in the same partition. */
export interface PartitionLoad {
  dbPath: string;
  rowsLoaded: number;
  rowsQuarantined: number;
  quarantineByReason: Record<string, number>;
  subscribersInMonth: number;
  seconds: number;
}

export interface LoadSummary extends Omit<LoadPlan, 'mapping' | 'presentColumns' | 'seconds'> {
  rowsRead: number;
  rowsLoaded: number;
  rowsQuarantined: number;
  quarantineByReason: Record<string, number>;
  subscribersInMonth: number;
  /** "long" (monthly usage) or "snapshot" (one row per subscriber), from the mapping. */
  format: 'long' | 'snapshot';
  /** Contract columns the input provides; features needing others are skipped. */
  inputColumns: string[];
  seconds: number;
}

const MONTH_FOLDER = /(?:^|\/)(?:usage_month|month)=(\d{4}-\d{2})(?:\/|$)/;

/**
 * Loads the run's usage files into DuckDB, enforcing the usage contract: plans, loads each
 * partition in turn, combines. The worker runs the same three steps as separate activities,
 * the partitions in parallel (workflows/monthly-segmentation.ts).
 */
export async function loadUsage(
  store: StoreConfig,
  run: RunRef,
  rawParams: unknown,
  partitions = 1,
): Promise<LoadSummary> {
  const plan = await planLoad(store, run, rawParams, partitions);
  const parts: PartitionLoad[] = [];
  for (const index of plan.partitionDbPaths.keys()) parts.push(await loadPartition(plan, index));
  return combineLoad(plan, parts);
}

/**
 * Checks the parameters and the input files (readable, with the contract's required columns),
 * counts and hashes them, and names the databases the partitions load into. Files that cannot
 * be read or lack required columns stop the run (non-retryable).
 */
export async function planLoad(store: StoreConfig, run: RunRef, rawParams: unknown, partitions = 1): Promise<LoadPlan> {
  const started = performance.now();
  const parsed = parseRunParams(rawParams);
  if (!parsed.ok) throw new InvalidParamsError(`invalid run parameters:\n${parsed.problems.join('\n')}`);
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new InvalidParamsError(`partitions must be a whole number from 1 to ${MAX_PARTITIONS}, got ${partitions}`);
  }
  const params = parsed.params;
  const windowEnd = params.month;
  const windowStart = addMonths(params.month, -params.historyMonths);

  if (store.dataRoot) await assertWithin(store.dataRoot, params.input);
  const { files, outsideWindow } = await findInputFiles(params.input, windowStart, windowEnd);
  const dir = runDir(store, run);
  await mkdir(dir, { recursive: true });
  const dbPath = join(dir, 'work.duckdb');
  const partitionDbPaths =
    partitions === 1
      ? [dbPath]
      : Array.from({ length: partitions }, (_, i) => join(dir, `partition-${String(i).padStart(2, '0')}.duckdb`));

  const mapping = params.mapping ? await readMapping(params.mapping) : IDENTITY_MAPPING;

  // files are hashed one after another on this thread while DuckDB reads their footers on its own
  const hashes = (async () => {
    const out: { sha256: string; bytes: number }[] = [];
    for (const path of files) out.push(await hashFile(path));
    return out;
  })();
  hashes.catch(() => undefined); // awaited below; a contract error may end the plan first
  return withConnection(':memory:', async (conn) => {
    const rowCounts: number[] = [];
    /** contract column -> the DuckDB type of the input column it is read from */
    const presentColumns = new Map<string, string>();
    for (const [index, path] of files.entries()) {
      await checkpoint({ stage: 'load: checking files', done: index, total: files.length });
      const columns = await describeFile(conn, path);
      const missing: string[] = [];
      for (const column of USAGE_CONTRACT) {
        const source = mapping.columns[column.name] ?? column.name;
        if (columns.has(source)) {
          const type = mapping.values[column.name] ? 'VARCHAR' : (columns.get(source) as string);
          presentColumns.set(column.name, unionType(presentColumns.get(column.name), type));
        } else if (mapping.columns[column.name]) {
          throw new SchemaContractError(
            `the mapping reads ${column.name} from column "${source}", but ${path} has no such column`,
          );
        } else if (column.required && !(column.name === 'month' && mapping.format === 'snapshot')) {
          missing.push(column.name);
        }
      }
      if (missing.length > 0) {
        throw new SchemaContractError(
          `${path} lacks required column(s): ${missing.join(', ')} (see data/contract.ts, or map them in a mapping file)`,
        );
      }
      const { rows } = await queryOne<{ rows: number }>(
        conn,
        `SELECT count(*) AS rows FROM ${readerSql(path, '$path')}`,
        { path },
      );
      rowCounts.push(rows);
    }
    const inputFiles: InputFile[] = (await hashes).map((hash, index) => ({
      path: files[index],
      ...hash,
      rows: rowCounts[index],
    }));
    if (mapping.format === 'snapshot' && !presentColumns.has('month')) presentColumns.set('month', 'DATE');
    return {
      params,
      paramsHash: paramsHash(params),
      windowStart,
      windowEnd,
      inputFiles,
      filesOutsideWindow: outsideWindow,
      mapping,
      presentColumns: [...presentColumns],
      dbPath,
      partitionDbPaths,
      seconds: (performance.now() - started) / 1000,
    };
  });
}

/**
 * Reads one partition's rows (the subscribers whose id hashes to it) into its database: table
 * checked_usage keeps every row with its contract check (reason NULL for a valid row), view
 * usage the valid rows, table quarantine the others with their reason.
 */
export async function loadPartition(plan: LoadPlan, index: number): Promise<PartitionLoad> {
  const started = performance.now();
  const dbPath = plan.partitionDbPaths[index];
  if (dbPath === undefined)
    throw new InvalidParamsError(`no partition ${index}: the plan has ${plan.partitionDbPaths.length}`);
  const presentColumns = new Map(plan.presentColumns);
  return withConnection(dbPath, async (conn) => {
    const step = `load: reading and checking rows (partition ${index + 1} of ${plan.partitionDbPaths.length})`;
    await checkpoint({ stage: step });
    await createRawInput(conn, plan, { index, count: plan.partitionDbPaths.length });
    await setVariable(conn, 'window_start', firstDay(plan.windowStart));
    await setVariable(conn, 'window_end', firstDay(plan.windowEnd));
    try {
      await withQueryProgress(
        conn,
        () => ({ step }),
        async () => {
          for (const statement of buildCheckSql(presentColumns)) await conn.run(statement);
        },
      );
    } catch (error) {
      // the footers were readable, but a data page is not (truncated file, invalid encoding)
      const message = (error as Error).message;
      if (/^(IO|Invalid Input|Conversion) Error/i.test(message))
        throw new InputFileError(`cannot read the input rows: ${message.split('\n')[0]}`);
      throw error;
    }
    // a view, not a copy: from here on the valid rows are only read
    await conn.run(
      'CREATE OR REPLACE VIEW usage AS SELECT * EXCLUDE (file_index, file_row, reason) FROM checked_usage WHERE reason IS NULL',
    );
    await setVariable(conn, 'input_files', listValue(plan.inputFiles.map((file) => file.path)));
    await conn.run(await readSql(import.meta.url, './load/quarantine.sql'));
    await conn.run('DROP VIEW raw_input');
    if (plan.partitionDbPaths.length > 1) {
      await setVariable(conn, 'quarantine_file', partitionOutput(dbPath, 'quarantine'));
      await conn.run("COPY quarantine TO (getvariable('quarantine_file')) (FORMAT parquet)");
    }
    const counts = await queryOne<{ loaded: number; quarantined: number; in_month: number }>(
      conn,
      await readSql(import.meta.url, './load/row_counts.sql'),
      { month: firstDay(plan.params.month) },
    );
    const reasons = await queryRows<{ reason: string; rows: number }>(
      conn,
      'SELECT reason, count(*) AS rows FROM quarantine GROUP BY reason',
    );
    return {
      dbPath,
      rowsLoaded: counts.loaded,
      rowsQuarantined: counts.quarantined,
      quarantineByReason: Object.fromEntries(reasons.map((r) => [r.reason, r.rows])),
      subscribersInMonth: counts.in_month,
      seconds: (performance.now() - started) / 1000,
    };
  });
}

/**
 * Adds up the partitions, checks that every row read was loaded or quarantined and that the
 * run has enough good rows, and gathers the partitions' quarantined rows into the run database.
 */
export async function combineLoad(plan: LoadPlan, parts: PartitionLoad[]): Promise<LoadSummary> {
  const started = performance.now();
  const byReason = new Map<string, number>();
  for (const part of parts)
    for (const [reason, rows] of Object.entries(part.quarantineByReason))
      byReason.set(reason, (byReason.get(reason) ?? 0) + rows);
  const sum = (pick: (part: PartitionLoad) => number) => parts.reduce((total, part) => total + pick(part), 0);
  const rowsRead = plan.inputFiles.reduce((total, file) => total + file.rows, 0);
  const rowsLoaded = sum((part) => part.rowsLoaded);
  const rowsQuarantined = sum((part) => part.rowsQuarantined);
  if (parts.length !== plan.partitionDbPaths.length || rowsLoaded + rowsQuarantined !== rowsRead) {
    throw new Error(
      `row counts do not reconcile: read ${rowsRead}, loaded ${rowsLoaded}, quarantined ${rowsQuarantined} in ${parts.length} of ${plan.partitionDbPaths.length} partitions`,
    );
  }
  if (parts.length > 1) await gatherQuarantine(plan.dbPath, plan.partitionDbPaths);
  const { mapping, presentColumns, seconds, ...rest } = plan;
  const summary: LoadSummary = {
    ...rest,
    rowsRead,
    rowsLoaded,
    rowsQuarantined,
    quarantineByReason: Object.fromEntries([...byReason].sort(([a, x], [b, y]) => y - x || a.localeCompare(b))),
    subscribersInMonth: sum((part) => part.subscribersInMonth),
    format: mapping.format,
    inputColumns: presentColumns.map(([column]) => column),
    seconds: seconds + Math.max(...parts.map((part) => part.seconds)) + (performance.now() - started) / 1000,
  };
  assertUsable(summary);
  return summary;
}

/** Every partition's quarantined rows in the run database, in file order. */
async function gatherQuarantine(dbPath: string, partitionDbPaths: string[]): Promise<void> {
  await withConnection(dbPath, async (conn) => {
    await setVariable(
      conn,
      'quarantine_files',
      listValue(partitionDbPaths.map((path) => partitionOutput(path, 'quarantine'))),
    );
    await conn.run(
      "CREATE OR REPLACE TABLE quarantine AS SELECT * FROM read_parquet(getvariable('quarantine_files')) ORDER BY source_file, file_row",
    );
  });
}

/**
 * A file a partition hands to the combining step beside its database (DuckDB cannot attach a
 * database by a bound path, and a Parquet file is also what another machine could read).
 */
export function partitionOutput(partitionDbPath: string, name: 'quarantine' | 'subscriber-features'): string {
  return partitionDbPath.replace(/\.duckdb$/, `.${name}.parquet`);
}

/** Stops a run without enough good rows (also checked when the load's output is reused). */
export function assertUsable(summary: LoadSummary): void {
  if (summary.rowsRead === 0) {
    throw new DataQualityError(
      `the ${summary.inputFiles.length} input file(s) hold no rows (window ${summary.windowStart}..${summary.windowEnd})`,
    );
  }
  const share = summary.rowsQuarantined / summary.rowsRead;
  const topReasons = Object.entries(summary.quarantineByReason)
    .slice(0, 5)
    .map(([reason, rows]) => `  ${rows} x ${reason}`)
    .join('\n');
  if (share > summary.params.maxQuarantineShare) {
    throw new DataQualityError(
      `${summary.rowsQuarantined} of ${summary.rowsRead} rows (${(share * 100).toFixed(1)}%) break the usage contract, ` +
        `more than maxQuarantineShare=${summary.params.maxQuarantineShare}:\n${topReasons}`,
    );
  }
  if (summary.subscribersInMonth === 0) {
    throw new DataQualityError(
      `no valid usage rows for the run month ${summary.params.month} (window ${summary.windowStart}..${summary.windowEnd})`,
    );
  }
}

/** Parquet and CSV files under `input` (a file or a folder, searched recursively), minus month folders outside the window. */
export async function findInputFiles(
  input: string,
  windowStart: string,
  windowEnd: string,
): Promise<{ files: string[]; outsideWindow: number }> {
  const root = resolve(input);
  const info = await stat(root).catch(() => {
    throw new InputFileError(`input not found: ${root}`);
  });
  const candidates = info.isDirectory() ? await listInputFiles(root) : [root];
  const files: string[] = [];
  let outsideWindow = 0;
  for (const file of candidates) {
    const month = MONTH_FOLDER.exec(dirname(file))?.[1];
    if (month !== undefined && (month < windowStart || month > windowEnd)) outsideWindow += 1;
    else files.push(file);
  }
  if (files.length === 0) {
    throw new InputFileError(
      candidates.length === 0
        ? `no .parquet or .csv files under ${root}`
        : `none of the ${candidates.length} files under ${root} is in the window ${windowStart}..${windowEnd}`,
    );
  }
  return { files, outsideWindow };
}

/** Refuses an input outside the data root, following symlinks so none can lead out of it. */
export async function assertWithin(dataRoot: string, input: string): Promise<void> {
  const [root, target] = await Promise.all([realpath(dataRoot), realpath(resolve(input)).catch(() => resolve(input))]);
  if (target !== root && !target.startsWith(root + sep)) {
    throw new InvalidParamsError(`input ${input} is outside the data root ${dataRoot} (SEGFLOW_DATA_ROOT)`);
  }
}

async function listInputFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && /\.(parquet|csv)$/i.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** The table function that reads one input file; CSV is read as text, so bad values are quarantined, not guessed. */
function readerSql(path: string, argument: string): string {
  return path.toLowerCase().endsWith('.csv')
    ? `read_csv(${argument}, header = true, all_varchar = true, parallel = false)`
    : `read_parquet(${argument})`;
}

/**
 * View `raw_input(file_index, file_row, <contract columns>)` over one partition of the input
 * files, with the mapping applied: the user's columns renamed, their value encodings translated
 * (through the bound table value_encodings), text months parsed, and a snapshot's month set to
 * the run month. A partition holds the subscribers whose raw id hashes to its index, so all of
 * a subscriber's rows, duplicates included, meet in one partition.
 */
async function createRawInput(
  conn: DuckDBConnection,
  plan: LoadPlan,
  partition: { index: number; count: number },
): Promise<void> {
  const files = plan.inputFiles.map((file) => file.path);
  const { mapping } = plan;
  const present = new Map(plan.presentColumns);
  const parquet = files.filter((file) => !file.toLowerCase().endsWith('.csv'));
  const csv = files.filter((file) => file.toLowerCase().endsWith('.csv'));
  const parts: string[] = [];
  // rows carry their file's number in the plan, not its path: a path per row cost ~10% of the load
  const numbers = (subset: string[]) => listValue(subset.map((file) => files.indexOf(file)));
  if (parquet.length > 0) {
    await setVariable(conn, 'parquet_files', listValue(parquet));
    await setVariable(conn, 'parquet_file_numbers', numbers(parquet));
    parts.push(`SELECT * EXCLUDE (file_row_number), getvariable('parquet_file_numbers')[file_index::BIGINT + 1] AS file_index, file_row_number AS file_row
      FROM read_parquet(getvariable('parquet_files'), union_by_name = true, file_row_number = true, hive_partitioning = false)`);
  }
  if (csv.length > 0) {
    await setVariable(conn, 'csv_files', listValue(csv));
    await setVariable(conn, 'csv_file_numbers', numbers(csv));
    parts.push(`SELECT * EXCLUDE (filename), getvariable('csv_file_numbers')[file_index::BIGINT + 1] AS file_index, row_number() OVER (PARTITION BY filename) - 1 AS file_row
      FROM read_csv(getvariable('csv_files'), union_by_name = true, filename = true, header = true, all_varchar = true, parallel = false)`);
  }
  await conn.run(
    'CREATE OR REPLACE TEMP TABLE value_encodings (column_name VARCHAR, source_value VARCHAR, contract_value VARCHAR)',
  );
  await appendRows(
    conn,
    'value_encodings',
    Object.entries(mapping.values).flatMap(([column, encoding]) =>
      Object.entries(encoding).map(([source, target]) => [column, source, target === null ? null : String(target)]),
    ),
  );
  await setVariable(conn, 'month_format', mapping.monthFormat ?? null);
  await setVariable(conn, 'run_month', firstDay(plan.params.month));
  await setVariable(conn, 'partition_count', partition.count);
  await setVariable(conn, 'partition_index', partition.index);
  const subscriberId = quoteIdent(mapping.columns.subscriber_id ?? 'subscriber_id');
  const inPartition =
    partition.count === 1
      ? ''
      : `WHERE hash(${subscriberId}) % getvariable('partition_count')::UBIGINT = getvariable('partition_index')::UBIGINT`;

  const expressions = USAGE_CONTRACT.filter((column) => present.has(column.name)).map((column) => {
    const source = mapping.columns[column.name] ?? column.name;
    const id = quoteIdent(column.name);
    if (column.name === 'month' && mapping.format === 'snapshot' && !mapping.columns.month)
      return `getvariable('run_month')::DATE AS ${id}`;
    let value = quoteIdent(source);
    if (mapping.values[column.name]) {
      // column names come from the contract (an allow-list); the encodings themselves are bound
      value = `coalesce((SELECT e.contract_value FROM value_encodings e WHERE e.column_name = '${column.name}' AND e.source_value = ${value}::VARCHAR), ${value}::VARCHAR)`;
    }
    if (column.name === 'month' && mapping.monthFormat)
      value = `try_strptime(${value}::VARCHAR, getvariable('month_format'))`;
    return `${value} AS ${id}`;
  });
  await conn.run(
    `CREATE OR REPLACE TEMP VIEW raw_input AS
     SELECT file_index, file_row, ${expressions.join(', ')}
     FROM (${parts.join('\nUNION ALL BY NAME\n')})
     ${inPartition}`,
  );
}

async function readMapping(path: string): Promise<InputMapping> {
  const text = await readFile(path, 'utf8').catch((error: Error) => {
    throw new InvalidParamsError(`cannot read the mapping file ${path}: ${error.message}`);
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InvalidParamsError(`the mapping file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = InputMappingSchema.safeParse(json);
  if (!parsed.success) {
    throw new InvalidParamsError(
      `invalid mapping file ${path}:\n${parsed.error.issues.map((i) => `${i.path.join('.') || '(mapping)'}: ${i.message}`).join('\n')}`,
    );
  }
  return parsed.data;
}

/**
 * The type a column has across files: text as bytes (BLOB) in any file is decoded everywhere;
 * files that disagree otherwise are MIXED, so every value goes through the checked cast.
 */
function unionType(seen: string | undefined, type: string): string {
  if (seen === undefined || seen === type) return type;
  return seen === 'BLOB' || type === 'BLOB' ? 'BLOB' : 'MIXED';
}

/** Column names and DuckDB types of a Parquet or CSV file. */
async function describeFile(conn: DuckDBConnection, path: string): Promise<Map<string, string>> {
  try {
    const rows = await queryRows<{ column_name: string; column_type: string }>(
      conn,
      `DESCRIBE SELECT * FROM ${readerSql(path, '$path')}`,
      { path },
    );
    return new Map(rows.map((row) => [row.column_name, row.column_type]));
  } catch (error) {
    const kind = path.toLowerCase().endsWith('.csv') ? 'CSV' : 'Parquet';
    throw new InputFileError(
      `${basename(path)} is not a readable ${kind} file (${path}): ${(error as Error).message.split('\n')[0]}`,
    );
  }
}
