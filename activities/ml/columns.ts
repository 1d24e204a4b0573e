import { DuckDBDataChunk, type DuckDBConnection, type DuckDBType, type DuckDBVector } from '@duckdb/node-api';
import { checkpoint } from '../context';
import { createAppender } from '../duckdb';
import { collectGarbage } from '../memory';

/** Named feature columns as typed arrays, all of one length: the only way rows reach model code. */
export interface ColumnSet {
  names: string[];
  columns: Float64Array[];
  rows: number;
}

/**
 * Lets go of the sets' columns before DuckDB work that needs the memory: each set's column list is
 * emptied in place, so every holder of the same list lets go too (the names stay), and garbage is
 * collected. At 10M subscribers the churn stage's training and scoring columns are 3 GB.
 */
export function releaseColumns(...sets: ColumnSet[]): void {
  for (const set of sets) set.columns.length = 0;
  collectGarbage();
}

/**
 * Streams DOUBLE columns into preallocated Float64Arrays, chunk by chunk (never as row objects).
 * Each expression is cast to DOUBLE with NULL turned into NaN in SQL, so every vector is a plain
 * run of doubles that is copied in one `set` instead of read value by value (reading item by item
 * checks validity bits through BigInts and was ten times slower). `from` is the rest of the
 * query (FROM ... WHERE ... ORDER BY ...); `rows` the exact result size.
 */
export async function readColumns(
  conn: DuckDBConnection,
  expressions: [name: string, sql: string][],
  from: string,
  rows: number,
  /** Columns in shared memory: posted to a worker thread, they are shared instead of copied. */
  options: { shared?: boolean } = {},
): Promise<ColumnSet> {
  // positional names: a user's column name may hold any character, a quote too
  const select = expressions.map(([, sql], i) => `coalesce((${sql})::DOUBLE, 'NaN'::DOUBLE) AS c${i}`).join(', ');
  const result = await conn.stream(`SELECT ${select} ${from}`);
  const names = expressions.map(([name]) => name);
  const columns = names.map(() =>
    options.shared
      ? new Float64Array(new SharedArrayBuffer(rows * Float64Array.BYTES_PER_ELEMENT))
      : new Float64Array(rows),
  );
  let offset = 0;
  for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
    if (offset + chunk.rowCount > rows) throw new Error(`query returned more than the expected ${rows} rows`);
    for (let c = 0; c < names.length; c++) copyDoubles(chunk.getColumnVector(c), columns[c], offset, chunk.rowCount);
    offset += chunk.rowCount;
    if (offset % (1 << 18) < chunk.rowCount)
      await checkpoint({ stage: 'reading columns', rowsDone: offset, rowsTotal: rows });
  }
  if (offset !== rows) throw new Error(`query returned ${offset} rows, expected ${rows}`);
  return { names, columns, rows };
}

/** The vector's own Float64Array when the binding exposes it, else item by item. */
function copyDoubles(vector: DuckDBVector, target: Float64Array, offset: number, count: number): void {
  const items = (vector as unknown as { items?: unknown }).items;
  if (items instanceof Float64Array && items.length >= count) {
    target.set(items.subarray(0, count), offset);
    return;
  }
  for (let i = 0; i < count; i++) target[offset + i] = (vector.getItem(i) as number | null) ?? Number.NaN;
}

/** Features come from SQL that coalesces gaps; a NaN left over would silently go right in every split. */
export function replaceNaN(data: ColumnSet): void {
  for (const column of data.columns) for (let i = 0; i < column.length; i++) if (Number.isNaN(column[i])) column[i] = 0;
}

/** Rows per appended chunk: DuckDB's vector size. */
const CHUNK_ROWS = 2048;

/**
 * Appends typed-array columns to an existing table, a chunk of 2,048 rows per call (row by row,
 * the appender crossed into native code for every value: 0.5 s for 800k rows x 3 columns, 0.15 s
 * this way). `types` are the table's column types, in order.
 */
export async function appendColumns(
  conn: DuckDBConnection,
  table: string,
  types: DuckDBType[],
  columns: ArrayLike<number | string>[],
  stage: string,
): Promise<void> {
  const rows = columns[0]?.length ?? 0;
  if (columns.length !== types.length || columns.some((column) => column.length !== rows))
    throw new Error(`appendColumns: ${types.length} types for ${columns.length} columns of unequal length`);
  const appender = await createAppender(conn, table);
  for (let start = 0; start < rows; start += CHUNK_ROWS) {
    const end = Math.min(rows, start + CHUNK_ROWS);
    const chunk = DuckDBDataChunk.create(types, end - start);
    columns.forEach((column, c) => setChunkColumn(chunk, c, column, start, end));
    appender.appendDataChunk(chunk);
    if (start > 0 && start % (1 << 18) === 0) await checkpoint({ stage, rowsDone: start, rowsTotal: rows });
  }
  appender.closeSync();
}

/** A named, typed column of this thread's values, for `appendColumnsTable`. */
export type NamedColumn = [name: string, type: DuckDBType, values: ArrayLike<number | string>];

/** The temporary table `table` of the columns given, named and typed as given, filled with their values. */
export async function appendColumnsTable(
  conn: DuckDBConnection,
  table: string,
  columns: NamedColumn[],
  stage: string,
): Promise<void> {
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE ${table} (${columns.map(([name, type]) => `${name} ${type.toString()}`).join(', ')})`,
  );
  await appendColumns(
    conn,
    table,
    columns.map(([, type]) => type),
    columns.map(([, , values]) => values),
    stage,
  );
}

/**
 * Rows `start`..`end` of the column into the chunk: a typed array of the vector's own element
 * type in one `set` (value by value, the binding's setItem was most of the time), else value by value.
 */
function setChunkColumn(
  chunk: DuckDBDataChunk,
  c: number,
  column: ArrayLike<number | string>,
  start: number,
  end: number,
): void {
  const vector = chunk.getColumnVector(c);
  const items = (vector as unknown as { items?: unknown }).items;
  if (ArrayBuffer.isView(column) && ArrayBuffer.isView(items) && items.constructor === column.constructor) {
    (items as Float64Array).set((column as Float64Array).subarray(start, end));
    vector.flush();
    return;
  }
  chunk.setColumnValues(c, Array.prototype.slice.call(column, start, end) as (number | string)[]);
}
