/**
 * What the command line checks of a month before it asks Temporal to run it: that the month has
 * ended, and (for a schedule's backfill) that the input has files for it. Pure: the listing is
 * the load's own (activities/load.ts findInputFiles, monthFolderOf), done by the caller.
 */
import { addMonths, monthBefore } from './month';
import { UsageError } from './errors';

/**
 * Why `month` cannot be run yet at `now`, in the load's words (activities/load.ts assertUsable),
 * or undefined once it has ended. Months end at midnight UTC, as the load and a schedule's runs
 * (domain/month.ts monthBefore) count them, whatever the local time zone.
 */
export function notEndedYet(month: string, now = new Date()): string | undefined {
  const lastEnded = monthBefore(now);
  return month > lastEnded
    ? `${month} has not ended yet, so none of its usage can have arrived (the last month that has ended is ${lastEnded})`
    : undefined;
}

/** Months as runs of consecutive ones: "2026-01..2026-06, 2026-08"; "none" for none. */
export function monthRanges(months: readonly string[]): string {
  const sorted = [...new Set(months)].sort();
  const ranges: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === addMonths(sorted[j], 1)) j += 1;
    ranges.push(i === j ? sorted[i] : `${sorted[i]}..${sorted[j]}`);
    i = j + 1;
  }
  return ranges.join(', ') || 'none';
}

/**
 * A backfill asked for months its schedule's input has no files for (exit 2): each such month's
 * run would start and stop at its load. `missing`: those months; `held`: the months the input has.
 */
export class NoInputForMonthsError extends UsageError {
  override name = 'NoInputForMonthsError';
  constructor(
    readonly scheduleId: string,
    readonly input: string,
    readonly missing: string[],
    readonly held: string[],
    readonly asked: string[],
  ) {
    const some = missing.length < asked.length;
    super(
      `schedule ${scheduleId}'s input ${input} has no files for ${monthRanges(missing)}` +
        ` (${some ? `of the ${asked.length} months asked; ` : ''}its month folders hold ${monthRanges(held)}): ` +
        `nothing was backfilled${some ? ', not even the months it has, as each month builds on the one before' : ''}. ` +
        'Add those months (month=YYYY-MM/ folders) to the input, or backfill months it holds',
    );
  }
}

/**
 * The months of `asked` an input has no files for, from the month folder of each of its files
 * (`monthOf`, the load's monthFolderOf): undefined when some file lies in no month folder, as its
 * rows may hold any month (only reading them would tell; the run's load does).
 */
export function monthsWithoutInput(
  asked: readonly string[],
  files: readonly string[],
  monthOf: (path: string) => string | undefined,
): { missing: string[]; held: string[] } | undefined {
  const months = files.map(monthOf);
  if (months.some((month) => month === undefined)) return undefined;
  const held = [...new Set(months as string[])].sort();
  return { missing: asked.filter((month) => !held.includes(month)), held };
}
