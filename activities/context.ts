import { Context } from '@temporalio/activity';
import type { DuckDBConnection } from '@duckdb/node-api';
import { ACTIVITY_STAGES, STAGE_PROGRESS_SIGNAL, type ActivityProgress, type StepProgress } from '../domain/progress';

/** The running activity's context, or undefined when a function is called outside Temporal (tests). */
function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/**
 * A warning in the worker's log, from the running activity (with its ids), for what does not stop
 * the work but an operator should see (a scheduled run has no one reading its output); nothing
 * outside Temporal (tests).
 */
export function warnInWorkerLog(message: string, meta?: Record<string, unknown>): void {
  currentContext()?.log.warn(message, meta);
}

/** How often an activity tells its workflow how far it is (each report is an event in the run's history). */
const SIGNAL_INTERVAL_MS = 2_000;

const lastReport = new WeakMap<Context, { details: CheckpointDetails; signalledAt: number }>();

export interface CheckpointDetails {
  /** What the activity is doing, e.g. "features: 02_aggregates.sql". */
  stage: string;
  /** Steps (files, SQL files) done of their total. */
  done?: number;
  total?: number;
  /** Rows processed of the rows the step reads. */
  rowsDone?: number;
  rowsTotal?: number;
}

/**
 * Records progress as a heartbeat (so a stuck worker is noticed, and `segflow run` can show it)
 * and stops the work if the run was cancelled. Also yields to the event loop so heartbeats go
 * out during CPU-bound loops.
 */
export async function checkpoint(details: CheckpointDetails): Promise<void> {
  const context = currentContext();
  if (context) {
    reportProgress(context, details);
    context.cancellationSignal.throwIfAborted();
  }
  await new Promise<void>((resolveNow) => setImmediate(resolveNow));
}

/** Heartbeats with the activity's latest progress: what the keep-alive timer sends between checkpoints. */
export function keepAlive(context: Context): void {
  context.heartbeat(lastReport.get(context)?.details);
}

/**
 * Heartbeat details, and at most every SIGNAL_INTERVAL_MS the same report to the run's workflow
 * (its `progress` query returns it: a workflow cannot read its activities' heartbeats).
 */
function reportProgress(context: Context, details: CheckpointDetails): void {
  context.heartbeat(details);
  const previous = lastReport.get(context);
  const now = Date.now();
  const signal = !previous || now - previous.signalledAt >= SIGNAL_INTERVAL_MS;
  lastReport.set(context, { details, signalledAt: signal ? now : (previous?.signalledAt ?? now) });
  if (signal) signalWorkflow(context, details);
}

function signalWorkflow(context: Context, details: CheckpointDetails): void {
  const { workflowExecution, activityId, activityType, attempt } = context.info;
  const stage = ACTIVITY_STAGES[activityType];
  if (!workflowExecution || !stage) return;
  const { stage: step, ...measures } = details;
  const report: ActivityProgress = { activityId, stage, step, ...measures, attempt };
  try {
    void context.client.workflow
      .getHandle(workflowExecution.workflowId, workflowExecution.runId)
      .signal(STAGE_PROGRESS_SIGNAL, report)
      .catch(() => undefined); // progress is informative: a run that just finished ignores it
  } catch {
    // no client in this activity's context (a test environment): heartbeats only
  }
}

/**
 * Runs `work` (long DuckDB statements on `conn`) while reporting DuckDB's own progress every
 * `everyMs`: rows scanned of the rows the current statement scans.
 */
export async function withQueryProgress<T>(
  conn: DuckDBConnection,
  /** The step being run, read at every report (the caller moves it on between statements). */
  currentStep: () => Omit<StepProgress, 'rowsDone' | 'rowsTotal'>,
  work: () => Promise<T>,
  everyMs = 1_000,
): Promise<T> {
  const context = currentContext();
  if (!context) return work();
  await conn.run('SET enable_progress_bar = true');
  await conn.run('SET enable_progress_bar_print = false');
  const timer = setInterval(() => {
    const progress = conn.progress;
    if (progress.percentage < 0 || progress.total_rows_to_process <= 0n) return;
    const { step: stage, ...counts } = currentStep();
    reportProgress(context, {
      stage,
      ...counts,
      rowsDone: Number(progress.rows_processed),
      rowsTotal: Number(progress.total_rows_to_process),
    });
  }, everyMs);
  // a cancelled run (runs cancel, Ctrl-C stopping a --local worker) stops the statement at once
  // instead of after it: a features statement runs for minutes at operator scale
  const interrupt = () => conn.interrupt();
  context.cancellationSignal.addEventListener('abort', interrupt);
  try {
    return await work();
  } catch (error) {
    context.cancellationSignal.throwIfAborted(); // the cancellation, not DuckDB's INTERRUPT error
    throw error;
  } finally {
    clearInterval(timer);
    context.cancellationSignal.removeEventListener('abort', interrupt);
  }
}
