// Workflow code runs in Temporal's deterministic sandbox: it imports activity *types* only and
// reaches them through proxyActivities; all I/O happens in activities.
import { ApplicationFailure, defineQuery, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { SegflowActivities } from '../activities';
import { NON_RETRYABLE_ERROR_TYPES } from '../domain/errors';
import type { RunParamsInput } from '../domain/params';

export interface MonthlySegmentationInput {
  params: RunParamsInput;
  /** Recorded in the audit log: a user name, or "schedule:<id>". */
  requestedBy: string;
}

export interface MonthlySegmentationResult {
  month: string;
  version: number;
  snapshotPath: string;
  manifestPath: string;
  alreadyPublished: boolean;
  subscribers: number;
  rowsQuarantined: number;
  segments: { segmentId: number; name: string; subscribers: number }[];
  churnRocAuc: number;
  churnTopDecileLift: number;
  highRiskSubscribers: number;
}

export const STAGES = ['load', 'features', 'cluster', 'churn', 'publish'] as const;
export type Stage = (typeof STAGES)[number];

export interface RunProgress {
  stage: Stage | 'done' | 'failed';
  stagesDone: number;
  stagesTotal: number;
  percent: number;
}

export const progressQuery = defineQuery<RunProgress>('progress');

const retry = {
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '1m',
  maximumAttempts: 5,
  nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
};

/** Stages that read files or publish: minutes at most. */
const io = proxyActivities<SegflowActivities>({ startToCloseTimeout: '30m', heartbeatTimeout: '2m', retry });
/** SQL features and model fitting: long at operator scale, heartbeating throughout. */
const compute = proxyActivities<SegflowActivities>({ startToCloseTimeout: '2h', heartbeatTimeout: '2m', retry });
const bookkeeping = proxyActivities<SegflowActivities>({ startToCloseTimeout: '1m', retry: { ...retry, maximumAttempts: 10 } });

/** Segments, scores and publishes one month of subscribers as a new snapshot version. */
export async function monthlySegmentation(input: MonthlySegmentationInput): Promise<MonthlySegmentationResult> {
  const { workflowId, runId } = workflowInfo();
  const run = { workflowId, runId };
  const month = String(input.params.month);
  let progress: RunProgress = { stage: 'load', stagesDone: 0, stagesTotal: STAGES.length, percent: 0 };
  setHandler(progressQuery, () => progress);
  const finished = async (stage: Stage, details: Record<string, unknown>) => {
    const stagesDone = STAGES.indexOf(stage) + 1;
    const next = STAGES[stagesDone] ?? 'done';
    progress = { stage: next, stagesDone, stagesTotal: STAGES.length, percent: Math.round((100 * stagesDone) / STAGES.length) };
    await bookkeeping.recordAudit({ event: 'stage.finished', run, month, actor: input.requestedBy, subject: stage, details });
  };

  await bookkeeping.recordAudit({ event: 'run.started', run, month, actor: input.requestedBy, details: { params: input.params } });
  try {
    const load = await io.loadUsage(run, input.params);
    await finished('load', { inputs: load.inputFiles, rowsRead: load.rowsRead, rowsLoaded: load.rowsLoaded, quarantineByReason: load.quarantineByReason });
    const features = await compute.computeFeatures(load);
    await finished('features', { ...features });
    const cluster = await compute.clusterSubscribers(load);
    await finished('cluster', { k: cluster.k, inertia: cluster.inertia, segments: cluster.segments.map((s) => s.name) });
    const churn = await compute.trainAndScoreChurn(load);
    await finished('churn', { rocAuc: churn.holdout.rocAuc, topDecileLift: churn.holdout.liftByDecile[0] });
    const snapshot = await io.publishSnapshot(run, { load, features, cluster, churn });
    await finished('publish', { version: snapshot.version, path: snapshot.path, alreadyPublished: snapshot.alreadyPublished });
    await bookkeeping.recordAudit({ event: 'run.published', run, month, actor: input.requestedBy, details: { ...snapshot } });
    await bookkeeping.removeRunWorkspace(run);
    return {
      month,
      version: snapshot.version,
      snapshotPath: snapshot.path,
      manifestPath: snapshot.manifestPath,
      alreadyPublished: snapshot.alreadyPublished,
      subscribers: churn.scoredRows,
      rowsQuarantined: load.rowsQuarantined,
      segments: cluster.segments.map(({ segmentId, name, subscribers }) => ({ segmentId, name, subscribers })),
      churnRocAuc: churn.holdout.rocAuc,
      churnTopDecileLift: churn.holdout.liftByDecile[0],
      highRiskSubscribers: churn.riskBandCounts.high ?? 0,
    };
  } catch (error) {
    const failedStage = progress.stage;
    progress = { ...progress, stage: 'failed' };
    await bookkeeping.recordAudit({
      event: 'run.failed',
      run,
      month,
      actor: input.requestedBy,
      details: { stage: failedStage, error: describeFailure(error) },
    });
    throw error;
  }
}

function describeFailure(error: unknown): { type: string; message: string } {
  let cause: unknown = error;
  // an ActivityFailure wraps the ApplicationFailure that carries the activity's error type
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? 'ApplicationFailure', message: cause.message };
  return { type: cause instanceof Error ? cause.name : 'unknown', message: String(cause instanceof Error ? cause.message : cause) };
}
