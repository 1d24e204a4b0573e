import { mkdir, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { listValue, type DuckDBConnection } from '@duckdb/node-api';
import { USAGE_CONTRACT, quoteIdent } from '../data/contract';
import { DataQualityError, InputFileError, InvalidParamsError, SchemaContractError } from '../domain/errors';
import { IDENTITY_MAPPING, InputMappingSchema, type InputMapping } from '../domain/mapping';
import { addMonths, firstDay } from '../domain/month';
import { parseRunParams, type RunParams } from '../domain/params';
import { runDir, type RunRef, type StoreConfig } from '../domain/store-layout';
import { checkpoint } from './context';
import { hashFile, paramsHash } from './hashing';
import { queryOne, queryRows, setVariable, withConnection } from './duckdb';
import { buildCheckSql } from './load-sql';

export interface InputFile {
  path: string;
  sha256: string;
  bytes: number;
  rows: number;
}

export interface LoadSummary {
  /** The run's DuckDB database: tables usage (valid rows) and quarantine (rows with a reason). */
  dbPath: string;
  params: RunParams;
  /** sha256 of the canonical parameters: equal for reruns with the same parameters. */
  paramsHash: string;
  /** Months the run reads: the history window plus one month before it for churn training. */
  windowStart: string;
  windowEnd: string;
  inputFiles: InputFile[];
  /** Month-partitioned files outside the window, not read at all. */
  filesOutsideWindow: number;
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
 * Loads the run's usage files into a fresh DuckDB database, enforcing the usage contract.
 * Files that cannot be read or lack required columns stop the run (non-retryable); rows that
 * break a rule are kept in `quarantine` with the reason. Rows read = loaded + quarantined.
 */
export async function loadUsage(store: StoreConfig, run: RunRef, rawParams: unknown): Promise<LoadSummary> {
  const started = performance.now();
  const parsed = parseRunParams(rawParams);
  if (!parsed.ok) throw new InvalidParamsError(`invalid run parameters:\n${parsed.problems.join('\n')}`);
  const params = parsed.params;
  const windowEnd = params.month;
  const windowStart = addMonths(params.month, -params.historyMonths);

  if (store.dataRoot) await assertWithin(store.dataRoot, params.input);
  const { files, outsideWindow } = await findInputFiles(params.input, windowStart, windowEnd);
  const dir = runDir(store, run);
  await mkdir(dir, { recursive: true });
  const dbPath = join(dir, 'work.duckdb');

  const mapping = params.mapping ? await readMapping(params.mapping) : IDENTITY_MAPPING;

  return withConnection(dbPath, async (conn) => {
    const inputFiles: InputFile[] = [];
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
          if (presentColumns.get(column.name) !== 'BLOB') presentColumns.set(column.name, type);
        } else if (mapping.columns[column.name]) {
          throw new SchemaContractError(`the mapping reads ${column.name} from column "${source}", but ${path} has no such column`);
        } else if (column.required && !(column.name === 'month' && mapping.format === 'snapshot')) {
          missing.push(column.name);
        }
      }
      if (missing.length > 0) {
        throw new SchemaContractError(`${path} lacks required column(s): ${missing.join(', ')} (see data/contract.ts, or map them in a mapping file)`);
      }
      const { rows } = await queryOne<{ rows: number }>(conn, `SELECT count(*) AS rows FROM ${readerSql(path, '$path')}`, { path });
      const { sha256, bytes } = await hashFile(path);
      inputFiles.push({ path, sha256, bytes, rows });
    }
    if (mapping.format === 'snapshot' && !presentColumns.has('month')) presentColumns.set('month', 'DATE');

    await checkpoint({ stage: 'load: reading and checking rows' });
    await createRawInput(conn, files, mapping, presentColumns, params.month);
    await setVariable(conn, 'window_start', firstDay(windowStart));
    await setVariable(conn, 'window_end', firstDay(windowEnd));
    try {
      for (const statement of buildCheckSql(presentColumns)) await conn.run(statement);
    } catch (error) {
      // the footers were readable, but a data page is not (truncated file, invalid encoding)
      const message = (error as Error).message;
      if (/^(IO|Invalid Input|Conversion) Error/i.test(message)) throw new InputFileError(`cannot read the input rows: ${message.split('\n')[0]}`);
      throw error;
    }
    await conn.run('CREATE OR REPLACE TABLE usage AS SELECT * EXCLUDE (source_file, file_row, reason) FROM checked_input WHERE reason IS NULL');
    await conn.run(
      `CREATE OR REPLACE TABLE quarantine AS
       SELECT source_file, file_row, subscriber_id, strftime("month", '%Y-%m') AS "month", reason
       FROM checked_input WHERE reason IS NOT NULL ORDER BY source_file, file_row`,
    );
    await conn.run('DROP TABLE checked_input');
    await conn.run('DROP VIEW raw_input');

    const counts = await queryOne<{ loaded: number; quarantined: number; in_month: number }>(
      conn,
      `SELECT (SELECT count(*) FROM usage) AS loaded, (SELECT count(*) FROM quarantine) AS quarantined,
              (SELECT count(*) FROM usage WHERE "month" = $month::DATE) AS in_month`,
      { month: firstDay(params.month) },
    );
    const reasons = await queryRows<{ reason: string; rows: number }>(
      conn,
      'SELECT reason, count(*) AS rows FROM quarantine GROUP BY reason ORDER BY rows DESC, reason',
    );
    const rowsRead = inputFiles.reduce((sum, file) => sum + file.rows, 0);
    if (counts.loaded + counts.quarantined !== rowsRead) {
      throw new Error(`row counts do not reconcile: read ${rowsRead}, loaded ${counts.loaded}, quarantined ${counts.quarantined}`);
    }
    const summary: LoadSummary = {
      dbPath,
      params,
      paramsHash: paramsHash(params),
      windowStart,
      windowEnd,
      inputFiles,
      filesOutsideWindow: outsideWindow,
      rowsRead,
      rowsLoaded: counts.loaded,
      rowsQuarantined: counts.quarantined,
      quarantineByReason: Object.fromEntries(reasons.map((r) => [r.reason, r.rows])),
      subscribersInMonth: counts.in_month,
      format: mapping.format,
      inputColumns: [...presentColumns.keys()],
      seconds: (performance.now() - started) / 1000,
    };
    assertUsable(summary);
    return summary;
  });
}

function assertUsable(summary: LoadSummary): void {
  if (summary.rowsRead === 0) {
    throw new DataQualityError(`the ${summary.inputFiles.length} input file(s) hold no rows (window ${summary.windowStart}..${summary.windowEnd})`);
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
    throw new DataQualityError(`no valid usage rows for the run month ${summary.params.month} (window ${summary.windowStart}..${summary.windowEnd})`);
  }
}

/** Parquet and CSV files under `input` (a file or a folder, searched recursively), minus month folders outside the window. */
export async function findInputFiles(input: string, windowStart: string, windowEnd: string): Promise<{ files: string[]; outsideWindow: number }> {
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
async function assertWithin(dataRoot: string, input: string): Promise<void> {
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
  return path.toLowerCase().endsWith('.csv') ? `read_csv(${argument}, header = true, all_varchar = true, parallel = false)` : `read_parquet(${argument})`;
}

/**
 * View `raw_input(source_file, file_row, <contract columns>)` over every input file, with the
 * mapping applied: the user's columns renamed, their value encodings translated (through the
 * bound table value_encodings), text months parsed, and a snapshot's month set to the run month.
 */
async function createRawInput(conn: DuckDBConnection, files: string[], mapping: InputMapping, present: Map<string, string>, runMonth: string): Promise<void> {
  const parquet = files.filter((file) => !file.toLowerCase().endsWith('.csv'));
  const csv = files.filter((file) => file.toLowerCase().endsWith('.csv'));
  const parts: string[] = [];
  if (parquet.length > 0) {
    await setVariable(conn, 'parquet_files', listValue(parquet));
    parts.push(`SELECT * EXCLUDE (filename, file_row_number), filename AS source_file, file_row_number AS file_row
      FROM read_parquet(getvariable('parquet_files'), union_by_name = true, filename = true, file_row_number = true, hive_partitioning = false)`);
  }
  if (csv.length > 0) {
    await setVariable(conn, 'csv_files', listValue(csv));
    parts.push(`SELECT * EXCLUDE (filename), filename AS source_file, row_number() OVER (PARTITION BY filename) - 1 AS file_row
      FROM read_csv(getvariable('csv_files'), union_by_name = true, filename = true, header = true, all_varchar = true, parallel = false)`);
  }
  await conn.run('CREATE OR REPLACE TEMP TABLE value_encodings (column_name VARCHAR, source_value VARCHAR, contract_value VARCHAR)');
  for (const [column, encoding] of Object.entries(mapping.values)) {
    for (const [source, target] of Object.entries(encoding)) {
      await conn.run('INSERT INTO value_encodings VALUES ($column, $source, $target)', { column, source, target: target === null ? null : String(target) });
    }
  }
  await setVariable(conn, 'month_format', mapping.monthFormat ?? null);
  await setVariable(conn, 'run_month', firstDay(runMonth));

  const expressions = USAGE_CONTRACT.filter((column) => present.has(column.name)).map((column) => {
    const source = mapping.columns[column.name] ?? column.name;
    const id = quoteIdent(column.name);
    if (column.name === 'month' && mapping.format === 'snapshot' && !mapping.columns.month) return `getvariable('run_month')::DATE AS ${id}`;
    let value = quoteIdent(source);
    if (mapping.values[column.name]) {
      // column names come from the contract (an allow-list); the encodings themselves are bound
      value = `coalesce((SELECT e.contract_value FROM value_encodings e WHERE e.column_name = '${column.name}' AND e.source_value = ${value}::VARCHAR), ${value}::VARCHAR)`;
    }
    if (column.name === 'month' && mapping.monthFormat) value = `try_strptime(${value}::VARCHAR, getvariable('month_format'))`;
    return `${value} AS ${id}`;
  });
  await conn.run(
    `CREATE OR REPLACE TEMP VIEW raw_input AS
     SELECT source_file, file_row, ${expressions.join(', ')}
     FROM (${parts.join('\nUNION ALL BY NAME\n')})`,
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
    throw new InvalidParamsError(`invalid mapping file ${path}:\n${parsed.error.issues.map((i) => `${i.path.join('.') || '(mapping)'}: ${i.message}`).join('\n')}`);
  }
  return parsed.data;
}

/** Column names and DuckDB types of a Parquet or CSV file. */
async function describeFile(conn: DuckDBConnection, path: string): Promise<Map<string, string>> {
  try {
    const rows = await queryRows<{ column_name: string; column_type: string }>(conn, `DESCRIBE SELECT * FROM ${readerSql(path, '$path')}`, { path });
    return new Map(rows.map((row) => [row.column_name, row.column_type]));
  } catch (error) {
    const kind = path.toLowerCase().endsWith('.csv') ? 'CSV' : 'Parquet';
    throw new InputFileError(`${basename(path)} is not a readable ${kind} file (${path}): ${(error as Error).message.split('\n')[0]}`);
  }
}
