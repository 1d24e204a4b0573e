import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { runDetailText, runsListText } from '../../cli/commands/runs';
import { SnapshotStoreError } from '../../domain/errors';
import { listRuns, showRun } from '../../pipelines/runs';
import { scheduleMemo, storeMemo } from '../../pipelines/run-owner';
import { storeKey } from '../../worker/config';
import { recordAudit } from '../../store/audit-record';
import type { StoreConfig } from '../../store/layout';
import { monthlySegmentation, type MonthlySegmentationMemo } from '../../workflows/monthly-segmentation';
import { storeIn, tempDir } from '../helpers';
import { HEARTBEAT_THROTTLE } from '../../worker';
import { startTemporal, workflowBundle } from './temporal-env';

const TASK_QUEUE = 'runs-without-audit';
/** A backfill's workflow id: a schedule's id and the time the run was scheduled for, reused by a second backfill of the month. */
const WORKFLOW_ID = 'segflow-monthly-2026-09-02T03:00:00Z';

/**
 * A run whose worker cannot write the audit log fails before its first entry: `runs list` listed
 * it nowhere and `runs show` said "Audit log: (none)" and FAILED without a reason; a reused
 * workflow id's earlier runs' entries stood beside it as if they were its own.
 */
describe('runs Temporal knows that the audit log has no entry of', () => {
  let env: TestWorkflowEnvironment;
  let store: StoreConfig;
  const quiet = () => {};

  beforeAll(async () => {
    [env, store] = await Promise.all([startTemporal(), tempDir().then(storeIn)]);
  });
  afterAll(async () => {
    await env?.teardown();
  });

  const start = (workflowId: string, month: string, taskQueue = TASK_QUEUE) =>
    env.client.workflow.start(monthlySegmentation, {
      taskQueue,
      workflowId,
      args: [{ params: { month, input: '/stub' }, requestedBy: 'ana', indexed: false }],
      memo: { month, requestedBy: 'ana' } satisfies MonthlySegmentationMemo,
    });

  it("runs show says why it failed and which entries are an earlier run's; runs list lists it", async () => {
    // an earlier run of the same workflow id published (its entries in the log)
    const earlier = { workflowId: WORKFLOW_ID, runId: 'earlier-run' };
    await recordAudit(store, {
      event: 'run.requested',
      run: earlier,
      month: '2026-08',
      actor: 'schedule:monthly',
      details: { params: {} },
    });
    await recordAudit(store, {
      event: 'run.published',
      run: earlier,
      month: '2026-08',
      actor: 'schedule:monthly',
      details: { version: 1 },
    });
    // this one's worker cannot write the log: it fails at its first entry
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUE,
      workflowBundle: await workflowBundle(),
      activities: {
        ...createActivities(store),
        recordAudit: async () => {
          throw new SnapshotStoreError('cannot write the audit log (simulated): EACCES');
        },
      },
      ...HEARTBEAT_THROTTLE,
    });
    const handle = await worker.runUntil(async () => {
      const started = await start(WORKFLOW_ID, '2026-08');
      await started.result().catch(() => undefined);
      return started;
    });
    const runId = handle.firstExecutionRunId;

    const detail = await showRun(store, env.client, WORKFLOW_ID, quiet);
    expect(detail.temporal).toMatchObject({ status: 'FAILED', runId });
    expect(detail.temporal?.failure).toMatch(/^SnapshotStoreError: cannot write the audit log \(simulated\): EACCES/);
    const text = runDetailText(WORKFLOW_ID, detail, true);
    expect(text).toContain(
      `${WORKFLOW_ID} has had more than one run (a schedule's runs are named by their scheduled time, so a month backfilled again reuses its workflow id): entries marked 'an earlier run' are of a run before the one Temporal shows below (${runId}), those marked 'this run' of that one`,
    );
    expect(text).toMatch(/run\.published +schedule:monthly +earlier-run +an earlier run/);
    expect(text).toContain(
      `no entry of this run (${runId}), the one Temporal shows below: it ended before it wrote its first entry (the failure below says why)`,
    );
    expect(text).toContain(`Temporal: FAILED, run ${runId}, started`);
    expect(text).toMatch(/\nFailure: SnapshotStoreError: cannot write the audit log \(simulated\): EACCES/);

    // a run queued with no worker: no entry yet; terminated, it says by whom Temporal says
    const queued = await start('segflow-2026-07-queued', '2026-07');
    const listed = await listRuns(store, env.client, { limit: 10, taskQueue: TASK_QUEUE }, quiet);
    expect(
      listed.map((run) => [run.workflowId, run.runId, run.month, run.outcome, run.temporalStatus, run.inAuditLog]),
    ).toEqual([
      [WORKFLOW_ID, 'earlier-run', '2026-08', 'published', 'gone (past retention)', true],
      [WORKFLOW_ID, runId, '2026-08', 'no audit entry', 'FAILED', false],
      ['segflow-2026-07-queued', queued.firstExecutionRunId, '2026-07', 'no audit entry yet', 'RUNNING', false],
    ]);
    expect(listed[1]).toMatchObject({ requestedBy: 'ana', version: null });
    expect(runsListText(listed)).toContain(
      'no audit entry: a run Temporal holds that the audit log has nothing of: it ended before it wrote its\n  first entry',
    );
    expect(runsListText(listed)).toContain('2026-08  no audit entry (FAILED)');
    expect(runsListText(listed)).toContain('2026-07  no audit entry yet ');
    // a month asked for, a limit, another task queue
    expect(
      (await listRuns(store, env.client, { month: '2026-07', limit: 10, taskQueue: TASK_QUEUE }, quiet)).map(
        (run) => run.workflowId,
      ),
    ).toEqual(['segflow-2026-07-queued']);
    expect(
      (await listRuns(store, env.client, { limit: 1, taskQueue: TASK_QUEUE }, quiet)).map((run) => run.workflowId),
    ).toEqual(['segflow-2026-07-queued']);
    expect(
      (await listRuns(store, env.client, { limit: 10, taskQueue: 'another-queue' }, quiet)).map((run) => run.runId),
    ).toEqual(['earlier-run']);
    // the audit log alone, when Temporal is not reached
    expect((await listRuns(store, undefined, { limit: 10 }, quiet)).map((run) => run.runId)).toEqual(['earlier-run']);

    await queued.terminate('stuck: no worker for a day');
    const terminated = await showRun(store, env.client, 'segflow-2026-07-queued', quiet);
    expect(terminated.temporal).toMatchObject({
      status: 'TERMINATED',
      failure: 'TerminatedFailure: stuck: no worker for a day',
    });
    expect(runDetailText('segflow-2026-07-queued', terminated, true)).toMatch(
      /^Audit log: no entry of this run \(\S+\): it ended before it wrote its first entry \(the failure below says why\)\n/,
    );
  });

  it("leaves out another store's runs on the same task queue, by the run's memo or its schedule's, and counts them", async () => {
    const queue = 'runs-of-two-stores';
    const theirs = storeIn(await tempDir());
    const startFor = (owner: StoreConfig, workflowId: string) =>
      env.client.workflow.start(monthlySegmentation, {
        taskQueue: queue,
        workflowId,
        args: [{ params: { month: '2026-05', input: '/stub' }, requestedBy: 'ana', indexed: false }],
        memo: { month: '2026-05', requestedBy: 'ana', ...storeMemo(owner) },
      });
    await startFor(store, 'segflow-2026-05-ours');
    await startFor(theirs, 'segflow-2026-05-theirs');
    // a schedule created before runs named their store: its own memo names it
    const schedule = await env.client.schedule.create({
      scheduleId: 'their-schedule',
      memo: scheduleMemo(theirs, undefined),
      spec: { calendars: [{ dayOfMonth: 2, hour: 3 }] },
      action: {
        type: 'startWorkflow',
        workflowType: monthlySegmentation,
        workflowId: 'segflow-monthly-theirs',
        taskQueue: queue,
        args: [{ params: { input: '/stub' }, requestedBy: 'schedule:their-schedule', indexed: false }],
      },
    });
    await schedule.trigger();
    const scheduled = async () => {
      for (let tries = 0; tries < 100; tries++) {
        for await (const run of env.client.workflow.list({ query: `TaskQueue = '${queue}'` }))
          if (run.workflowId.startsWith('segflow-monthly-theirs')) return run;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error('the triggered run did not start');
    };
    await scheduled();
    try {
      const notes: string[] = [];
      const listed = await listRuns(store, env.client, { limit: 10, taskQueue: queue }, (note) => notes.push(note));
      // the first test's log entries are listed too; of the runs only Temporal holds, ours alone
      expect(listed.filter((run) => !run.inAuditLog).map((run) => run.workflowId)).toEqual(['segflow-2026-05-ours']);
      expect(notes).toEqual([
        `note: 2 runs on this task queue belong to another store (${storeKey(theirs)}) and are not listed: SEGFLOW_HOME names the store whose runs are listed`,
      ]);
      // the other store lists its two and leaves ours out
      const theirList = await listRuns(theirs, env.client, { limit: 10, taskQueue: queue }, quiet);
      expect(theirList.map((run) => run.workflowId).sort()).toEqual([
        'segflow-2026-05-theirs',
        expect.stringMatching(/^segflow-monthly-theirs-/),
      ]);
    } finally {
      await schedule.delete();
      for await (const run of env.client.workflow.list({ query: `TaskQueue = '${queue}'` }))
        await env.client.workflow
          .getHandle(run.workflowId, run.runId)
          .terminate('test over')
          .catch(() => undefined);
    }
  });
});
