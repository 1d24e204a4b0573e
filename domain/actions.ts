import type { SegmentProfileSignals } from './segment-names';
import { NAMING_THRESHOLDS } from './segment-names';

/**
 * CPCT (seed 002): for each segment the right Product, Channel and Time, and for each
 * subscriber tags a marketer filters on. One parameterised place for all of these rules.
 */

export interface SegmentAction {
  recommendedProduct: string;
  channel: string;
  contactMoment: string;
}

/** Calls and pushes are never placed in these hours (local time). */
export const DO_NOT_DISTURB = '21:00-09:00';

/**
 * The products segflow recommends (a dispatch list's recommended_product): a contact log's own
 * words for them are mapped onto these (domain/contacts-mapping.ts `actions`).
 */
export const RECOMMENDED_PRODUCTS = {
  familyPlan: 'family plan upgrade with broadband',
  premium: 'premium unlimited plan with a device offer',
  data: 'larger data package or data add-on',
  voice: 'voice minutes bundle with a family number',
  recharge: 'recharge bonus on a low-cost plan',
  converged: 'converged mobile and broadband bundle',
} as const;

/** Product, channel and moment for a segment, from the same profile signals that name it. */
export function segmentAction(signals: SegmentProfileSignals): SegmentAction {
  const t = NAMING_THRESHOLDS;
  // a usage the input does not have (null) leans nowhere: no data offer without data usage
  const dataZ = signals.dataZ ?? 0;
  const voiceZ = signals.voiceZ ?? 0;
  const lean = signals.dataZ === null || signals.voiceZ === null ? 0 : dataZ - voiceZ;
  const products = RECOMMENDED_PRODUCTS;
  const recommendedProduct =
    signals.stickyZ > t.sticky
      ? products.familyPlan
      : signals.valueZ > t.value && dataZ > t.value && voiceZ > t.value
        ? products.premium
        : lean > t.preference || (signals.voiceZ === null && dataZ > t.value)
          ? products.data
          : lean < -t.preference || (signals.dataZ === null && voiceZ > t.value)
            ? products.voice
            : signals.valueZ < -t.value
              ? products.recharge
              : products.converged;
  const channel =
    signals.valueZ > t.value
      ? 'account manager call'
      : signals.valueZ < -t.value
        ? 'SMS and app push'
        : 'outbound call and app push';
  const contactMoment =
    signals.mouTrend !== null && signals.mouTrend < t.declining
      ? `now: usage is falling (change moment); not ${DO_NOT_DISTURB}`
      : `in the week before the monthly bill; not ${DO_NOT_DISTURB}`;
  return { recommendedProduct, channel, contactMoment };
}

/** Thresholds of the subscriber tags (domain.md: static and dynamic tags). */
export const TAG_RULES = {
  /** VIP: key customers by revenue share, or spend above the high-value threshold. */
  vip: 'value_tier = key or high_value',
  /** warning: churn risk band high / elevated, or minutes fell below this share of before. */
  warningMouTrend: 0.6,
  /** loyal: on the network at least this many months, stable, low churn risk. */
  loyalTenureMonths: 36,
  /** new: on the network fewer months than this. */
  newTenureMonths: 6,
  /** declining: spend or minutes down to this share of the three months before. */
  decliningTrend: 0.8,
} as const;

/** Subscribers to contact: at churn risk, or high value and unstable (priority 1-2 in the grid). */
export const DISPATCH_MAX_PRIORITY = 2;

/** When to contact a subscriber, by what their tags say; otherwise the segment's moment. */
export const CONTACT_MOMENTS = {
  warning: `within 7 days, before the next bill (churn warning); not ${DO_NOT_DISTURB}`,
  new: `in the first-use week; not ${DO_NOT_DISTURB}`,
  declining: `now: usage is falling (change moment); not ${DO_NOT_DISTURB}`,
} as const;
