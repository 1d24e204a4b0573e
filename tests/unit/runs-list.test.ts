import { describe, expect, it } from 'vitest';
import { recordAudit } from '../../store/audit-record';
import { activityAttempts, listRuns, outcomeOf } from '../../pipelines/runs';
import { storeIn, tempDir } from '../helpers';

/** `segflow runs list` reads runs from the audit log: what became of each, and whether it was an experiment. */
describe('runs list', () => {
  it("names an experiment's outcome as one, failed or published", async () => {
    const store = storeIn(await tempDir());
    const month = '2026-06';
    const record = (runId: string, event: 'run.requested' | 'run.failed' | 'run.published', details = {}) =>
      recordAudit(store, { event, run: { workflowId: `wf-${runId}`, runId }, month, actor: 'ana', details });
    await record('plain', 'run.requested', { params: { month } });
    await record('plain', 'run.published', { version: 1 });
    await record('tried', 'run.requested', { params: { month, k: 4 }, experiment: true });
    await record('tried', 'run.failed', { error: 'DataQualityError' });
    await record('kept', 'run.requested', { params: { month, k: 5 }, experiment: true });
    await record('kept', 'run.published', { version: 2, experiment: true });
    // an experiment adopted, then left again: its run says it was promoted, not that it is the latest
    await recordAudit(store, {
      event: 'snapshot.promoted',
      run: { workflowId: 'wf-kept', runId: 'kept' },
      month,
      actor: 'ana',
      subject: `${month}/v2 at 2026-07-01T00:00:00Z`,
      details: { version: 2, previous: 1 },
    });
    // cancelled while a model stage ran: that stage's failed attempt is recorded after the run's end
    await record('cancelled', 'run.requested', { params: { month } });
    await recordAudit(store, {
      event: 'run.cancelled',
      run: { workflowId: 'wf-cancelled', runId: 'cancelled' },
      month,
      actor: 'ana',
      details: {},
    });
    await recordAudit(store, {
      event: 'stage.attempt-failed',
      run: { workflowId: 'wf-cancelled', runId: 'cancelled' },
      month,
      actor: 'ana',
      subject: 'cluster#1',
      details: {},
    });
    const runs = await listRuns(store, undefined, { limit: 10 });
    expect(runs.map((run) => [run.runId, run.outcome, run.version])).toEqual([
      ['plain', 'published', 1],
      ['tried', 'failed (experiment)', null],
      ['kept', 'published, since promoted (experiment)', 2],
      ['cancelled', 'cancelled', null],
    ]);
  });

  it('says a run Temporal holds closed without an ending in the log ended unrecorded (terminated), not running', () => {
    const entry = (event: string) => ({ event }) as Parameters<typeof outcomeOf>[0][number];
    const started = [entry('run.requested'), entry('run.started')];
    expect(outcomeOf(started, 'RUNNING')).toBe('running');
    expect(outcomeOf(started, 'TERMINATED')).toBe('ended unrecorded');
    expect(outcomeOf([...started, entry('run.published')], 'COMPLETED')).toBe('published');
  });
});

describe("runs show's activity attempts", () => {
  it('names an activity cancelled before any worker took it up as such, with no worker', () => {
    const time = (seconds: number) => ({ seconds, nanos: 0 });
    const attempts = activityAttempts({
      events: [
        {
          eventId: 5,
          eventTime: time(10),
          activityTaskScheduledEventAttributes: { activityType: { name: 'computeFeatures' } },
        },
        {
          eventId: 6,
          eventTime: time(11),
          activityTaskScheduledEventAttributes: { activityType: { name: 'loadPartition' } },
        },
        {
          eventId: 7,
          eventTime: time(12),
          activityTaskStartedEventAttributes: { scheduledEventId: 5, attempt: 1, identity: 'w1' },
        },
        { eventId: 8, eventTime: time(15), activityTaskCanceledEventAttributes: { scheduledEventId: 5 } },
        { eventId: 9, eventTime: time(15), activityTaskCanceledEventAttributes: { scheduledEventId: 6 } },
      ],
    } as never);
    expect(attempts.map(({ activity, outcome, seconds, worker }) => [activity, outcome, seconds, worker])).toEqual([
      ['computeFeatures', 'cancelled', 3, 'w1'],
      ['loadPartition', 'cancelled before it started', 0, '-'],
    ]);
  });
});
