/** Calendar months as 'YYYY-MM' strings: the only month format segflow accepts or prints. */

const MONTH_PATTERN = /^(\d{4})-(0[1-9]|1[0-2])$/;

export function isMonth(value: string): boolean {
  return MONTH_PATTERN.test(value);
}

/** Adds `delta` months (may be negative). */
export function addMonths(month: string, delta: number): string {
  const match = MONTH_PATTERN.exec(month);
  if (!match) throw new RangeError(`not a month (YYYY-MM): ${month}`);
  const index = Number(match[1]) * 12 + Number(match[2]) - 1 + delta;
  const year = Math.floor(index / 12);
  return `${String(year).padStart(4, '0')}-${String((index % 12) + 1).padStart(2, '0')}`;
}

/**
 * The month a run's churn model trains on: a snapshot (one row per subscriber) on its own month,
 * with the user's labels; monthly usage on the month before, labelled by the run month.
 */
export function trainingMonth(runMonth: string, format: 'long' | 'snapshot'): string {
  return format === 'snapshot' ? runMonth : addMonths(runMonth, -1);
}

/** The first day of the month as an ISO date, the form DuckDB compares against DATE columns. */
export function firstDay(month: string): string {
  return `${month}-01`;
}

/** The month a run scheduled at `time` processes: the last complete month before it (UTC). */
export function monthBefore(time: Date): string {
  const current = `${String(time.getUTCFullYear()).padStart(4, '0')}-${String(time.getUTCMonth() + 1).padStart(2, '0')}`;
  return addMonths(current, -1);
}

/**
 * Why `month` cannot be run yet at `now` (the load's stop, and the command line's before it asks
 * Temporal), or undefined once it has ended. Months end at midnight UTC, as monthBefore counts
 * them, whatever the local time zone.
 */
export function notEndedYet(month: string, now = new Date()): string | undefined {
  const lastEnded = monthBefore(now);
  return month > lastEnded
    ? `${month} has not ended yet, so none of its usage can have arrived (the last month that has ended is ${lastEnded})`
    : undefined;
}
