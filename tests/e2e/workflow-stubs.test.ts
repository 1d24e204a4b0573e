import { Context } from '@temporalio/activity';
import { CancelledFailure, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type SegflowActivities } from '../../activities';
import { DataQualityError, SnapshotStoreError } from '../../domain/errors';
import { STAGE_PROGRESS_SIGNAL } from '../../domain/progress';
import { crossCheckRetainedRuns } from '../../pipelines/audit-crosscheck';
import { showRun } from '../../pipelines/runs';
import { readAuditLog } from '../../store/audit-log';
import type { StoreConfig } from '../../store/layout';
import { monthlySegmentation, progressQuery, type MonthlySegmentationMemo } from '../../workflows/monthly-segmentation';
import { eventName, PUBLISHED_RUN_EVENTS, storeIn, tempDir } from '../helpers';
import { HEARTBEAT_THROTTLE } from '../../worker';
import { startTemporal, workflowBundle } from './temporal-env';

/**
 * The workflow's orchestration alone: every stage is a stub returning a canned summary, the audit
 * log is real. Seconds on the dev server (the SDK's time-skipping server is a separate download,
 * not available offline): audit event order, the progress query, the cancel path, the audit
 * head in the result and memo, and `audit verify`'s cross-check against the runs Temporal retains.
 */
describe('monthly workflow with stub activities', () => {
  let env: TestWorkflowEnvironment;
  let store: StoreConfig;
  const calls: string[] = [];
  let gate: { opened: Promise<void>; open: () => void; reached: Promise<void>; arrive: () => void };

  /** A promise and the function that resolves it: a moment a stub and the test wait for. */
  function signal(): { happened: Promise<void>; happen: () => void } {
    let happen = () => {};
    const happened = new Promise<void>((resolveHappened) => (happen = resolveHappened));
    return { happened, happen };
  }

  function newGate() {
    const [opened, reached] = [signal(), signal()];
    gate = { opened: opened.happened, open: opened.happen, reached: reached.happened, arrive: reached.happen };
  }

  function stubs(): Partial<SegflowActivities> {
    const stage =
      <T>(name: string, result: T) =>
      async () => {
        calls.push(name);
        return result as never;
      };
    const load = {
      params: { month: '2026-06' },
      paramsHash: 'p'.repeat(64),
      inputFiles: [],
      rowsRead: 10,
      rowsLoaded: 9,
      rowsQuarantined: 1,
      quarantineByReason: { negative_spend: 1 },
      rowsOutsideWindow: 0,
      partitionDbPaths: ['/stub.duckdb'],
    };
    return {
      planLoad: stage('planLoad', { partitionDbPaths: ['/stub.duckdb'] }),
      reuseStages: stage('reuseStages', { key: 'k'.repeat(64), reused: null, reason: 'stub: nothing stored' }),
      loadPartition: stage('loadPartition', {}),
      combineLoad: stage('combineLoad', load),
      computeFeatures: stage('computeFeatures', { skippedFeatures: [], seconds: 1 }),
      storeStages: stage('storeStages', { stored: true, path: '/store/cache/stub', bytes: 1 }),
      findPreviousSegmentation: stage('findPreviousSegmentation', null),
      clusterSubscribers: async () => {
        calls.push('clusterSubscribers');
        gate.arrive();
        await gate.opened;
        return {
          k: 2,
          inertia: 1,
          previous: null,
          segments: [{ segmentId: 1, name: 'Loyal', subscribers: 9 }],
        } as never;
      },
      trainAndScoreChurn: stage('trainAndScoreChurn', {
        scoredRows: 9,
        holdout: { rocAuc: 0.9, liftByDecile: [4] },
        riskBandCounts: { high: 2 },
      }),
      publishSnapshot: stage('publishSnapshot', {
        month: '2026-06',
        version: 1,
        path: '/store/v1',
        manifestPath: '/store/v1/manifest.json',
        manifestSha256: 'm'.repeat(64),
        alreadyPublished: false,
      }),
      removeRunWorkspace: stage('removeRunWorkspace', undefined),
    };
  }

  /** The stub features stage with a number of subscribers to score (side by side up to SIDE_BY_SIDE_MAX_SUBSCRIBERS). */
  function featuresToScore(scoringRows: number): SegflowActivities['computeFeatures'] {
    const features = stubs().computeFeatures!;
    return async (...args) => ({ ...(await features(...args)), scoringRows });
  }

  async function withWorker<T>(taskQueue: string, extra: Partial<SegflowActivities>, work: () => Promise<T>) {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: { ...createActivities(store), ...stubs(), ...extra },
      ...HEARTBEAT_THROTTLE,
    });
    return worker.runUntil(work);
  }

  /** A stage that heartbeats until its run cancels it, then takes a moment to stop, as a real one's statement does. */
  async function untilCancelled(name: string): Promise<never> {
    try {
      for (;;) {
        Context.current().heartbeat();
        await Context.current().sleep(100);
      }
    } finally {
      await new Promise((resolve) => setTimeout(resolve, 300));
      calls.push(`${name} stopped`);
    }
  }

  const start = (taskQueue: string, workflowId: string, partitions = 1) =>
    env.client.workflow.start(monthlySegmentation, {
      taskQueue,
      workflowId,
      args: [{ params: { month: '2026-06', input: '/stub' }, requestedBy: 'stub-test', indexed: false, partitions }],
      memo: { month: '2026-06', requestedBy: 'stub-test' } satisfies MonthlySegmentationMemo,
    });
  /** What the run failed with (undefined if it completed). */
  const failureOf = (handle: WorkflowHandle) =>
    handle.result().then(
      () => undefined,
      (error: unknown) => error,
    );
  const eventsOf = async (workflowId: string) =>
    (await readAuditLog(store)).filter((e) => e.run.workflowId === workflowId).map(eventName);

  beforeAll(async () => {
    [env, store] = await Promise.all([startTemporal(), tempDir().then(storeIn)]);
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('audits every step in order, answers the progress query, and reports the audit head in result and memo', async () => {
    newGate();
    calls.length = 0;
    const { result, progress, memo } = await withWorker('stubs-ok', {}, async () => {
      const handle = await start('stubs-ok', 'stub-ok');
      await gate.reached;
      const during = await handle.query(progressQuery);
      gate.open();
      const outcome = await handle.result();
      return { result: outcome, progress: during, memo: (await handle.describe()).memo };
    });
    expect(progress).toEqual({ month: '2026-06', stage: 'cluster', stagesDone: 2, stagesTotal: 5, percent: 40 });
    expect(await eventsOf('stub-ok')).toEqual(PUBLISHED_RUN_EVENTS);
    expect(calls).toEqual([
      'planLoad',
      'reuseStages',
      'loadPartition',
      'combineLoad',
      'computeFeatures',
      'storeStages',
      'findPreviousSegmentation',
      'clusterSubscribers',
      'trainAndScoreChurn',
      'publishSnapshot',
      'removeRunWorkspace',
    ]);
    const published = (await readAuditLog(store)).find((e) => e.event === 'run.published')!;
    expect(result.auditHead).toBe(`${published.seq}:${published.hash}`);
    expect(memo).toMatchObject({ month: '2026-06', published: { version: 1, auditHead: result.auditHead } });
  });

  it("an experiment's publish request says so, and so does its result", async () => {
    newGate();
    gate.open();
    const requests: unknown[] = [];
    const publishSnapshot: SegflowActivities['publishSnapshot'] = async (_run, request) => {
      requests.push(request);
      return {
        month: '2026-06',
        version: 2,
        path: '/store/v2',
        manifestPath: '/store/v2/manifest.json',
        manifestSha256: 'm'.repeat(64),
        alreadyPublished: false,
        experiment: true,
      };
    };
    const result = await withWorker('stubs-experiment', { publishSnapshot }, () =>
      env.client.workflow.execute(monthlySegmentation, {
        taskQueue: 'stubs-experiment',
        workflowId: 'stub-experiment',
        args: [
          { params: { month: '2026-06', input: '/stub', k: 3 }, requestedBy: 'ana', indexed: false, experiment: true },
        ],
      }),
    );
    expect(requests).toEqual([expect.objectContaining({ requestedBy: 'ana', experiment: true })]);
    expect(result).toMatchObject({ version: 2, experiment: true });
    const published = (await readAuditLog(store)).find(
      (e) => e.event === 'run.published' && e.run.workflowId === 'stub-experiment',
    );
    expect(published?.details).toMatchObject({ version: 2, experiment: true });
    const requested = (await readAuditLog(store)).find(
      (e) => e.event === 'run.requested' && e.run.workflowId === 'stub-experiment',
    );
    expect(requested?.details).toMatchObject({ experiment: true });
  });

  it('fails a run started with a heartbeat timeout that is not a duration, instead of retrying its workflow task for ever', async () => {
    calls.length = 0;
    const failure = await withWorker('stubs-bad-timeout', {}, async () => {
      const handle = await env.client.workflow.start(monthlySegmentation, {
        taskQueue: 'stubs-bad-timeout',
        workflowId: 'stub-bad-timeout',
        args: [
          {
            params: { month: '2026-06', input: '/stub' },
            requestedBy: 'stub-test',
            indexed: false,
            heartbeatTimeout: '5x',
          },
        ],
      });
      return failureOf(handle);
    });
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause?.message).toMatch(/heartbeatTimeout "5x" is not a duration/);
    // no stage ran; the failed run's workspace is removed all the same (there is none: nothing to do)
    expect(calls).toEqual(['removeRunWorkspace']);
    expect(await eventsOf('stub-bad-timeout')).toEqual(['run.requested', 'run.failed']);
    // a negative duration parses, but no server takes it
    const negative = await withWorker('stubs-bad-timeout', {}, async () =>
      failureOf(
        await env.client.workflow.start(monthlySegmentation, {
          taskQueue: 'stubs-bad-timeout',
          workflowId: 'stub-negative-timeout',
          args: [
            {
              params: { month: '2026-06', input: '/stub' },
              requestedBy: 'stub-test',
              indexed: false,
              heartbeatTimeout: '-5s',
            },
          ],
        }),
      ),
    );
    expect((negative as WorkflowFailedError).cause?.message).toMatch(/heartbeatTimeout "-5s" is not a duration/);
  });

  it('a run cancelled before any worker took it records run.requested and run.cancelled once a worker does', async () => {
    calls.length = 0;
    const handle = await start('stubs-early-cancel', 'stub-early-cancel');
    await handle.cancel();
    const failure = await withWorker('stubs-early-cancel', {}, () => failureOf(handle));
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(calls).toEqual(['removeRunWorkspace']);
    expect(await eventsOf('stub-early-cancel')).toEqual(['run.requested', 'run.cancelled']);
  });

  it('a cancelled run records run.cancelled at its stage, cleans its workspace and publishes nothing', async () => {
    calls.length = 0;
    const featuresStarted = signal();
    const failure = await withWorker(
      'stubs-cancel',
      {
        computeFeatures: async () => {
          featuresStarted.happen();
          return untilCancelled('computeFeatures');
        },
      },
      async () => {
        const handle = await start('stubs-cancel', 'stub-cancel');
        await featuresStarted.happened;
        expect(await handle.query(progressQuery)).toMatchObject({ stage: 'features', stagesDone: 1 });
        await handle.cancel();
        return failureOf(handle);
      },
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(await eventsOf('stub-cancel')).toEqual([
      'run.requested',
      'run.started',
      'stage.finished:load',
      'run.cancelled',
    ]);
    const cancelled = (await readAuditLog(store)).find(
      (e) => e.event === 'run.cancelled' && e.run.workflowId === 'stub-cancel',
    )!;
    expect(cancelled.details).toMatchObject({ stage: 'features' });
    // the stage is awaited until it has stopped: nothing writes into the workspace once it is removed
    expect(calls.slice(-2)).toEqual(['computeFeatures stopped', 'removeRunWorkspace']);
    expect(calls).not.toContain('publishSnapshot');
  });

  it('a stage that fails as it stops still leaves its run cancelled, not failed', async () => {
    calls.length = 0;
    const outcome = await withWorker(
      'stubs-cancel-fails',
      {
        computeFeatures: async () => {
          calls.push('computeFeatures');
          try {
            return await untilCancelled('computeFeatures');
          } catch {
            throw new Error('stub: the statement was interrupted');
          }
        },
      },
      async () => {
        const handle = await start('stubs-cancel-fails', 'stub-cancel-fails');
        while (!calls.includes('computeFeatures')) await new Promise((resolve) => setTimeout(resolve, 20));
        await handle.cancel();
        return { failure: await failureOf(handle), status: (await handle.describe()).status.name };
      },
    );
    expect((outcome.failure as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(outcome.status).toBe('CANCELLED');
    expect((await eventsOf('stub-cancel-fails')).at(-1)).toBe('run.cancelled');
  });

  it('an audit entry in flight when the run is cancelled lands before run.cancelled', async () => {
    const inFlight = signal();
    const real = createActivities(store).recordAudit;
    await withWorker(
      'stubs-cancel-audit',
      {
        recordAudit: async (request) => {
          if (request.event === 'stage.finished' && request.subject === 'load') {
            inFlight.happen();
            await new Promise((resolve) => setTimeout(resolve, 1_000)); // a slow disk
          }
          return real(request);
        },
      },
      async () => {
        const handle = await start('stubs-cancel-audit', 'stub-cancel-audit');
        await inFlight.happened;
        await handle.cancel();
        return failureOf(handle);
      },
    );
    expect(await eventsOf('stub-cancel-audit')).toEqual([
      'run.requested',
      'run.started',
      'stage.finished:load',
      'run.cancelled',
    ]);
  });

  it('a stage that completes after its run was cancelled ends the run at that stage, not at the next one', async () => {
    calls.length = 0;
    await withWorker(
      'stubs-cancel-completes',
      {
        trainAndScoreChurn: async () => {
          calls.push('trainAndScoreChurn');
          const context = Context.current();
          // finishes its work though told to stop
          while (!context.cancellationSignal.aborted) {
            context.heartbeat();
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
          return { scoredRows: 9, holdout: { rocAuc: 0.9, liftByDecile: [4] }, riskBandCounts: { high: 2 } } as never;
        },
      },
      async () => {
        newGate();
        gate.open();
        const handle = await start('stubs-cancel-completes', 'stub-cancel-completes');
        while (!calls.includes('trainAndScoreChurn')) await new Promise((resolve) => setTimeout(resolve, 20));
        await handle.cancel();
        return failureOf(handle);
      },
    );
    const cancelled = (await readAuditLog(store)).find(
      (e) => e.event === 'run.cancelled' && e.run.workflowId === 'stub-cancel-completes',
    );
    expect(cancelled?.details).toMatchObject({ stage: 'churn' });
    expect(calls).not.toContain('publishSnapshot');
  });

  it('a cancel that arrives while publishing leaves a failure of the publish a failure', async () => {
    calls.length = 0;
    const cancelAsked = signal();
    const outcome = await withWorker(
      'stubs-publish-fails',
      {
        publishSnapshot: async () => {
          calls.push('publishSnapshot');
          await cancelAsked.happened;
          throw new SnapshotStoreError('stub: the store is read-only');
        },
      },
      async () => {
        const handle = await start('stubs-publish-fails', 'stub-publish-fails');
        while (!calls.includes('publishSnapshot')) await new Promise((resolve) => setTimeout(resolve, 20));
        await handle.cancel();
        cancelAsked.happen();
        return { failure: await failureOf(handle), status: (await handle.describe()).status.name };
      },
    );
    expect(outcome.status).toBe('FAILED');
    expect((await eventsOf('stub-publish-fails')).at(-1)).toBe('run.failed');
  });

  it('a partition that fails cancels the others and awaits them, then removes the workspace', async () => {
    calls.length = 0;
    const failure = await withWorker(
      'stubs-partition-fail',
      {
        planLoad: async () => ({ partitionDbPaths: ['/stub-0.duckdb', '/stub-1.duckdb'] }) as never,
        loadPartition: async (_plan, index) => {
          if (index === 0) {
            // the other partition is under way before this one fails
            while (!calls.includes('loadPartition 1')) await new Promise((resolve) => setTimeout(resolve, 20));
            throw new DataQualityError('stub: no rows in partition 0');
          }
          calls.push('loadPartition 1');
          return untilCancelled('loadPartition 1') as never;
        },
      },
      async () => failureOf(await start('stubs-partition-fail', 'stub-partition-fail', 2)),
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause?.cause).toMatchObject({ message: 'stub: no rows in partition 0' });
    expect(await eventsOf('stub-partition-fail')).toEqual(['run.requested', 'run.started', 'run.failed']);
    expect(calls.slice(-2)).toEqual(['loadPartition 1 stopped', 'removeRunWorkspace']);
  });

  it('audit verify names a completed run that the log lacks, and a recorded head the log no longer reaches', async () => {
    const entries = await readAuditLog(store);
    // visibility (the list of runs) catches up with completions within a moment
    let check = await crossCheckRetainedRuns(env.client, entries, 'stubs-ok', '/store');
    for (let i = 0; i < 100 && check.runs < 1; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      check = await crossCheckRetainedRuns(env.client, entries, 'stubs-ok', '/store');
    }
    expect(check).toEqual({ runs: 1, otherStores: 0, completed: ['2026-06/v1'], problems: [] });
    const published = entries.find((e) => e.event === 'run.published')!;
    const truncated = entries.filter((e) => e.seq < published.seq);
    const problems = (await crossCheckRetainedRuns(env.client, truncated, 'stubs-ok', '/store')).problems.map(
      (p) => p.problem,
    );
    expect(problems).toEqual([
      'RUN MISSING FROM THE LOG: this completed run published 2026-06/v1, but the audit log has no run.published entry for it',
      expect.stringMatching(
        new RegExp(`recorded audit head ${published.seq}:.* no longer reaches seq ${published.seq} \\(truncated\\)`),
      ),
    ]);
    // a log without any entry of the run: the run is this store's when it published into it (here
    // /store/v1, the stub's path), and another store's otherwise
    expect((await crossCheckRetainedRuns(env.client, [], 'stubs-ok', '/store')).problems.map((p) => p.problem)).toEqual(
      [
        'RUN MISSING FROM THE LOG: this completed run published 2026-06/v1, but the audit log has no run.published entry for it',
        expect.stringMatching(/no longer reaches seq \d+ \(truncated\)/),
      ],
    );
    // the run's entries cut and its version published again by another run: named a rebuild
    const rebuilt = [{ ...published, run: { workflowId: 'segflow-2026-06-again', runId: 'r2' } }];
    expect((await crossCheckRetainedRuns(env.client, rebuilt, 'stubs-ok', '/store')).problems[0].problem).toBe(
      "PUBLISHED SNAPSHOT REBUILT: this completed run published 2026-06/v1 and the audit log has no entry of it, while the log's run.published of 2026-06/v1 (seq " +
        `${published.seq}) is run segflow-2026-06-again's: 2026-06/v1 was published again after this run's entries were cut from the log, so what the store holds under that name is not what this run published`,
    );
    expect(await crossCheckRetainedRuns(env.client, [], 'stubs-ok', '/elsewhere/snapshots')).toEqual({
      runs: 0,
      otherStores: 1,
      completed: [],
      problems: [],
    });
  });
  it('clusters and scores side by side: churn runs while clustering is held, the audit keeps its order', async () => {
    newGate();
    calls.length = 0;
    const { result, progress, running } = await withWorker(
      'stubs-side',
      { computeFeatures: featuresToScore(9) },
      async () => {
        const handle = await start('stubs-side', 'stub-side');
        await gate.reached;
        while (!calls.includes('trainAndScoreChurn')) await new Promise((resolve) => setTimeout(resolve, 50));
        const during = await handle.query(progressQuery);
        // runs show names the stage running now, held at the gate
        const shown = await showRun(store, env.client, 'stub-side');
        gate.open();
        return { result: await handle.result(), progress: during, running: shown.temporal?.running };
      },
    );
    expect(result.version).toBe(1);
    expect(progress).toMatchObject({ stage: 'cluster', stagesDone: 2 });
    expect(running).toEqual([
      { activity: 'clusterSubscribers', state: 'started', attempt: 1, lastFailure: '', worker: expect.any(String) },
    ]);
    expect(await eventsOf('stub-side')).toEqual(PUBLISHED_RUN_EVENTS);
    expect(calls.indexOf('trainAndScoreChurn')).toBeLessThan(calls.indexOf('publishSnapshot'));
  });

  it("shows a stage's latest attempt's progress, not a late report of an earlier attempt (a killed worker's)", async () => {
    newGate();
    const detail = await withWorker('stubs-attempts', { computeFeatures: featuresToScore(9) }, async () => {
      const handle = await start('stubs-attempts', 'stub-attempts');
      await gate.reached;
      const report = (attempt: number, step: string) =>
        handle.signal(STAGE_PROGRESS_SIGNAL, { activityId: '9', stage: 'cluster', step, attempt });
      await report(2, 'cluster: fitting k-means, k = 3');
      await report(1, 'cluster: writing segments');
      const shown = (await handle.query(progressQuery)).detail;
      gate.open();
      await handle.result();
      return shown;
    });
    expect(detail).toEqual({ step: 'cluster: fitting k-means, k = 3' });
  });

  it('side by side, the first stage to fail cancels the other and awaits it, and names the run failed at its own stage', async () => {
    const failSideBySide = async (workflowId: string, failing: 'cluster' | 'churn') => {
      calls.length = 0;
      const [fails, runsOn] =
        failing === 'churn'
          ? (['trainAndScoreChurn', 'clusterSubscribers'] as const)
          : (['clusterSubscribers', 'trainAndScoreChurn'] as const);
      const failure = await withWorker(
        workflowId,
        {
          computeFeatures: featuresToScore(9),
          [runsOn]: async () => {
            calls.push(runsOn);
            return untilCancelled(runsOn);
          },
          [fails]: async () => {
            // the other stage is under way before this one fails
            while (!calls.includes(runsOn)) await new Promise((resolve) => setTimeout(resolve, 20));
            throw new DataQualityError(`stub: ${failing} refused`);
          },
        },
        async () => failureOf(await start(workflowId, workflowId)),
      );
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      expect((failure as WorkflowFailedError).cause?.cause).toMatchObject({ message: `stub: ${failing} refused` });
      expect(await eventsOf(workflowId)).toEqual([
        'run.requested',
        'run.started',
        'stage.finished:load',
        'stage.finished:features',
        'run.failed',
      ]);
      const failed = (await readAuditLog(store)).find(
        (e) => e.event === 'run.failed' && e.run.workflowId === workflowId,
      )!;
      expect(failed.details).toMatchObject({ stage: failing });
      expect(calls).not.toContain('publishSnapshot');
      // the other stage stopped before the run's scratch was removed
      expect(calls.slice(-2)).toEqual([`${runsOn} stopped`, 'removeRunWorkspace']);
    };
    await failSideBySide('stub-side-fail-churn', 'churn');
    await failSideBySide('stub-side-fail-cluster', 'cluster');
  });
});
