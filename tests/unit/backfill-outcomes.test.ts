import { describe, expect, it } from 'vitest';
import { recordAudit } from '../../activities/audit';
import { waitForScheduledMonths } from '../../pipelines/schedules';
import type { SegflowConfig } from '../../worker/config';
import { storeIn, tempDir } from '../helpers';

describe("a backfill's outcome per month, from the audit log", () => {
  it('tells a cancelled run at once, and names the run of a month still running or that none started', async () => {
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
      ['2026-01', '2026-02', '2026-03', '2026-04', '2026-05'],
      since,
      0,
    );
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(Object.fromEntries(outcome.published)).toEqual({ '2026-01': 1 });
    expect(Object.fromEntries(outcome.failed)).toEqual({
      '2026-02': 'cancelled',
      '2026-04': 'InputFileError: no usage files',
    });
    expect(outcome.missing).toEqual(['2026-03', '2026-05']);
    // the month still running has its run; the one no run of this schedule started has none
    expect(Object.fromEntries(outcome.workflowIds)).toEqual({
      '2026-01': 'wf-jan',
      '2026-02': 'wf-feb',
      '2026-03': 'wf-mar',
      '2026-04': 'wf-apr',
    });
  });
});
