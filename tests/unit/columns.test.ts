import { describe, expect, it } from 'vitest';
import { withConnection } from '../../activities/duckdb';
import { DOUBLE, INTEGER, UTINYINT } from '@duckdb/node-api';
import { appendColumns, readColumns } from '../../activities/ml/columns';

describe('reading DuckDB columns into typed arrays', () => {
  it('copies every chunk in order, casts to double and turns NULL into NaN', async () => {
    const rows = 5_000; // several DuckDB chunks of 2,048 rows
    const data = await withConnection(':memory:', async (conn) => {
      await conn.run(
        `CREATE TABLE t AS SELECT range AS i, range * 0.5 AS half, CASE WHEN range % 1000 = 7 THEN NULL ELSE range % 3 END AS mod3 FROM range(${rows})`,
      );
      return readColumns(
        conn,
        [
          ['i', 'i'],
          ['half', 'half'],
          ['mod3', 'mod3'],
          ['square', 'i * i'],
        ],
        'FROM t ORDER BY i',
        rows,
      );
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

  it('reads a column whose name holds a quote (a user column named so crashed the churn stage)', async () => {
    const data = await withConnection(':memory:', (conn) =>
      readColumns(conn, [['q"uote', 'range * 2']], 'FROM range(3) ORDER BY range', 3),
    );
    expect(data.names).toEqual(['q"uote']);
    expect([...data.columns[0]]).toEqual([0, 2, 4]);
  });

  it('refuses a result of another size than announced', async () => {
    await expect(
      withConnection(':memory:', (conn) => readColumns(conn, [['x', 'range']], 'FROM range(10)', 11)),
    ).rejects.toThrow(/returned 10 rows, expected 11/);
  });
});

describe('appending typed-array columns to a DuckDB table', () => {
  it('writes every row of every chunk, in order, with the table types', async () => {
    const rows = 5_000; // spans three appended chunks
    const ids = Int32Array.from({ length: rows }, (_, i) => i);
    const halves = Float64Array.from(ids, (i) => i / 2);
    const small = Uint8Array.from(ids, (i) => i % 3);
    const back = await withConnection(':memory:', async (conn) => {
      await conn.run('CREATE TABLE t (i INTEGER, half DOUBLE, small UTINYINT)');
      await appendColumns(conn, 't', [INTEGER, DOUBLE, UTINYINT], [ids, halves, small], 'test');
      return readColumns(
        conn,
        [
          ['i', 'i'],
          ['half', 'half'],
          ['small', 'small'],
        ],
        'FROM t ORDER BY i',
        rows,
      );
    });
    expect(Array.from(back.columns[0])).toEqual(Array.from(ids));
    expect(Array.from(back.columns[1])).toEqual(Array.from(halves));
    expect(Array.from(back.columns[2])).toEqual(Array.from(small));
  });

  it('refuses columns of unequal length', async () => {
    await expect(
      withConnection(':memory:', async (conn) => {
        await conn.run('CREATE TABLE t (a INTEGER, b INTEGER)');
        await appendColumns(conn, 't', [INTEGER, INTEGER], [new Int32Array(3), new Int32Array(2)], 'test');
      }),
    ).rejects.toThrow(/unequal length/);
  });
});
