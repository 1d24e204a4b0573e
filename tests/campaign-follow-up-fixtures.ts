import type { CampaignFollowUp, CampaignFollowUpGroup } from '../activities/campaign-metrics';

/**
 * A group of a follow-up: not significant a month later (+4.0 pp, −0.6 to +8.7), after a
 * significant uplift in the month of contact (+3.2 pp, +0.4 to +6.3); `values` override.
 */
export function followUpRow(
  dimension: string,
  group: string,
  values: Partial<CampaignFollowUpGroup> = {},
): CampaignFollowUpGroup {
  return {
    dimension,
    group,
    controlSubscribers: 400,
    controlChurned: 100,
    controlChurnRate: 0.25,
    targetedSubscribers: 1_200,
    targetedChurned: 252,
    targetedChurnRate: 0.21,
    absoluteUplift: 0.04,
    relativeUplift: 0.16,
    upliftLow: -0.006,
    upliftHigh: 0.087,
    significant: false,
    tooSmall: false,
    controlUnreadable: 0,
    targetedUnreadable: 0,
    ownMonthControlChurnRate: 0.16,
    ownMonthTargetedChurnRate: 0.128,
    ownMonthAbsoluteUplift: 0.032,
    ownMonthUpliftLow: 0.004,
    ownMonthUpliftHigh: 0.063,
    ownMonthSignificant: true,
    ownMonthTooSmall: false,
    ...values,
  };
}

/** 2026-07's follow-up of 2026-05/v1's list, which 2026-06/v2 measured, with the whole list's row `overall`. */
export function measuredFollowUp(
  overall = followUpRow('all', 'all on the list'),
): Extract<CampaignFollowUp, { measured: true }> {
  return {
    measured: true,
    dispatchFrom: { month: '2026-05', version: 1, sha256: 'a'.repeat(64) },
    firstMeasuredIn: { month: '2026-06', version: 2 },
    churnMonth: '2026-07',
    interval: 'Newcombe hybrid score interval (method 10) from two Wilson 95% intervals',
    minArmSubscribers: 30,
    keptPer100: 'not given',
    overall,
    byAction: [],
  };
}
