import { readdir, readFile, rm } from 'node:fs/promises';
import { type DuckDBAppender, type DuckDBConnection, DuckDBInstance, type DuckDBValue } from '@duckdb/node-api';

/**
 * DuckDB's memory cap per database (SEGFLOW_DUCKDB_MEMORY_LIMIT, default 6GB). DuckDB's own
 * default is 80% of the machine, so two stages at once, or one at operator scale, could take it
 * all; under the cap DuckDB spills to disk beside the database instead.
 */
export function duckdbMemoryLimit(env: NodeJS.ProcessEnv = process.env): string {
  const limit = env.SEGFLOW_DUCKDB_MEMORY_LIMIT ?? '6GB';
  if (!MEMORY_LIMIT.test(limit))
    throw new Error(`SEGFLOW_DUCKDB_MEMORY_LIMIT must look like 6GB or 800MB, got ${JSON.stringify(limit)}`);
  return limit;
}

const MEMORY_LIMIT = /^(\d+(?:\.\d+)?)\s*(MB|GB|MiB|GiB)$/i;

/** A memory limit in the form duckdbMemoryLimit accepts, in bytes (MB and GB counted as MiB and GiB). */
export function memoryLimitBytes(limit: string = duckdbMemoryLimit()): number {
  const { amount, unit } = parseMemoryLimit(limit);
  return amount * (/^g/i.test(unit) ? 2 ** 30 : 2 ** 20);
}

function parseMemoryLimit(limit: string): { amount: number; unit: string } {
  const [, amount, unit] = MEMORY_LIMIT.exec(limit) ?? [];
  if (amount === undefined || unit === undefined) throw new Error(`not a memory limit: ${JSON.stringify(limit)}`);
  return { amount: Number(amount), unit };
}

/**
 * DuckDB worker threads per database (SEGFLOW_DUCKDB_THREADS; default: DuckDB's own, one per
 * core). Lower it when several activities share a worker's cores.
 */
export function duckdbThreads(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const threads = env.SEGFLOW_DUCKDB_THREADS;
  if (threads === undefined || threads === '') return undefined;
  if (!/^[1-9]\d{0,3}$/.test(threads))
    throw new Error(`SEGFLOW_DUCKDB_THREADS must be a whole number from 1, got ${JSON.stringify(threads)}`);
  return threads;
}

/**
 * Opens a DuckDB database (a file, or ':memory:'), runs `work` on one connection, closes it.
 * `spillDir` is where an in-memory database may spill (file databases spill beside the file).
 * `readOnly`: the file is only read (TEMP tables and views still work), so other activities,
 * in this process or another, may read it at the same time; a writer locks it for itself.
 */
export async function withConnection<T>(
  path: string,
  work: (conn: DuckDBConnection) => Promise<T>,
  options: { spillDir?: string; readOnly?: boolean; memoryLimit?: string } = {},
): Promise<T> {
  const threads = duckdbThreads();
  const instance = await DuckDBInstance.create(path, {
    memory_limit: options.memoryLimit ?? duckdbMemoryLimit(),
    ...(threads ? { threads } : {}),
    ...(options.spillDir ? { temp_directory: options.spillDir } : {}),
    ...(options.readOnly ? { access_mode: 'READ_ONLY' } : {}),
  });
  const conn = await instance.connect();
  try {
    // instants read as dates and times the same on every machine (DuckDB takes the machine's zone)
    await conn.run("SET TimeZone = 'UTC'");
    return await work(conn);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/**
 * `withConnection` on a database it only reads: other activities, in this process or another, may
 * read it at the same time (the clustering and churn stages do, activities/stage-outputs.ts).
 * With half the memory cap: those two run side by side, and hold their feature columns in
 * JavaScript beside DuckDB (at 10M subscribers the churn stage's last step, writing the reasons,
 * took the process to 8.3 GB under the whole cap and 7.5 GB under half, no slower:
 * docs/benchmark.md, "10M, session 13").
 */
export async function withReadOnlyConnection<T>(
  path: string,
  work: (conn: DuckDBConnection) => Promise<T>,
): Promise<T> {
  return withConnection(path, work, { readOnly: true, memoryLimit: shareOfMemoryLimit(1 / 2) });
}

/** `fraction` of a memory limit, in the limit's own unit (`3GB` of `6GB`), as DuckDB's memory_limit takes it. */
export function shareOfMemoryLimit(fraction: number, limit: string = duckdbMemoryLimit()): string {
  const { amount, unit } = parseMemoryLimit(limit);
  return `${Number((amount * fraction).toFixed(3))}${unit}`;
}

/** Reads a `.sql` file that sits beside the calling module. */
export async function readSql(moduleUrl: string, relativePath: string): Promise<string> {
  return readFile(new URL(relativePath, moduleUrl), 'utf8');
}

/**
 * Runs a script of `;`-separated statements in order. DuckDB's own parser splits it, so a
 * semicolon inside a string literal or a comment is just text.
 */
export async function runScript(conn: DuckDBConnection, script: string): Promise<void> {
  await conn.run(script);
}

/** Runs `work` with DuckDB on one thread (a deterministic order for floating-point sums), then restores the setting. */
export async function singleThreaded<T>(conn: DuckDBConnection, work: () => Promise<T>): Promise<T> {
  const { threads } = await queryOne<{ threads: number }>(conn, "SELECT current_setting('threads') AS threads");
  await conn.run('SET threads = 1');
  try {
    return await work();
  } finally {
    await conn.run(`SET threads = ${Number(threads)}`);
  }
}

/** Runs every `.sql` file of a folder in name order (`NN_name.sql`); `before` hears of each file first. */
export async function runSqlFiles(
  conn: DuckDBConnection,
  dir: URL,
  before?: (file: string, index: number, total: number) => Promise<void>,
): Promise<void> {
  const files = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort();
  for (const [index, file] of files.entries()) {
    await before?.(file, index, files.length);
    await runScript(conn, await readSql(dir.href, file));
  }
}

/**
 * Rows of a small result as plain objects: BIGINT/HUGEINT become numbers, dates ISO strings
 * (format DATE columns with strftime when only the day matters). Never for big results.
 */
export async function queryRows<T extends Record<string, unknown>>(
  conn: DuckDBConnection,
  sql: string,
  values?: Record<string, DuckDBValue> | DuckDBValue[],
): Promise<T[]> {
  const reader = await conn.runAndReadAll(sql, values);
  return reader.getRowObjectsJS().map((row) => {
    const plain: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(row)) {
      plain[key] = typeof value === 'bigint' ? Number(value) : value instanceof Date ? value.toISOString() : value;
    }
    return plain as T;
  });
}

/** Like `queryRows` for exactly one row. */
export async function queryOne<T extends Record<string, unknown>>(
  conn: DuckDBConnection,
  sql: string,
  values?: Record<string, DuckDBValue> | DuckDBValue[],
): Promise<T> {
  const rows = await queryRows<T>(conn, sql, values);
  if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}: ${sql.slice(0, 80)}`);
  return rows[0];
}

/**
 * An appender for `table`, a TEMP table when there is one of that name: named by its catalog,
 * because a database opened read-only refuses an appender looked up by name alone.
 */
export async function createAppender(conn: DuckDBConnection, table: string): Promise<DuckDBAppender> {
  const { temporary } = await queryOne<{ temporary: boolean }>(
    conn,
    'SELECT count(*) > 0 AS temporary FROM duckdb_tables() WHERE table_name = $table AND temporary',
    { table },
  );
  return temporary ? conn.createAppender(table, 'main', 'temp') : conn.createAppender(table);
}

/**
 * Appends rows to an existing table through DuckDB's appender, each value converted to its
 * column's type, in the table's column order. For small tables built in code (rule grids,
 * catalogs, encodings): one appender instead of one INSERT statement per row.
 */
export async function appendRows(
  conn: DuckDBConnection,
  table: string,
  rows: readonly (readonly DuckDBValue[])[],
): Promise<void> {
  const appender = await createAppender(conn, table);
  const types = Array.from({ length: appender.columnCount }, (_, column) => appender.columnType(column));
  try {
    for (const row of rows) {
      if (row.length !== types.length)
        throw new Error(`appendRows: a row of ${row.length} values for the ${types.length} columns of ${table}`);
      row.forEach((value, column) => appender.appendValue(value, types[column]));
      appender.endRow();
    }
  } catch (error) {
    appender.clear(); // nothing of a failed append reaches the table
    throw error;
  } finally {
    appender.closeSync();
  }
}

/** Macros the SQL files share: deterministic uniform and normal draws keyed by (id, draw, seed). */
export const RANDOM_MACROS = `
CREATE OR REPLACE MACRO u(id, draw, seed) AS ((hash(id, draw, seed) % 1000003)::DOUBLE + 0.5) / 1000003.0;
CREATE OR REPLACE MACRO gauss(id, draw, seed) AS sqrt(-2.0 * ln(u(id, draw, seed))) * cos(2.0 * pi() * u(id, draw + 100000, seed));
`;

/** A numbered session variable's name (variable names are letters and underscores): prefix_a, prefix_b, ..., prefix_ba. */
export function numberedVariable(prefix: string, index: number): string {
  return `${prefix}_${index.toString(26).replace(/./g, (digit) => String.fromCharCode(97 + parseInt(digit, 26)))}`;
}

/**
 * A file path as DuckDB's file readers take it literally. They expand `*`, `?` and `[...]` even in
 * a bound value: a file named `*.parquet` in an input folder read every file beside it (one a
 * symlink out of the data root too) while the run recorded one. Each such character goes in
 * brackets, the glob's own escape.
 */
export function literalPath(path: string): string {
  return path.replace(/[[*?]/g, (character) => `[${character}]`);
}

/**
 * Binds a value to a session variable that SQL reads with getvariable(name). COPY targets and
 * view definitions cannot take prepared-statement parameters; this way no value is ever spliced
 * into SQL text.
 */
export async function setVariable(conn: DuckDBConnection, name: string, value: DuckDBValue): Promise<void> {
  if (!/^[a-z_]+$/.test(name)) throw new Error(`not a variable name: ${name}`);
  await conn.run(`SET VARIABLE ${name} = $value`, { value });
}

/** A SQL string literal. Only where a statement cannot take a parameter (a view's text). */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * Writes `query`'s rows to a Parquet file at `path` and makes `view` read them: a table the run
 * only reads again (publishing does) is then one compressed file the stage cache links into the
 * store instead of copying it out of the database, and a rerun links it back. `view` is a name
 * from the caller's code, never user input.
 */
export async function writeParquetView(
  conn: DuckDBConnection,
  view: string,
  query: string,
  path: string,
  scope: ViewScope = 'database',
  compression: 'zstd' | 'snappy' = 'zstd',
): Promise<void> {
  // the file may be a hard link into the stage cache (a retried attempt restored it): DuckDB's COPY
  // writes a new file and renames it over, and removing it first keeps that true whatever COPY does
  await rm(path, { force: true });
  await setVariable(conn, 'parquet_path', path);
  await conn.run(`COPY (${query}) TO (getvariable('parquet_path')) (FORMAT parquet, COMPRESSION ${compression})`);
  await viewParquet(conn, view, path, scope);
}

/** 'database': a view in the database file, for the stages after; 'connection': a TEMP view, gone when the connection closes. */
export type ViewScope = 'database' | 'connection';

/** Makes `view` read the Parquet file at `path` (a view's text holds the path: it takes no parameters). */
export async function viewParquet(
  conn: DuckDBConnection,
  view: string,
  path: string,
  scope: ViewScope = 'database',
): Promise<void> {
  if (scope === 'connection') {
    await conn.run(`CREATE OR REPLACE TEMP VIEW ${view} AS FROM read_parquet(${sqlString(path)})`);
    return;
  }
  // a table of that name (an attempt by a version that kept it as a table, retried after an
  // upgrade) would stop CREATE OR REPLACE VIEW
  const { tables } = await queryOne<{ tables: number }>(
    conn,
    "SELECT count(*)::INTEGER AS tables FROM duckdb_tables() WHERE table_name = $view AND schema_name = 'main' AND NOT temporary",
    { view },
  );
  if (tables > 0) await conn.run(`DROP TABLE ${view}`);
  await conn.run(`CREATE OR REPLACE VIEW ${view} AS FROM read_parquet(${sqlString(path)})`);
}
