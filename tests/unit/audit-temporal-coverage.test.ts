import { ServiceError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { unwitnessedRuns, verifyText, type TemporalCheck } from '../../cli/commands/audit';
import { DEV_SERVER_RETENTION_MS, logRunsInTemporal, type LogRunsInTemporal } from '../../pipelines/runs';
import type { AuditEntry } from '../../store/audit-log';
import type { AuditReport } from '../../store/audit-verify';

const HOUR = 3600_000;
const NOW = Date.parse('2026-07-10T12:00:00Z');
const TARGET = { address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'segflow' };

/** An entry as the log has it: only what the coverage reads. */
const entry = (event: string, workflowId: string, runId: string, hoursAgo: number) =>
  ({ event, run: { workflowId, runId }, at: new Date(NOW - hoursAgo * HOUR).toISOString() }) as AuditEntry;

/** Three runs of the last hours, one of two days ago, and entries that are no run's own. */
const ENTRIES = [
  entry('run.requested', 'wf-old', 'old', 50),
  entry('run.published', 'wf-old', 'old', 49.5),
  entry('schedule.created', 'monthly', '', 3),
  entry('run.requested', 'wf-a', 'a', 3),
  entry('run.published', 'wf-a', 'a', 2.5),
  entry('run.requested', 'wf-b', 'b', 2),
  entry('run.failed', 'wf-b', 'b', 1.5),
  entry('run.requested', 'wf-c', 'c', 1),
  // an operator's entry about an old run says nothing of when it ran
  entry('run.cancel-requested', 'wf-old', 'old', 0.5),
];

/** A Temporal that knows the runs in `taskQueues` (run id: task queue) and says its retention, or not. */
function temporalKnowing(taskQueues: Record<string, string>, retentionSeconds?: number) {
  const asked: string[] = [];
  const client = {
    options: { namespace: 'default' },
    workflowService: {
      describeNamespace: async () => {
        if (retentionSeconds === undefined) throw new Error('PermissionDenied');
        return { config: { workflowExecutionRetentionTtl: { seconds: retentionSeconds } } };
      },
    },
    workflow: {
      getHandle: (workflowId: string, runId: string) => ({
        describe: async () => {
          asked.push(runId);
          if (runId === 'not-a-uuid') {
            const grpc = Object.assign(new Error('invalid'), { code: 3, details: 'invalid', metadata: {} });
            throw new ServiceError('Failed to describe workflow', { cause: grpc });
          }
          if (!(runId in taskQueues)) throw new WorkflowNotFoundError('not found', workflowId, runId);
          return { taskQueue: taskQueues[runId] };
        },
      }),
    },
  } as unknown as Client;
  return { client, asked };
}

function text(coverage: LogRunsInTemporal): string {
  const report = {
    ok: true,
    entries: 9,
    head: null,
    chainIntact: true,
    snapshots: 0,
    published: 0,
    retired: 0,
    filesChecked: 0,
    signatures: 'not checked',
    keyId: null,
    publishing: [],
    unended: [],
    problems: [],
  } satisfies AuditReport;
  const temporal: TemporalCheck = { runs: 1, otherStores: 0, completed: [], problems: [], coverage };
  return verifyText({ ...report, temporal });
}

describe("audit verify's Temporal cross-check says how many of the log's recent runs Temporal knows", () => {
  it('a Temporal that knows none of several recent runs (a fresh history, another server) is a finding', async () => {
    const { client, asked } = temporalKnowing({}, 24 * 3600);
    const coverage = await logRunsInTemporal(client, ENTRIES, 'segflow', NOW);
    // the run of two days ago is past the retention: not asked about
    expect(asked).toEqual(['a', 'b', 'c']);
    expect(coverage).toMatchObject({ retentionHours: 24, retentionRead: true, recent: 3, known: 0 });
    expect(unwitnessedRuns(coverage, TARGET)).toEqual({
      where: 'temporal:127.0.0.1:7233/default',
      problem: expect.stringMatching(
        /^TEMPORAL KNOWS NONE OF THE LOG'S RECENT RUNS: the log records 3 runs within the namespace's retention \(24 h\), the newest wf-c at 2026-07-10T11:00:00.000Z, and Temporal knows none of them on task queue segflow: the cross-check witnessed nothing/,
      ),
    });
    expect(text(coverage)).toContain(
      "temporal: it knows none of the log's 3 runs within its retention (24 h) on this task queue: the cross-check cannot witness a cut of the log",
    );
  });

  it('runs it knows on another task queue only (verify asking about the wrong one) are no cross-check either', async () => {
    const { client } = temporalKnowing({ a: 'other', b: 'other', c: 'other' }, 24 * 3600);
    const coverage = await logRunsInTemporal(client, ENTRIES, 'segflow', NOW);
    expect(coverage).toMatchObject({ recent: 3, known: 0, otherTaskQueue: 3 });
    expect(unwitnessedRuns(coverage, TARGET)?.problem).toContain('on task queue segflow (3 on another task queue)');
  });

  it('knowing some is said, not a finding; knowing all, or no run within the retention, reads as before with a note', async () => {
    const some = await logRunsInTemporal(temporalKnowing({ c: 'segflow' }, 24 * 3600).client, ENTRIES, 'segflow', NOW);
    expect(some).toMatchObject({ recent: 3, known: 1 });
    expect(unwitnessedRuns(some, TARGET)).toBeUndefined();
    expect(text(some)).toContain(
      "temporal: it knows only 1 of the log's 3 runs within its retention (24 h) on this task queue: the cross-check cannot witness a cut of the log for the other 2",
    );

    const all = { a: 'segflow', b: 'segflow', c: 'segflow' };
    const known = await logRunsInTemporal(temporalKnowing(all, 24 * 3600).client, ENTRIES, 'segflow', NOW);
    expect(unwitnessedRuns(known, TARGET)).toBeUndefined();
    expect(text(known)).toContain(
      "temporal: 1 completed runs it retains (this task queue) cross-checked against the log; it knows all 3 of the log's runs within its retention (24 h)",
    );

    // a day later every run is past the retention: nothing is expected of Temporal (the anchored head covers them)
    const later = await logRunsInTemporal(temporalKnowing({}, 24 * 3600).client, ENTRIES, 'segflow', NOW + 24 * HOUR);
    expect(later).toMatchObject({ recent: 0, known: 0 });
    expect(unwitnessedRuns(later, TARGET)).toBeUndefined();
    expect(text(later)).toContain(
      '; the log has no run within its retention (24 h): the anchored head covers the older ones',
    );

    // a single recent run unknown is said, not a finding
    const one = await logRunsInTemporal(temporalKnowing({}, 24 * 3600).client, ENTRIES.slice(0, 4), 'segflow', NOW);
    expect(one).toMatchObject({ recent: 1, known: 0 });
    expect(unwitnessedRuns(one, TARGET)).toBeUndefined();
  });

  it("goes by the namespace's retention, or the dev server's when it cannot be read; a run id Temporal refuses is one it does not know", async () => {
    // a namespace keeping closed runs 2 h: only the runs of the last hour and a half are expected
    const short = await logRunsInTemporal(temporalKnowing({}, 2 * 3600).client, ENTRIES, 'segflow', NOW);
    expect(short).toMatchObject({ retentionHours: 2, recent: 2 });
    const unread = await logRunsInTemporal(temporalKnowing({}).client, ENTRIES, 'segflow', NOW);
    expect(unread).toMatchObject({ retentionHours: DEV_SERVER_RETENTION_MS / HOUR, retentionRead: false, recent: 3 });
    expect(text(unread)).toContain("(24 h, the dev server's: the namespace's could not be read)");
    const refused = [entry('run.requested', 'wf-x', 'not-a-uuid', 1), entry('run.requested', 'wf-y', 'y', 1)];
    expect(await logRunsInTemporal(temporalKnowing({}, 24 * 3600).client, refused, 'segflow', NOW)).toMatchObject({
      recent: 2,
      known: 0,
    });
  });
});
