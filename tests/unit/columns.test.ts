import { describe, expect, it } from 'vitest';
import { withConnection } from '../../activities/duckdb';
import { readColumns } from '../../activities/ml/columns';

describe('reading DuckDB columns into typed arrays', () => {
  it('copies every chunk in order, casts to double and turns NULL into NaN', async () => {
    const rows = 5_000; // several DuckDB chunks of 2,048 rows
    const data = await withConnection(':memory:', async (conn) => {
      await conn.run(`CREATE TABLE t AS SELECT range AS i, range * 0.5 AS half, CASE WHEN range % 1000 = 7 THEN NULL ELSE range % 3 END AS mod3 FROM range(${rows})`);
      return readColumns(conn, [['i', 'i'], ['half', 'half'], ['mod3', 'mod3'], ['square', 'i * i']], 'FROM t ORDER BY i', rows);
    });
    expect(data.names).toEqual(['i', 'half', 'mod3', 'square']);
    for (const index of [0, 1, 2047, 2048, 4095, 4999]) {
      expect(data.columns[0][index]).toBe(index);
      expect(data.columns[1][index]).toBe(index * 0.5);
      expect(data.columns[3][index]).toBe(index * index);
    }
    expect(data.columns[2][7]).toBeNaN();
    expect(data.columns[2][4007]).toBeNaN();
    expect(data.columns[2][8]).toBe(2);
  });

  it('refuses a result of another size than announced', async () => {
    await expect(
      withConnection(':memory:', (conn) => readColumns(conn, [['x', 'range']], 'FROM range(10)', 11)),
    ).rejects.toThrow(/returned 10 rows, expected 11/);
  });
});
