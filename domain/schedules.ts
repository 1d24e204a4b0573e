/**
 * The monthly schedule's id and calendar defaults, apart from pipelines/schedules.ts (which
 * loads Temporal's client) so that the command line can show them in its help without it.
 */
export const DEFAULT_SCHEDULE_ID = 'segflow-monthly';

export const SCHEDULE_DEFAULTS = {
  dayOfMonth: 2,
  hour: 3,
  minute: 0,
  timezone: 'UTC',
  overlap: 'skip',
  catchupWindow: '7 days',
  pauseOnFailure: false,
} as const;
