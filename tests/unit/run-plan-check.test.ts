import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLoadPlan } from '../../cli/load-plan-check';
import { csvBytesUnder } from '../../cli/commands/run';
import { parseRunParams } from '../../domain/params';
import { auditLogPath } from '../../store/layout';
import { segflow, storeIn, tempDir, usageCsv } from '../helpers';

/** Nothing listens on port 1: a command that got as far as connecting, to start a run, exits 3. */
const NO_SERVER = { TEMPORAL_ADDRESS: '127.0.0.1:1' };

/** What `run` left in its home: the store's and work folder's entries (none: nothing stored, recorded or planned). */
async function leftIn(home: string): Promise<string[]> {
  const { storeDir, workDir } = storeIn(home);
  const entries = async (dir: string) =>
    existsSync(dir) ? (await readdir(dir, { recursive: true })).map((entry) => join(dir, entry)) : [];
  return [...(await entries(storeDir)), ...(await entries(workDir))];
}

describe("`run` reads the input with the run's own load plan before it starts", { timeout: 120_000 }, () => {
  it("refuses a mapping naming a column the input lacks (exit 2, the plan's words): nothing started or recorded", async () => {
    const dir = await tempDir();
    const input = join(dir, 'usage.csv');
    await writeFile(input, usageCsv('2026-06'));
    const mapping = join(dir, 'mapping.json');
    await writeFile(mapping, JSON.stringify({ columns: { spend: 'revenue' } }));
    const home = join(dir, 'home');
    for (const local of [[], ['--local']]) {
      const result = await segflow(
        ['run', ...local, '--month', '2026-06', '--input', input, '--param', `mapping=${mapping}`],
        { ...NO_SERVER, SEGFLOW_HOME: home },
      );
      expect(result.code, result.output).toBe(2);
      expect(result.output).toContain(
        `segflow: the run would stop at its load: the mapping reads spend from column "revenue", but ${input} has no such column; its columns: subscriber_id, month, voice_minutes, data_mb, spend, tenure_months; nothing was started`,
      );
      // refused before it connects: a run started, or a dev server asked for, would have reached Temporal
      expect(result.output).not.toContain('cannot reach Temporal');
      expect(result.output).not.toContain('dev server');
    }
    expect(existsSync(auditLogPath(storeIn(home)))).toBe(false);
    expect(await leftIn(home)).toEqual([]);
  });

  it('refuses an input folder without usage files (exit 2): nothing started or recorded', async () => {
    const dir = await tempDir();
    const input = join(dir, 'landing');
    await mkdir(input);
    const home = join(dir, 'home');
    const result = await segflow(['run', '--month', '2026-06', '--input', input], { ...NO_SERVER, SEGFLOW_HOME: home });
    expect(result.code, result.output).toBe(2);
    expect(result.output).toContain(
      `segflow: the run would stop at its load: no .parquet or .csv files under ${input}; nothing was started`,
    );
    expect(result.output).not.toContain('cannot reach Temporal');
    expect(existsSync(auditLogPath(storeIn(home)))).toBe(false);
    expect(await leftIn(home)).toEqual([]);
  });

  it('lets an input the plan takes go on to start the run, storing nothing of its reading', async () => {
    const dir = await tempDir();
    const input = join(dir, 'usage.csv');
    await writeFile(input, usageCsv('2026-06'));
    const home = join(dir, 'home');
    const result = await segflow(['run', '--month', '2026-06', '--input', input, '--partitions', '2'], {
      ...NO_SERVER,
      SEGFLOW_HOME: home,
    });
    expect(result).toMatchObject({ code: 3, output: expect.stringContaining('cannot reach Temporal at 127.0.0.1:1') });
    // a stored reading names the run that stored it, and audit verify looks for that run in the log
    expect(await leftIn(home)).toEqual([]);
  });

  it('leaves the contact log out, and notes, not refuses, what goes wrong other than the input', async () => {
    const dir = await tempDir();
    const input = join(dir, 'usage.csv');
    await writeFile(input, usageCsv('2026-06'));
    const parsed = parseRunParams({ month: '2026-06', input });
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    expect(await checkLoadPlan(parsed.params)).toEqual({ passed: true });
    // the contact log is not read here (run reads its header before; a schedule's comes later), nor
    // are the parameters that need it taken for parameters without it
    const withLog = parseRunParams({
      month: '2026-06',
      input,
      contacts: join(dir, 'contacts-not-yet.csv'),
      contactsEncoding: 'gb18030',
      dispatched: '2026-05/v1',
    });
    if (!withLog.ok) throw new Error(withLog.problems.join('; '));
    expect(await checkLoadPlan(withLog.params)).toEqual({ passed: true });
    // a data root that is not there: no input is outside it, and none inside
    expect(await checkLoadPlan(parsed.params, { dataRoot: join(dir, 'no-such-root') })).toEqual({
      unchecked: expect.stringContaining('no such file or directory'),
    });
  });
});

describe('how much CSV the check would read before the start', () => {
  it('counts the CSV files the load reads (not hidden or _ names, not Parquet), and stops counting past the limit', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'month=2026-05'));
    await writeFile(join(dir, 'month=2026-05', 'a.csv'), 'x'.repeat(100));
    await writeFile(join(dir, 'b.CSV'), 'x'.repeat(50));
    await writeFile(join(dir, 'c.parquet'), 'x'.repeat(1000));
    await mkdir(join(dir, '.hidden'));
    await writeFile(join(dir, '.hidden', 'd.csv'), 'x'.repeat(1000));
    await writeFile(join(dir, '_notes.csv'), 'x'.repeat(1000));
    expect(await csvBytesUnder(dir, 10_000)).toBe(150);
    expect(await csvBytesUnder(join(dir, 'b.CSV'), 10_000)).toBe(50);
    expect(await csvBytesUnder(join(dir, 'c.parquet'), 10_000)).toBe(0);
    expect(await csvBytesUnder(join(dir, 'missing'), 10_000)).toBe(0);
    // past the limit it stops: a large extract is not walked to its end
    expect(await csvBytesUnder(dir, 60)).toBeGreaterThan(60);
  });
});
