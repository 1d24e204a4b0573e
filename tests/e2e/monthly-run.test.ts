import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, STAGE_FUNCTIONS, type StageFunctions } from '../../activities';
import { checkpoint } from '../../activities/context';
import { readAuditLog } from '../../store/audit-log';
import { readManifest } from '../../store/snapshots';
import type { SampleSummary } from '../../data/generate';
import { SEGFLOW_MONTH, SEGFLOW_PARAMS_HASH, SEGFLOW_SNAPSHOT_VERSION } from '../../domain/search-attributes';
import { versionDir, type StoreConfig } from '../../store/layout';
import type { SnapshotManifest } from '../../store/manifest';
import { describeRunFailure } from '../../pipelines/client';
import { monthlySegmentation, progressQuery, type RunProgress } from '../../workflows/monthly-segmentation';
import { eventName, PUBLISHED_RUN_EVENTS, smallSample, storeIn, tempDir } from '../helpers';
import { startTemporal, workflowBundle } from './temporal-env';

describe('monthly segmentation through a real Temporal dev server and worker', () => {
  let env: TestWorkflowEnvironment;
  let store: StoreConfig;
  let sample: SampleSummary;
  let dir: string;

  beforeAll(async () => {
    [env, dir] = await Promise.all([startTemporal(), tempDir()]);
    sample = await smallSample(dir, 3_000, 8);
    store = storeIn(dir);
  });
  afterAll(async () => {
    await env?.teardown();
  });

  async function withWorker<T>(taskQueue: string, work: () => Promise<T>, stages?: StageFunctions): Promise<T> {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: createActivities(store, stages),
    });
    return worker.runUntil(work);
  }

  it('loads, segments, scores and publishes a snapshot, with an audit trail', async () => {
    const taskQueue = 'e2e-ok';
    const workflowId = 'e2e-2026-06';
    const result = await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(monthlySegmentation, {
        taskQueue,
        workflowId,
        args: [{ params: { month: '2026-06', input: join(sample.outDir, 'usage'), k: 5 }, requestedBy: 'e2e-test' }],
      });
      const outcome = await handle.result();
      const progress = await handle.query(progressQuery);
      expect(progress).toMatchObject({ stage: 'done', percent: 100 });
      return outcome;
    });

    expect(result).toMatchObject({ month: '2026-06', version: 1, alreadyPublished: false });
    expect(result.segments).toHaveLength(5);
    expect(result.segments.reduce((sum, s) => sum + s.subscribers, 0)).toBe(result.subscribers);
    expect(result.churnRocAuc).toBeGreaterThan(0.7);

    const manifest = await readManifest(store, '2026-06', 1);
    expect(manifest.run.workflowId).toBe(workflowId);
    expect(manifest.outputs.map((o) => o.file).sort()).toEqual([
      'churn_model.json',
      'churn_model_xgboost.json',
      'dispatch.parquet',
      'grids.parquet',
      'holdout.parquet',
      'quarantine.parquet',
      'report.html',
      'segments.parquet',
      'subscribers.parquet',
    ]);
    expect(existsSync(join(store.workDir, 'runs'))).toBe(true);
    expect(await readdir(join(store.workDir, 'runs'))).toEqual([]); // the scratch database is removed after publishing

    const audit = (await readAuditLog(store)).filter((entry) => entry.run.workflowId === workflowId);
    expect(audit.map(eventName)).toEqual(PUBLISHED_RUN_EVENTS);
    expect(audit.every((e) => e.actor === 'e2e-test')).toBe(true);

    // findable in Temporal by month, parameters and version
    const description = await env.client.workflow.getHandle(workflowId).describe();
    expect(description.typedSearchAttributes.get(SEGFLOW_MONTH)).toBe('2026-06');
    expect(description.typedSearchAttributes.get(SEGFLOW_PARAMS_HASH)).toBe(manifest.paramsHash);
    expect(description.typedSearchAttributes.get(SEGFLOW_SNAPSHOT_VERSION)).toBe(1);
  });

  it('fails fast with a typed, non-retryable error on bad input and publishes nothing', async () => {
    const taskQueue = 'e2e-bad';
    const error = await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(monthlySegmentation, {
        taskQueue,
        workflowId: 'e2e-bad-2026-05',
        args: [{ params: { month: '2026-05', input: join(dir, 'does-not-exist') }, requestedBy: 'e2e-test' }],
      });
      return handle.result().then(
        () => undefined,
        (failure: unknown) => failure,
      );
    });
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(describeRunFailure(error)).toMatch(/^InputFileError: input not found/);

    const history = await env.client.workflow.getHandle('e2e-bad-2026-05').fetchHistory();
    const loadAttempts = history.events
      ?.filter((event) => event.activityTaskStartedEventAttributes)
      .map((event) => event.activityTaskStartedEventAttributes?.attempt);
    expect(loadAttempts).toContain(1);
    expect(loadAttempts?.every((attempt) => attempt === 1)).toBe(true);
    expect(existsSync(join(store.storeDir, 'snapshots', '2026-05'))).toBe(false);

    const failed = (await readAuditLog(store)).find(
      (entry) => entry.run.workflowId === 'e2e-bad-2026-05' && entry.event === 'run.failed',
    );
    expect(failed?.details).toMatchObject({ stage: 'load', error: { type: 'InputFileError' } });
  });

  it('reuses the load and features for a rerun with other model parameters, and shows rows inside a stage', async () => {
    const taskQueue = 'e2e-reuse';
    const params = { month: '2026-06', input: join(sample.outDir, 'usage'), k: 4, treeDepth: 4 };
    // the cluster stage reports rows, then waits until the progress query has shown them
    let shown: () => void = () => undefined;
    const seen = new Promise<void>((resolve) => (shown = resolve));
    const stages: StageFunctions = {
      ...STAGE_FUNCTIONS,
      clusterSubscribers: async (...args) => {
        await checkpoint({ stage: 'cluster: test rows', rowsDone: 1_500, rowsTotal: 3_000 });
        await seen;
        return STAGE_FUNCTIONS.clusterSubscribers(...args);
      },
    };
    const [reused, cold, progress] = await withWorker(
      taskQueue,
      async () => {
        const handle = await env.client.workflow.start(monthlySegmentation, {
          taskQueue,
          workflowId: 'e2e-reuse',
          args: [{ params, requestedBy: 'e2e-test' }],
        });
        let progress: RunProgress | undefined;
        for (let tries = 0; tries < 300 && !progress?.detail?.rowsTotal; tries++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          progress = await handle.query(progressQuery);
        }
        shown();
        const first = await handle.result();
        const again = await env.client.workflow.execute(monthlySegmentation, {
          taskQueue,
          workflowId: 'e2e-no-reuse',
          args: [{ params, requestedBy: 'e2e-test', reuse: false }],
        });
        return [first, again, progress];
      },
      stages,
    );
    expect(progress).toMatchObject({
      stage: 'cluster',
      detail: { step: 'cluster: test rows', rowsDone: 1_500, rowsTotal: 3_000 },
    });

    expect(reused.reusedStages).toBe(true);
    expect(cold.reusedStages).toBe(false);
    const [reusedManifest, coldManifest, first] = await Promise.all(
      [reused.version, cold.version, 1].map((version) => readManifest(store, '2026-06', version)),
    );
    // the no-reuse run computed everything again and published the same bytes; the report's
    // header alone names each snapshot's own version and publish time
    const withoutReport = (manifest: SnapshotManifest) => manifest.outputs.filter((o) => o.file !== 'report.html');
    expect(withoutReport(reusedManifest)).toEqual(withoutReport(coldManifest));
    const reportBody = async (version: number) =>
      (await readFile(join(versionDir(store, '2026-06', version), 'report.html'), 'utf8')).replace(
        /<header>[\s\S]*?<\/header>/,
        '',
      );
    expect(await reportBody(reused.version)).toBe(await reportBody(cold.version));
    // the tree depth is the readable tree's: the boosted ensemble the first run trained, and its
    // scores, are reused too
    expect(reusedManifest.lineage?.reused).toMatchObject([
      { stage: 'load-features', key: first.lineage?.stageKey, producedBy: { workflowId: 'e2e-2026-06' } },
      { stage: 'churn-ensemble', key: first.lineage?.churnKeys?.[0], producedBy: { workflowId: 'e2e-2026-06' } },
      { stage: 'churn-scores', key: first.lineage?.churnKeys?.[1], producedBy: { workflowId: 'e2e-2026-06' } },
      // the same scores: the dispatch list's exact reasons too
      { stage: 'dispatch-reasons', key: first.lineage?.reasonsKey, producedBy: { workflowId: 'e2e-2026-06' } },
    ]);
    // the worker's features stage keys its months: the training month's and the scoring month's (stored for next month)
    expect(first.lineage?.featureMonthKeys).toHaveLength(2);
    // and its load each window month's checked rows (the window: six months and the training month)
    expect(first.lineage?.usageMonthKeys).toHaveLength(7);
    // k differs from the first run's: the rerun clustered and stored its segments, which the cold run keys alike
    expect(reusedManifest.lineage?.segmentsKey).not.toBe(first.lineage?.segmentsKey);
    expect(coldManifest.lineage).toEqual({
      stageKey: first.lineage?.stageKey,
      churnKeys: first.lineage?.churnKeys,
      featureMonthKeys: first.lineage?.featureMonthKeys,
      usageMonthKeys: first.lineage?.usageMonthKeys,
      segmentsKey: reusedManifest.lineage?.segmentsKey,
      treeKey: reusedManifest.lineage?.treeKey,
      reasonsKey: first.lineage?.reasonsKey,
      reused: [],
    });

    const audit = (await readAuditLog(store)).filter((entry) => entry.run.workflowId === 'e2e-reuse');
    // the reuse is recorded once the run has started, before the stages it took report as finished
    const [requested, started, ...finished] = PUBLISHED_RUN_EVENTS;
    expect(audit.map(eventName)).toEqual([requested, started, 'stage.reused:load+features', ...finished]);
  });
});
