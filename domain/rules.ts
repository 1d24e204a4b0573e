/**
 * Domain rules in one place: value tiers, stability weights, risk bands, operation priority.
 * Numbers come from the operator's own domain notes where they give them (docs/stages.md says
 * where each is used); the rest are defaults an operator tunes. Run parameters override the ones
 * that are part of RunParams.
 */

/** Value tiers by cumulative revenue share: a subscriber belongs to the first tier whose bound exceeds the revenue share ranked above them. */
export const VALUE_TIER_SHARES = {
  /** Overridden by RunParams.keyCustomerRevenueShare (top 20-30% of revenue in domain.md). */
  key: 0.3,
  high: 0.6,
  mid: 0.9,
} as const;

export const VALUE_TIERS = ['key', 'high', 'mid', 'low'] as const;
export type ValueTier = (typeof VALUE_TIERS)[number];

/** Stability score (0-100) weights: tenure, contract, sticky services, call circle, premium number. */
export const STABILITY_WEIGHTS = {
  /** Full points at this tenure (months). */
  tenureCapMonths: 60,
  tenure: 30,
  activeContract: 25,
  broadband: 10,
  familyBundle: 15,
  /** Full points at this many distinct contacts. */
  callCircleCap: 100,
  callCircle: 15,
  premiumNumber: 5,
} as const;

/**
 * Star grade (1-5) weights on percent ranks within a purpose: spend (ARPU), recharge frequency
 * and tenure count up, payment delay and recent complaints count down. They sum to 1; the grade
 * is 1 + floor(5 x weighted rank), capped at 5.
 */
export const STAR_GRADE_WEIGHTS = {
  spend: 0.4,
  rechargeFrequency: 0.2,
  tenure: 0.2,
  paymentDelay: 0.1,
  complaints: 0.1,
} as const;

/** A component of a score that weighs several inputs: the input column it needs and its weight. */
export interface ScoreComponent {
  component: string;
  column: string;
  weight: number;
  /** The component in a marketer's words (the report's glossary). */
  words: string;
}

/**
 * The components of the stability score and the star grade, each with the input column it needs.
 * A component whose column the input lacks is left out and the score is taken over the others,
 * rescaled to the full range (0-100 points, or a grade from a weighted rank of 0-1) so that its
 * cut-offs (STABLE_SCORE, the 5-star grade) keep their meaning; with none, the score is skipped.
 */
export const SCORE_COMPONENTS: Record<
  'stability_score' | 'star_grade',
  { full: number; components: ScoreComponent[] }
> = {
  stability_score: {
    full: 100,
    components: [
      { component: 'tenure', column: 'tenure_months', weight: STABILITY_WEIGHTS.tenure, words: 'tenure' },
      {
        component: 'contract',
        column: 'contract_end_date',
        weight: STABILITY_WEIGHTS.activeContract,
        words: 'contract',
      },
      {
        component: 'broadband',
        column: 'has_broadband',
        weight: STABILITY_WEIGHTS.broadband,
        words: 'broadband bundle',
      },
      {
        component: 'family_bundle',
        column: 'has_family_bundle',
        weight: STABILITY_WEIGHTS.familyBundle,
        words: 'family bundle',
      },
      { component: 'call_circle', column: 'call_circle', weight: STABILITY_WEIGHTS.callCircle, words: 'call circle' },
      {
        component: 'premium_number',
        column: 'premium_number',
        weight: STABILITY_WEIGHTS.premiumNumber,
        words: 'premium number',
      },
    ],
  },
  star_grade: {
    full: 1,
    components: [
      { component: 'spend', column: 'spend', weight: STAR_GRADE_WEIGHTS.spend, words: 'spend' },
      {
        component: 'frequency',
        column: 'recharge_count',
        weight: STAR_GRADE_WEIGHTS.rechargeFrequency,
        words: 'recharge frequency',
      },
      { component: 'tenure', column: 'tenure_months', weight: STAR_GRADE_WEIGHTS.tenure, words: 'tenure' },
      {
        component: 'payment_delay',
        column: 'payment_delay_days',
        weight: STAR_GRADE_WEIGHTS.paymentDelay,
        words: 'payment delays',
      },
      { component: 'complaints', column: 'complaints', weight: STAR_GRADE_WEIGHTS.complaints, words: 'complaints' },
    ],
  },
};

/** A score's components as an input supports them: weights (0 where absent) and the factor rescaling the rest to the full range. */
export interface ScoreSupport {
  weights: Record<string, number>;
  /** Exactly 1 when every component is there (the score as it always was); 0 when none is. */
  scale: number;
  present: ScoreComponent[];
  absent: ScoreComponent[];
}

/** `inputColumns`: the contract columns the input has; empty for the full contract. */
export function scoreSupport(score: keyof typeof SCORE_COMPONENTS, inputColumns: readonly string[]): ScoreSupport {
  const { full, components } = SCORE_COMPONENTS[score];
  const has = (column: string) => inputColumns.length === 0 || inputColumns.includes(column);
  const present = components.filter((c) => has(c.column));
  const absent = components.filter((c) => !has(c.column));
  const total = present.reduce((sum, c) => sum + c.weight, 0);
  return {
    weights: Object.fromEntries(components.map((c) => [c.component, has(c.column) ? c.weight : 0])),
    scale: absent.length === 0 ? 1 : total > 0 ? full / total : 0,
    present,
    absent,
  };
}

/** Subscribers below this stability score count as unstable in the value x stability grid. */
export const STABLE_SCORE = 50;

/** Churn risk bands by score (probability of leaving next month), highest first. */
export const RISK_BANDS = [
  { band: 'high', minScore: 0.3 },
  { band: 'elevated', minScore: 0.1 },
  { band: 'low', minScore: 0 },
] as const;

/**
 * Operation priority from value tier x stability (seed 003): 1 is most urgent. High value and
 * unstable comes first; low value and stable last. Retention style follows the value tier.
 */
export const OPERATION_GRID: readonly {
  valueTier: ValueTier;
  stable: boolean;
  priority: number;
  retentionStyle: string;
  channel: string;
}[] = [
  {
    valueTier: 'key',
    stable: false,
    priority: 1,
    retentionStyle: 'steel binding: contract renewal, device offer',
    channel: 'account manager call',
  },
  {
    valueTier: 'high',
    stable: false,
    priority: 2,
    retentionStyle: 'steel binding: contract renewal, device offer',
    channel: 'outbound call',
  },
  {
    valueTier: 'key',
    stable: true,
    priority: 3,
    retentionStyle: 'VIP care: account manager, priority service',
    channel: 'account manager call',
  },
  {
    valueTier: 'mid',
    stable: false,
    priority: 4,
    retentionStyle: 'sticky binding: family plan, broadband bundle',
    channel: 'outbound call and app push',
  },
  {
    valueTier: 'high',
    stable: true,
    priority: 5,
    retentionStyle: 'sticky binding: family plan, broadband bundle',
    channel: 'outbound call',
  },
  {
    valueTier: 'mid',
    stable: true,
    priority: 6,
    retentionStyle: 'upsell: data add-on, plan upgrade',
    channel: 'app push and SMS',
  },
  {
    valueTier: 'low',
    stable: false,
    priority: 7,
    retentionStyle: 'low-cost retention: SMS offer, recharge bonus',
    channel: 'SMS',
  },
  { valueTier: 'low', stable: true, priority: 8, retentionStyle: 'self-service: app promotions', channel: 'app push' },
];

const TIER_WORDS: Record<ValueTier, string> = {
  key: 'key customer',
  high: 'high value',
  mid: 'mid value',
  low: 'low value',
};

/** An operation priority's cell in words, e.g. 1 is "key customer, unstable" (undefined: no such priority). */
export function priorityWords(priority: number): string | undefined {
  const cell = OPERATION_GRID.find((c) => c.priority === priority);
  return cell && `${TIER_WORDS[cell.valueTier]}, ${cell.stable ? 'stable' : 'unstable'}`;
}
