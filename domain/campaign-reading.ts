import type { CampaignMetrics } from '../activities/campaign-metrics';

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
