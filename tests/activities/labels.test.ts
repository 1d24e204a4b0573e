import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { queryRows, withConnection } from '../../activities/duckdb';
import { inputRowLabelSql, inspectLabels } from '../../activities/labels';
import { InputMappingSchema } from '../../domain/mapping';
import { tempDir } from '../helpers';

let dir: string;

beforeAll(async () => {
  dir = await tempDir();
});

/** Each id's churn flag as the load reads it from a labels CSV of (id, label) under `values`' churn_label encodings. */
async function flags(name: string, file: Record<string, string>, values: Record<string, unknown>) {
  const rows = Object.entries(file);
  const path = join(dir, `${name}.csv`);
  await writeFile(path, ['id,label', ...rows.map((row) => row.join(','))].join('\n') + '\n');
  const mapping = InputMappingSchema.parse({ values: { churn_label: values } });
  return withConnection(':memory:', async (conn) => {
    const ids = `SELECT id AS subscriber_id FROM (VALUES ${rows.map(([id]) => `('${id}')`).join(', ')}) t(id)`;
    const labels = await inspectLabels(conn, path, mapping, ids);
    expect(labels.kind).toBe('flag');
    const label = await inputRowLabelSql(conn, labels, mapping, { id: 'i.subscriber_id', month: 'NULL::DATE' }, []);
    const read = await queryRows<{ id: string; churned: boolean | null }>(
      conn,
      `SELECT i.subscriber_id AS id, ${label} AS churned FROM (${ids}) i ORDER BY id`,
    );
    return Object.fromEntries(read.map((row) => [row.id, row.churned]));
  });
}

describe('a churn flag in a labels file', () => {
  it("is read through the mapping's encodings before the words segflow knows, whichever the table lists first", async () => {
    // a "still a customer?" column: yes means stayed. 'yes' and 'no' are also words segflow knows
    // (churned and stayed): the mapping's own encodings decide, as the mapping says, on every run
    const file = { S1: 'yes', S2: 'no', S3: 'Yes', S4: 'NO', S5: 'churned' };
    const read = await flags('inverted', file, { yes: false, no: true });
    expect(read).toEqual({ S1: false, S2: true, S3: false, S4: true, S5: true });
  });

  it('takes an encoding matching the value as written before one matching it lower-cased', async () => {
    // 'Y' matches "Y" as written and "y" lower-cased: the first, whatever order the mapping lists them in
    const values = { y: true, Y: false };
    expect(await flags('exact', { S1: 'Y', S2: 'y' }, values)).toEqual({ S1: false, S2: true });
  });
});

describe("a labels file's values", () => {
  /** inspectLabels on a labels CSV of (id, label) under `mapping`. */
  async function inspect(name: string, values: string[], mapping: Record<string, unknown> = {}) {
    const path = join(dir, `${name}.csv`);
    await writeFile(path, ['用户号码,离网月份', ...values.map((v, i) => `S${i},${v}`)].join('\n') + '\n');
    return withConnection(':memory:', (conn) =>
      inspectLabels(conn, path, InputMappingSchema.parse(mapping), "SELECT 'S0' AS subscriber_id"),
    );
  }

  it("reads months left as the input's months are read (the mapping's monthFormat), and Chinese yes/no flags", async () => {
    expect((await inspect('month-format', ['2026年7月', '2026年8月', ''], { monthFormat: '%Y年%m月' })).kind).toBe(
      'month-left',
    );
    expect((await inspect('iso-months', ['2026-07', '2026-08-01'])).kind).toBe('month-left');
    const read = await flags('chinese', { S1: '是', S2: '否', S3: '流失' }, {});
    expect(read).toEqual({ S1: true, S2: false, S3: true });
  });

  it('stops, quoting them, on values that are neither a flag nor a month: they would label nobody', async () => {
    // months not ISO without a monthFormat; months of two forms with one
    await expect(inspect('chinese-months', ['2026年7月', '2026年8月'])).rejects.toMatchObject({
      name: 'SchemaContractError',
      message: expect.stringMatching(
        /2 of 2 values of its label column "离网月份" are no churn flag .*, nor, all of them, a month left .* e\.g\. '2026年7月', '2026年8月'$/,
      ),
    });
    await expect(inspect('mixed-months', ['2026年7月', '202608'], { monthFormat: '%Y年%m月' })).rejects.toMatchObject({
      message: expect.stringMatching(/2 of 2 values .*, and 1 is a month: .* e\.g\. '202608', '2026年7月'$/),
    });
    // months left with 0 for those who stayed: the churners would go unlabelled
    await expect(inspect('months-and-zeros', ['2026-07', '0', '0'])).rejects.toMatchObject({
      message: expect.stringMatching(/1 of 3 values .*, and 1 is a month: .* e\.g\. '2026-07'$/),
    });
  });

  it("reads the mapping's flags lower-cased too, numbers 1.0 and 0.0, and lets a few odd values be unknown", async () => {
    expect(await flags('mapped-case', { S1: 'Ja', S2: 'Nein', S3: 'ja' }, { ja: true, nein: false })).toEqual({
      S1: true,
      S2: false,
      S3: true,
    });
    expect(await flags('floats', { S1: '1.0', S2: '0.0', S3: '1' }, {})).toEqual({ S1: true, S2: false, S3: true });
    const many = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`S${i}`, i === 7 ? 'unknown' : 'no']));
    const read = await flags('one-odd', many, {});
    expect(read.S7).toBeNull();
    expect(read.S8).toBe(false);
  });
});
