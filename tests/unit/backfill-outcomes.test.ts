import type { Client, ScheduleHandle } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { recordAudit } from '../../store/audit-record';
import { backfillLines } from '../../cli/commands/schedule';
import { UsageError } from '../../domain/errors';
import { backfillMonths, waitForScheduledMonths, type ScheduledRun } from '../../pipelines/schedules';
import { readAuditLog } from '../../store/audit-log';
import type { SegflowConfig } from '../../worker/config';
import { storeIn, tempDir } from '../helpers';

describe("a backfill's outcome per month, from the audit log", () => {
  it('tells a cancelled run at once, waits for a run started again after a failed one, and names the run of a month still running or that none started', async () => {
    const store = storeIn(await tempDir());
    const since = new Date(Date.now() - 1_000);
    const actor = 'schedule:monthly';
    const entry = (
      event: 'run.started' | 'run.published' | 'run.cancelled' | 'run.failed',
      month: string,
      id: string,
    ) =>
      recordAudit(store, {
        event,
        run: { workflowId: id, runId: `${id}-run` },
        month,
        actor,
        details:
          event === 'run.published'
            ? { version: 1 }
            : event === 'run.failed'
              ? { error: { type: 'InputFileError', message: 'no usage files' } }
              : {},
      });
    await entry('run.started', '2026-01', 'wf-jan');
    await entry('run.published', '2026-01', 'wf-jan');
    await entry('run.started', '2026-02', 'wf-feb');
    await entry('run.cancelled', '2026-02', 'wf-feb');
    await entry('run.started', '2026-03', 'wf-mar');
    await entry('run.failed', '2026-04', 'wf-apr');
    // failed, then started again by hand from the schedule: the new run is the month's
    await entry('run.started', '2026-06', 'wf-jun');
    await entry('run.failed', '2026-06', 'wf-jun');
    await entry('run.started', '2026-06', 'wf-jun-again');
    // another schedule's run of a month asked for: not this backfill's
    await recordAudit(store, {
      event: 'run.published',
      run: { workflowId: 'other', runId: 'r' },
      month: '2026-05',
      actor: 'schedule:other',
      details: { version: 1 },
    });
    const started = performance.now();
    const outcome = await waitForScheduledMonths(
      { store } as SegflowConfig,
      'monthly',
      ['2026-01', '2026-02', '2026-03', '2026-04', '2026-05', '2026-06'],
      since,
      0,
    );
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(Object.fromEntries(outcome.published)).toEqual({ '2026-01': 1 });
    expect(Object.fromEntries(outcome.failed)).toEqual({ '2026-04': 'InputFileError: no usage files' });
    expect(outcome.cancelled).toEqual(['2026-02']);
    expect(outcome.missing).toEqual(['2026-03', '2026-05', '2026-06']);
    // the month still running has its run; the one no run of this schedule started has none
    expect(Object.fromEntries(outcome.workflowIds)).toEqual({
      '2026-01': 'wf-jan',
      '2026-02': 'wf-feb',
      '2026-03': 'wf-mar',
      '2026-04': 'wf-apr',
      '2026-06': 'wf-jun-again',
    });
    const lines = backfillLines(
      {
        published: Object.fromEntries(outcome.published),
        failed: Object.fromEntries(outcome.failed),
        cancelled: outcome.cancelled,
        missing: outcome.missing,
        workflowIds: Object.fromEntries(outcome.workflowIds),
      },
      { timeoutMinutes: 60, taskQueue: 'segflow', scheduleId: 'monthly' },
    ).split('\n');
    expect(lines).toEqual([
      '  2026-01  published v1  (workflow wf-jan)',
      '  2026-04  FAILED InputFileError: no usage files  (workflow wf-apr; segflow runs show wf-apr)',
      '  2026-02  CANCELLED  (workflow wf-feb; segflow runs show wf-feb)',
      "  2026-03  MISSING: no snapshot after 60 min; its run wf-mar has not ended ('segflow runs show wf-mar' shows where it is, 'segflow runs cancel wf-mar' stops it)",
      // behind the run still going before it: a backfill's months run one at a time
      "  2026-05  MISSING: no snapshot after 60 min; no run of it has started: it waits behind 2026-03's run wf-mar, as a backfill's months run one at a time",
      "  2026-06  MISSING: no snapshot after 60 min; its run wf-jun-again has not ended ('segflow runs show wf-jun-again' shows where it is, 'segflow runs cancel wf-jun-again' stops it)",
    ]);
  });
});

describe("a backfill's outcome per month, from Temporal where the audit log has none", () => {
  const run = (
    month: string,
    workflowId: string,
    status: string,
    startedAt = '2026-06-01T00:00:00Z',
  ): ScheduledRun => ({
    month,
    workflowId,
    runId: `${workflowId}-run`,
    startTime: new Date(startedAt),
    status,
  });

  it('tells a run that failed before writing to the log as soon as it ends, with its failure, and names a run no worker took up', async () => {
    const store = storeIn(await tempDir());
    const since = new Date(Date.now() - 1_000);
    const entry = (event: 'run.requested' | 'run.failed', month: string, id: string) =>
      recordAudit(store, {
        event,
        run: { workflowId: id, runId: `${id}-run` },
        month,
        actor: 'schedule:monthly',
        details: event === 'run.failed' ? { error: { type: 'DataQualityError', message: 'too few subscribers' } } : {},
      });
    // March failed in its own words; April's first run failed and a second one runs
    await entry('run.requested', '2026-03', 'wf-mar');
    await entry('run.failed', '2026-03', 'wf-mar');
    await entry('run.requested', '2026-04', 'wf-apr-1');
    await entry('run.failed', '2026-04', 'wf-apr-1');
    await entry('run.requested', '2026-04', 'wf-apr-2');
    const asked: string[] = [];
    const temporal = {
      list: async () => [
        // failed at its first audit write: nothing of it in the log
        run('2026-01', 'wf-jan', 'FAILED'),
        // no worker polls: Temporal holds it running, the log has nothing of it
        run('2026-02', 'wf-feb', 'RUNNING'),
        run('2026-03', 'wf-mar', 'FAILED'),
        run('2026-04', 'wf-apr-1', 'FAILED', '2026-06-01T00:00:00Z'),
        run('2026-04', 'wf-apr-2', 'RUNNING', '2026-06-01T00:01:00Z'),
      ],
      failure: async (failed: ScheduledRun) => {
        asked.push(failed.workflowId);
        return 'SnapshotStoreError: cannot write the store /s (read-only or not permitted)';
      },
    };
    const months = ['2026-01', '2026-02', '2026-03', '2026-04', '2026-05'];
    const outcome = await waitForScheduledMonths({ store } as SegflowConfig, 'monthly', months, since, 0, temporal);
    expect(Object.fromEntries(outcome.failed)).toEqual({
      '2026-01':
        'SnapshotStoreError: cannot write the store /s (read-only or not permitted) (as Temporal tells it: the audit log has no ending of this run)',
      '2026-03': 'DataQualityError: too few subscribers',
    });
    // Temporal is asked only for a failure the log does not have
    expect(asked).toEqual(['wf-jan']);
    expect(outcome.missing).toEqual(['2026-02', '2026-04', '2026-05']);
    expect(outcome.waiting).toEqual(['2026-02']);
    expect(Object.fromEntries(outcome.workflowIds)).toEqual({
      '2026-01': 'wf-jan',
      '2026-02': 'wf-feb',
      '2026-03': 'wf-mar',
      '2026-04': 'wf-apr-2',
    });
    const lines = backfillLines(
      {
        published: {},
        failed: Object.fromEntries(outcome.failed),
        cancelled: outcome.cancelled,
        missing: outcome.missing,
        workflowIds: Object.fromEntries(outcome.workflowIds),
        waiting: outcome.waiting,
      },
      { timeoutMinutes: 60, taskQueue: 'segflow', scheduleId: 'monthly' },
    ).split('\n');
    expect(lines.filter((line) => line.includes('MISSING'))).toEqual([
      "  2026-02  MISSING: no snapshot after 60 min; its run wf-feb waits in Temporal for a worker, as none has taken it up: is a worker polling segflow? ('segflow runs cancel wf-feb' stops it)",
      "  2026-04  MISSING: no snapshot after 60 min; its run wf-apr-2 has not ended ('segflow runs show wf-apr-2' shows where it is, 'segflow runs cancel wf-apr-2' stops it)",
      "  2026-05  MISSING: no snapshot after 60 min; no run of it has started: it waits behind 2026-02's run wf-feb, as a backfill's months run one at a time",
    ]);
  });

  it('does not wait out the timeout for a month whose run Temporal shows failed, nor trust a listing that lags the log', async () => {
    const store = storeIn(await tempDir());
    const since = new Date(Date.now() - 1_000);
    // the log has a newer run of February than the listing shows yet (visibility lags a start)
    await recordAudit(store, {
      event: 'run.requested',
      run: { workflowId: 'wf-feb-2', runId: 'wf-feb-2-run' },
      month: '2026-02',
      actor: 'schedule:monthly',
      details: {},
    });
    const temporal = {
      list: async () => [run('2026-01', 'wf-jan', 'TERMINATED'), run('2026-02', 'wf-feb-1', 'FAILED')],
      failure: async () => 'TerminatedFailure: terminated by an operator',
    };
    const started = performance.now();
    const outcome = await waitForScheduledMonths(
      { store } as SegflowConfig,
      'monthly',
      ['2026-01'],
      since,
      20_000,
      temporal,
    );
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(Object.fromEntries(outcome.failed)).toEqual({
      '2026-01':
        'TerminatedFailure: terminated by an operator (as Temporal tells it: the audit log has no ending of this run)',
    });
    const february = await waitForScheduledMonths(
      { store } as SegflowConfig,
      'monthly',
      ['2026-02'],
      since,
      0,
      temporal,
    );
    expect(february).toMatchObject({ missing: ['2026-02'], failed: new Map(), waiting: [] });
    expect(february.workflowIds.get('2026-02')).toBe('wf-feb-2');
  }, 30_000);
});

describe("a backfilled month's failure that advises a --param", () => {
  it('says how a schedule takes one: backfill and trigger take none', () => {
    const error =
      "DataQualityError: 2026-10 has 6,000 subscribers, 30% of 2026-09's 20,000 (minRunMonthShare 0.8): it looks cut short. Rerun once the month's files are complete; for a base that truly shrank this much, --param minRunMonthShare=0.3 (0 turns the check off)";
    const lines = backfillLines(
      {
        published: {},
        failed: { '2026-10': error, '2026-11': 'InputFileError: input not found: /data/usage' },
        cancelled: [],
        missing: [],
        workflowIds: { '2026-10': 'wf-oct', '2026-11': 'wf-nov' },
      },
      { timeoutMinutes: 60, taskQueue: 'segflow', scheduleId: 'monthly', input: '/data/usage' },
    ).split('\n');
    expect(lines).toEqual([
      `  2026-10  FAILED ${error}  (workflow wf-oct; segflow runs show wf-oct)`,
      "           a schedule's runs take the parameters it was created with (backfill and trigger take no --param): for 2026-10 alone, 'segflow run --month 2026-10 --input /data/usage' with the schedule's parameters ('segflow schedule describe --id monthly') and --param minRunMonthShare=0.3; for every month, delete the schedule and create it again with --param minRunMonthShare=0.3",
      // no --param advised: nothing added
      '  2026-11  FAILED InputFileError: input not found: /data/usage  (workflow wf-nov; segflow runs show wf-nov)',
    ]);
  });
});

describe('a backfill request', () => {
  it('takes the handle of the schedule the CLI described instead of describing it again, and checks the range as the CLI does', async () => {
    const store = storeIn(await tempDir());
    const asked: unknown[] = [];
    const handle = { backfill: async (request: unknown) => void asked.push(request) } as unknown as ScheduleHandle;
    // a client that would describe the schedule again fails the test
    const client = {
      schedule: {
        getHandle: () => {
          throw new Error('described the schedule a second time');
        },
      },
    } as unknown as Client;
    const months = await backfillMonths(
      client,
      { store, temporal: { taskQueue: 'segflow' } },
      'monthly',
      '2026-01',
      '2026-02',
      { actor: 'operator', handle },
    );
    expect(months).toEqual(['2026-01', '2026-02']);
    expect(asked).toEqual([
      { start: new Date('2026-02-01T00:00:00Z'), end: new Date('2026-04-01T00:00:00Z'), overlap: 'BUFFER_ALL' },
    ]);
    expect((await readAuditLog(store)).map((e) => [e.event, e.actor, e.details])).toEqual([
      // with who ran the command beside the actor
      [
        'schedule.backfilled',
        'operator',
        { from: '2026-01', to: '2026-02', osUser: expect.any(String), host: expect.any(String) },
      ],
    ]);
    await expect(
      backfillMonths(client, { store, temporal: { taskQueue: 'segflow' } }, 'monthly', '2026-03', '2026-01', {
        handle,
      }),
    ).rejects.toThrow(new UsageError('backfill needs --from <= --to, both YYYY-MM (got 2026-03, 2026-01)'));
  });
});
