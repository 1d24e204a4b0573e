import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planLoad } from '../../activities/load';
import { CHECK_MAX_CSV_BYTES, checkLoadPlan, csvBytesUnder } from '../../cli/load-plan-check';
import { parseRunParams } from '../../domain/params';
import { auditLogPath } from '../../store/layout';
import { encodedText, segflow, storeIn, tempDir, usageCsv } from '../helpers';

/** Nothing listens on port 1: a command that got as far as connecting, to start a run, exits 3. */
const NO_SERVER = { TEMPORAL_ADDRESS: '127.0.0.1:1' };

/** GB18030 bytes of the words the tests' files use (Node encodes no GB18030); everything else ASCII. */
const GB18030: Record<string, string> = {
  用户号码: 'd3c3bba7bac5c2eb',
  统计月份: 'cdb3bcc6d4c2b7dd',
  通话分钟: 'cda8bbb0b7d6d6d3',
  流量: 'c1f7c1bf',
  月消费: 'd4c2cffbb7d1',
  在网月数: 'd4dacdf8d4c2cafd',
  是否流失: 'cac7b7f1c1f7caa7',
  是: 'cac7',
  否: 'b7f1',
};
const gb18030 = (text: string) => encodedText(GB18030, text);

/** The bytes this process has read so far, every thread (DuckDB's and libuv's too): /proc/self/io's rchar. */
async function bytesRead(): Promise<number> {
  return Number(/^rchar: (\d+)$/m.exec(await readFile('/proc/self/io', 'utf8'))?.[1]);
}

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

  it("reads no input file in a rerun's check, one of GB18030 read through the mapping's encoding with a labels file too", async () => {
    const dir = await tempDir();
    const input = join(dir, 'usage.csv');
    const rows = Array.from(
      { length: 50_000 },
      (_, i) => `S${i},2026-06,${100 + (i % 97)},${2_000 + i},${30 + (i % 40)}.5,${i % 60}`,
    );
    await writeFile(input, gb18030(['用户号码,统计月份,通话分钟,流量,月消费,在网月数', ...rows].join('\r\n')));
    const labels = join(dir, 'labels.csv');
    await writeFile(
      labels,
      gb18030(['用户号码,是否流失', ...rows.slice(0, 40).map((_, i) => `S${i},${i % 4 ? '否' : '是'}`)].join('\r\n')),
    );
    const mapping = join(dir, 'mapping.json');
    await writeFile(
      mapping,
      JSON.stringify({
        encoding: 'gb18030',
        columns: {
          subscriber_id: '用户号码',
          month: '统计月份',
          voice_minutes: '通话分钟',
          data_mb: '流量',
          spend: '月消费',
          tenure_months: '在网月数',
        },
        values: { churn_label: { 是: true, 否: false } },
      }),
    );
    const written = Date.now();
    const parsed = parseRunParams({ month: '2026-06', input, mapping, labels });
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    const inputBytes = (await stat(input)).size;
    const store = storeIn(dir);
    const checkReading = async () => {
      const before = await bytesRead();
      const checked = await checkLoadPlan(parsed.params, { storeDir: store.storeDir });
      return { checked, read: (await bytesRead()) - before };
    };

    // a first run's check reads the input (the measure sees it: copied to UTF-8, read by DuckDB)
    const first = await checkReading();
    expect(first.checked).toEqual({ passed: true });
    expect(first.read).toBeGreaterThan(inputBytes);
    // the run's plan stores its reading, the input read through its UTF-8 copy; a file written
    // within 2 s of its stamp is not taken on it
    const plan = await planLoad(store, { workflowId: 'stored', runId: 'r1' }, parsed.params);
    expect(plan.readPaths?.[input]).toBeDefined();
    await new Promise((resolveWait) => setTimeout(resolveWait, Math.max(0, written + 2_100 - Date.now())));
    const rerun = await checkReading();
    expect(rerun.checked).toEqual({ passed: true });
    // the mapping and the labels file hashed (their sha256 are in the stored reading's key), the input not read
    expect(rerun.read).toBeLessThan(inputBytes / 4);
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
  it('counts the CSV and TSV files the load lists: links followed, hidden and _ names and Parquet not', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'month=2026-05'));
    await writeFile(join(dir, 'month=2026-05', 'a.csv'), 'x'.repeat(100));
    await writeFile(join(dir, 'b.tsv'), 'x'.repeat(50));
    await writeFile(join(dir, 'c.parquet'), 'x'.repeat(1000));
    await mkdir(join(dir, '.hidden'));
    await writeFile(join(dir, '.hidden', 'd.csv'), 'x'.repeat(1000));
    await writeFile(join(dir, '_notes.csv'), 'x'.repeat(1000));
    const elsewhere = await tempDir();
    await writeFile(join(elsewhere, 'e.csv'), 'x'.repeat(30));
    await symlink(elsewhere, join(dir, 'month=2026-06'));
    expect(await csvBytesUnder(dir)).toBe(180);
    expect(await csvBytesUnder(join(dir, 'b.tsv'))).toBe(50);
    expect(await csvBytesUnder(join(dir, 'c.parquet'))).toBe(0);
    // a listing that fails counts nothing: the check says why
    expect(await csvBytesUnder(join(dir, 'missing'))).toBe(0);
  });

  it('reads nothing over 1 GB of CSV, under the input or among the files given, and says so to run', async () => {
    const dir = await tempDir();
    const big = join(dir, 'usage.csv');
    // a sparse file: a gigabyte on the disk's books, not on it; read, its NUL bytes stop the plan
    await writeFile(big, usageCsv('2026-05'));
    await truncate(big, CHECK_MAX_CSV_BYTES + 1);
    const parsed = parseRunParams({ month: '2026-05', input: dir });
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    expect(await checkLoadPlan(parsed.params)).toEqual({ tooMuchCsv: true });
    expect(await checkLoadPlan(parsed.params, { files: [big] })).toEqual({ tooMuchCsv: true });
    const home = await tempDir();
    const result = await segflow(['run', '--month', '2026-05', '--input', dir], { ...NO_SERVER, SEGFLOW_HOME: home });
    expect(result.output).toContain('note: the input holds over 1 GB of CSV: not read before the start');
    expect(result.code, result.output).toBe(3);
  }, 60_000);
});
