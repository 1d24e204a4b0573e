/**
 * What the command line checks of a month before it asks Temporal to run it: that the month has
 * ended, and (for a schedule's backfill) that the input has files for it and for the month its
 * run trains on. Pure: the listing is the load's own (activities/load.ts findInputFiles,
 * monthFolderOf), done by the caller.
 */
import { addMonths, isMonth, monthBefore, notEndedYet, trainingMonth } from './month';
import { UsageError } from './errors';

/**
 * The months a backfill from `from` to `to` asks for, or a usage error: `--from` after `--to`, or
 * a month that has not ended (as a scheduled run, a month is processed once it is over). The one
 * check of a backfill's range: the CLI makes it before it connects, pipelines/schedules.ts
 * backfillMonths before it asks Temporal.
 */
export function backfillRange(from: string, to: string, now = new Date()): string[] {
  if (!isMonth(from) || !isMonth(to) || from > to)
    throw new UsageError(`backfill needs --from <= --to, both YYYY-MM (got ${from}, ${to})`);
  if (notEndedYet(to, now))
    throw new UsageError(`--to ${to} has not ended yet: the last month a backfill can process is ${monthBefore(now)}`);
  const months: string[] = [];
  for (let month = from; month <= to; month = addMonths(month, 1)) months.push(month);
  return months;
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
 * run would start and stop at its load. `missing`: those months; `held`: the months the input has;
 * `untrained`: the month before the first month asked when the input has no files for it, as
 * that month's run trains its churn model on the month before its own and could not.
 */
export class NoInputForMonthsError extends UsageError {
  override name = 'NoInputForMonthsError';
  constructor(
    readonly scheduleId: string,
    readonly input: string,
    readonly missing: string[],
    readonly held: string[],
    readonly asked: string[],
    readonly untrained: string[] = [],
  ) {
    const some = missing.length < asked.length;
    const lacks = [
      ...(missing.length > 0 ? [`${monthRanges(missing)}${some ? ` (of the ${asked.length} months asked)` : ''}`] : []),
      ...untrained.map(
        (month) =>
          `${month}, the month before ${addMonths(month, 1)} that its run trains the churn model on (each run trains on the month before its own)`,
      ),
    ];
    super(
      `schedule ${scheduleId}'s input ${input} has no files for ${lacks.join(', nor for ')}; its month folders hold ${monthRanges(held)}: ` +
        `nothing was backfilled${some ? ', not even the months it has, as each month builds on the one before' : ''}. ` +
        `Add those months (month=YYYY-MM/ folders) to the input, or backfill months it holds${untrained.length > 0 ? ' from one whose month before it holds too' : ''}`,
    );
  }
}

/**
 * The months of `asked` an input has no files for, from the month folder of each of its files
 * (`monthOf`, the load's monthFolderOf), and (`untrained`) the month the first month asked trains
 * on when it is not asked and has no files (the month before it for monthly usage, `format`
 * "long"; a snapshot trains on its own month): undefined when some file lies in no month folder,
 * as its rows may hold any month (only reading them would tell; the run's load does). Months
 * further back in a run's history window are not checked: months before the input's first are
 * history it does not reach (the features that need them are skipped), and a gap between months
 * with rows is named by the run's load.
 */
export function monthsWithoutInput(
  asked: readonly string[],
  files: readonly string[],
  monthOf: (path: string) => string | undefined,
  format: 'long' | 'snapshot' = 'long',
): { missing: string[]; held: string[]; untrained: string[] } | undefined {
  const months = files.map(monthOf);
  if (months.some((month) => month === undefined)) return undefined;
  const held = [...new Set(months as string[])].sort();
  const trainedOn = asked.length > 0 ? trainingMonth([...asked].sort()[0], format) : undefined;
  return {
    missing: asked.filter((month) => !held.includes(month)),
    held,
    untrained: trainedOn !== undefined && !asked.includes(trainedOn) && !held.includes(trainedOn) ? [trainedOn] : [],
  };
}
