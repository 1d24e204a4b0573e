import { generateKeyPairSync } from 'node:crypto';
import type { Client, ScheduleDescription } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../domain/errors';
import { monthBefore } from '../../domain/month';
import {
  backfillMonths,
  calendarText,
  summariseSchedule,
  triggerSchedule,
  withWorkflowStatus,
  type ScheduleSummary,
} from '../../pipelines/schedules';
import { readAuditLog, type AuditEntry } from '../../store/audit-log';
import type { StoreConfig } from '../../store/layout';
import { signerOf, verifyText } from '../../store/signing';
import { storeIn, tempDir } from '../helpers';
import { recordAudit } from '../../store/audit-record';
import { runEntrySubject, scheduleState } from '../../cli/commands/runs';
import { showRun } from '../../pipelines/runs';
import { scheduleText, triggeredText } from '../../cli/commands/schedule';

/** Who ran a schedule command, recorded beside its actor (commandUser). */
const BY = { osUser: expect.any(String), host: expect.any(String) };

describe("a schedule's calendar as people read it", () => {
  it('reads the ranges Temporal describes a calendar field with, and a plain value', () => {
    // what describe() returns for a schedule created with dayOfMonth 2, hour 3, minute 0
    expect(calendarText([{ start: 2, end: 2, step: 1 }])).toBe('2');
    expect(calendarText([{ start: 0 }])).toBe('0');
    expect(calendarText([{ start: 1, end: 5, step: 1 }])).toBe('1-5');
    expect(calendarText([{ start: 0, end: 30, step: 15 }, { start: 45 }])).toBe('0-30/15,45');
    expect(calendarText(3)).toBe('3');
  });
});

describe('a backfill', () => {
  it('refuses a month that has not ended, before asking Temporal anything', async () => {
    const thisMonth = new Date().toISOString().slice(0, 7);
    await expect(
      backfillMonths(
        {} as Client,
        { store: { storeDir: '/nowhere' } as StoreConfig, temporal: { taskQueue: 'segflow' } },
        'monthly',
        '2020-01',
        thisMonth,
      ),
    ).rejects.toThrow(
      new UsageError(
        `--to ${thisMonth} has not ended yet: the last month a backfill can process is ${monthBefore(new Date())}`,
      ),
    );
  });
});

describe("a schedule's recent runs", () => {
  it('each say how they ended, by the audit log: published, failed at a stage, still running', () => {
    const action = (workflowId: string, scheduledAt: string, runId = `${workflowId}-run`) => ({
      scheduledAt: new Date(scheduledAt),
      action: { workflow: { workflowId, firstExecutionRunId: runId } },
    });
    const description = {
      scheduleId: 'monthly',
      spec: {
        calendars: [{ dayOfMonth: [{ start: 2, end: 2, step: 1 }], hour: [{ start: 3 }], minute: [{ start: 0 }] }],
      },
      action: { args: [{ params: { input: '/data/usage' }, requestedBy: 'schedule:monthly' }] },
      state: { paused: false },
      policies: { overlap: 'SKIP', catchupWindow: 60_000, pauseOnFailure: false },
      info: {
        nextActionTimes: [],
        recentActions: [
          action('monthly-a', '2026-10-02T03:00:00Z'),
          action('monthly-b', '2026-11-02T03:00:00Z'),
          // the month backfilled again after its run failed: a workflow of the same id, another run
          action('monthly-b', '2026-11-02T03:00:00Z', 'monthly-b-again'),
          action('monthly-c', '2026-12-02T03:00:00Z'),
        ],
        runningActions: [{ workflow: { workflowId: 'monthly-c', firstExecutionRunId: 'monthly-c-run' } }],
      },
    } as unknown as ScheduleDescription;
    const entry = (workflowId: string, event: string, details: Record<string, unknown>, runId = `${workflowId}-run`) =>
      ({ run: { workflowId, runId }, event, details }) as unknown as AuditEntry;
    const summary = summariseSchedule(description, [
      entry('monthly-a', 'run.published', { version: 3 }),
      entry('monthly-b', 'run.failed', { stage: 'load', error: 'InputFileError' }),
      entry('monthly-b', 'run.published', { version: 4 }, 'monthly-b-again'),
    ]);
    expect(summary.calendar).toEqual({ dayOfMonth: '2', hour: '3', minute: '0' });
    expect(summary.recentRuns.map((r) => [r.month, r.outcome])).toEqual([
      ['2026-09', 'published v3'],
      ['2026-10', 'failed at load'],
      ['2026-10', 'published v4'],
      ['2026-11', 'running'],
    ]);
    // as describe prints it: how many recent runs, and where all of them are
    const text = scheduleText(summary);
    expect(text).toContain('  recent runs    (the last 4; segflow runs list shows them all)');
    expect(text).toContain(
      '    2026-10  scheduled 2026-11-02T03:00:00.000Z  monthly-b  failed at load (segflow runs show monthly-b)',
    );
    // a paused schedule's next runs do not start
    const next = { ...summary, nextRuns: ['2027-01-02T03:00:00.000Z'] };
    expect(scheduleText(next)).toContain('  next runs      2027-01-02T03:00:00.000Z (2026-12)\n');
    expect(scheduleText({ ...next, paused: true })).toContain(
      "  next runs      2027-01-02T03:00:00.000Z (2026-12); paused: none starts until 'segflow schedule unpause'\n",
    );
  });
});

describe("a schedule's recent runs without an outcome", () => {
  it('are asked of Temporal: a run just triggered, which the schedule does not list as running yet, reads running', async () => {
    const run = (workflowId: string, outcome: string) => ({
      scheduledAt: '2026-12-02T03:00:00.000Z',
      month: '2026-11',
      workflowId,
      runId: `${workflowId}-run`,
      outcome,
    });
    const summary = {
      recentRuns: [
        run('monthly-a', 'published v3'),
        run('monthly-b', 'no outcome in the audit log'),
        run('monthly-c', 'no outcome in the audit log'),
        run('monthly-d', 'no outcome in the audit log'),
      ],
      runningWorkflows: [],
    } as unknown as ScheduleSummary;
    const asked: string[] = [];
    const status = async ({ workflowId, runId }: { workflowId: string; runId: string }) => {
      asked.push(runId);
      if (workflowId === 'monthly-d') throw new Error('workflow not found');
      return { 'monthly-b': 'RUNNING', 'monthly-c': 'TIMED_OUT' }[workflowId];
    };
    const told = await withWorkflowStatus(summary, status);
    expect(told.recentRuns.map((r) => r.outcome)).toEqual([
      'published v3',
      'running',
      'timed out (no outcome in the audit log)',
      'no outcome in the audit log',
    ]);
    expect(told.runningWorkflows).toEqual(['monthly-b']);
    // only those the audit log could not tell
    expect(asked).toEqual(['monthly-b-run', 'monthly-c-run', 'monthly-d-run']);
  });
});

describe('schedule trigger', () => {
  /**
   * A schedule as Temporal describes it before and after a trigger: `outcome` is what the
   * scheduler did with the trigger (a run started, the start skipped for overlap, or buffered),
   * whatever was running before it.
   */
  const scheduleWith = (
    overlap: string,
    running: string[],
    outcome: 'started' | 'skipped' | 'buffered',
    triggeredWith: unknown[] = [],
    buffered = 0,
  ) => {
    let triggered = false;
    const scheduledAt = new Date('2026-12-06T10:00:00Z');
    return {
      schedule: {
        getHandle: () => ({
          describe: async () => ({
            state: { paused: false },
            policies: { overlap },
            raw: { info: { bufferSize: buffered + (triggered && outcome === 'buffered' ? 1 : 0) } },
            info: {
              numActionsSkippedOverlap: 3 + (triggered && outcome === 'skipped' ? 1 : 0),
              recentActions:
                triggered && outcome === 'started'
                  ? [{ scheduledAt, action: { workflow: { workflowId: 'monthly-2', firstExecutionRunId: 'r2' } } }]
                  : [],
              runningActions: (triggered && outcome === 'started' ? ['monthly-2'] : running).map((workflowId) => ({
                workflowId,
                workflow: { workflowId, firstExecutionRunId: 'r' },
              })),
            },
          }),
          trigger: async (policy: unknown) => {
            triggeredWith.push(policy);
            triggered = true;
          },
        }),
      },
    } as unknown as Client;
  };

  it("starts under the schedule's overlap policy (the SDK's default allows two at once), and records who asked", async () => {
    const store = storeIn(await tempDir());
    const triggeredWith: unknown[] = [];
    const skipped = await triggerSchedule(
      scheduleWith('SKIP', ['monthly-1'], 'skipped', triggeredWith),
      { store, temporal: { taskQueue: 'segflow' } },
      'monthly',
      {
        actor: 'operator',
      },
    );
    expect(skipped).toEqual({ paused: false, policy: 'SKIP', behind: { workflowId: 'monthly-1', overlap: 'skipped' } });
    expect(triggeredText('monthly', skipped)).toBe(
      "schedule monthly: nothing started: Temporal skipped it, as its run monthly-1 is still going and the schedule's overlap policy skips a start meanwhile ('segflow runs follow monthly-1' follows it)",
    );
    // signed with the key the workers sign with, when the CLI has it (SEGFLOW_SIGNING_KEY)
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const buffered = await triggerSchedule(
      scheduleWith('BUFFER_ONE', ['monthly-1'], 'buffered', triggeredWith),
      { store, temporal: { taskQueue: 'segflow' } },
      'monthly',
      { actor: 'operator', signer: signerOf(privateKey) },
    );
    expect(buffered.behind).toEqual({ workflowId: 'monthly-1', overlap: 'buffered' });
    expect(triggeredText('monthly', buffered)).toBe(
      "triggered schedule monthly: the run starts when its run monthly-1 ends (the schedule's overlap policy buffers it)",
    );
    expect(triggeredWith).toEqual(['SKIP', 'BUFFER_ONE']);
    const log = await readAuditLog(store);
    expect(log.map((e) => e.signature !== undefined)).toEqual([false, true]);
    expect(verifyText(publicKey, log[1].hash, log[1].signature!.value)).toBe(true);
    const entries = log.map((e) => [e.event, e.run.workflowId, e.actor, e.details]);
    expect(entries).toEqual([
      // who ran the command beside the actor
      ['schedule.triggered', 'monthly', 'operator', { overlap: 'SKIP', skipped: 'monthly-1', ...BY }],
      ['schedule.triggered', 'monthly', 'operator', { overlap: 'BUFFER_ONE', buffered: 'monthly-1', ...BY }],
    ]);
  });

  it('tells what Temporal did after the trigger, not what was running before it', async () => {
    const store = storeIn(await tempDir());
    // the run listed as going ended before the trigger reached the scheduler: the trigger started one
    const started = await triggerSchedule(
      scheduleWith('SKIP', ['monthly-1'], 'started'),
      { store, temporal: { taskQueue: 'segflow' } },
      'monthly',
      {
        timeoutMs: 2_000,
      },
    );
    expect(started).toEqual({ paused: false, policy: 'SKIP', workflowId: 'monthly-2', month: '2026-11' });
    // under buffer-one with a start already buffered, Temporal drops this one: skipped, not buffered
    const dropped = await triggerSchedule(
      scheduleWith('BUFFER_ONE', ['monthly-1'], 'skipped', [], 1),
      { store, temporal: { taskQueue: 'segflow' } },
      'monthly',
      {
        timeoutMs: 2_000,
      },
    );
    expect(dropped.behind).toEqual({ workflowId: 'monthly-1', overlap: 'skipped' });
    expect(triggeredText('monthly', dropped)).toBe(
      "schedule monthly: nothing started: Temporal dropped the start, as its run monthly-1 is still going and a start is already buffered behind it, and the schedule's overlap policy buffers one ('segflow runs follow monthly-1' follows it)",
    );
    expect((await readAuditLog(store)).map((e) => e.details)).toEqual([
      { overlap: 'SKIP', started: 'monthly-2', month: '2026-11', ...BY },
      { overlap: 'BUFFER_ONE', skipped: 'monthly-1', ...BY },
    ]);
  });

  it('says a paused schedule stays paused though the one run started', () => {
    const started = { workflowId: 'monthly-2026-12-06', month: '2026-11' };
    expect(triggeredText('monthly', { ...started, paused: false })).toBe(
      "triggered schedule monthly: workflow monthly-2026-12-06 processes 2026-11 ('segflow runs follow monthly-2026-12-06' follows it)",
    );
    expect(triggeredText('monthly', { ...started, paused: true })).toBe(
      "triggered schedule monthly: workflow monthly-2026-12-06 processes 2026-11 ('segflow runs follow monthly-2026-12-06' follows it)\nnote: the schedule is paused: this one run started; its calendar stays paused ('segflow schedule unpause' resumes it)",
    );
  });
});

describe('runs show <schedule id>', () => {
  it('says a schedule created again after its deletion is a schedule, and one deleted last is gone', () => {
    const events = (...names: string[]) => names.map((event, i) => ({ seq: i + 1, event }));
    expect(scheduleState('monthly', events('schedule.created', 'schedule.deleted', 'schedule.created'))).toBe(
      "monthly is a schedule: 'segflow schedule describe --id monthly' shows it and its runs",
    );
    expect(scheduleState('monthly', events('schedule.created', 'schedule.triggered', 'schedule.deleted'))).toBe(
      "monthly was a schedule, deleted (audit seq 3); 'segflow runs list' shows the runs it started",
    );
  });

  it('shows a triggered run with the trigger that started it, which names who asked', async () => {
    const store = storeIn(await tempDir());
    const triggered = {
      event: 'schedule.triggered' as const,
      run: { workflowId: 'monthly', runId: '' },
      month: '',
      actor: 'operator',
    };
    await recordAudit(store, { ...triggered, subject: 'a', details: { overlap: 'SKIP', started: 'monthly-2026-12' } });
    await recordAudit(store, { ...triggered, subject: 'b', details: { overlap: 'SKIP', skipped: 'monthly-2026-12' } });
    await recordAudit(store, {
      event: 'run.requested',
      run: { workflowId: 'monthly-2026-12', runId: 'r' },
      month: '2026-11',
      actor: 'schedule:monthly',
    });
    const { audit } = await showRun(store, undefined, 'monthly-2026-12');
    expect(audit.map((e) => [e.event, e.actor])).toEqual([
      ['schedule.triggered', 'operator'],
      ['run.requested', 'schedule:monthly'],
    ]);
  });
});

describe('runs show <workflow id>', () => {
  it("lists a failed attempt's error type, and what the trigger that started the run did", () => {
    expect(
      runEntrySubject({
        event: 'stage.attempt-failed',
        subject: 'features#1 (activity 8)',
        details: { stage: 'features', attempt: 1, type: 'AttemptLost' },
      }),
    ).toBe('features#1 (activity 8): AttemptLost');
    expect(
      runEntrySubject({
        event: 'schedule.triggered',
        subject: '2026-12-06T19:32:28.174Z',
        details: { overlap: 'SKIP', started: 'monthly-1', month: '2026-11' },
      }),
    ).toBe('overlap "SKIP"; started "monthly-1"; month "2026-11"');
    expect(runEntrySubject({ event: 'run.failed', details: { stage: 'load' } })).toBe('at load');
  });
});
