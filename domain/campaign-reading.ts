import stringWidth from 'string-width';
import type {
  CampaignFollowUp,
  CampaignFollowUpGroup,
  CampaignMetrics,
  HoldOutWeights,
} from '../activities/campaign-metrics';
import { count } from './decimals';

/** What a campaign group's measurement says, by the direction of a significant uplift. */
export type UpliftReading = 'too small' | 'no clear effect' | 'kept' | 'lost';

/**
 * Too small (an arm under the minimum: never called significant), no clear effect (the interval
 * holds 0), or significant: kept subscribers (uplift above 0) or lost them (more churn among the
 * contacted).
 */
export function upliftReading(group: {
  tooSmall: boolean;
  significant: boolean;
  absoluteUplift: number | null;
}): UpliftReading {
  if (group.tooSmall) return 'too small';
  if (!group.significant) return 'no clear effect';
  return (group.absoluteUplift ?? 0) > 0 ? 'kept' : 'lost';
}

/** A reading as the tables print it (`campaigns show`, the report's tables). */
export const READING_IN_TABLES: Record<UpliftReading, string> = {
  'too small': 'too small',
  'no clear effect': 'not significant',
  kept: 'significant (kept)',
  lost: 'significant (harm)',
};

/**
 * When kept per 100 contacts is not given ("–" in the tables), and why: for no group when the
 * log is mostly unusable, else for a group with too few logged subscribers; undefined for a
 * manifest published before it was withheld.
 */
export function keptPer100Gap(metrics: Extract<CampaignMetrics, { measured: true }>): string | undefined {
  if (metrics.keptPer100Withheld) return `not given (–): ${metrics.keptPer100Withheld}`;
  if (metrics.minLoggedSubscribers === undefined) return undefined;
  return `– where fewer than ${metrics.minLoggedSubscribers} of a group's targeted subscribers were logged (too few to divide by)`;
}

/**
 * Why a measured list reads nothing when it held nobody out (published before such lists were
 * refused): no control group, counting those held out whose usage was all quarantined. Null when
 * it held someone out.
 */
export function noControlGroup(metrics: Extract<CampaignMetrics, { measured: true }>): string | null {
  const { overall, dispatchFrom } = metrics;
  if (overall.controlSubscribers + (overall.controlUnreadable ?? 0) > 0) return null;
  return `${dispatchFrom.month}/v${dispatchFrom.version}'s list holds nobody out (no control group)`;
}

/**
 * Whether a measurement's churn rates are weighted: its list's controlShare is known (null for a
 * hand-made list, whose subscribers all weigh 1; no weights in manifests published before them).
 * Every subscriber then weighs 1 / p held out or 1 / (1 - p) targeted, but whether the floor
 * raised p in some stratum, which is what sets a rate apart from its counts, is not recorded:
 * the words about weighted rates say what holds either way.
 */
export function churnIsWeighted(
  weights: HoldOutWeights | undefined,
): weights is HoldOutWeights & { controlShare: number } {
  return weights !== undefined && weights.controlShare !== null;
}

/**
 * What a line giving weighted churn rates says of their weights, e.g. "weighted by each
 * subscriber's chance of being held out, controlShare 0.25" (the run's printed lines, the
 * headlines); '' when they are not weighted.
 */
export function weightingWords(weights: HoldOutWeights | undefined): string {
  if (!churnIsWeighted(weights)) return '';
  return `weighted by each subscriber's chance of being held out, controlShare ${weights.controlShare}`;
}

/**
 * The note beside tables of weighted churn rates (`campaigns show`, the report), e.g. "Churn rates
 * are weighted by each subscriber's chance of being held out (controlShare 0.25, more in small
 * strata of region, grid, operation priority, where the floor may hold one out): a group's rate
 * need not be its churned / subscribers, which are counts."; '' when they are not weighted.
 */
export function weightedChurnNote(weights: HoldOutWeights | undefined): string {
  if (!churnIsWeighted(weights)) return '';
  return `Churn rates are weighted by each subscriber's chance of being held out (controlShare ${weights.controlShare}, more in small strata of ${weights.strata}, where the floor may hold one out): a group's rate need not be its churned / subscribers, which are counts.`;
}

/** The parts of a follow-up group its sentences read (CampaignFollowUpGroup). */
type FollowUpRow = Pick<
  CampaignFollowUpGroup,
  | 'controlChurnRate'
  | 'targetedChurnRate'
  | 'absoluteUplift'
  | 'upliftLow'
  | 'upliftHigh'
  | 'significant'
  | 'tooSmall'
  | 'ownMonthAbsoluteUplift'
  | 'ownMonthUpliftLow'
  | 'ownMonthUpliftHigh'
  | 'ownMonthSignificant'
  | 'ownMonthTooSmall'
>;

/** An uplift in signed percentage points, e.g. "+3.2 pp", "−0.4 pp"; "–" for none. */
export function signedPoints(n: number | null): string {
  if (n === null) return '–';
  const value = (n * 100).toFixed(1);
  return `${n >= 0.0005 ? '+' : n <= -0.0005 ? '−' : ''}${value.replace('-', '')} pp`;
}

/** An interval of uplifts in signed percentage points, e.g. "−0.6 to +8.7 pp"; "–" for none (not "– to –"). */
export function signedInterval(low: number | null, high: number | null): string {
  if (low === null && high === null) return '–';
  return `${signedPoints(low).replace(' pp', '')} to ${signedPoints(high)}`;
}

/** The reading of the uplift measured in the month of contact (null: that group was not measured then). */
export function ownMonthReading(row: FollowUpRow): UpliftReading | null {
  if (row.ownMonthSignificant === null || row.ownMonthTooSmall === null) return null;
  return upliftReading({
    tooSmall: row.ownMonthTooSmall,
    significant: row.ownMonthSignificant,
    absoluteUplift: row.ownMonthAbsoluteUplift,
  });
}

/**
 * How the effect measured in the month of contact stands a month later, by the two readings: the
 * month of contact's (`then`; null for a group that month did not measure) and the follow-up's
 * (`now`). Each sentence says what both readings say, no more.
 */
const FOLLOW_UP_VERDICTS: Record<UpliftReading | 'not measured', Record<UpliftReading, string>> = {
  kept: {
    kept: 'the contacts still kept subscribers a month later',
    lost: 'the contacts kept subscribers in the month of contact, but a month later more of the contacted than of the control group had left',
    'no clear effect': 'the effect measured in the month of contact cannot be told from none a month later',
    'too small': 'too few subscribers to tell whether the effect measured in the month of contact held a month later',
  },
  lost: {
    kept: 'more of the contacted than of the control group left in the month of contact, but a month later fewer of them had left',
    lost: 'more of the contacted than of the control group had left, in the month of contact and still a month later',
    'no clear effect':
      'more of the contacted than of the control group left in the month of contact; a month later the difference cannot be told from none',
    'too small': 'too few subscribers to tell whether the harm measured in the month of contact lasted a month later',
  },
  'no clear effect': {
    kept: 'the contacted left less often a month later, a difference the month of contact could not yet show',
    lost: 'more of the contacted than of the control group had left a month later, a difference the month of contact could not yet show',
    'no clear effect': 'neither month can tell the difference from none',
    'too small':
      'too few subscribers to tell a month later; the month of contact could not tell the difference from none',
  },
  'too small': {
    kept: 'the contacted left less often a month later; the month of contact had too few subscribers to tell',
    lost: 'more of the contacted than of the control group had left a month later; the month of contact had too few subscribers to tell',
    'no clear effect':
      'too few subscribers to tell in the month of contact, and a month later the difference cannot be told from none',
    'too small': 'too few subscribers to tell, in either month',
  },
  'not measured': {
    kept: 'the contacted left less often a month later',
    lost: 'more of the contacted than of the control group had left a month later',
    'no clear effect': 'a month later the difference cannot be told from none',
    'too small': 'too few subscribers to tell a month later',
  },
};

/**
 * How the effect measured in the month of contact stands a month later, e.g. "the contacts still
 * kept subscribers a month later": FOLLOW_UP_VERDICTS of the two readings.
 */
export function followUpVerdict(row: FollowUpRow): string {
  return FOLLOW_UP_VERDICTS[ownMonthReading(row) ?? 'not measured'][upliftReading(row)];
}

/**
 * The follow-up's headline in plain text (the report escapes it, `campaigns show` wraps it), e.g.
 * "A month later: 2026-05/v1's list (measured by 2026-06/v1, churn read in 2026-06), read again in
 * 2026-07: 25.0% of the held out and 21.0% of the targeted had no usage in 2026-07 (churn weighted
 * by each subscriber's chance of being held out, controlShare 0.25): uplift +4.0 pp (95% interval
 * +0.5 to +7.6 pp, significant (kept)), against +3.2 pp (+0.4 to +6.3 pp, significant (kept)) in
 * 2026-06: the contacts still kept subscribers a month later." (unweighted: without the brackets)
 */
export function followUpHeadline(followUp: CampaignFollowUp): string {
  if (!followUp.measured) return `A month later: not followed up: ${followUp.reason}.`;
  const { dispatchFrom, firstMeasuredIn, churnMonth, overall } = followUp;
  const pct = (n: number | null) => (n === null ? '–' : `${(n * 100).toFixed(1)}%`);
  const again = listedAgainNote(followUp);
  const weighted = weightingWords(followUp.holdOutWeights);
  return `A month later: ${dispatchFrom.month}/v${dispatchFrom.version}'s list (measured by ${firstMeasuredIn.month}/v${firstMeasuredIn.version}, churn read in ${firstMeasuredIn.month}), read again in ${churnMonth}: ${pct(overall.controlChurnRate)} of the held out and ${pct(overall.targetedChurnRate)} of the targeted had no usage in ${churnMonth}${weighted ? ` (churn ${weighted})` : ''}: ${followUpUplift(overall)}${ownMonthUplift(overall, firstMeasuredIn.month)}: ${followUpVerdict(overall)}.${again ? ` ${again}` : ''}`;
}

/**
 * What the next list did to a follow-up, e.g. "211 of the 475 held out and 595 of the 1,253
 * targeted were on 2026-06/v1's list too, to be contacted in 2026-07: churn in 2026-07 answers to
 * both lists' contacts, so the follow-up reads them together, not how long 2026-05's lasted alone.";
 * '' when nobody was, or it was not counted.
 */
export function listedAgainNote(followUp: CampaignFollowUp): string {
  if (!followUp.measured || !followUp.listedAgain) return '';
  const { list, control, targeted } = followUp.listedAgain;
  if (control + targeted === 0) return '';
  const { overall, dispatchFrom, churnMonth } = followUp;
  const held = overall.controlSubscribers + overall.controlUnreadable;
  const aimed = overall.targetedSubscribers + overall.targetedUnreadable;
  return `${count(control)} of the ${count(held)} held out and ${count(targeted)} of the ${count(aimed)} targeted were on ${list.month}/v${list.version}'s list too, to be contacted in ${churnMonth}: churn in ${churnMonth} answers to both lists' contacts, so the follow-up reads them together, not how long ${dispatchFrom.month}'s lasted alone.`;
}

/**
 * A follow-up group's uplift by the follow-up's month, with its interval and reading, e.g.
 * "uplift +4.0 pp (95% interval −0.6 to +8.7 pp, not significant)": the headline's words, and
 * those of the run result's and `snapshots show`'s line (cli/snapshot-text.ts).
 */
export function followUpUplift(row: FollowUpRow): string {
  return `uplift ${signedPoints(row.absoluteUplift)} (95% interval ${signedInterval(row.upliftLow, row.upliftHigh)}, ${READING_IN_TABLES[upliftReading(row)]})`;
}

/**
 * The uplift the month of contact measured for the group, to follow its uplift a month later,
 * e.g. ", against +3.2 pp (+0.4 to +6.3 pp, significant (kept)) in 2026-06"; empty for a group
 * that month did not measure.
 */
export function ownMonthUplift(row: FollowUpRow, ownMonth: string): string {
  const then = ownMonthReading(row);
  if (row.ownMonthAbsoluteUplift === null || then === null) return '';
  return `, against ${signedPoints(row.ownMonthAbsoluteUplift)} (${signedInterval(row.ownMonthUpliftLow, row.ownMonthUpliftHigh)}, ${READING_IN_TABLES[then]}) in ${ownMonth}`;
}

/**
 * Words wrapped to `width` columns, continuation lines indented by `indent` (`campaigns show`, the
 * follow-up's line): columns as a terminal shows them, a Chinese character two.
 */
export function wrapWords(text: string, width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && stringWidth(line) + 1 + stringWidth(word) > width) {
      lines.push(line);
      line = `${indent}${word}`;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}

/** What the follow-up counts as churned, and what it leaves out, in one plain sentence. */
export function followUpDefinition(churnMonth: string, ownMonth: string): string {
  return `Churned by ${churnMonth}: on the list and no usage in ${churnMonth}, whether the subscriber left in ${ownMonth} or in ${churnMonth} (one back after a month without usage counts as kept); same arms (intent to treat), groups, interval and too-small rule as the month of contact's measurement; no kept per 100 contacts (no contact log is read a month later: the month of contact's is in its own campaigns.parquet).`;
}
