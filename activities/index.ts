/**
 * The activities a segflow worker registers. Each stage is a plain function of (paths, params)
 * tested on its own; this module binds them to the store, keeps heartbeats going while a long
 * DuckDB statement runs off the event loop, and records every failed attempt in the audit log.
 */
import { statfsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Context } from '@temporalio/activity';
import { DiskFullError, InvalidParamsError, isStoreFull, NON_RETRYABLE_ERROR_TYPES } from '../domain/errors';
import { runDir, type RunRef, type StoreConfig } from '../store/layout';
import type { AuditHead, AuditRecordRequest } from '../store/audit-log';
import { recordAudit } from '../store/audit-record';
import { markAttemptRunning } from '../store/running-markers';
import type { Signer } from '../store/signing';
import { keepAlive } from './context';
import { trainAndScoreChurn } from './churn';
import { clusterSubscribers } from './cluster';
import { findDispatchedList } from './contact-log';
import {
  combineFeatures,
  computeFeatures,
  computePartitionFeatures,
  type FeatureSummary,
  type PartitionFeatures,
} from './features';
import { combineLoad, planLoad, type LoadPlan, type LoadSummary, type PartitionLoad } from './load';
import { publishSnapshot, type PublishRequest } from './publish';
import { findPreviousSegmentation, type PreviousSegmentation } from './segment-history';
import { reuseStages, storeStages } from './stage-cache';
import { churnUserInput, featureInput } from './stage-inputs';
import { loadReusingMonths } from './usage-months';
import type { FeatureMonthCache } from './window-cache';

/** The stage functions; tests swap one for a faulty twin to inject failures. */
export const STAGE_FUNCTIONS = {
  planLoad,
  loadPartition: loadReusingMonths,
  combineLoad,
  computeFeatures,
  computePartitionFeatures,
  combineFeatures,
  clusterSubscribers,
  trainAndScoreChurn,
  publishSnapshot,
  reuseStages,
  storeStages,
};
export type StageFunctions = typeof STAGE_FUNCTIONS;

/** How often an activity heartbeats while it waits on DuckDB (the server throttles anyway). */
const KEEPALIVE_MS = 5_000;

export interface ActivityOptions {
  /**
   * SEGFLOW_SIGNING_KEY, loaded: signs every audit entry, manifest and stage-cache artifact this
   * worker writes, and only artifacts it signed are reused. Never leaves the worker.
   */
  signer?: Signer;
}

export function createActivities(
  storeConfig: StoreConfig,
  stages: StageFunctions = STAGE_FUNCTIONS,
  { signer }: ActivityOptions = {},
) {
  // the stage cache signs and checks with the worker's key (activities/artifact-store.ts)
  const store: StoreConfig = signer ? { ...storeConfig, signer } : storeConfig;
  /** The workflow run of the activity being executed. */
  function currentRun(): RunRef {
    const { workflowId, runId } = Context.current().info.workflowExecution ?? {
      workflowId: 'unknown',
      runId: 'unknown',
    };
    return { workflowId, runId };
  }

  /** A stage's failed attempt in the audit log: one entry per attempt of each activity (a second write of it is a no-op). */
  const auditFailedAttempt = (
    stage: string,
    month: unknown,
    attempt: number,
    failure: { type: string; message: string; retryable: boolean },
  ) =>
    recordAudit(
      store,
      {
        event: 'stage.attempt-failed',
        run: currentRun(),
        month: String(month),
        actor: 'worker',
        // the activity id too: a run's partitions are one stage, and each attempt of each is an entry
        subject: `${stage}#${attempt} (activity ${Context.current().info.activityId})`,
        details: { stage, attempt, ...failure },
      },
      signer,
    );

  /** Runs one attempt of a stage with heartbeats; a failed attempt is audited, then rethrown for Temporal to retry or not. */
  async function attemptStage<T>(stage: string, month: unknown, work: () => Promise<T>): Promise<T> {
    const context = Context.current();
    const { attempt } = context.info;
    const timer = setInterval(() => keepAlive(context), KEEPALIVE_MS);
    // while it runs, `cache prune` keeps what its run stored or took (store/running-markers.ts)
    const running = markAttemptRunning(store, currentRun(), stage);
    // an attempt whose worker was killed or cut off wrote nothing: this one says so. Same key as
    // that attempt's own entry, so one it did write stands; a hung attempt's entry written after
    // this one is dropped as a duplicate
    if (attempt > 1)
      await auditFailedAttempt(stage, month, attempt - 1, {
        type: 'AttemptLost',
        message: `attempt ${attempt - 1} left no entry (most likely its worker was killed, hung or cut off from Temporal, and Temporal timed it out); attempt ${attempt} took over`,
        retryable: true,
      }).catch(() => undefined); // a note about the past: the audit log's trouble shows in this attempt's own entries
    try {
      return await work();
    } catch (caught) {
      const error = isUntypedDiskFull(caught) ? diskFull(store, caught) : caught;
      const type = error instanceof Error ? error.name : 'Error';
      await auditFailedAttempt(stage, month, attempt, {
        type,
        message: error instanceof Error ? error.message : String(error),
        // a cancelled attempt is not tried again either
        retryable:
          !(NON_RETRYABLE_ERROR_TYPES as readonly string[]).includes(type) && !context.cancellationSignal.aborted,
      }).catch(() => undefined); // the audit write must not hide the stage's own error
      throw error;
    } finally {
      clearInterval(timer);
      await running.stop();
    }
  }

  /** The store where the features stage finds and keeps months' features (activities/window-cache.ts). */
  const featureMonths = (load: LoadSummary, allowed: boolean): FeatureMonthCache => ({
    store,
    run: currentRun(),
    allowed,
    load,
  });

  return {
    /** `reuse` false (`--no-reuse`): the plan reads the input, not the reading stored by an earlier plan. */
    planLoad: (run: RunRef, params: { month?: unknown }, partitions: number, reuse = true) =>
      attemptStage('load', params?.month, async () => {
        const plan = await stages.planLoad(store, run, params, partitions, undefined, reuse);
        // a dispatch list named but not in this store stops the run now, not at publishing
        // (not in planLoad itself: reproduce plans in a scratch store without last month)
        const named = await findDispatchedList(store, plan.params);
        if (named && 'reason' in named) throw new InvalidParamsError(named.reason);
        return plan;
      }),
    /**
     * One partition of the input: the worker that picks it up needs the run folder (a shared file
     * system). A single partition takes the window months stored by earlier runs (`reuse` false:
     * reads every month) and stores the months it read (activities/usage-months.ts).
     */
    loadPartition: (plan: LoadPlan, index: number, reuse = true) =>
      attemptStage('load', plan.params.month, () =>
        stages.loadPartition({ store, run: currentRun(), allowed: reuse }, plan, index),
      ),
    combineLoad: (plan: LoadPlan, parts: PartitionLoad[]) =>
      attemptStage('load', plan.params.month, () => stages.combineLoad(plan, parts)),
    /** The stored load and feature output for the plan's key, copied into the run database (or null). */
    reuseStages: (plan: LoadPlan, allowed: boolean) =>
      attemptStage('load', plan.params.month, () => stages.reuseStages(store, plan, allowed)),
    /** Stores the load and feature output under its key for later runs. */
    storeStages: (run: RunRef, key: string, load: LoadSummary, features: FeatureSummary) =>
      attemptStage('features', load.params.month, () => stages.storeStages(store, run, key, load, features)),
    /** `reuse` false (a cold run) computes the training month even when the run before stored it. */
    computeFeatures: (load: LoadSummary, reuse = true) =>
      attemptStage('features', load.params.month, () =>
        stages.computeFeatures(load.dbPath, load.params, featureInput(load), {}, featureMonths(load, reuse)),
      ),
    computePartitionFeatures: (load: LoadSummary, index: number, reuse = true) =>
      attemptStage('features', load.params.month, () =>
        stages.computePartitionFeatures(
          load.partitionDbPaths[index],
          load.params,
          featureInput(load),
          featureMonths(load, reuse),
        ),
      ),
    combineFeatures: (load: LoadSummary, parts: PartitionFeatures[]) =>
      attemptStage('features', load.params.month, () =>
        stages.combineFeatures(
          load.dbPath,
          load.partitionDbPaths,
          load.params,
          featureInput(load),
          parts,
          featureMonths(load, true),
        ),
      ),
    /**
     * `reuse` false (a cold run, or a workflow recorded before it was passed) clusters even when
     * the stage cache holds the segments; `featuresKey` is the run's load-features key.
     */
    clusterSubscribers: (
      load: LoadSummary,
      features: FeatureSummary,
      previous: PreviousSegmentation | null,
      reuse = false,
      featuresKey?: string,
    ) =>
      attemptStage('cluster', load.params.month, () =>
        stages.clusterSubscribers(
          load.dbPath,
          load.params,
          previous,
          skipped(features),
          load.userFeatures,
          featuresKey ? { store, run: currentRun(), allowed: reuse, featuresKey } : undefined,
        ),
      ),
    /** Last month's segmentation, to keep segment ids stable (null when there is none). */
    findPreviousSegmentation: (month: string) => findPreviousSegmentation(store, month),
    /**
     * `reuse` false (a cold run) trains the ensemble even when the stage cache holds it;
     * `featuresKey` is the run's load-features key (absent in runs recorded before it was passed).
     */
    trainAndScoreChurn: (load: LoadSummary, features: FeatureSummary, reuse = true, featuresKey?: string) =>
      attemptStage('churn', load.params.month, () =>
        stages.trainAndScoreChurn(load.dbPath, load.params, skipped(features), churnUserInput(load), {
          store,
          run: currentRun(),
          allowed: reuse,
          ...(featuresKey ? { featuresKey } : {}),
        }),
      ),
    publishSnapshot: (run: RunRef, request: PublishRequest) =>
      attemptStage('publish', request.load.params.month, () =>
        stages.publishSnapshot(store, run, request, store, { signer }),
      ),
    /** Appends (or finds) the entry; returns its place in the chain, which the workflow reports for publishes. */
    recordAudit: async (request: AuditRecordRequest): Promise<AuditHead> => {
      const { seq, hash } = await recordAudit(store, request, signer);
      return { seq, hash };
    },
    /** Removes the run's scratch database once its snapshot is published (or the run was cancelled). */
    removeRunWorkspace: async (run: RunRef) => {
      await rm(runDir(store, run), { recursive: true, force: true });
    },
  };
}

const skipped = (features: FeatureSummary) => features.skippedFeatures.map((s) => s.feature);

export type SegflowActivities = ReturnType<typeof createActivities>;

/** Space ran out in a write a stage made itself (Node's ENOSPC, DuckDB's message), not one a typed error already names. */
function isUntypedDiskFull(error: unknown): error is Error {
  return error instanceof Error && isStoreFull(error) && error.name === 'Error';
}

/**
 * The stage's disk-full failure, naming the folder whose disk is full (by the path in the error:
 * the work folder, the store, or either), its free space, and what can go.
 */
function diskFull(store: StoreConfig, error: Error): DiskFullError {
  const text = `${(error as NodeJS.ErrnoException).path ?? ''} ${error.message}`;
  const folders = [
    { name: 'the work folder (SEGFLOW_WORK)', path: store.workDir },
    { name: 'the store (SEGFLOW_STORE)', path: store.storeDir },
  ];
  const named = folders.filter((folder) => text.includes(`${folder.path}/`));
  const where = (named.length ? named : folders).map((folder) => `${folder.name} ${folder.path}${free(folder.path)}`);
  const quota = (error as NodeJS.ErrnoException).code === 'EDQUOT' || /quota/i.test(error.message);
  return new DiskFullError(
    `no space left${quota ? " in the user's disk quota" : ''} on the disk of ${where.join(' or ')}: ${error.message.split('\n')[0]}. ` +
      `Free space there (the workspaces of runs no longer running are under ${store.workDir}/runs; ` +
      "'segflow cache list' and 'segflow cache prune' free the store's stored stage outputs), or set SEGFLOW_WORK to a " +
      'folder on a larger disk for the workers. Temporal tries the stage again, as space may be freed meanwhile.',
    // no `cause`: the run's failure is named by its innermost cause (innermostFailure), which must be this
  );
}

/** " (N MB free of M MB)" on the disk of `path` (or of its nearest folder that exists), or nothing when none can be read. */
function free(path: string): string {
  for (let folder = path; ; folder = dirname(folder)) {
    try {
      const disk = statfsSync(folder);
      const mb = (blocks: number) => Math.floor((blocks * disk.bsize) / 2 ** 20).toLocaleString('en-US');
      return ` (${mb(disk.bavail)} MB free of ${mb(disk.blocks)} MB)`;
    } catch {
      if (dirname(folder) === folder) return '';
    }
  }
}
