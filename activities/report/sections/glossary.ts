import { CONTACT_MOMENTS, TAG_RULES } from '../../../domain/actions';
import { OPERATION_GRID, priorityWords, RISK_BANDS, SCORE_COMPONENTS, STABLE_SCORE } from '../../../domain/rules';
import { NAMING_THRESHOLDS } from '../../../domain/segment-names';
import { percent, type ReportSection } from '../html';

/** "a, b and c". */
const listed = (words: readonly string[], last = 'and') =>
  words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} ${last} ${words[words.length - 1]}`;

/**
 * What a score is taken over in this run: its components' words, and a sentence on those the
 * input lacked (skippedFeatures names them `<score>.<component>`, or the whole score when it had none).
 */
function scoreParts(
  score: keyof typeof SCORE_COMPONENTS,
  skippedFeatures: readonly string[],
  range: string,
): { over: string; absent: string } {
  const { components } = SCORE_COMPONENTS[score];
  const whole = skippedFeatures.includes(score);
  const absent = components.filter((c) => whole || skippedFeatures.includes(`${score}.${c.component}`));
  const present = components.filter((c) => !absent.includes(c));
  if (present.length === 0)
    return {
      over: listed(components.map((c) => c.words)),
      absent: ` <b>Not computed this month:</b> the input has none of its parts.`,
    };
  return {
    over: listed(present.map((c) => c.words)),
    absent: absent.length
      ? ` This month's input has no ${listed(
          absent.map((c) => c.words),
          'or',
        )}, so it is taken over the parts it has, rescaled to ${range}.`
      : '',
  };
}

/**
 * A retention style of the operation grid (domain/rules.ts): its means ("contract renewal, device
 * offer") and the priorities that get it, in words.
 */
function retentionStyle(kind: string): { means: string; who: string } {
  const cells = OPERATION_GRID.filter((c) => c.retentionStyle.startsWith(`${kind}: `));
  return {
    means: cells[0]?.retentionStyle.slice(kind.length + 2) ?? '',
    who: `operation ${cells.length === 1 ? 'priority' : 'priorities'} ${listed(cells.map((c) => `${c.priority} (${priorityWords(c.priority)})`))}`,
  };
}

/** The words in brackets that name a contact moment ("change moment"), checked against domain/actions.ts. */
const CHANGE_MOMENT = CONTACT_MOMENTS.declining.includes('(change moment)') ? 'change moment' : null;

const band = (name: string) => percent(RISK_BANDS.find((b) => b.band === name)?.minScore ?? 0);

/** A glossary entry: the term and its meaning (HTML). */
type Term = [term: string, meaning: string];

/** The run's parameters and data the glossary's definitions are stated from. */
export interface GlossaryData {
  /** ¥ a month (highValueThreshold). */
  highValueThreshold: number;
  keyCustomerRevenueShare: number;
  /** Share of each dispatch list held out as the control group (controlShare). */
  controlShare: number;
  /** The run's skipped features (FeatureSummary.skippedFeatures): the scores' absent components among them. */
  skippedFeatures?: readonly string[];
  /** Whether the run trained the boosted ensemble (false with churnModel tree): Brier score, Platt scaling and SHAP are its words. */
  ensemble?: boolean;
  /** Whether the report shows weighted campaign churn rates (sections/campaigns.ts showsWeightedChurn): weighted churn rate is then a term. */
  weightedChurn?: boolean;
}

/**
 * The terms, with the run's parameters where they set a definition (the high-value threshold, the
 * key customers' share, the control share), the tags' thresholds (domain/actions.ts TAG_RULES), the
 * stability score and star grade over the components this run's input had, and weighted churn
 * rate where the report shows one.
 */
const terms = ({
  highValueThreshold,
  keyCustomerRevenueShare,
  controlShare,
  skippedFeatures = [],
  ensemble = true,
  weightedChurn = false,
}: GlossaryData): readonly Term[] => {
  const stability = scoreParts('stability_score', skippedFeatures, '0-100');
  const stars = scoreParts('star_grade', skippedFeatures, '1-5 stars');
  const yen = `¥${highValueThreshold.toLocaleString('en-US')}`;
  const below = (share: number) => `below ${percent(share)} of the three months before`;
  const [steel, sticky, upsell] = ['steel binding', 'sticky binding', 'upsell'].map(retentionStyle);
  return [
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
      'PR AUC',
      "how well the churn score finds the leavers: the share of leavers among the subscribers it ranks riskiest, averaged over every length of that list. Guessing scores the base churn rate (a few percent), 1 is perfect: read it against the base rate, not against ROC AUC's 0.5.",
    ],
    [
      'lift',
      'how many times more often a group churns than subscribers on average. A top-decile lift of 3x: the riskiest 10% churn three times as often.',
    ],
    [
      'precision, recall',
      'of the riskiest 10%, the share who did leave; of all who left, the share found in the riskiest 10%.',
    ],
    [
      'share of impurity decrease',
      "what the churn tree splits on, as shares adding up to 100%: each split sorts subscribers into groups more clearly of leavers or of stayers, and a feature's share is the part of that sorting done by splits on it. A large share says the tree leans on a feature, not that it causes churn.",
    ],
    ...(ensemble
      ? ([
          [
            'Brier score',
            'how far the churn probabilities are from what happened: the average of (probability - outcome)², the outcome 1 for a leaver and 0 for a stayer. 0 is perfect; lower is better.',
          ],
          [
            'Platt scaling',
            "a correction of the boosted ensemble's scores into probabilities that match the churn rates seen, fitted on subscribers its trees were not trained on (a and b in the Churn models section); kept only when it lowers the Brier score.",
          ],
          [
            'SHAP',
            "SHapley Additive exPlanations: a subscriber's churn score split into what each feature added or took away. A contact's churn reasons are the features that raised it most; path contributions are a quicker estimate of the same.",
          ],
        ] satisfies Term[])
      : []),
    [
      'holdout',
      "the churn models' test subscribers: labelled subscribers kept out of their training, to measure them fairly (the Churn model section). Not the campaign's held out.",
    ],
    [
      'held out, control group',
      `the campaign's control group: about ${percent(controlShare)} of each month's dispatch list (controlShare), drawn at random in each grid and operation priority, on the list (control = true in dispatch.parquet) but not to be contacted, so that next month's run can compare their churn with the contacted subscribers'. Not the models' holdout.`,
    ],
    [
      'uplift',
      "the control group's churn rate minus the contacted subscribers': above 0, fewer left among the contacted; below 0, more.",
    ],
    ...(weightedChurn
      ? ([
          [
            'weighted churn rate',
            `a campaign's churn rate of the control group or of the contacted ("left, weighted" in Did last month's actions work?), each subscriber counted by the inverse of its chance of being in that group. The control group's floor (in a grid and operation priority stratum big enough for one, the lowest draw is held out when nobody drew below controlShare) makes that chance higher than controlShare in small strata, which unweighted would count for more in the control group than on the list. So a group's rate need not be its churned / subscribers; the subscriber counts are people.`,
          ],
        ] satisfies Term[])
      : []),
    ['pp', 'percentage points: the difference of two percentages (12% against 9% is 3 pp, a relative fall of 25%).'],
    [
      'tags',
      `labels a subscriber may carry, several at once. <b>VIP</b>: a key customer, or spends at least ${yen} a month (see high value). <b>warning</b>: churn risk elevated or high, or call minutes of the last three months ${below(TAG_RULES.warningMouTrend)}. <b>declining</b>: spend or call minutes of the last three months ${below(TAG_RULES.decliningTrend)}. <b>loyal</b>: on the network ${TAG_RULES.loyalTenureMonths} months or more, stable and at low churn risk. <b>new</b>: on the network fewer than ${TAG_RULES.newTenureMonths} months. <b>won-back</b>: active again after months without use.`,
    ],
    [
      'key customer',
      `the top subscribers by spend who together hold ${percent(keyCustomerRevenueShare)} of revenue (keyCustomerRevenueShare; value tiers: key, high, mid, low).`,
    ],
    ['stability', `a 0-100 score from ${stability.over}; below ${STABLE_SCORE} is unstable.${stability.absent}`],
    [
      'star grade',
      `1 to 5 stars (star_grade in subscribers.parquet), from how a subscriber ranks against the others on ${stars.over} (for payment delays and complaints, fewer is better).${stars.absent}`,
    ],
    [
      'high value',
      `three measures, each where it is named: a high-value subscriber (snapshots diff's highValueSubscribers) spends at least ${yen} a month (highValueThreshold), and the VIP tag goes to those and to the key customers of the revenue ranking; the high value tier (the grids' "high value at risk", the operation priority) is the key and high tiers of the revenue ranking; in a segment's name, "high value" says its members' typical spend is well above the typical subscriber's: the average of their log ARPU at least half a standard deviation above all subscribers' (on a log scale, so a few big spenders do not make a segment high value, and a high-value segment's ARPU, an arithmetic mean, can be below a mid-value one's), whatever its members' tiers.`,
    ],
    [
      'data heavy, voice heavy, heavy user, light user, balanced',
      `in a segment's name, how its members use the network, each measure's average against all subscribers' in standard deviations, on a log scale as for high value: data heavy (voice heavy) says their data use stands above their voice use by more than ${NAMING_THRESHOLDS.preference}, relative to the typical subscriber's, not that they use more data than every other segment; heavy (light) user, both more than ${NAMING_THRESHOLDS.value} above (below) the typical subscriber's; balanced, neither. A data-heavy segment's data use in the table, an arithmetic mean, can so be below a heavy user's, or a balanced one's.`,
    ],
    [
      'operation priority',
      `from value tier x stability: 1 (${priorityWords(1)}) is the most urgent, then 2 (${priorityWords(2)}), down to 8 (${priorityWords(8)}).`,
    ],
    [
      'steel binding',
      `a retention style (a contact's approach): hold the subscriber with a commitment for a term: ${steel.means}. For ${steel.who}.`,
    ],
    [
      'sticky binding',
      `a retention style: make leaving harder without a contract, with services the subscriber would lose by leaving: ${sticky.means}. For ${sticky.who}.`,
    ],
    [
      'upsell',
      `a retention style: sell a stable subscriber more, so the plan fits them better: ${upsell.means}. For ${upsell.who}.`,
    ],
    ...(CHANGE_MOMENT
      ? ([
          [
            CHANGE_MOMENT,
            'a contact moment: now, while usage is falling (a subscriber tagged declining, or a segment whose call minutes fall): a change in how someone uses the network is one of the moments they weigh up leaving.',
          ],
        ] satisfies Term[])
      : []),
    ['migration', 'subscribers whose segment this month differs from last month.'],
  ];
};

/** Short definitions of the terms the report uses. */
export function glossarySection(data: GlossaryData): ReportSection {
  return {
    id: 'glossary',
    title: 'Glossary',
    html: `<dl class="glossary">${terms(data)
      .map(([term, meaning]) => `<dt>${term}</dt><dd>${meaning}</dd>`)
      .join('')}</dl>`,
  };
}
