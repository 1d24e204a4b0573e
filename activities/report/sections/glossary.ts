import { priorityWords, RISK_BANDS, STABLE_SCORE } from '../../../domain/rules';
import { percent, type ReportSection } from '../html';

const band = (name: string) => percent(RISK_BANDS.find((b) => b.band === name)?.minScore ?? 0);

/** The terms, with the run's high-value threshold (¥ a month) where "high value" is defined. */
const terms = (
  highValueThreshold: number,
  keyCustomerRevenueShare: number,
): readonly [term: string, meaning: string][] => [
  ['ARPU', 'average revenue per user: what a subscriber spends a month (¥).'],
  ['MOU', 'minutes of use: call minutes a month.'],
  ['DOU', 'data of use: mobile data a month, in MB.'],
  [
    'churn score',
    `the chance, from the churn model that scores (the boosted ensemble unless churnModel is tree), that a subscriber leaves next month. High risk is ${band('high')} or more, elevated ${band('elevated')} or more.`,
  ],
  [
    'ROC AUC',
    'how well the churn score ranks leavers above stayers: the chance that a random leaver scores higher than a random stayer. 0.5 is guessing, 1 is perfect.',
  ],
  [
    'lift',
    'how many times more often a group churns than subscribers on average. A top-decile lift of 3x: the riskiest 10% churn three times as often.',
  ],
  [
    'precision, recall',
    'of the riskiest 10%, the share who did leave; of all who left, the share found in the riskiest 10%.',
  ],
  ['holdout', 'subscribers kept out of training to measure the churn model fairly.'],
  [
    'key customer',
    `the top subscribers by spend who together hold ${percent(keyCustomerRevenueShare)} of revenue (keyCustomerRevenueShare; value tiers: key, high, mid, low).`,
  ],
  [
    'stability',
    `a 0-100 score from tenure, contract, broadband and family bundles, call circle and premium number; below ${STABLE_SCORE} is unstable.`,
  ],
  [
    'high value',
    `three measures, each where it is named: a high-value subscriber (snapshots diff's highValueSubscribers) spends at least ¥${highValueThreshold.toLocaleString('en-US')} a month (highValueThreshold), and the VIP tag goes to those and to the key customers of the revenue ranking; the high value tier (the grids' "high value at risk", the operation priority) is the key and high tiers of the revenue ranking; in a segment's name, "high value" says its members' typical spend is well above the typical subscriber's: the average of their log ARPU at least half a standard deviation above all subscribers' (on a log scale, so a few big spenders do not make a segment high value, and a high-value segment's ARPU, an arithmetic mean, can be below a mid-value one's), whatever its members' tiers.`,
  ],
  [
    'operation priority',
    `from value tier x stability: 1 (${priorityWords(1)}) is the most urgent, then 2 (${priorityWords(2)}), down to 8 (${priorityWords(8)}).`,
  ],
  ['migration', 'subscribers whose segment this month differs from last month.'],
];

/** Short definitions of the terms the report uses. */
export function glossarySection(highValueThreshold: number, keyCustomerRevenueShare: number): ReportSection {
  return {
    id: 'glossary',
    title: 'Glossary',
    html: `<dl class="glossary">${terms(highValueThreshold, keyCustomerRevenueShare)
      .map(([term, meaning]) => `<dt>${term}</dt><dd>${meaning}</dd>`)
      .join('')}</dl>`,
  };
}
