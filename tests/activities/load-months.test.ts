import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { queryRows, setVariable, withConnection } from '../../activities/duckdb';
import { inspectLabels } from '../../activities/labels';
import { combineLoad, loadUsage, planLoad } from '../../activities/load';
import { loadReusingMonths } from '../../activities/usage-months';
import type { SampleSummary } from '../../data/generate';
import { InputMappingSchema } from '../../domain/mapping';
import { smallSample, storeIn, tempDir } from '../helpers';

/** Months written as text a mapping's monthFormat reads, and text it does not. */
let dir: string;
let sample: SampleSummary;
let caseNo = 0;

beforeAll(async () => {
  dir = await tempDir();
  sample = await smallSample(dir, 600, 8);
});

/**
 * A folder holding june.csv (in `folder` below it): the sample's June rows with their month
 * written as `format` writes it, then one more row per entry of `odd`, a June row under a new id
 * (`X<n>`) with its month that text, or with the values given (column -> text).
 */
async function juneCsv(format: string, odd: (string | Record<string, string>)[], folder = ''): Promise<string> {
  const input = join(dir, `case-${++caseNo}`);
  await mkdir(join(input, folder), { recursive: true });
  await withConnection(':memory:', async (conn) => {
    await setVariable(conn, 'june', join(sample.outDir, 'usage', 'usage_month=2026-06', 'part_0.parquet'));
    await setVariable(conn, 'target', join(input, folder, 'june.csv'));
    await setVariable(conn, 'format', format);
    // every column as text, as a CSV holds it
    const june = `SELECT COLUMNS(*)::VARCHAR FROM (
      SELECT * REPLACE (strftime("month", getvariable('format')) AS "month") FROM read_parquet(getvariable('june')))`;
    const extra = odd.map((values, i) => {
      const replaced = Object.entries(typeof values === 'string' ? { month: values } : values);
      const columns = [`'X${i}' AS subscriber_id`, ...replaced.map(([column, text]) => `'${text}' AS "${column}"`)];
      return `SELECT * REPLACE (${columns.join(', ')}) FROM (${june} LIMIT 1)`;
    });
    await conn.run(`COPY (${[june, ...extra].join(' UNION ALL ')}) TO (getvariable('target')) (HEADER)`);
  });
  return input;
}

const load = async (input: string, mapping: object) => {
  const path = join(dir, `mapping-${caseNo}.json`);
  await writeFile(path, JSON.stringify(mapping));
  return loadUsage(
    storeIn(dir),
    { workflowId: 'load-months', runId: `case-${caseNo}` },
    {
      month: '2026-06',
      input,
      mapping: path,
    },
  );
};

/** The months of the rows added to June's (ids X<n>) that were loaded, as YYYY-MM. */
const loadedMonths = (dbPath: string) =>
  withConnection(dbPath, (conn) =>
    queryRows<{ subscriber_id: string; month: string }>(
      conn,
      `SELECT subscriber_id, strftime("month", '%Y-%m') AS "month" FROM usage WHERE subscriber_id LIKE 'X%' ORDER BY 1`,
    ),
  );

/** The quarantined rows' ids, months (as read and as written where unread) and reasons, in file order. */
const quarantine = (dbPath: string) =>
  withConnection(dbPath, (conn) =>
    queryRows<{ subscriber_id: string; month: string | null; month_text: string | null; reason: string }>(
      conn,
      'SELECT subscriber_id, "month", month_text, reason FROM quarantine ORDER BY source_file, file_row',
    ),
  );

describe("a month the mapping's monthFormat does not read", () => {
  it('is quarantined unless it is a date or a year and month written in full (2026-06-01, 2026-06)', async () => {
    // under "%Y%m": 2026-6 read as June (YYYY-MM's unpadded month) before; 202613 has no 13th month;
    // 2026-6-01 is no ISO date. 2026-06 and 2026-06-01 are read as every month is
    const input = await juneCsv('%Y%m', ['2026-6', '202613', '2026-6-01', '2026-06', '2026-06-01']);
    const summary = await load(input, { monthFormat: '%Y%m' });
    expect(summary.quarantineByReason).toEqual({ 'month: not a valid date': 3 });
    expect(summary.rowsLoaded + summary.rowsQuarantined).toBe(summary.rowsRead);
    expect((await quarantine(summary.dbPath)).map((row) => row.subscriber_id)).toEqual(['X0', 'X1', 'X2']);
    expect(await loadedMonths(summary.dbPath)).toEqual([
      { subscriber_id: 'X3', month: '2026-06' },
      { subscriber_id: 'X4', month: '2026-06' },
    ]);
  });

  it('quarantines a month cut short where two numbers meet (20261 under "%Y%m"), not January', async () => {
    // strptime's %m takes one digit too: 20261 read as 2026-01, a month of the run window
    const input = await juneCsv('%Y%m', ['20261', '20266', ' 202606 ', '2026061']);
    const summary = await load(input, { monthFormat: '%Y%m' });
    expect(summary.quarantineByReason).toEqual({ 'month: not a valid date': 3 });
    expect((await quarantine(summary.dbPath)).map((row) => [row.subscriber_id, row.month_text])).toEqual([
      ['X0', '20261'],
      ['X1', '20266'],
      ['X3', '2026061'],
    ]);
    expect(await loadedMonths(summary.dbPath)).toEqual([{ subscriber_id: 'X2', month: '2026-06' }]);
  });

  it('reads an unpadded month where the format sets it apart (%Y年%m月, %m/%Y) or asks for it (%-m)', async () => {
    for (const [format, odd] of [
      ['%Y年%m月', ['2026年6月', '2026年06月']],
      ['%m/%Y', ['6/2026', '06/2026']],
      ['%b %Y', ['JUN 2026', 'Jun 2026']],
      ['%Y%-m', ['20266', '202606']],
    ] as const) {
      const input = await juneCsv(format, [...odd]);
      const summary = await load(input, { monthFormat: format });
      const quarantined = await quarantine(summary.dbPath);
      // %-m writes no padding: 202606 is not how that format writes June
      const expected = format === '%Y%-m' ? ['X1'] : [];
      expect(
        quarantined.map((row) => row.subscriber_id),
        format,
      ).toEqual(expected);
      expect(summary.rowsLoaded + summary.rowsQuarantined, format).toBe(summary.rowsRead);
    }
  });

  it('reads 2026-6 as June without a monthFormat, as before (the month rules read an unpadded month)', async () => {
    const input = await juneCsv('%Y-%m', ['2026-6']);
    const summary = await load(input, {});
    expect(summary.rowsQuarantined).toBe(0);
  });

  it('stops a labels file whose months left the format does not read, as it stops one with a 13th month', async () => {
    const mapping = InputMappingSchema.parse({ monthFormat: '%Y%m' });
    const inspect = async (months: string[]) => {
      const path = join(dir, `labels-${++caseNo}.csv`);
      await writeFile(path, ['id,left', ...months.map((month, i) => `S${i},${month}`)].join('\n') + '\n');
      const ids = `SELECT id AS subscriber_id FROM (VALUES ${months.map((_, i) => `('S${i}')`).join(', ')}) t(id)`;
      return withConnection(':memory:', (conn) => inspectLabels(conn, path, mapping, ids));
    };
    expect((await inspect(['202607', '2026-07', '2026-07-01'])).kind).toBe('month-left');
    for (const odd of ['2026-7', '202613', '20267'])
      await expect(inspect(['202607', odd]), odd).rejects.toMatchObject({
        name: 'SchemaContractError',
        message: expect.stringMatching(new RegExp(`2 of 2 values .*, and 1 is a month: .* e\\.g\\. .*'${odd}'`)),
      });
  });
});

describe('a quarantined row whose month could not be read', () => {
  const notADate = 'month: not a valid date';

  it('keeps the month as the file wrote it (month_text), where a read month leaves it empty', async () => {
    const input = await juneCsv('%Y%m', ['2026-6', '202613', { spend: 'lots' }]);
    const summary = await load(input, { monthFormat: '%Y%m' });
    expect(await quarantine(summary.dbPath)).toEqual([
      { subscriber_id: 'X0', month: null, month_text: '2026-6', reason: notADate },
      { subscriber_id: 'X1', month: null, month_text: '202613', reason: notADate },
      { subscriber_id: 'X2', month: '2026-06', month_text: null, reason: 'spend: not a valid double' },
    ]);
    expect(summary.rowsLoaded + summary.rowsQuarantined).toBe(summary.rowsRead);
    // a column of the check's, not of the usage rows
    const columns = await withConnection(summary.dbPath, (conn) =>
      queryRows<{ column_name: string }>(conn, 'DESCRIBE SELECT * FROM usage'),
    );
    expect(columns.map((column) => column.column_name)).not.toContain('month_text');
  });

  it("keeps it in a month's checked rows stored for later runs, and taken from there", async () => {
    const input = await juneCsv('%Y-%m', ['2026-13', 'juin'], 'usage_month=2026-06');
    const loadOnce = async (runId: string) => {
      const run = { workflowId: 'load-months-stored', runId };
      const store = storeIn(dir);
      const plan = await planLoad(store, run, { month: '2026-06', input });
      return combineLoad(plan, [await loadReusingMonths({ store, run, allowed: true }, plan, 0)]);
    };
    const first = await loadOnce('first');
    expect(first.usageMonths?.stored).toEqual(['2026-06']);
    const again = await loadOnce('again');
    expect(again.usageMonths?.reused).toHaveLength(1);
    for (const summary of [first, again])
      expect(await quarantine(summary.dbPath)).toEqual([
        { subscriber_id: 'X0', month: null, month_text: '2026-13', reason: notADate },
        { subscriber_id: 'X1', month: null, month_text: 'juin', reason: notADate },
      ]);
  });
});

describe('a header row repeated in the middle of a CSV (exports joined one after another)', () => {
  it('is quarantined as a repeated header row, counted apart from bad months, and the run goes on', async () => {
    const input = await juneCsv('%Y-%m', []);
    const path = join(input, 'june.csv');
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
    // the second export's header between the two halves, and a third's at the very end, in capitals
    const half = Math.floor(lines.length / 2);
    const header = lines[0] ?? '';
    await writeFile(
      path,
      [...lines.slice(0, half), header, ...lines.slice(half), header.toUpperCase()].join('\n') + '\n',
    );
    const summary = await load(input, {});
    expect(summary.quarantineByReason).toEqual({ 'repeated header row': 2 });
    expect(summary.rowsLoaded).toBe(lines.length - 1);
    expect(summary.rowsLoaded + summary.rowsQuarantined).toBe(summary.rowsRead);
    const rows = await quarantine(summary.dbPath);
    expect(rows.map((row) => row.reason)).toEqual(['repeated header row', 'repeated header row']);
    // a real row whose month is the word "month" is still a bad month
    const odd = await juneCsv('%Y-%m', ['month']);
    expect((await load(odd, {})).quarantineByReason).toEqual({ 'month: not a valid date': 1 });
  });

  it('is found when its header is written with a space after each comma (DuckDB trims the names, not the values)', async () => {
    const input = await juneCsv('%Y-%m', []);
    const path = join(input, 'june.csv');
    const [header = '', ...rows] = (await readFile(path, 'utf8')).trimEnd().split('\n');
    const spaced = header.split(',').join(', ');
    await writeFile(path, [spaced, ...rows.slice(0, 10), spaced, ...rows.slice(10)].join('\n') + '\n');
    const summary = await load(input, {});
    expect(summary.quarantineByReason).toEqual({ 'repeated header row': 1 });
    expect(summary.rowsLoaded).toBe(rows.length);
  });

  it("reads the header as the file names its columns, the mapping's names", async () => {
    const input = await juneCsv('%Y%m', []);
    const path = join(input, 'june.csv');
    const [header = '', ...rows] = (await readFile(path, 'utf8')).trimEnd().split('\n');
    const names: Record<string, string> = {
      subscriber_id: 'Kundennummer',
      month: 'Abrechnungsmonat',
      spend: 'Umsatz ¥',
    };
    const named = header
      .split(',')
      .map((name) => names[name] ?? name)
      .join(',');
    await writeFile(path, [named, ...rows.slice(0, 10), named, ...rows.slice(10)].join('\n') + '\n');
    const summary = await load(input, { columns: names, monthFormat: '%Y%m' });
    expect(summary.quarantineByReason).toEqual({ 'repeated header row': 1 });
    expect(summary.rowsLoaded).toBe(rows.length);
  });

  it("is no value of the user's columns: their types and categories are the file's rows'", async () => {
    const input = await juneCsv('%Y-%m', []);
    const path = join(input, 'june.csv');
    await withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'file', path);
      // a number and a category of the analyst's own
      await conn.run(`COPY (SELECT *, (hash(subscriber_id) % 1000) / 10 AS handset_price,
          (['4G', '5G'])[1 + (hash(subscriber_id) % 2)::INTEGER] AS network
        FROM read_csv(getvariable('file'), all_varchar = true)) TO (getvariable('file')) (HEADER)`);
    });
    const [header = '', ...rows] = (await readFile(path, 'utf8')).trimEnd().split('\n');
    await writeFile(path, [header, ...rows.slice(0, 10), header, ...rows.slice(10)].join('\n') + '\n');
    const summary = await load(input, { features: { handset_price: 'numeric', network: 'categorical' } });
    expect(summary.quarantineByReason).toEqual({ 'repeated header row': 1 });
    const [price, network] = summary.userFeatures;
    expect(price).toMatchObject({ name: 'handset_price', type: 'numeric' });
    // not "1 value not numbers taken as missing: 'handset_price'"
    expect(price?.note).toBeUndefined();
    expect(network).toMatchObject({ name: 'network', categories: ['4G', '5G'] });
  });
});
