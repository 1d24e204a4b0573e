import { describe, expect, it } from 'vitest';
import { listValue } from '@duckdb/node-api';
import { queryOne, queryRows, setVariable, withConnection } from '../../activities/duckdb';
import {
  buildCheckSql,
  numberFormatHint,
  numberFormatHintSql,
  textNumberSql,
  THOUSANDS_HINT,
} from '../../activities/load-sql';

const COLUMNS = ['subscriber_id', 'month', 'voice_minutes', 'data_mb', 'spend', 'tenure_months', 'plan'];

/** Runs the contract check over raw rows (all text, as a loose CSV would arrive) and returns each row's reason. */
async function reasonsFor(rows: (string | null)[][]): Promise<(string | null)[]> {
  return withConnection(':memory:', async (conn) => {
    await conn.run(
      `CREATE TABLE raw_input (file_index INTEGER, file_row BIGINT, ${COLUMNS.map((c) => `"${c}" VARCHAR`).join(', ')})`,
    );
    for (const [i, row] of rows.entries()) {
      await conn.run(`INSERT INTO raw_input VALUES (0, ${i}, ${COLUMNS.map(() => '?').join(', ')})`, row);
    }
    await setVariable(conn, 'window_start', '2026-01-01');
    await setVariable(conn, 'window_end', '2026-06-01');
    const { create, duplicates } = buildCheckSql(new Map(COLUMNS.map((c) => [c, 'VARCHAR'])));
    await conn.run(create);
    await conn.run(duplicates);
    const checked = await queryRows<{ reason: string | null }>(
      conn,
      'SELECT reason FROM checked_usage ORDER BY file_row',
    );
    return checked.map((row) => row.reason);
  });
}

const good = ['S1', '2026-03-01', '120.5', '2048', '88', '36', 'basic'];
const withValue = (column: string, value: string | null) => good.map((v, i) => (COLUMNS[i] === column ? value : v));

describe('usage contract check (SQL on a tiny table)', () => {
  it('passes a good row and names the first broken rule of each bad one', async () => {
    const reasons = await reasonsFor([
      good,
      withValue('subscriber_id', null),
      withValue('month', 'not-a-date'),
      withValue('voice_minutes', 'abc'),
      withValue('voice_minutes', '-5'),
      withValue('data_mb', 'NaN'),
      withValue('spend', '9999999'),
      withValue('tenure_months', null),
      withValue('month', '2025-12-01'),
      withValue('plan', 'x'.repeat(500)),
      ['S2', ...good.slice(1)],
      ['S2', ...good.slice(1)],
    ]);
    expect(reasons).toEqual([
      null,
      'subscriber_id: missing',
      'month: not a valid date',
      'voice_minutes: not a valid double',
      'voice_minutes: outside [0, 44640]',
      'data_mb: not a finite number',
      'spend: outside [0, 1000000]',
      'tenure_months: missing',
      'month: outside the run window',
      'plan: longer than 128 characters',
      null,
      'duplicate (subscriber_id, month)',
    ]);
  });

  it('normalises any day of the month to the month', async () => {
    const reasons = await reasonsFor([withValue('month', '2026-03-17'), good]);
    expect(reasons).toEqual([null, 'duplicate (subscriber_id, month)']);
  });
});

describe('usage contract check on columns that already have the contract type', () => {
  it('takes them as they are (no cast to fail) and still applies the range rules', async () => {
    const types = new Map([
      ['subscriber_id', 'VARCHAR'],
      ['month', 'DATE'],
      ['voice_minutes', 'DOUBLE'],
      ['data_mb', 'BIGINT'],
      ['spend', 'DOUBLE'],
      ['tenure_months', 'INTEGER'],
    ]);
    const { create: check } = buildCheckSql(types);
    expect(check).not.toMatch(/TRY_CAST\("(subscriber_id|month|voice_minutes|spend|tenure_months)"/);
    expect(check).toMatch(/TRY_CAST\("data_mb" AS DOUBLE\)/);
    let counted = {};
    const reasons = await withConnection(':memory:', async (conn) => {
      await conn.run(`CREATE TABLE raw_input AS SELECT * FROM (VALUES
        (0, 0, 'S1', DATE '2026-03-09', 10.0, 5::BIGINT, 3.5, 12),
        (0, 1, 'S2', DATE '2026-03-01', -1.0, 5::BIGINT, 3.5, 12),
        (0, 2, 'S3', DATE '2026-03-01', 10.0, 5::BIGINT, 3.5, 5000)
      ) t(file_index, file_row, subscriber_id, "month", voice_minutes, data_mb, spend, tenure_months)`);
      await setVariable(conn, 'window_start', '2026-01-01');
      await setVariable(conn, 'window_end', '2026-06-01');
      const { create, duplicates, count } = buildCheckSql(types);
      counted = await queryOne<{ rows: number; broken: number; repeated: number; rewritten: number }>(conn, count);
      await conn.run(create);
      await conn.run(duplicates);
      return queryRows<{ reason: string | null; month: string }>(
        conn,
        `SELECT reason, strftime("month", '%Y-%m-%d') AS "month" FROM checked_usage ORDER BY file_row`,
      );
    });
    expect(reasons).toEqual([
      { reason: null, month: '2026-03-01' },
      { reason: 'voice_minutes: outside [0, 44640]', month: '2026-03-01' },
      { reason: 'tenure_months: outside [0, 1200]', month: '2026-03-01' },
    ]);
    // counted without keeping a row: what the table shows
    expect(counted).toEqual({ rows: 3, broken: 2, repeated: 0, rewritten: 0 });
  });
});

describe('numbers written as text (textNumberSql)', () => {
  /** Each text read as a number of `type` with the decimal separator `mark`. */
  const read = (texts: string[], mark: '.' | ',', type = 'DOUBLE') =>
    withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'texts', listValue(texts));
      const rows = await queryRows<{ value: number | null }>(
        conn,
        `SELECT ${textNumberSql('t', mark, type)} AS value FROM (SELECT unnest(getvariable('texts')::VARCHAR[]) AS t, generate_subscripts(getvariable('texts')::VARCHAR[], 1) AS i) ORDER BY i`,
      );
      return rows.map((row) => (row.value === null ? null : Number(row.value)));
    });

  it('reads thousands separators where they cannot be a decimal mark, whichever the decimal separator', async () => {
    const unambiguous = [
      '1,744.38',
      '1.744,38',
      '1,234,567',
      '1.234.567',
      '-1,744.38',
      '$1,744.38',
      '(1,744.38)',
      '¥1.744,38',
    ];
    const expected = [1744.38, 1744.38, 1234567, 1234567, -1744.38, 1744.38, -1744.38, 1744.38];
    expect(await read(unambiguous, '.')).toEqual(expected);
    expect(await read(unambiguous, ',')).toEqual(expected);
    expect(await read(['1,234,567', '1.234.567'], '.', 'INTEGER')).toEqual([1234567, 1234567]);
  });

  it('reads a lone separator as the decimal separator says, and digits not in groups of three as no number', async () => {
    expect(await read(['3,5', '1,744', '1.744', '12.5'], '.')).toEqual([null, null, 1.744, 12.5]);
    expect(await read(['3,5', '1,744', '1.744', '12.5'], ',')).toEqual([3.5, 1.744, null, null]);
    for (const mark of ['.', ','] as const)
      expect(await read(['1,00,000.00', '12,34.5', '0,123.5', '1.2.3', '1,744.38.2', 'v1,234.5'], mark)).toEqual([
        null,
        null,
        null,
        null,
        null,
        null,
      ]);
  });

  it('names a value that is no number as numberFormatHint does, in SQL (numberFormatHintSql)', async () => {
    const values = [
      '103,03',
      '-0,5',
      '12,345',
      '17.48,80',
      '1,00,000',
      '1.23.4567',
      'abc',
      'n/a',
      '1.5',
      ',5',
      '12,',
      ' 1,7488.0 ',
      // typos, no format: no hint (they read "thousands separators are not read here")
      '12..5',
      '1,,000',
      '1.,5',
    ];
    for (const mark of ['.', ','] as const) {
      const inSql = await withConnection(':memory:', async (conn) => {
        await setVariable(conn, 'texts', listValue(values));
        const rows = await queryRows<{ hint: string | null }>(
          conn,
          `SELECT ${numberFormatHintSql('t', mark)} AS hint FROM (SELECT unnest(getvariable('texts')::VARCHAR[]) AS t, generate_subscripts(getvariable('texts')::VARCHAR[], 1) AS i) ORDER BY i`,
        );
        return rows.map((row) => row.hint ?? undefined);
      });
      expect(inSql, mark).toEqual(values.map((value) => numberFormatHint(value, mark)));
      expect(inSql.slice(-3), mark).toEqual([undefined, undefined, undefined]);
    }
  });

  it("adds the hint to a number column's quarantine reason", async () => {
    const reasons = await reasonsFor([
      withValue('spend', '1,00,000.5'),
      withValue('spend', '88,50'),
      withValue('spend', 'abc'),
    ]);
    expect(reasons).toEqual([
      `spend: not a valid double: ${THOUSANDS_HINT}`,
      'spend: not a valid double: set "decimalSeparator": "," in the mapping',
      'spend: not a valid double',
    ]);
  });
});
