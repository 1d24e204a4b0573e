import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { DataQualityError } from '../../domain/errors';
import type { SampleSummary } from '../../data/generate';
import type { StoreConfig } from '../../store/layout';
import { HEARTBEAT_THROTTLE } from '../../worker';
import { monthlySegmentation } from '../../workflows/monthly-segmentation';
import { smallSample, storeIn, tempDir } from '../helpers';
import { startTemporal, workflowBundle } from './temporal-env';

/** Where the replay test (tests/unit/workflow-replay.test.ts) finds the histories it replays. */
const HISTORIES_DIR = new URL('../fixtures/histories/', import.meta.url).pathname;

/**
 * Records the histories that the replay test replays against every later workflow bundle:
 * opt-in, because they are fixtures, re-recorded only on purpose (docs/reliability-audit.md):
 *
 *   SEGFLOW_RECORD_HISTORIES=1 npx vitest run tests/e2e/record-histories.test.ts
 *
 * Each is saved as the History message's protobufjs object form (int64 and bytes as strings), which
 * `History.fromObject` reads back. Not the Web UI's proto3 JSON: the SDK's `historyFromJSON` fails in
 * this install (two copies of protobufjs 8 under @temporalio/common and @temporalio/proto).
 */
const historyToObject = (history: temporal.api.history.v1.IHistory) =>
  temporal.api.history.v1.History.toObject(history as temporal.api.history.v1.History, {
    longs: String,
    enums: String,
    bytes: String,
  });

describe.skipIf(process.env.SEGFLOW_RECORD_HISTORIES !== '1')('record workflow histories', () => {
  let env: TestWorkflowEnvironment;
  let store: StoreConfig;
  let sample: SampleSummary;

  beforeAll(async () => {
    let dir: string;
    [env, dir] = await Promise.all([startTemporal(), tempDir()]);
    sample = await smallSample(dir, 3_000, 8);
    store = storeIn(dir);
  });
  afterAll(async () => {
    await env?.teardown();
  });

  async function save(name: string, handle: WorkflowHandle): Promise<void> {
    const history = await handle.fetchHistory();
    expect(history.events?.length).toBeGreaterThan(10);
    await mkdir(HISTORIES_DIR, { recursive: true });
    await writeFile(join(HISTORIES_DIR, `${name}.json`), JSON.stringify(historyToObject(history), null, 1) + '\n');
  }

  const start = (
    taskQueue: string,
    workflowId: string,
    params: Record<string, unknown>,
    partitions = 1,
    reuse = true,
  ) =>
    env.client.workflow.start(monthlySegmentation, {
      taskQueue,
      workflowId,
      args: [
        {
          params: { month: '2026-06', input: join(sample.outDir, 'usage'), k: 5, ...params },
          requestedBy: 'history-recorder',
          partitions,
          reuse,
        },
      ],
    });

  it('a happy path, a partitioned run, a failed run and a cancelled run', async () => {
    let featuresStarted: () => void = () => {};
    const started = new Promise<void>((resolveStarted) => (featuresStarted = resolveStarted));
    const real = createActivities(store);
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'record',
      workflowBundle: await workflowBundle(),
      activities: real,
    });
    // the cancelled run's features stage waits until it is cancelled
    const blocking = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'record-cancel',
      workflowBundle: await workflowBundle(),
      activities: {
        ...real,
        computeFeatures: async () => {
          featuresStarted();
          for (;;) {
            Context.current().heartbeat();
            await Context.current().sleep(200);
          }
        },
      },
    });
    await worker.runUntil(
      blocking.runUntil(async () => {
        const happy = await start('record', 'happy-path', {});
        await happy.result();
        await save('happy-path', happy);

        const partitioned = await start('record', 'partitioned', {}, 2);
        await partitioned.result();
        await save('partitioned', partitioned);

        const failed = await start('record', 'failed', { input: join(sample.outDir, 'no-such-folder') });
        await expect(failed.result()).rejects.toThrow();
        await save('failed', failed);

        // no reuse: the happy path stored these stages, and the run must reach its (blocking) features
        const cancelled = await start('record-cancel', 'cancelled', {}, 1, false);
        await started;
        await cancelled.cancel();
        await expect(cancelled.result()).rejects.toThrow();
        await save('cancelled', cancelled);
      }),
    );
  });

  it('a cancelled run and a run whose partition fails, their stages awaited (the cancelled-stages-awaited patch)', async () => {
    const real = createActivities(store);
    /** A stage that heartbeats until the run cancels it. */
    const untilCancelled = async (): Promise<never> => {
      for (;;) {
        Context.current().heartbeat();
        await Context.current().sleep(200);
      }
    };
    let featuresStarted: () => void = () => {};
    const started = new Promise<void>((resolveStarted) => (featuresStarted = resolveStarted));
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'record-awaited',
      workflowBundle: await workflowBundle(),
      ...HEARTBEAT_THROTTLE,
      activities: {
        ...real,
        computeFeatures: async () => {
          featuresStarted();
          return untilCancelled();
        },
        loadPartition: async (...[plan, index, reuse]: Parameters<typeof real.loadPartition>) => {
          if (plan.partitionDbPaths.length === 1) return real.loadPartition(plan, index, reuse);
          if (index === 0) throw new DataQualityError('partition 0 refused by the recorder');
          return untilCancelled();
        },
      },
    });
    await worker.runUntil(async () => {
      const cancelled = await start('record-awaited', 'cancelled-awaited', {}, 1, false);
      await started;
      await cancelled.cancel();
      await expect(cancelled.result()).rejects.toThrow();
      await save('cancelled-awaited', cancelled);

      const partitionFailed = await start('record-awaited', 'partition-failed', {}, 2, false);
      await expect(partitionFailed.result()).rejects.toThrow();
      await save('partition-failed', partitionFailed);
    });
  });

  it('a run whose churn stage fails beside its clustering, which it cancels and awaits (the side-by-side-all-or-none patch)', async () => {
    let clusterStarted: () => void = () => {};
    const clustering = new Promise<void>((resolveStarted) => (clusterStarted = resolveStarted));
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'record-side-fail',
      workflowBundle: await workflowBundle(),
      ...HEARTBEAT_THROTTLE,
      activities: {
        ...createActivities(store),
        clusterSubscribers: async () => {
          clusterStarted();
          for (;;) {
            Context.current().heartbeat();
            await Context.current().sleep(200);
          }
        },
        trainAndScoreChurn: async () => {
          await clustering;
          throw new DataQualityError('churn refused by the recorder');
        },
      },
    });
    await worker.runUntil(async () => {
      const failed = await start('record-side-fail', 'side-by-side-failed', {}, 1, false);
      await expect(failed.result()).rejects.toThrow();
      await save('side-by-side-failed', failed);
    });
  });

  it('a rerun that takes the stored stages, segments and readable tree (their keys passed to the activities)', async () => {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'record-rerun',
      workflowBundle: await workflowBundle(),
      activities: createActivities(store),
    });
    await worker.runUntil(async () => {
      await (await start('record-rerun', 'rerun-first', { k: 4 })).result();
      // only a value label changed: the load, features, segments, tree, ensemble and scores are taken
      const rerun = await start('record-rerun', 'rerun-stored-models', { k: 4, highValueThreshold: 120 });
      const result = await rerun.result();
      expect(result.reusedStages).toBe(true);
      await save('rerun-stored-models', rerun);
    });
  });
});
