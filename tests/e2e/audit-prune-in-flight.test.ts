import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { generateSample, type SampleSummary } from '../../data/generate';
import { previousMonth } from '../../cli/options';
import { startMonthlyRun } from '../../pipelines/client';
import { readAuditLog } from '../../store/audit-log';
import { verifyAudit } from '../../store/audit-verify';
import { readManifest } from '../../store/snapshots';
import { lineageKeys } from '../../store/manifest';
import { listCache, pruneCache } from '../../store/stage-cache';
import { HEARTBEAT_THROTTLE } from '../../worker';
import type { SegflowConfig } from '../../worker/config';
import { storeIn, tempDir } from '../helpers';
import { startTemporal, workflowBundle } from './temporal-env';

/**
 * The auditor's walkthrough: a run in flight (`run --no-wait`) while `cache prune --older-than 0m
 * --max-size 0` runs in a loop. Every artifact the run's published manifest names must still be
 * in the cache, and the log must verify.
 */
describe('cache prune beside a run in flight', () => {
  let env: TestWorkflowEnvironment;
  let config: SegflowConfig;
  let sample: SampleSummary;
  let worker: Worker;
  let workerRun: Promise<void>;
  const month = previousMonth();

  beforeAll(async () => {
    const dir = await tempDir();
    env = await startTemporal();
    sample = await generateSample({
      outDir: join(dir, 'sample'),
      subscribers: 2_500,
      months: 8,
      lastMonth: month,
      seed: 5,
    });
    config = {
      home: dir,
      store: storeIn(dir),
      temporal: { address: env.address, namespace: 'default', taskQueue: 'e2e-prune' },
    };
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'e2e-prune',
      workflowBundle: await workflowBundle(),
      activities: createActivities(config.store),
      ...HEARTBEAT_THROTTLE,
    });
    workerRun = worker.run();
  });
  afterAll(async () => {
    worker?.shutdown();
    await workerRun;
    await env?.teardown();
  });

  it('keeps what the run stores until it has published, and the manifest points at what is there', async () => {
    const { handle } = await startMonthlyRun(env.client, config, {
      params: { month, input: join(sample.outDir, 'usage'), k: 4 },
      requestedBy: 'analyst',
    });
    let done = false;
    const result = handle.result().finally(() => (done = true));
    const removed = new Set<string>();
    const seen = new Set<string>();
    let held = 0;
    while (!done) {
      const pruned = await pruneCache(config.store, { olderThanMs: 0, maxBytes: 0 });
      for (const artifact of pruned.removed) removed.add(`${artifact.stage}/${artifact.key}`);
      for (const artifact of [...pruned.kept, ...pruned.removed]) seen.add(artifact.key);
      held = Math.max(held, pruned.heldForRuns.length);
      await sleep(200);
    }
    const { version } = await result;
    const lineage = (await readManifest(config.store, month, version)).lineage!;
    const named = lineageKeys(lineage);
    expect(named.length).toBeGreaterThanOrEqual(6);
    const stored = new Set((await listCache(config.store)).map((artifact) => artifact.key));
    // what the auditor's walkthrough lost: the run's own load-features, segments, tree, churn and reasons
    const own = [
      lineage.stageKey,
      lineage.segmentsKey,
      lineage.treeKey,
      ...(lineage.churnKeys ?? []),
      lineage.reasonsKey,
    ];
    expect(own.filter((key) => !key || !stored.has(key))).toEqual([]);
    // every key the manifest names that the cache held during the run is still there (the training
    // month's features of a first run are computed, not stored: named, never held)
    expect(named.filter((key) => seen.has(key) && !stored.has(key))).toEqual([]);
    expect([...removed].filter((ref) => named.some((key) => ref.endsWith(`/${key}`)))).toEqual([]);
    // what the prunes removed (the run's plan readings no manifest names, once it published) is in the log
    const prunes = (await readAuditLog(config.store)).filter((entry) => entry.event === 'cache.pruned');
    expect(prunes.flatMap((entry) => (entry.details?.removed as { key: string }[]).map((a) => a.key)).length).toBe(
      removed.size,
    );
    expect(await verifyAudit(config.store)).toMatchObject({ ok: true, published: 1 });
    // the loop saw the run's artifacts and held them
    expect(held).toBeGreaterThan(0);
  });
});
