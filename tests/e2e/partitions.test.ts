import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifest } from '../../store/snapshots';
import { generateSample, type SampleSummary } from '../../data/generate';
import { startMonthlyRun } from '../../pipelines/client';
import { activityAttempts } from '../../pipelines/runs';
import { REPO_ROOT, type SegflowConfig } from '../../worker/config';
import { storeIn, tempDir } from '../helpers';
import { startTemporal } from './temporal-env';

/**
 * Scale-out through the real server: two `segflow worker` processes on one task queue, one
 * activity slot each (as two one-core machines would be), share a run split into two
 * partitions, and the snapshot is byte-identical to the one a single partition publishes.
 */
describe('a partitioned run on two workers', () => {
  let env: TestWorkflowEnvironment;
  let config: SegflowConfig;
  let sample: SampleSummary;
  const workers: ChildProcess[] = [];
  const taskQueue = 'e2e-partitions';

  beforeAll(async () => {
    const dir = await tempDir();
    env = await startTemporal();
    sample = await generateSample({
      outDir: join(dir, 'sample'),
      subscribers: 3_000,
      months: 8,
      lastMonth: '2026-06',
      seed: 11,
    });
    config = { home: dir, store: storeIn(dir), temporal: { address: env.address, namespace: 'default', taskQueue } };
    for (let i = 0; i < 2; i++) {
      workers.push(
        spawn(join(REPO_ROOT, 'bin', 'segflow'), ['worker', '--max-activities', '1'], {
          stdio: 'ignore',
          env: {
            ...process.env,
            TEMPORAL_ADDRESS: env.address,
            SEGFLOW_TASK_QUEUE: taskQueue,
            SEGFLOW_STORE: config.store.storeDir,
            SEGFLOW_WORK: config.store.workDir,
            SEGFLOW_LOG_LEVEL: 'error',
          },
        }),
      );
    }
    // both workers polling before the run starts: otherwise the first one up takes both partitions
    for (let i = 0; i < 1_200; i++) {
      const { pollers } = await env.client.workflowService.describeTaskQueue({
        namespace: 'default',
        taskQueue: { name: taskQueue },
        taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      });
      if ((pollers?.length ?? 0) >= 2) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 180_000);
  afterAll(async () => {
    for (const worker of workers) worker.kill('SIGTERM');
    await env?.teardown();
  });

  const runWith = async (partitions: number) => {
    const { handle } = await startMonthlyRun(env.client, config, {
      params: { month: '2026-06', input: join(sample.outDir, 'usage'), k: 4, seed: 3 },
      requestedBy: 'e2e',
      partitions,
      reuse: false, // both compute: the second would otherwise reuse the first's load and features
    });
    const result = await handle.result();
    return { result, attempts: activityAttempts(await handle.fetchHistory()) };
  };

  it('spreads the partitions over both workers and publishes what one partition publishes', async () => {
    const split = await runWith(2);
    const partitionWork = split.attempts.filter(
      (a) => a.activity === 'loadPartition' || a.activity === 'computePartitionFeatures',
    );
    expect(partitionWork.map((a) => a.activity).sort()).toEqual([
      'computePartitionFeatures',
      'computePartitionFeatures',
      'loadPartition',
      'loadPartition',
    ]);
    const loadedBy = partitionWork.filter((a) => a.activity === 'loadPartition').map((a) => a.worker);
    expect(new Set(loadedBy).size).toBe(2); // one partition on each worker process
    expect(split.attempts.map((a) => a.activity)).toContain('combineFeatures');

    const whole = await runWith(1);
    expect(whole.attempts.map((a) => a.activity)).toContain('computeFeatures');
    expect([split.result.version, whole.result.version]).toEqual([1, 2]);
    const dataFiles = async (version: number) =>
      Object.fromEntries(
        (await readManifest(config.store, '2026-06', version)).outputs
          .filter((o) => o.file.endsWith('.parquet'))
          .map((o) => [o.file, o.sha256]),
      );
    const [a, b] = [await dataFiles(1), await dataFiles(2)];
    expect(Object.keys(a).length).toBeGreaterThanOrEqual(4);
    expect(a).toEqual(b);
  });
});
