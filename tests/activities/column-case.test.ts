import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { queryOne, queryRows, setVariable, withConnection } from '../../activities/duckdb';
import { loadUsage, planLoad } from '../../activities/load';
import type { SampleSummary } from '../../data/generate';
import { smallSample, storeIn, tempDir } from '../helpers';

let dir: string;
let sample: SampleSummary;
const run = (id: string) => ({ workflowId: `column-case-${id}`, runId: 'r1' });
const june = () => join(sample.outDir, 'usage', 'usage_month=2026-06', 'part_0.parquet');

beforeAll(async () => {
  dir = await tempDir();
  sample = await smallSample(dir, 1_500, 8);
});

/**
 * Writes `select` over the sample's June file (`{june}`) to `name` in the test folder, as CSV or
 * Parquet by its name, then names its columns `renames` ([placeholder, name], as long as each
 * other): DuckDB writes no two names that differ only in case, as another program may.
 */
async function exportTo(name: string, select: string, renames: [string, string][] = []): Promise<string> {
  const path = join(dir, name);
  await withConnection(':memory:', async (conn) => {
    await setVariable(conn, 'june', june());
    await setVariable(conn, 'target', path);
    const format = name.endsWith('.csv') ? 'csv, HEADER' : 'parquet';
    await conn.run(
      `COPY (${select.replaceAll('{june}', "read_parquet(getvariable('june'))")}) TO (getvariable('target')) (FORMAT ${format})`,
    );
  });
  if (renames.length === 0) return path;
  let bytes = await readFile(path);
  for (const [placeholder, columnName] of renames) {
    expect(Buffer.byteLength(columnName)).toBe(Buffer.byteLength(placeholder));
    const from = Buffer.from(`${name.endsWith('.csv') ? ',' : ''}${placeholder}`);
    const to = Buffer.from(`${name.endsWith('.csv') ? ',' : ''}${columnName}`);
    let at = bytes.indexOf(from);
    expect(at).toBeGreaterThanOrEqual(0);
    for (; at >= 0; at = bytes.indexOf(from, at + 1)) to.copy(bytes, at);
    bytes = Buffer.from(bytes);
  }
  await writeFile(path, bytes);
  return path;
}

async function mappingFile(name: string, mapping: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify(mapping));
  return path;
}

/** The sum of the loaded rows' spend. */
const loadedSpend = (dbPath: string) =>
  withConnection(dbPath, (conn) =>
    queryOne<{ total: number }>(conn, 'SELECT round(sum(spend), 2) AS total FROM usage'),
  );

describe('an export whose column names are in capitals (Oracle, Snowflake)', () => {
  let upper: string;
  beforeAll(async () => {
    const columns = await withConnection(':memory:', async (conn) =>
      queryRows<{ column_name: string }>(conn, `DESCRIBE SELECT * FROM read_parquet('${june()}')`),
    );
    const renamed = columns.map(({ column_name: name }) => `"${name}" AS "${name.toUpperCase()}"`).join(', ');
    upper = await exportTo('upper.csv', `SELECT ${renamed}, spend * 2 AS "ARPU_LOCAL" FROM {june}`);
  });

  it('finds each contract column by its name but for case, and says so', async () => {
    const lower = await loadUsage(storeIn(dir), run('lower'), { month: '2026-06', input: june() });
    const summary = await loadUsage(storeIn(dir), run('upper'), { month: '2026-06', input: upper });
    expect(summary.rowsLoaded).toBe(lower.rowsLoaded);
    expect(summary.rowsQuarantined).toBe(0);
    expect(summary.inputColumns).toEqual(lower.inputColumns);
    expect(await loadedSpend(summary.dbPath)).toEqual(await loadedSpend(lower.dbPath));
    expect(summary.columnMatches).toContainEqual({ name: 'subscriber_id', column: 'SUBSCRIBER_ID', how: 'case' });
    expect(summary.columnMatches).toContainEqual({ name: 'spend', column: 'SPEND', how: 'case' });
    expect(lower.columnMatches).toBeUndefined();
  });

  it("finds the mapping's columns and features by their names but for case, published as the file names them", async () => {
    const mapping = await mappingFile('upper-mapping.json', {
      columns: { voice_minutes: 'voice_minutes' },
      features: { arpu_local: 'numeric' },
    });
    const plan = await planLoad(storeIn(dir), run('upper-mapped'), { month: '2026-06', input: upper, mapping });
    expect(plan.userFeatures.map((feature) => feature.name)).toEqual(['ARPU_LOCAL']);
    expect(plan.mapping.columns.voice_minutes).toBe('VOICE_MINUTES');
    expect(plan.columnMatches).toContainEqual({ name: 'arpu_local', column: 'ARPU_LOCAL', how: 'case' });
  });

  it('still stops when two columns match but for case, naming both', async () => {
    const input = await exportTo(
      'two-spends.csv',
      'SELECT * EXCLUDE (spend), spend AS "SPEND", spend AS "Spxnd" FROM {june}',
      [['Spxnd', 'Spend']],
    );
    await expect(planLoad(storeIn(dir), run('two-spends'), { month: '2026-06', input })).rejects.toThrow(
      /lacks required column\(s\): spend .*it has "SPEND" and "Spend" \(read as "Spend_1"\), which differ from spend only in case/,
    );
  });
});

describe('two columns whose names differ only in case', () => {
  it('reads the contract column named exactly so, not the one DuckDB renamed it beside (CSV)', async () => {
    const input = await exportTo(
      'spend-case.csv',
      'SELECT * EXCLUDE (spend), spend * 10 AS "Spend", spend AS "spxxd" FROM {june}',
      [['spxxd', 'spend']],
    );
    const reference = await loadUsage(storeIn(dir), run('spend-reference'), { month: '2026-06', input: june() });
    const expected = await loadedSpend(reference.dbPath);
    const identity = await loadUsage(storeIn(dir), run('spend-identity'), { month: '2026-06', input });
    expect(await loadedSpend(identity.dbPath)).toEqual(expected);
    expect(identity.columnMatches).toEqual([{ name: 'spend', column: 'spend_1', how: 'renamed' }]);
    for (const [name, source] of [
      ['spend-spend', 'spend'],
      ['spend-1', 'spend_1'],
    ]) {
      const mapping = await mappingFile(`${name}.json`, { columns: { spend: source }, features: 'auto' });
      const load = await loadUsage(storeIn(dir), run(name), { month: '2026-06', input, mapping });
      expect(await loadedSpend(load.dbPath)).toEqual(expected);
      // the other column is a feature of the user's, under its own name
      expect(load.userFeatures.map((feature) => feature.name)).toContain('Spend');
    }
    const tenfold = await mappingFile('spend-upper.json', { columns: { spend: 'Spend' } });
    const load = await loadUsage(storeIn(dir), run('spend-upper'), { month: '2026-06', input, mapping: tenfold });
    expect((await loadedSpend(load.dbPath)).total).toBeCloseTo(expected.total * 10, 0);
  });

  describe('features of the user (Parquet ARPU and arpu, read as ARPU and arpu_1)', () => {
    let input: string;
    beforeAll(async () => {
      input = await exportTo('arpu-case.parquet', 'SELECT *, spend * 1.1 AS "ARPU", 5.0 AS "arpX" FROM {june}', [
        ['arpX', 'arpu'],
      ]);
    });

    it('"auto" skips the renamed one, listed under its own name with the reason, rather than publish it as arpu_1', async () => {
      const mapping = await mappingFile('arpu-auto.json', { features: 'auto' });
      const plan = await planLoad(storeIn(dir), run('arpu-auto'), { month: '2026-06', input, mapping });
      const names = plan.userFeatures.map((feature) => feature.name);
      expect(names).toContain('ARPU');
      expect(names).not.toContain('arpu_1');
      const skipped = plan.skippedUserFeatures.find((feature) => feature.feature === 'arpu');
      expect(skipped?.reason).toMatch(/DuckDB reads it as "arpu_1", for the input also has "ARPU"/);
      expect(plan.skippedUserFeatures.some((feature) => feature.feature === 'arpu_1')).toBe(false);
    });

    it('a feature skipped by its own name is skipped', async () => {
      const mapping = await mappingFile('arpu-skip.json', { features: { '*': 'auto', arpu: 'skip' } });
      const plan = await planLoad(storeIn(dir), run('arpu-skip'), { month: '2026-06', input, mapping });
      expect(plan.skippedUserFeatures).toContainEqual({ feature: 'arpu', reason: 'skipped by the mapping' });
      expect(plan.userFeatures.map((feature) => feature.name)).toContain('ARPU');
    });

    it('a feature listed by the name DuckDB renamed stops the plan, naming both columns and what to do', async () => {
      const mapping = await mappingFile('arpu-numeric.json', { features: { arpu: 'numeric' } });
      await expect(planLoad(storeIn(dir), run('arpu-numeric'), { month: '2026-06', input, mapping })).rejects.toThrow(
        /features list "arpu" as numeric, but DuckDB reads that column as "arpu_1": the input also has "ARPU".*rename one of the two in the file, or skip it \("arpu": "skip"\)/,
      );
    });
  });
});
