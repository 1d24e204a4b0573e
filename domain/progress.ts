/**
 * Progress inside a stage: what an activity reports (as its heartbeat details, and to its run's
 * workflow through the stageProgress signal) and what the workflow's `progress` query returns.
 * No I/O here: the workflow imports it.
 */

/** One progress report of a running activity. */
export interface StepProgress {
  /** What the activity is doing, e.g. "features: 02_aggregates.sql". */
  step: string;
  /** Steps (files, SQL files) finished of the activity's total, when it counts them. */
  done?: number;
  total?: number;
  /** Rows processed of the rows the current step reads (DuckDB's scan progress, or a loop's rows). */
  rowsDone?: number;
  rowsTotal?: number;
}

/** The stageProgress signal's payload: a report and the activity it comes from. */
export interface ActivityProgress extends StepProgress {
  activityId: string;
  /** The run stage the activity belongs to (ACTIVITY_STAGES). */
  stage: string;
  /** The activity's attempt: a late report of an earlier one (a killed worker's) is not shown over a later one's (absent from an older worker's reports). */
  attempt?: number;
}

export const STAGE_PROGRESS_SIGNAL = 'stageProgress';

/** The run stage each activity type works for. */
export const ACTIVITY_STAGES: Record<string, string> = {
  planLoad: 'load',
  reuseStages: 'load',
  loadPartition: 'load',
  combineLoad: 'load',
  computeFeatures: 'features',
  computePartitionFeatures: 'features',
  combineFeatures: 'features',
  storeStages: 'features',
  clusterSubscribers: 'cluster',
  trainAndScoreChurn: 'churn',
  publishSnapshot: 'publish',
};

/**
 * The running stage's activities combined: the latest step, and rows summed over the activities
 * (with partitions, each reports its own share of the work).
 */
export function combineProgress(reports: Iterable<ActivityProgress>): StepProgress | undefined {
  let latest: ActivityProgress | undefined;
  let rowsDone = 0;
  let rowsTotal = 0;
  let withRows = 0;
  for (const report of reports) {
    latest = report;
    if (report.rowsTotal !== undefined && report.rowsDone !== undefined) {
      rowsDone += report.rowsDone;
      rowsTotal += report.rowsTotal;
      withRows += 1;
    }
  }
  if (!latest) return undefined;
  const { step, done, total } = latest;
  return {
    step,
    ...(done !== undefined && total !== undefined ? { done, total } : {}),
    ...(withRows > 0 ? { rowsDone, rowsTotal } : {}),
  };
}

/** The share of a step's work done, 0..1, or undefined when the report gives no measure. */
export function stepFraction(progress: StepProgress): number | undefined {
  const rows = progress.rowsTotal ? Math.min(1, (progress.rowsDone ?? 0) / progress.rowsTotal) : undefined;
  if (progress.total) return Math.min(1, ((progress.done ?? 0) + (rows ?? 0)) / progress.total);
  return rows;
}
