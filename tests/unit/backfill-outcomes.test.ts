import type { Client, ScheduleHandle } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { recordAudit } from '../../store/audit-record';
import { backfillLines } from '../../cli/commands/schedule';
import { UsageError } from '../../domain/errors';
import { backfillMonths, waitForScheduledMonths } from '../../pipelines/schedules';
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
      "  2026-05  MISSING: no snapshot after 60 min; no run of it has started: is a worker polling segflow? ('segflow schedule describe --id monthly' shows the schedule's runs)",
      "  2026-06  MISSING: no snapshot after 60 min; its run wf-jun-again has not ended ('segflow runs show wf-jun-again' shows where it is, 'segflow runs cancel wf-jun-again' stops it)",
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
    const months = await backfillMonths(client, store, 'monthly', '2026-01', '2026-02', { actor: 'operator', handle });
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
    await expect(backfillMonths(client, store, 'monthly', '2026-03', '2026-01', { handle })).rejects.toThrow(
      new UsageError('backfill needs --from <= --to, both YYYY-MM (got 2026-03, 2026-01)'),
    );
  });
});
