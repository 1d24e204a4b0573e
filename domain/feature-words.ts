/**
 * Features and churn-rule conditions in words a marketer reads: "spend fell more than 5% a
 * month" for `spend_slope_rel < -0.05`, "fewer than 18 distinct contacts" for
 * `call_circle < 17.5`. The column names stay the reference (small print, hover, dispatch.parquet).
 */

/**
 * One condition of a churn rule: `low <= feature < high`, either bound open; or, for a categorical
 * feature, the categories it allows (`missing`: a missing value is allowed too).
 */
export interface RuleTerm {
  feature: string;
  low?: number;
  high?: number;
  categories?: string[];
  /** Categorical, or numeric with gaps (which the models see as 0, inside the range): missing values are in too. */
  missing?: boolean;
  /** A term on the feature's missing indicator: whether its value is missing or given, nothing else. */
  presence?: 'missing' | 'given';
}

interface FeaturePhrasing {
  /** A short noun phrase for chart axes and tables. */
  label: string;
  below(x: number): string;
  atLeast(x: number): string;
  between(low: number, high: number): string;
}

/** Which way a bound is rounded for reading: `up` for "x or more", `down` for "less than x", so the words claim no one the rule leaves out. */
type Toward = 'up' | 'down';

/** `x` rounded at `digits` decimals (negative: tens, hundreds), to nearest or toward a side. */
function roundAt(x: number, digits: number, toward?: Toward): number {
  const scale = 10 ** digits;
  const scaled = x * scale;
  // a hair's tolerance: 0.905 * 1000 is 904.9999999999999
  const rounded =
    toward === 'up' ? Math.ceil(scaled - 1e-9) : toward === 'down' ? Math.floor(scaled + 1e-9) : Math.round(scaled);
  return rounded / scale;
}

/** Decimals that show `x` with two significant digits below 10, whole from 10 up. */
function readableDigits(x: number): number {
  return x === 0 || Math.abs(x) >= 10 ? 0 : 1 - Math.floor(Math.log10(Math.abs(x)));
}

/** Rounds for reading: whole numbers from 10 up, otherwise two significant digits. */
function readable(x: number, toward?: Toward): string {
  return roundAt(x, readableDigits(x), toward).toLocaleString('en-US', { maximumFractionDigits: 20 });
}

function percent(share: number, toward?: Toward): string {
  const value = Math.abs(share * 100);
  // |share|: a volatility, never below 0
  return `${roundAt(value, value >= 1 ? 0 : readableDigits(value) - 1, toward)}%`;
}

/** A whole-number feature (a count): `x < 17.5` is "fewer than 18". */
function count(label: string, singular: string, plural: string, around: (amount: string) => string): FeaturePhrasing {
  const noun = (n: number) => (n === 1 ? singular : plural);
  return {
    label,
    below: (x) => {
      const n = Math.ceil(x);
      return around(n <= 1 ? `no ${plural}` : `fewer than ${n.toLocaleString('en-US')} ${plural}`);
    },
    atLeast: (x) => {
      const n = Math.max(Math.ceil(x), 0);
      return around(`at least ${n.toLocaleString('en-US')} ${noun(n)}`);
    },
    between: (low, high) => {
      const [from, to] = [Math.max(Math.ceil(low), 0), Math.ceil(high) - 1];
      return around(from === to ? `exactly ${from} ${noun(from)}` : `${from} to ${to} ${plural}`);
    },
  };
}

/**
 * A measured amount: `value` formats it with its unit, `fewer` for countable units. A bound is
 * rounded toward the rule's side ("¥20 or more" for `arpu >= 19.2`): the words never take in a
 * subscriber the rule leaves out.
 */
function amount(
  label: string,
  value: (x: number, toward?: Toward) => string,
  around: (amount: string) => string,
  fewer = false,
): FeaturePhrasing {
  const less = fewer ? 'fewer' : 'less';
  return {
    label,
    below: (x) => around(`${less} than ${value(x, 'down')}`),
    atLeast: (x) => around(`${value(x, 'up')} or more`),
    between: (low, high) => {
      // each end toward the inside, as below and atLeast round theirs
      const [from, to] = [value(low, 'up'), value(high, 'down')];
      // a range too thin for the rounding ([19.2, 20.4) is "¥20 to ¥20" or "¥20 to ¥19"): its middle
      return around(amountOf(from) < amountOf(to) ? `${from} to ${to}` : `about ${value((low + high) / 2)}`);
    },
  };
}

/** The number an amount's words show ("¥1,234" is 1234, "12%" 12). */
function amountOf(words: string): number {
  return Number(words.replace(/[^0-9.-]/g, ''));
}

/**
 * A change's size as a percentage, rounded `down` or `up` at one decimal from 1% up (".0"
 * dropped), two significant digits below. change() rounds each bound into the rule, as amounts
 * are: the words then take in no subscriber the rule leaves out, and a split's two sides never
 * share a subscriber in words ("fell more than 4.7%" and "fell less than 4.6% or grew" for a split
 * at a fall of 4.61%).
 */
function percentToward(share: number, toward: 'down' | 'up'): string {
  // 10 significant digits first: 0.905 - 1 is -0.09499999999999997, whose fall is 9.5%
  const value = Number(Math.abs(share * 100).toPrecision(10));
  if (value === 0) return '0%';
  const digits = value >= 1 ? 1 : 1 - Math.floor(Math.log10(value));
  const scale = 10 ** digits;
  const scaled = Number((value * scale).toPrecision(10));
  const rounded = (toward === 'down' ? Math.floor(scaled) : Math.ceil(scaled)) / scale;
  return `${Number(rounded.toFixed(digits))}%`;
}

/**
 * A change: a ratio (recent / before, 1 = no change) or a relative rate (0 = no change).
 * `x < 0.71` on a ratio is "fell more than 29%"; `x < 0.905` "fell more than 9.5%".
 */
function change(label: string, subject: string, suffix: string, ratio: boolean): FeaturePhrasing {
  const delta = (x: number) => (ratio ? x - 1 : x);
  // the rate's suffix (" a month") follows its number, before an "or ..."
  const say = (text: string, or = '') => `${subject} ${text}${suffix}${or}`;
  // each size rounded into the rule (percentToward): a bound passed up, a bound not reached down
  const passed = (d: number) => percentToward(d, 'up');
  const notReached = (d: number) => percentToward(d, 'down');
  return {
    label,
    below: (x) => {
      const d = delta(x);
      if (d === 0) return say('fell');
      return d < 0 ? say(`fell more than ${passed(d)}`) : say(`grew less than ${notReached(d)}`, ' or fell');
    },
    atLeast: (x) => {
      const d = delta(x);
      if (d === 0) return say('held or grew');
      return d < 0 ? say(`fell less than ${notReached(d)}`, ' or grew') : say(`grew ${passed(d)} or more`);
    },
    between: (low, high) => {
      const [from, to] = [delta(low), delta(high)];
      // each end into the rule; a range too thin for the rounding ("fell 5.5% to 5.4%"): its middle
      const span = (smaller: string, larger: string, verb: string) =>
        parseFloat(smaller) < parseFloat(larger)
          ? say(`${verb} ${smaller} to ${larger}`)
          : say(`${verb} about ${percentToward((from + to) / 2, 'down')}`);
      if (to <= 0) return span(passed(to), notReached(from), 'fell');
      if (from >= 0) return span(passed(from), notReached(to), 'grew');
      return say(`changed between -${notReached(from)} and +${notReached(to)}`);
    },
  };
}

const TREND = ' (last 3 months vs the 3 before)';
const yuan = (x: number, toward?: Toward) => `¥${readable(x, toward)}`;

/** Plain words for every subscriber feature the models and the report use (features SQL columns). */
export const FEATURE_WORDS: Readonly<Record<string, FeaturePhrasing>> = {
  arpu: amount('monthly spend (ARPU)', yuan, (a) => `spends ${a} a month`),
  mou: amount(
    'call minutes a month (MOU)',
    (x, toward) => `${readable(x, toward)} minutes`,
    (a) => `talks ${a} a month`,
    true,
  ),
  dou: amount(
    'data a month (DOU)',
    (x, toward) => `${readable(x, toward)} MB`,
    (a) => `uses ${a} of data a month`,
  ),
  sms: amount(
    'SMS a month',
    (x, toward) => `${readable(x, toward)} SMS`,
    (a) => `sends ${a} a month`,
    true,
  ),
  monetary: amount('spend over the history window', yuan, (a) => `spent ${a} over the history window`),
  recharge_amount: amount('recharged amount', yuan, (a) => `recharged ${a} over the history window`),
  frequency: count('recharges', 'recharge', 'recharges', (a) => `${a} over the history window`),
  recency_days: count('days since the last recharge', 'day', 'days', (a) => `last recharge ${a} before month end`),
  payment_delay_avg: amount(
    'average payment delay',
    (x, toward) => `${readable(x, toward)} days`,
    (a) => `pays ${a} late on average`,
    true,
  ),
  complaints_recent: count('complaints (last 3 months)', 'complaint', 'complaints', (a) => `${a} in the last 3 months`),
  mou_trend: change('change in call minutes', 'call minutes', TREND, true),
  dou_trend: change('change in data use', 'data use', TREND, true),
  spend_trend: change('change in spend', 'spend', TREND, true),
  recharge_trend: change('change in recharges', 'recharges', TREND, true),
  spend_slope_rel: change('spend trend per month', 'spend', ' a month', false),
  spend_volatility: amount('spend volatility', percent, (a) => `monthly spend varies ${a} around its average`),
  mou_volatility: amount(
    'call-minute volatility',
    percent,
    (a) => `monthly call minutes vary ${a} around their average`,
  ),
  tenure_months: count('months on the network', 'month', 'months', (a) => `on the network ${a}`),
  contract_months_left: count('contract months left', 'contract month left', 'contract months left', (a) => a),
  sticky_services: count(
    'sticky services (broadband, family bundle)',
    'sticky service',
    'sticky services',
    (a) => `${a} (broadband, family bundle)`,
  ),
  call_circle: count('distinct contacts (call circle)', 'distinct contact', 'distinct contacts', (a) => a),
  stability_score: amount('stability score (0-100)', readable, (a) => `stability score ${a} (of 100)`),
};

/** A feature's short plain label; the column name for a feature without words. */
export function featureLabel(feature: string): string {
  return FEATURE_WORDS[feature]?.label ?? feature;
}

/** "A", "A or B", "A, B or C". */
function listInWords(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? 'none') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

/** One rule term in words, e.g. "fewer than 18 distinct contacts". */

export function termInWords(term: RuleTerm): string {
  const { feature, low, high, categories, missing, presence } = term;
  if (presence) return `${featureLabel(feature)} ${presence}`;
  if (categories) return `${featureLabel(feature)} is ${listInWords(categories)}${missing ? ' (or unknown)' : ''}`;
  const words = FEATURE_WORDS[feature];
  if (!words) return termInSymbols(term);
  const range =
    low !== undefined && high !== undefined
      ? words.between(low, high)
      : low !== undefined
        ? words.atLeast(low)
        : high !== undefined
          ? words.below(high)
          : 'any';
  return missing ? `${range} (or unknown)` : range;
}

/** A rule term with its column name, as the churn tree states it: "call_circle < 17.5". */
export function termInSymbols({ feature, low, high, categories, missing, presence }: RuleTerm): string {
  if (presence) return `${feature} ${presence}`;
  const set = categories
    ? `${feature} in {${categories.join(', ')}}`
    : low !== undefined && high !== undefined
      ? `${symbolNumber(low)} <= ${feature} < ${symbolNumber(high)}`
      : low !== undefined
        ? `${feature} >= ${symbolNumber(low)}`
        : high !== undefined
          ? `${feature} < ${symbolNumber(high)}`
          : feature;
  return missing ? `(${set} or missing)` : set;
}

function symbolNumber(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(0) : Number(value.toPrecision(3)).toString();
}

/**
 * A subscriber's feature values in words a retention agent can read out, e.g. "3 complaints in the
 * last 3 months" or "contract ends in 1 month": the churn reasons in the dispatch list.
 */

const wholeNumber = (value: number) => Math.round(value).toLocaleString('en-US');
const wholePercent = (ratio: number) => `${Math.round(ratio * 100)}%`;
const plural = (n: number, word: string) => `${wholeNumber(n)} ${word}${Math.round(n) === 1 ? '' : 's'}`;
/** Trend features are recent / earlier usage (1 = unchanged). */
const trend = (what: string) => (ratio: number) =>
  wholePercent(ratio) === '100%'
    ? `${what} about as in the months before`
    : ratio < 1
      ? `${what} down to ${wholePercent(ratio)} of the months before`
      : `${what} up to ${wholePercent(ratio)} of the months before`;

export const VALUE_WORDS: Record<string, (value: number) => string> = {
  arpu: (v) => `monthly spend ¥${wholeNumber(v)}`,
  mou: (v) => `${plural(v, 'call minute')} a month`,
  dou: (v) => `${wholeNumber(v)} MB of data a month`,
  sms: (v) => `${plural(v, 'text message')} a month`,
  frequency: (v) => `${plural(v, 'recharge')} in the history window`,
  recency_days: (v) => `no recharge for ${plural(v, 'day')} before month end`,
  payment_delay_avg: (v) => `pays ${plural(v, 'day')} late on average`,
  complaints_recent: (v) => `${plural(v, 'complaint')} in the last 3 months`,
  mou_trend: trend('call minutes'),
  dou_trend: trend('data use'),
  spend_trend: trend('spend'),
  recharge_trend: trend('recharges'),
  spend_slope_rel: (v) => `spend ${v < 0 ? 'falling' : 'rising'} ${wholePercent(Math.abs(v))} a month`,
  spend_volatility: (v) => `spend swings ${wholePercent(v)} month to month`,
  tenure_months: (v) => `customer for ${plural(v, 'month')}`,
  contract_months_left: (v) => (v <= 0 ? 'no contract binding' : `contract ends in ${plural(v, 'month')}`),
  sticky_services: (v) => (v <= 0 ? 'no broadband or family bundle' : `${plural(v, 'bundled service')}`),
  call_circle: (v) => `${plural(v, 'regular contact')}`,
  stability_score: (v) => `stability score ${wholeNumber(v)} of 100`,
};

/** The feature and its value in words; a feature without words reads "name = value". */
export function describeFeature(feature: string, value: number): string {
  const words = VALUE_WORDS[feature];
  return words ? words(value) : `${feature} = ${Number(value.toPrecision(4))}`;
}
