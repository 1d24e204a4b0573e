/**
 * The monthly schedule's id and calendar defaults, apart from pipelines/schedules.ts (which
 * loads Temporal's client) so that the command line can show them in its help without it.
 */
export const DEFAULT_SCHEDULE_ID = 'segflow-monthly';

/**
 * The schedule id a command takes without --id: `segflow-monthly` on the default task queue
 * (`segflow`, as before), `segflow-monthly-<task queue>` on any other. Schedule ids are one
 * namespace for every store on a Temporal server, so a second store (its own SEGFLOW_TASK_QUEUE)
 * gets a default of its own instead of the first store's schedule.
 */
export function defaultScheduleId(taskQueue: string): string {
  return taskQueue === 'segflow' ? DEFAULT_SCHEDULE_ID : `${DEFAULT_SCHEDULE_ID}-${taskQueue}`;
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
