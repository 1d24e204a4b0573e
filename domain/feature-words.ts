/**
 * Churn model features in words a retention agent can read out, e.g. "3 complaints in the last
 * 3 months" or "contract ends in 1 month". Used for the reasons in the dispatch list.
 */

const whole = (value: number) => Math.round(value).toLocaleString('en-US');
const percent = (ratio: number) => `${Math.round(ratio * 100)}%`;
const plural = (n: number, word: string) => `${whole(n)} ${word}${Math.round(n) === 1 ? '' : 's'}`;
/** Trend features are recent / earlier usage (1 = unchanged). */
const trend = (what: string) => (ratio: number) =>
  ratio < 1
    ? `${what} down to ${percent(ratio)} of the months before`
    : `${what} up to ${percent(ratio)} of the months before`;

export const FEATURE_WORDS: Record<string, (value: number) => string> = {
  arpu: (v) => `monthly spend ${whole(v)} yuan`,
  mou: (v) => `${plural(v, 'call minute')} a month`,
  dou: (v) => `${whole(v)} MB of data a month`,
  sms: (v) => `${plural(v, 'text message')} a month`,
  frequency: (v) => `${plural(v, 'recharge')} in the history window`,
  recency_days: (v) => `last active ${plural(v, 'day')} ago`,
  payment_delay_avg: (v) => `pays ${plural(v, 'day')} late on average`,
  complaints_recent: (v) => `${plural(v, 'complaint')} in the last 3 months`,
  mou_trend: trend('call minutes'),
  dou_trend: trend('data use'),
  spend_trend: trend('spend'),
  recharge_trend: trend('recharges'),
  spend_slope_rel: (v) => `spend ${v < 0 ? 'falling' : 'rising'} ${percent(Math.abs(v))} a month`,
  spend_volatility: (v) => `spend swings ${percent(v)} month to month`,
  tenure_months: (v) => `customer for ${plural(v, 'month')}`,
  contract_months_left: (v) => (v <= 0 ? 'no contract binding' : `contract ends in ${plural(v, 'month')}`),
  sticky_services: (v) => (v <= 0 ? 'no broadband or family bundle' : `${plural(v, 'bundled service')}`),
  call_circle: (v) => `${plural(v, 'regular contact')}`,
  stability_score: (v) => `stability score ${whole(v)} of 100`,
};

/** The feature and its value in words; a feature without words reads "name = value". */
export function describeFeature(feature: string, value: number): string {
  const words = FEATURE_WORDS[feature];
  return words ? words(value) : `${feature} = ${Number(value.toPrecision(4))}`;
}
