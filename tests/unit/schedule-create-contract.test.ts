import { mkdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { assertInputMeetsContract } from '../../cli/commands/schedule';
import { CHECK_MAX_CSV_BYTES } from '../../cli/load-plan-check';
import { UsageError } from '../../domain/errors';
import { parseRunParams, type RunParams } from '../../domain/params';
import { segflow, tempDir, usageCsv } from '../helpers';

/** Nothing listens on port 1: a command that got as far as connecting exits 3. */
const NO_SERVER = { TEMPORAL_ADDRESS: '127.0.0.1:1' };

const paramsFor = (input: string): RunParams => {
  const parsed = parseRunParams({ month: '2026-10', input });
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return parsed.params;
};

describe("schedule create reads the input as a run's load does", () => {
  it("refuses an input without a required column, in the load's words, and takes one that has them", async () => {
    const dir = await tempDir();
    const bad = join(dir, 'csvbad', 'usage.csv');
    await mkdir(join(dir, 'csvbad'));
    await writeFile(bad, usageCsv('2026-10', ['spend']));
    await expect(assertInputMeetsContract('s2', paramsFor(bad))).rejects.toThrow(UsageError);
    await expect(assertInputMeetsContract('s2', paramsFor(bad))).rejects.toThrow(
      new RegExp(
        `^schedule s2's runs would stop at their load: ${bad} lacks required column\\(s\\): spend .*; nothing was created$`,
      ),
    );
    const good = join(dir, 'good.csv');
    await writeFile(good, usageCsv('2026-10'));
    // read through, not passed over with a note
    const notes = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      await expect(assertInputMeetsContract('s2', paramsFor(good))).resolves.toBeUndefined();
      expect(notes).not.toHaveBeenCalled();
    } finally {
      notes.mockRestore();
    }
  });

  it('takes a schedule whose contact log has an encoding (it refused it as a parameter without the log, which each run reads)', async () => {
    const good = join(await tempDir(), 'usage.csv');
    await writeFile(good, usageCsv('2026-10'));
    const parsed = parseRunParams({
      month: '2026-10',
      input: good,
      contacts: join(await tempDir(), 'contacts-2026-10.csv'),
      contactsEncoding: 'gb18030',
    });
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    await expect(assertInputMeetsContract('s2', parsed.params)).resolves.toBeUndefined();
  });

  it('refuses a list named with dispatched, which only one month has, in words that say so (exit 2)', async () => {
    const home = await tempDir();
    const good = join(home, 'usage.csv');
    await writeFile(good, usageCsv('2026-10'));
    const contacts = join(home, 'contacts.csv');
    const result = await segflow(
      ['schedule', 'create', '--input', good, '--param', `contacts=${contacts}`, '--param', 'dispatched=2026-09/v1'],
      { ...NO_SERVER, SEGFLOW_HOME: home },
    );
    expect(result).toMatchObject({
      code: 2,
      output: expect.stringContaining(
        `segflow: dispatched names one month's dispatch list ("2026-09/v1"): a schedule's runs measure the month before's latest list, so leave it out (docs/campaigns.md)`,
      ),
    });
  }, 60_000);

  it('refuses a contact-log mapping whose dateFormat DuckDB cannot read, before the log exists (exit 2)', async () => {
    const home = await tempDir();
    const good = join(home, 'usage.csv');
    await writeFile(good, usageCsv('2026-10'));
    const mapping = join(home, 'contacts-mapping.json');
    await writeFile(mapping, JSON.stringify({ columns: { subscriber_id: '用户号码' }, dateFormat: '%Q/%m/%Y' }));
    const result = await segflow(
      [
        'schedule',
        'create',
        '--input',
        good,
        '--param',
        `contacts=${join(home, 'contacts-not-yet.csv')}`,
        '--param',
        `contactsMapping=${mapping}`,
      ],
      { ...NO_SERVER, SEGFLOW_HOME: home },
    );
    expect(result).toMatchObject({
      code: 2,
      output: expect.stringContaining(
        `segflow: contactsMapping: the contact-log mapping's dateFormat "%Q/%m/%Y" is not a format DuckDB reads`,
      ),
    });
  }, 60_000);

  it('reads the newest month folder, which every coming run reads', async () => {
    const input = join(await tempDir(), 'usage');
    for (const [month, without] of [
      ['2026-09', []],
      ['2026-10', ['spend']],
    ] as const) {
      await mkdir(join(input, `month=${month}`), { recursive: true });
      await writeFile(join(input, `month=${month}`, 'part_0.csv'), usageCsv(month, [...without]));
    }
    await expect(assertInputMeetsContract('s2', paramsFor(input))).rejects.toThrow(
      /month=2026-10\/part_0\.csv lacks required column\(s\): spend/,
    );
  });

  it('takes a folder for a month still arriving, after the month a run now reads, and an input not yet delivered, with a note', async () => {
    const input = join(await tempDir(), 'usage');
    for (const [month, without] of [
      ['2026-10', []],
      // half copied: what a run of 2026-10 does not read
      ['2026-11', ['voice_minutes', 'data_mb', 'spend']],
    ] as const) {
      await mkdir(join(input, `month=${month}`), { recursive: true });
      await writeFile(join(input, `month=${month}`, 'part_0.csv'), usageCsv(month, [...without]));
    }
    await expect(assertInputMeetsContract('s2', paramsFor(input))).resolves.toBeUndefined();
    const empty = join(await tempDir(), 'landing');
    await mkdir(empty);
    const notes = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      await expect(assertInputMeetsContract('s2', paramsFor(empty))).resolves.toBeUndefined();
      expect(notes).toHaveBeenCalledWith(expect.stringMatching(/^note: no \.parquet or \.csv files under .* yet/));
    } finally {
      notes.mockRestore();
    }
  });

  it("reads nothing over 1 GB of CSV among the files a run now reads, with a note, as run's check", async () => {
    const input = join(await tempDir(), 'usage');
    for (const month of ['2026-09', '2026-10']) {
      await mkdir(join(input, `month=${month}`), { recursive: true });
      await writeFile(join(input, `month=${month}`, 'part_0.csv'), usageCsv(month, ['spend']));
    }
    // a sparse file: a gigabyte on the disk's books, not on it; an older month, which is not read
    const older = join(input, 'month=2026-09', 'part_0.csv');
    await truncate(older, CHECK_MAX_CSV_BYTES + 1);
    await expect(assertInputMeetsContract('s2', paramsFor(input))).rejects.toThrow(/lacks required column/);
    await truncate(join(input, 'month=2026-10', 'part_0.csv'), CHECK_MAX_CSV_BYTES + 1);
    const notes = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      await expect(assertInputMeetsContract('s2', paramsFor(input))).resolves.toBeUndefined();
      expect(notes).toHaveBeenCalledWith(
        expect.stringMatching(/^note: the input files a run now reads hold over 1 GB of CSV: not read before the/),
      );
    } finally {
      notes.mockRestore();
    }
  }, 60_000);

  it('is refused by `schedule create` before it connects (exit 2)', async () => {
    const home = await tempDir();
    const bad = join(home, 'usage.csv');
    await writeFile(bad, usageCsv('2026-10', ['spend']));
    const result = await segflow(['schedule', 'create', '--id', 's2', '--input', bad], {
      ...NO_SERVER,
      SEGFLOW_HOME: home,
    });
    expect(result.code).toBe(2);
    expect(result.output).toContain(
      `segflow: schedule s2's runs would stop at their load: ${bad} lacks required column(s): spend`,
    );
    expect(result.output).not.toContain('cannot reach Temporal');
  }, 60_000);
});
