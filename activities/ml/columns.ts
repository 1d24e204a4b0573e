import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { checkpoint } from '../context';

/** Named feature columns as typed arrays, all of one length: the only way rows reach model code. */
export interface ColumnSet {
  names: string[];
  columns: Float64Array[];
  rows: number;
}

/**
 * Streams a query's numeric columns into preallocated Float64Arrays, chunk by chunk (never as row
 * objects). NULL becomes NaN. `rows` must be the exact result size (from a count query).
 */
export async function readColumns(
  conn: DuckDBConnection,
  sql: string,
  values: Record<string, DuckDBValue>,
  rows: number,
): Promise<ColumnSet> {
  const result = await conn.stream(sql, values);
  const names = result.columnNames();
  const columns = names.map(() => new Float64Array(rows));
  let offset = 0;
  for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
    if (offset + chunk.rowCount > rows) throw new Error(`query returned more than the expected ${rows} rows`);
    for (let c = 0; c < names.length; c++) {
      const vector = chunk.getColumnVector(c);
      const column = columns[c];
      for (let i = 0; i < chunk.rowCount; i++) {
        const value = vector.getItem(i);
        column[offset + i] = value === null ? Number.NaN : Number(value);
      }
    }
    offset += chunk.rowCount;
    if (offset % (1 << 18) < chunk.rowCount) await checkpoint({ stage: 'reading columns', done: offset, total: rows });
  }
  if (offset !== rows) throw new Error(`query returned ${offset} rows, expected ${rows}`);
  return { names, columns, rows };
}
