import { ScheduleOverlapPolicy, type Client, type ScheduleDescription } from '@temporalio/client';
import { readAuditLog } from '../store/audit-log';
import { addMonths, isMonth } from '../domain/month';
import { parseRunParams } from '../domain/params';
import type { SegflowConfig } from '../worker/config';
import { type MonthlySegmentationInput, monthlySegmentation } from '../workflows/monthly-segmentation';
import { hasSearchAttributes } from './client';
import { UsageError } from '../domain/errors';

export const DEFAULT_SCHEDULE_ID = 'segflow-monthly';

export interface MonthlyScheduleOptions {
  scheduleId: string;
  /** Usage input folder the scheduled runs read. */
  input: string;
  /** Run parameters other than month and input. */
  params: Record<string, unknown>;
  /** Activities the load and per-subscriber features are split into (workflow input `partitions`). */
  partitions?: number;
  /** Day of the month the run starts (2-28): the previous month's data has landed by then. */
  dayOfMonth: number;
  hour: number;
  minute: number;
  timezone: string;
  /** What happens when a run is still going at the next start: skip it, or buffer one. */
  overlap: 'skip' | 'buffer';
  /** How far back missed starts are caught up after the server was down, e.g. "7 days". */
  catchupWindow: string;
  pauseOnFailure: boolean;
}

export const SCHEDULE_DEFAULTS = {
  dayOfMonth: 2,
  hour: 3,
  minute: 0,
  timezone: 'UTC',
  overlap: 'skip',
  catchupWindow: '7 days',
  pauseOnFailure: false,
} as const;

/** Creates the monthly schedule. Each run processes the month before its scheduled time. */
export async function createMonthlySchedule(
  client: Client,
  config: SegflowConfig,
  options: MonthlyScheduleOptions,
): Promise<void> {
  if (!Number.isInteger(options.dayOfMonth) || options.dayOfMonth < 2 || options.dayOfMonth > 28) {
    throw new UsageError(
      '--day-of-month must be 2..28: the previous month must be complete, and every month has the day',
    );
  }
  const parsed = parseRunParams({ ...options.params, month: '2000-01', input: options.input });
  if (!parsed.ok) throw new UsageError(`invalid run parameters:\n  ${parsed.problems.join('\n  ')}`);
  const { month: _month, ...params } = parsed.params;
  const input: MonthlySegmentationInput = {
    params,
    requestedBy: `schedule:${options.scheduleId}`,
    indexed: await hasSearchAttributes(client),
    ...(options.partitions ? { partitions: options.partitions } : {}),
  };
  await client.schedule.create({
    scheduleId: options.scheduleId,
    spec: {
      calendars: [{ dayOfMonth: options.dayOfMonth, hour: options.hour, minute: options.minute }],
      timezone: options.timezone,
    },
    action: {
      type: 'startWorkflow',
      workflowType: monthlySegmentation,
      workflowId: options.scheduleId,
      taskQueue: config.temporal.taskQueue,
      args: [input],
    },
    policies: {
      overlap: options.overlap === 'buffer' ? ScheduleOverlapPolicy.BUFFER_ONE : ScheduleOverlapPolicy.SKIP,
      catchupWindow: options.catchupWindow,
      pauseOnFailure: options.pauseOnFailure,
    },
  });
}

/** A schedule as people read it. */
export function summariseSchedule(description: ScheduleDescription): Record<string, unknown> {
  const calendar = description.spec.calendars?.[0];
  return {
    scheduleId: description.scheduleId,
    paused: description.state.paused,
    note: description.state.note ?? null,
    calendar: calendar ? { dayOfMonth: calendar.dayOfMonth, hour: calendar.hour, minute: calendar.minute } : null,
    timezone: description.spec.timezone ?? 'UTC',
    overlap: description.policies.overlap,
    catchupWindowMs: description.policies.catchupWindow,
    nextRuns: description.info.nextActionTimes.slice(0, 3).map((time) => time.toISOString()),
    recentRuns: description.info.recentActions.slice(-5).map((action) => ({
      scheduledAt: action.scheduledAt.toISOString(),
      workflowId: action.action.type === 'startWorkflow' ? action.action.workflow.workflowId : null,
    })),
    runningWorkflows: description.info.runningActions.map((action) => action.workflow.workflowId),
  };
}

/**
 * Asks the schedule to run for every month from `from` to `to`: each scheduled time falls in
 * the month after the processed one (day 2-28), so the window is [from+1, to+2) in months.
 */
export async function backfillMonths(client: Client, scheduleId: string, from: string, to: string): Promise<string[]> {
  if (!isMonth(from) || !isMonth(to) || from > to)
    throw new UsageError(`backfill needs --from <= --to, both YYYY-MM (got ${from}, ${to})`);
  const months: string[] = [];
  for (let month = from; month <= to; month = addMonths(month, 1)) months.push(month);
  await client.schedule.getHandle(scheduleId).backfill({
    start: new Date(`${addMonths(from, 1)}-01T00:00:00Z`),
    end: new Date(`${addMonths(to, 2)}-01T00:00:00Z`),
    overlap: ScheduleOverlapPolicy.ALLOW_ALL,
  });
  return months;
}

/**
 * Backfills have been seen to stall without an error, so the CLI waits for every requested
 * month to end: a run.published (or run.failed) audit entry from this schedule after `since`.
 */
export async function waitForScheduledMonths(
  config: SegflowConfig,
  scheduleId: string,
  months: string[],
  since: Date,
  timeoutMs: number,
): Promise<{ published: Map<string, number>; failed: Map<string, string>; missing: string[] }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const published = new Map<string, number>();
    const failed = new Map<string, string>();
    for (const entry of await readAuditLog(config.store)) {
      if (entry.actor !== `schedule:${scheduleId}` || new Date(entry.at) < since || !months.includes(entry.month))
        continue;
      const details = (entry.details ?? {}) as { version?: number; error?: { type: string; message: string } };
      if (entry.event === 'run.published') published.set(entry.month, Number(details.version));
      if (entry.event === 'run.failed') failed.set(entry.month, `${details.error?.type}: ${details.error?.message}`);
    }
    for (const month of published.keys()) failed.delete(month);
    const missing = months.filter((month) => !published.has(month) && !failed.has(month));
    if (missing.length === 0 || Date.now() > deadline) return { published, failed, missing };
    await new Promise((resolveWait) => setTimeout(resolveWait, 1_000));
  }
}
