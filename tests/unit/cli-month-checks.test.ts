import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../domain/errors';
import { backfillRange, monthRanges, monthsWithoutInput, NoInputForMonthsError } from '../../domain/input-months';
import { addMonths, monthBefore, notEndedYet } from '../../domain/month';
import { monthFolderOf } from '../../activities/load';
import { assertInputHoldsMonths, mappingFormat, unchangedText } from '../../cli/commands/schedule';
import type { AuditEntry } from '../../store/audit-log';
import { segflow, tempDir } from '../helpers';

/** Nothing listens on port 1: a command that tried to reach Temporal would exit 3. */
const NO_SERVER = { TEMPORAL_ADDRESS: '127.0.0.1:1' };
const thisMonth = () => new Date().toISOString().slice(0, 7);

describe('a month that has not ended', () => {
  it("is told in the load's words, months ending at midnight UTC whatever the local time zone", () => {
    // 23:30 on 30 November in New York is already December in UTC: November has ended, as the load counts it
    expect(notEndedYet('2026-11', new Date('2026-11-30T23:30:00-05:00'))).toBeUndefined();
    expect(notEndedYet('2026-11', new Date('2026-11-30T23:30:00Z'))).toBe(
      '2026-11 has not ended yet, so none of its usage can have arrived (the last month that has ended is 2026-10)',
    );
    expect(notEndedYet('2027-02', new Date('2026-12-07T00:00:00Z'))).toContain('2027-02 has not ended yet');
    expect(notEndedYet('2026-10', new Date('2026-11-01T00:00:00Z'))).toBeUndefined();
  });

  it('stops `run` before anything starts or connects (exit 2, not 3), with or without --local', async () => {
    for (const month of [thisMonth(), addMonths(thisMonth(), 3)]) {
      for (const local of [[], ['--local']]) {
        const result = await segflow(['run', ...local, '--month', month, '--input', '.'], NO_SERVER);
        expect(result).toMatchObject({
          code: 2,
          output: expect.stringContaining(
            `--month ${month} has not ended yet, so none of its usage can have arrived (the last month that has ended is ${monthBefore(new Date())})`,
          ),
        });
      }
    }
  }, 120_000);

  it('stops `schedule backfill` before it connects (exit 2, not 3), as does --from after --to', async () => {
    const ended = monthBefore(new Date());
    const late = await segflow(['schedule', 'backfill', '--from', ended, '--to', thisMonth()], NO_SERVER);
    expect(late).toMatchObject({
      code: 2,
      output: expect.stringContaining(
        `--to ${thisMonth()} has not ended yet: the last month a backfill can process is ${ended}`,
      ),
    });
    const reversed = await segflow(['schedule', 'backfill', '--from', '2026-05', '--to', '2026-03'], NO_SERVER);
    expect(reversed).toMatchObject({ code: 2, output: expect.stringContaining('backfill needs --from <= --to') });
    expect(backfillRange('2025-11', '2026-02', new Date('2026-12-07T00:00:00Z'))).toEqual([
      '2025-11',
      '2025-12',
      '2026-01',
      '2026-02',
    ]);
  }, 120_000);
});

describe("a backfill's months and the schedule's input", () => {
  it("reads the format of the schedule's mapping, which tells the month a run trains on", async () => {
    const dir = await tempDir();
    expect(await mappingFormat('monthly', undefined)).toBe('long');
    await writeFile(join(dir, 'snapshot.json'), JSON.stringify({ format: 'snapshot', columns: {} }));
    expect(await mappingFormat('monthly', join(dir, 'snapshot.json'))).toBe('snapshot');
    await writeFile(join(dir, 'long.json'), JSON.stringify({ columns: {} }));
    expect(await mappingFormat('monthly', join(dir, 'long.json'))).toBe('long');
    await expect(mappingFormat('monthly', join(dir, 'gone.json'))).rejects.toThrow(
      `schedule monthly's runs cannot read the mapping file ${join(dir, 'gone.json')}: ENOENT`,
    );
  });

  it('names months as runs of consecutive ones', () => {
    expect(monthRanges(['2026-03', '2026-01', '2026-02', '2026-06', '2025-12'])).toBe('2025-12..2026-03, 2026-06');
    expect(monthRanges(['2026-05'])).toBe('2026-05');
    expect(monthRanges([])).toBe('none');
  });

  it('finds the months without files by the month folders, and cannot tell for a file outside them', () => {
    const files = ['/in/month=2026-01/a.parquet', '/in/usage_month=2026-02-01/b.csv', '/in/month=2026-02/c.parquet'];
    expect(monthsWithoutInput(['2026-01', '2026-02', '2026-03'], files, monthFolderOf)).toEqual({
      missing: ['2026-03'],
      held: ['2026-01', '2026-02'],
      // 2026-01's run trains on 2025-12, which the input does not hold
      untrained: ['2025-12'],
    });
    expect(monthsWithoutInput(['2026-02', '2026-03'], files, monthFolderOf)).toMatchObject({ untrained: [] });
    // a snapshot trains on its own month
    expect(monthsWithoutInput(['2026-01'], files, monthFolderOf, 'snapshot')).toMatchObject({
      missing: [],
      untrained: [],
    });
    expect(monthsWithoutInput(['2026-03'], [...files, '/in/all.parquet'], monthFolderOf)).toBeUndefined();
  });

  it('refuses every month asked when some have no files, naming them and the months the input has', async () => {
    const input = join(await tempDir(), 'usage');
    for (const month of ['2026-01', '2026-02', '2026-03', '2026-05'])
      await mkdir(join(input, `month=${month}`), { recursive: true }).then(() =>
        writeFile(join(input, `month=${month}`, 'part_0.parquet'), ''),
      );
    await expect(assertInputHoldsMonths('monthly', input, ['2026-02', '2026-03'])).resolves.toBeUndefined();
    const partly = assertInputHoldsMonths('monthly', input, ['2026-03', '2026-04', '2026-05', '2026-06']);
    await expect(partly).rejects.toBeInstanceOf(NoInputForMonthsError);
    await expect(partly).rejects.toBeInstanceOf(UsageError); // exit 2
    await expect(partly).rejects.toThrow(
      `schedule monthly's input ${input} has no files for 2026-04, 2026-06 (of the 4 months asked); its month folders hold 2026-01..2026-03, 2026-05: nothing was backfilled, not even the months it has, as each month builds on the one before. Add those months (month=YYYY-MM/ folders) to the input, or backfill months it holds`,
    );
    await expect(partly).rejects.toMatchObject({ missing: ['2026-04', '2026-06'], untrained: [] });
    const none = assertInputHoldsMonths('monthly', input, ['2026-07']);
    await expect(none).rejects.toThrow(
      `has no files for 2026-07, nor for 2026-06, the month before 2026-07 that its run trains the churn model on (each run trains on the month before its own); its month folders hold 2026-01..2026-03, 2026-05: nothing was backfilled. Add`,
    );
    // every month asked is there, but not the month the first one trains on: that run could not train
    const untrained = assertInputHoldsMonths('monthly', input, ['2026-01', '2026-02']);
    await expect(untrained).rejects.toThrow(
      `schedule monthly's input ${input} has no files for 2025-12, the month before 2026-01 that its run trains the churn model on (each run trains on the month before its own); its month folders hold 2026-01..2026-03, 2026-05: nothing was backfilled, not even the months it has, as each month builds on the one before. Add those months (month=YYYY-MM/ folders) to the input, or backfill months it holds from one whose month before it holds too`,
    );
    await expect(untrained).rejects.toMatchObject({ missing: [], untrained: ['2025-12'] });
    await expect(assertInputHoldsMonths('monthly', input, ['2026-05'])).rejects.toThrow(
      'has no files for 2026-04, the month before 2026-05 that its run trains',
    );
    // a snapshot input trains on the month it scores
    await expect(
      assertInputHoldsMonths('monthly', input, ['2026-01', '2026-02'], undefined, 'snapshot'),
    ).resolves.toBeUndefined();
    // a file outside month folders may hold any month in its rows: left to the load
    await writeFile(join(input, 'extra.parquet'), '');
    await expect(assertInputHoldsMonths('monthly', input, ['2026-07'])).resolves.toBeUndefined();
    // an input that is gone stops every run's load: refused in the load's words
    await expect(assertInputHoldsMonths('monthly', join(input, 'gone'), ['2026-07'])).rejects.toThrow(
      new UsageError(`schedule monthly's input: input not found: ${join(input, 'gone')}; nothing was backfilled`),
    );
  });
});

describe('a pause of a paused schedule, an unpause of one not paused', () => {
  const entry = (event: string, at: string, actor: string, note?: string, id = 'monthly') =>
    ({ event, at, actor, run: { workflowId: id, runId: '' }, details: note ? { note } : {} }) as unknown as AuditEntry;
  const KEPT =
    ". Nothing changed and its note is kept ('segflow schedule unpause --id monthly' resumes it; to give another note, unpause it and pause it again)";

  it('says since when, by whom and why it is paused, and that its note is kept', () => {
    const entries = [
      entry('schedule.created', '2026-10-01T08:00:00.000Z', 'ops'),
      entry('schedule.paused', '2026-11-03T09:00:00.000Z', 'ana', 'input late'),
      entry('schedule.paused', '2026-11-04T09:00:00.000Z', 'bob', 'other', 'other-schedule'),
    ];
    expect(unchangedText('pause', 'monthly', { note: 'input late', pauseOnFailure: false }, entries)).toBe(
      `schedule monthly is already paused, since 2026-11-03T09:00:00.000Z by ana (note: input late)${KEPT}`,
    );
    const unpaused = [...entries.slice(0, 2), entry('schedule.unpaused', '2026-11-05T09:00:00.000Z', 'ana')];
    // no entry of its pause, on a schedule that pauses on failure: Temporal may have paused it
    expect(unchangedText('pause', 'monthly', { note: 'failed run', pauseOnFailure: true }, unpaused)).toBe(
      "schedule monthly is already paused (note: failed run); the audit log has no pause of it since it was last unpaused (2026-11-05T09:00:00.000Z, by ana): it was paused outside segflow: by Temporal, as the schedule pauses when a run it started fails (--pause-on-failure), or in Temporal's UI or CLI" +
        KEPT,
    );
  });

  it('does not name a failed run as the cause for a schedule that does not pause on failure', () => {
    const created = [entry('schedule.created', '2026-10-01T08:00:00.000Z', 'ops')];
    const text = unchangedText('pause', 'monthly', { note: 'paused in the UI', pauseOnFailure: false }, created);
    expect(text).toBe(
      "schedule monthly is already paused (note: paused in the UI); the audit log has no pause of it since it was created (2026-10-01T08:00:00.000Z, by ops): it was paused outside segflow (in Temporal's UI or CLI, say: the schedule does not pause on failure)" +
        KEPT,
    );
    expect(text).not.toMatch(/fail(s|ed)? when|pause-on-failure\)/);
    expect(unchangedText('pause', 'monthly', { pauseOnFailure: false }, created)).toContain(
      'does not pause on failure) (Temporal holds no note of why). Nothing changed',
    );
  });

  it('says the audit log could not be read, and why, rather than that it has no pause', () => {
    const unreadable = new Error("EACCES: permission denied, open '/store/audit/audit.jsonl'");
    const text = unchangedText('pause', 'monthly', { note: 'input late', pauseOnFailure: true }, unreadable);
    expect(text).toBe(
      "schedule monthly is already paused (note: input late); the audit log could not be read (EACCES: permission denied, open '/store/audit/audit.jsonl'), so since when and by whom is not known" +
        KEPT,
    );
    expect(text).not.toContain('has no pause');
    expect(
      unchangedText('unpause', 'monthly', { pauseOnFailure: false }, new Error('Unexpected token x in JSON\nat 3')),
    ).toBe(
      'schedule monthly is not paused; the audit log could not be read (Unexpected token x in JSON), so since when and by whom is not known. Nothing changed',
    );
  });

  it('says an active schedule is not paused and since when', () => {
    const active = { note: 'data landed', pauseOnFailure: false };
    expect(
      unchangedText('unpause', 'monthly', active, [
        entry('schedule.unpaused', '2026-11-05T09:00:00.000Z', 'ana', 'data landed'),
      ]),
    ).toBe(
      'schedule monthly is not paused, unpaused since 2026-11-05T09:00:00.000Z by ana (note: data landed). Nothing changed',
    );
    expect(
      unchangedText('unpause', 'monthly', { pauseOnFailure: false }, [
        entry('schedule.created', '2026-10-01T08:00:00.000Z', 'ops'),
      ]),
    ).toBe(
      'schedule monthly is not paused, running since it was created (2026-10-01T08:00:00.000Z, by ops). Nothing changed',
    );
    expect(unchangedText('unpause', 'monthly', { pauseOnFailure: false }, [])).toBe(
      'schedule monthly is not paused. Nothing changed',
    );
  });
});
