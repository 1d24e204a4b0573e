// Workflow code runs in Temporal's deterministic sandbox: it imports activity *types* only and
// reaches them through proxyActivities; all I/O happens in activities.
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  defineQuery,
  defineSignal,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SegflowActivities } from '../activities';
import type { FeatureSummary } from '../activities/features';
import type { LoadSummary } from '../activities/load';
import type { AuditHead, AuditRecordRequest } from '../store/audit-log';
import { innermostFailure, NON_RETRYABLE_ERROR_TYPES } from '../domain/errors';
import { durationMs } from '../domain/durations';
import { isMonth, monthBefore } from '../domain/month';
import type { HoldoutCounts } from '../domain/holdout-auc';
import { largestImportance, type TopFeature } from '../domain/too-good';
import { combineProgress, STAGE_PROGRESS_SIGNAL, type ActivityProgress, type StepProgress } from '../domain/progress';
import type { RunParamsInput } from '../domain/params';
import {
  SEGFLOW_MONTH,
  SEGFLOW_PARAMS_HASH,
  SEGFLOW_SNAPSHOT_VERSION,
  TEMPORAL_SCHEDULED_START_TIME,
} from '../domain/search-attributes';

export interface MonthlySegmentationInput {
  /** Run parameters. `month` may be left out by a schedule: the run then processes the month before its scheduled time. */
  params: Omit<RunParamsInput, 'month'> & { month?: string };
  /** Recorded in the audit log: a user name, or "schedule:<id>". */
  requestedBy: string;
  /** Set segflow's search attributes (the server must have them registered). Default true. */
  indexed?: boolean;
  /**
   * How long a silent activity may go before Temporal retries it on another worker, e.g. "1m".
   * Default "30s": activities heartbeat every 5 s (segflow's worker sends at most one a second),
   * so a crashed worker's stage restarts elsewhere within about 30 s.
   */
  heartbeatTimeout?: string;
  /**
   * Subscriber partitions the load and the per-subscriber features are split into, each its own
   * activity, so workers on the task queue share them. Default 1: one activity uses every core
   * of its worker already; set it to the number of workers when there are several.
   */
  partitions?: number;
  /**
   * Reuse the load and feature stages' stored output when its key (inputs, mapping, feature
   * parameters, stage code) matches, the trained churn ensemble and its scores when their rows,
   * options and code match, and the segments when the features, clustering parameters, last
   * month's segments and code match. Default true; false forces a cold run (`--no-reuse`).
   */
  reuse?: boolean;
  /**
   * An analyst's experiment (`--experiment`): published and audited, but the month's latest.json
   * stays where it is, so next month's run, campaigns and `YYYY-MM` references keep to it.
   */
  experiment?: boolean;
}

export interface MonthlySegmentationResult {
  month: string;
  version: number;
  snapshotPath: string;
  manifestPath: string;
  alreadyPublished: boolean;
  paramsHash: string;
  subscribers: number;
  rowsQuarantined: number;
  /** Of rowsQuarantined, rows of months outside the window: not read, no break of the contract (absent from a load of an older worker). */
  rowsOutsideWindow?: number;
  segments: { segmentId: number; name: string; subscribers: number }[];
  churnRocAuc: number;
  /** What the ROC AUC was measured on: the holdout's subscribers, the churners among them, DeLong's standard error (absent from an older worker's result). */
  churnHoldout?: HoldoutCounts;
  /** The churn model's feature with the largest importance (absent from an older worker's result, or when none has any). */
  churnTopFeature?: TopFeature;
  churnTopDecileLift: number;
  highRiskSubscribers: number;
  /**
   * The audit log's head right after this run's `run.published` entry, `<seq>:<hash>`: keep it
   * outside the store and check with `segflow audit verify --expect-head` (also in the run's memo).
   */
  auditHead: string | null;
  /** The load and feature stages' output came from the stage cache. */
  reusedStages?: boolean;
  /** Published as an experiment: latest.json did not move to it. */
  experiment?: true;
}

/** The run's memo: what `audit verify` cross-checks against the log while Temporal retains the run. */
export interface MonthlySegmentationMemo {
  month: string;
  requestedBy: string;
  /** Set once the run has published. */
  published?: { version: number; auditHead: string };
}

/** Patch ids: each guards a change to the commands this workflow issues (docs/reliability-audit.md). */
const PATCHES = {
  /** The audit head after `run.published` is written into the memo (an extra command). */
  auditHeadMemo: 'audit-head-memo',
  /** The stage cache lookup after the plan and the store after the features (docs/reuse.md). */
  stageReuse: 'stage-reuse',
  /** Clustering and churn scheduled together, up to SIDE_BY_SIDE_MAX_SUBSCRIBERS (docs/stages.md). */
  modelsSideBySide: 'models-side-by-side',
  /** A failed run's workspace removed, as a cancelled one's (an extra local activity). */
  failedWorkspaceRemoved: 'failed-workspace-removed',
  /**
   * A cancelled run's stage activities awaited until they stop: run.cancelled and the workspace's
   * removal then come after them (before, a stage still writing could record a failed attempt
   * after run.cancelled, or write into the removed workspace).
   */
  cancelledStagesAwaited: 'cancelled-stages-awaited',
  /**
   * Side by side, the first of the clustering and churn stages to fail cancels the other and awaits
   * it (before, the run waited for the other to finish its work, which it then threw away).
   */
  sideBySideAllOrNone: 'side-by-side-all-or-none',
} as const;

/**
 * Up to this many subscribers to score, the clustering and churn stages run at the same time.
 * Above it one after the other: at 10M subscribers the churn stage alone sets the run's memory
 * peak (docs/benchmark.md), and the clustering's columns would add to it.
 */
const SIDE_BY_SIDE_MAX_SUBSCRIBERS = 2_000_000;

export const STAGES = ['load', 'features', 'cluster', 'churn', 'publish'] as const;
type Stage = (typeof STAGES)[number];

export interface RunProgress {
  month: string;
  stage: Stage | 'done' | 'failed' | 'cancelled';
  stagesDone: number;
  stagesTotal: number;
  percent: number;
  /** Inside the running stage: its latest step and rows processed, from its activities' reports. */
  detail?: StepProgress;
}

export const progressQuery = defineQuery<RunProgress>('progress');
/** Activities report their progress here (activities/context.ts), at most every 2 s each. */
const stageProgressSignal = defineSignal<[ActivityProgress]>(STAGE_PROGRESS_SIGNAL);

const retry = {
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '1m',
  maximumAttempts: 5,
  nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
};

/**
 * Audit appends, the previous-segmentation lookup and the workspace cleanup take milliseconds:
 * they run as local activities, on the worker running this workflow, without a round trip
 * through the task queue each (~0.3 s of a 1M run's orchestration). Each is idempotent.
 */
const bookkeeping = proxyLocalActivities<SegflowActivities>({
  startToCloseTimeout: '1m',
  retry: { ...retry, maximumAttempts: 10 },
});

function stageActivities(heartbeatTimeout: string, cancellationType: ActivityCancellationType) {
  return {
    /** Stages that read files or publish: minutes at most. */
    io: proxyActivities<SegflowActivities>({ startToCloseTimeout: '30m', heartbeatTimeout, retry, cancellationType }),
    /** SQL features and model fitting: long at operator scale, heartbeating throughout. */
    compute: proxyActivities<SegflowActivities>({
      startToCloseTimeout: '2h',
      heartbeatTimeout,
      retry,
      cancellationType,
    }),
  };
}

/**
 * Fails the run (not its workflow task, which Temporal would retry for ever) when `value` is not
 * a duration Temporal reads, such as "30s": the command line checks it, a client of its own may not.
 */
function assertDuration(name: string, value: string): void {
  const ms = durationMs(value);
  // a negative one parses, and the server then refuses the activity's schedule, also for ever
  if (ms === null || !(ms >= 0))
    throw ApplicationFailure.nonRetryable(
      `${name} ${JSON.stringify(value)} is not a duration such as 30s, 2m or 1h`,
      'InvalidParamsError',
    );
}

/**
 * Every piece of work side by side (partitions; the clustering and churn stages). The first failure
 * cancels the others, and they are awaited before it is thrown, so none writes on into a run that
 * has ended. `failed` hears which piece failed first, and with what.
 */
async function allOrNone<T extends readonly unknown[]>(
  works: { [K in keyof T]: () => Promise<T[K]> },
  failed: (index: number, error: unknown) => void = () => {},
): Promise<T> {
  const scope = new CancellationScope();
  let firstFailure: { error: unknown } | undefined;
  const settled = await scope.run(() =>
    Promise.allSettled(
      works.map((work, index) =>
        work().catch((error: unknown) => {
          if (!firstFailure) {
            firstFailure = { error };
            failed(index, error);
            scope.cancel();
          }
          throw error;
        }),
      ),
    ),
  );
  if (firstFailure) throw firstFailure.error;
  return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** The churn model's feature with the largest importance, as the result's churnTopFeature (none in an older churn stage's summary). */
function topFeature(features: TopFeature[] | undefined): { churnTopFeature?: TopFeature } {
  const top = largestImportance(features ?? []);
  return top ? { churnTopFeature: top } : {};
}

/** Segments, scores and publishes one month of subscribers as a new snapshot version. */
export async function monthlySegmentation(input: MonthlySegmentationInput): Promise<MonthlySegmentationResult> {
  const info = workflowInfo();
  const run = { workflowId: info.workflowId, runId: info.runId };
  const scheduledFor = info.typedSearchAttributes.get(TEMPORAL_SCHEDULED_START_TIME);
  const month = input.params.month ?? monthBefore(scheduledFor ?? info.startTime);
  const params = { ...input.params, month };
  /** Whether stages may take stored output (false: a cold run, `--no-reuse`). */
  const reuse = input.reuse ?? true;
  const indexed = input.indexed ?? true;
  const heartbeatTimeout = input.heartbeatTimeout ?? '30s';
  const stagesAwaited = patched(PATCHES.cancelledStagesAwaited);
  const { io, compute } = stageActivities(
    heartbeatTimeout,
    stagesAwaited ? ActivityCancellationType.WAIT_CANCELLATION_COMPLETED : ActivityCancellationType.TRY_CANCEL,
  );
  const eachPartition = <T>(count: number, work: (index: number) => Promise<T>) => {
    const works = Array.from({ length: count }, (_, index) => () => work(index));
    return stagesAwaited ? allOrNone<T[]>(works) : Promise.all(works.map((started) => started()));
  };

  let progress: RunProgress = { month, stage: 'load', stagesDone: 0, stagesTotal: STAGES.length, percent: 0 };
  setHandler(progressQuery, () => progress);
  /** The running stage's activities' latest reports, by activity id. */
  const reports = new Map<string, ActivityProgress>();
  setHandler(stageProgressSignal, (report) => {
    if (report.stage !== progress.stage) return; // a late report of a finished stage
    // a late report of an earlier attempt of the same activity (its worker was killed)
    if ((reports.get(report.activityId)?.attempt ?? 0) > (report.attempt ?? 0)) return;
    reports.delete(report.activityId); // re-inserted last: the latest report names the step
    reports.set(report.activityId, report);
    progress = { ...progress, detail: combineProgress(reports.values()) };
  });
  const audit = (event: AuditRecordRequest['event'], details: Record<string, unknown>, subject?: string) =>
    bookkeeping.recordAudit({ event, run, month, actor: input.requestedBy, subject, details });
  /** The stage whose stage.finished entry is being written: the progress already names the next one. */
  let finishing: Stage | null = null;
  /** Side by side, the stage that failed first: the progress names the clustering until it finishes. */
  let failedSideBySide: Stage | null = null;
  const finished = async (stage: Stage, details: Record<string, unknown>) => {
    const stagesDone = STAGES.indexOf(stage) + 1;
    reports.clear();
    progress = {
      month,
      stage: STAGES[stagesDone] ?? 'done',
      stagesDone,
      stagesTotal: STAGES.length,
      percent: Math.round((100 * stagesDone) / STAGES.length),
    };
    finishing = stage;
    await audit('stage.finished', details, stage);
    finishing = null;
  };

  // recorded even when the run is cancelled before its first task: the log then has it, and its
  // run.cancelled from the catch below
  await CancellationScope.nonCancellable(() =>
    audit('run.requested', {
      params,
      partitions: input.partitions ?? 1,
      requestedAt: info.startTime.toISOString(),
      scheduledFor: scheduledFor?.toISOString() ?? null,
      ...(input.experiment ? { experiment: true } : {}),
    }),
  );
  if (indexed && isMonth(month)) upsertSearchAttributes([{ key: SEGFLOW_MONTH, value: month }]);
  try {
    assertDuration('heartbeatTimeout', heartbeatTimeout);
    await audit('run.started', { attempt: info.attempt });
    const plan = await io.planLoad(run, params, input.partitions ?? 1, reuse);
    const cache = patched(PATCHES.stageReuse) ? await io.reuseStages(plan, reuse) : null;
    let load: LoadSummary;
    let features: FeatureSummary;
    if (cache?.reused) {
      load = cache.reused.load;
      await audit('stage.reused', { ...cache.reused.artifact, reason: cache.reason }, 'load+features');
    } else {
      const parts = await eachPartition(plan.partitionDbPaths.length, (index) => io.loadPartition(plan, index, reuse));
      load = await io.combineLoad(plan, parts);
    }
    if (indexed) upsertSearchAttributes([{ key: SEGFLOW_PARAMS_HASH, value: load.paramsHash }]);
    await finished('load', {
      paramsHash: load.paramsHash,
      inputs: load.inputFiles,
      rowsRead: load.rowsRead,
      rowsLoaded: load.rowsLoaded,
      quarantineByReason: load.quarantineByReason,
      ...(cache ? { reused: cache.reused !== null, cacheKey: cache.key, reuse: cache.reason } : {}),
      ...(load.usageMonths
        ? {
            monthReuse: {
              reused: load.usageMonths.reused.map((artifact) => artifact.stages[0]),
              stored: load.usageMonths.stored,
              reason: load.usageMonths.reason,
            },
          }
        : {}),
    });
    let stored: Awaited<ReturnType<typeof io.storeStages>> | null = null;
    if (cache?.reused) features = cache.reused.features;
    else {
      features =
        load.partitionDbPaths.length === 1
          ? await compute.computeFeatures(load, reuse)
          : await compute.combineFeatures(
              load,
              await eachPartition(load.partitionDbPaths.length, (index) =>
                compute.computePartitionFeatures(load, index, reuse),
              ),
            );
      if (cache) stored = await io.storeStages(run, cache.key, load, features);
    }
    await finished('features', { ...features, ...(cache ? { reused: cache.reused !== null, stored } : {}) });
    const previous = await bookkeeping.findPreviousSegmentation(month);
    const clusterStage = async () => {
      const result = await compute.clusterSubscribers(load, features, previous, reuse, cache?.key);
      await finished('cluster', {
        k: result.k,
        inertia: result.inertia,
        segments: result.segments.map((s) => s.name),
        idsFrom: result.previous,
        ...(result.cache
          ? { reused: result.cache.reused.length > 0, cacheKey: result.cache.key, reuse: result.cache.reason }
          : {}),
      });
      return result;
    };
    // the load-features key names the features table the stored scores were computed from
    const churnStage = () => compute.trainAndScoreChurn(load, features, reuse, cache?.key);
    let cluster: Awaited<ReturnType<typeof clusterStage>>;
    let churn: Awaited<ReturnType<typeof churnStage>>;
    // both only read the run database (activities/stage-outputs.ts); side by side, the clustering
    // takes the cores the churn stage leaves idle, at the price of both stages' memory at once
    if (patched(PATCHES.modelsSideBySide) && features.scoringRows <= SIDE_BY_SIDE_MAX_SUBSCRIBERS) {
      if (stagesAwaited && patched(PATCHES.sideBySideAllOrNone)) {
        const stages = ['cluster', 'churn'] as const;
        [cluster, churn] = await allOrNone<[typeof cluster, typeof churn]>(
          [clusterStage, churnStage],
          // a cancelled run's stages both stop: it was cancelled where its progress says
          (index, error) => (failedSideBySide = isCancellation(error) ? null : stages[index]),
        );
      } else {
        // both settle before a failure goes on: the run's cleanup never races a stage still running
        const [clustered, scored] = await Promise.allSettled([clusterStage(), churnStage()]);
        if (clustered.status === 'rejected') throw clustered.reason;
        if (scored.status === 'rejected') throw scored.reason;
        [cluster, churn] = [clustered.value, scored.value];
      }
    } else {
      cluster = await clusterStage();
      churn = await churnStage();
    }
    // the readable tree's use of the stage cache too where it is the only model (churnModel 'tree')
    const { treeCache } = churn;
    const ensembleCache = churn.ensemble?.cache;
    await finished('churn', {
      rocAuc: churn.holdout.rocAuc,
      topDecileLift: churn.holdout.liftByDecile[0],
      ...(ensembleCache || treeCache
        ? {
            reused: [...(treeCache?.reused ?? []), ...(ensembleCache?.reused ?? [])].map((artifact) => artifact.stage),
            cacheKeys: [
              ...(ensembleCache ? [ensembleCache.key, ensembleCache.scoredKey] : []),
              ...(treeCache ? [treeCache.key] : []),
            ],
            ...(ensembleCache ? { reuse: ensembleCache.reason } : {}),
            ...(treeCache ? { treeReuse: treeCache.reason } : {}),
          }
        : {}),
    });
    // publishing is the commit point: once it starts, a cancellation no longer stops the run
    const snapshot = await CancellationScope.nonCancellable(async () => {
      const published = await io.publishSnapshot(run, {
        requestedBy: input.requestedBy,
        load,
        features,
        cluster,
        churn,
        ...(cache ? { lineage: { stageKey: cache.key, reused: cache.reused ? [cache.reused.artifact] : [] } } : {}),
        ...(input.experiment ? { experiment: true } : {}),
      });
      if (indexed) upsertSearchAttributes([{ key: SEGFLOW_SNAPSHOT_VERSION, value: published.version }]);
      await finished('publish', { version: published.version, alreadyPublished: published.alreadyPublished });
      // a run recorded before recordAudit returned the head has no head to report
      const head = (await audit('run.published', { ...published })) as AuditHead | undefined;
      const auditHead = head ? `${head.seq}:${head.hash}` : null;
      if (auditHead && patched(PATCHES.auditHeadMemo))
        upsertMemo({ published: { version: published.version, auditHead } } satisfies Partial<MonthlySegmentationMemo>);
      await bookkeeping.removeRunWorkspace(run);
      return { ...published, auditHead };
    });
    return {
      month,
      version: snapshot.version,
      snapshotPath: snapshot.path,
      manifestPath: snapshot.manifestPath,
      alreadyPublished: snapshot.alreadyPublished,
      paramsHash: load.paramsHash,
      subscribers: churn.scoredRows,
      rowsQuarantined: load.rowsQuarantined,
      rowsOutsideWindow: load.rowsOutsideWindow,
      segments: cluster.segments.map(({ segmentId, name, subscribers }) => ({ segmentId, name, subscribers })),
      churnRocAuc: churn.holdout.rocAuc,
      churnHoldout: {
        rows: churn.holdout.rows,
        churners: churn.holdout.positives,
        stdError: churn.holdout.rocAucStdError ?? null,
      },
      ...topFeature(churn.features),
      churnTopDecileLift: churn.holdout.liftByDecile[0],
      highRiskSubscribers: churn.riskBandCounts.high ?? 0,
      auditHead: snapshot.auditHead,
      ...(cache ? { reusedStages: cache.reused !== null } : {}),
      ...(snapshot.experiment ? { experiment: true as const } : {}),
    };
  } catch (error) {
    const failedStage = failedSideBySide ?? progress.stage;
    // a stage awaited after the cancellation may end otherwise (timed out on a dead worker, or failed
    // as it stopped): the run was still cancelled. Not once publishing began: it goes on to its end
    // whatever is asked, and its failure is the run's
    const stoppedByCancel =
      stagesAwaited &&
      CancellationScope.current().consideredCancelled &&
      failedStage !== 'publish' &&
      failedStage !== 'done';
    const cancelled = isCancellation(error) || stoppedByCancel;
    progress = { ...progress, stage: cancelled ? 'cancelled' : 'failed' };
    // recorded even when the run was cancelled; publishing is atomic, so nothing half-written remains
    await CancellationScope.nonCancellable(async () => {
      // a run cancelled as it recorded a stage's end ended at that stage, not the next one it never began
      await audit(cancelled ? 'run.cancelled' : 'run.failed', {
        stage: failedSideBySide ?? finishing ?? failedStage,
        error: innermostFailure(error),
      });
      // its scratch (checked months, databases, copies of the input) is of no use to a later run;
      // kept while a failed partition's siblings, not awaited, may still be writing into it
      const siblingsMayRun =
        !stagesAwaited && (input.partitions ?? 1) > 1 && (failedStage === 'load' || failedStage === 'features');
      if (cancelled || (!siblingsMayRun && patched(PATCHES.failedWorkspaceRemoved)))
        await bookkeeping.removeRunWorkspace(run);
    });
    if (stoppedByCancel && !isCancellation(error))
      throw new CancelledFailure('the run was cancelled', [], error instanceof Error ? error : undefined);
    throw error;
  }
}
