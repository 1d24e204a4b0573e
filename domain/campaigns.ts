/**
 * Act and measure (seed 000): how a month's contacts are judged against its control group in
 * the next month's run. activities/campaigns.ts applies these; docs/campaigns.md explains them.
 */
import { OPERATION_GRID } from './rules';

/**
 * The channels segflow puts on its lists, as the dispatch list writes them (domain/rules.ts
 * OPERATION_GRID; 'SMS and app push' is a segment's, domain/actions.ts): a contact log's channels
 * are checked against these and their parts (activities/campaigns.ts), and a contact-log
 * mapping's `channels` map the log's words onto them.
 */
export const CONTACT_CHANNELS: readonly string[] = [
  ...new Set([...OPERATION_GRID.map((cell) => cell.channel), 'SMS and app push']),
];

/** Outcomes a contact log may record (lower case; "not_reached" and "Not Reached" are read as "not reached"). */
export const CONTACT_OUTCOMES = ['accepted', 'declined', 'not reached'] as const;

export const CAMPAIGN_MEASUREMENT = {
  /** Groups with fewer subscribers than this in the control or the contacted arm are flagged too small, not read. */
  minArmSubscribers: 30,
  /**
   * Kept per 100 contacts divides a group's uplift by the share of its targeted subscribers with a
   * contact record: below this many logged subscribers in the group it is not given (a handful of
   * logged subscribers turn a small uplift into thousands "kept per 100").
   */
  minLoggedSubscribers: 30,
  /**
   * Below this share of the list's targeted subscribers with a contact record, the measurement
   * warns that the log may be partial (one team's file): kept per 100 contacts then overstates.
   */
  minLoggedShare: 0.5,
  /** Two-sided 95% interval: the normal quantile used by the Wilson intervals. */
  z: 1.959963984540054,
  /** How the interval of the uplift (control churn rate minus contacted churn rate) is computed. */
  interval:
    "Newcombe hybrid score interval (method 10) from two Wilson 95% intervals, each at its arm's weighted churn rate and effective size",
} as const;

/** The breakdowns of the measurement, in the order campaigns.parquet and the report list them. */
export const CAMPAIGN_DIMENSIONS = ['all', 'action', 'segment', 'channel', 'contact moment', 'grid'] as const;
export type CampaignDimension = (typeof CAMPAIGN_DIMENSIONS)[number];
