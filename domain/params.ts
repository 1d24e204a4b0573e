import { z } from 'zod';
import { isMonth } from './month';

/**
 * Everything that changes what a run computes. The schema is the single source of defaults and
 * ranges: the CLI, the schedule and the workflow all go through `parseRunParams`.
 */
export const CHURN_MODELS = ['boosted', 'tree'] as const;
export type ChurnModel = (typeof CHURN_MODELS)[number];
export const DISPATCH_ORDERS = ['priority', 'revenueAtRisk'] as const;

/** Most partitions one run may be split into (one per worker is the useful number). */
export const MAX_PARTITIONS = 64;

export const RunParamsSchema = z
  .object({
    /** Month to segment and score, 'YYYY-MM'. */
    month: z.string().refine(isMonth, 'month must be YYYY-MM with a month 01-12'),
    /** Folder of usage Parquet / CSV files (searched recursively), or one file. */
    input: z.string().min(1),
    /** JSON file mapping the input's columns and value encodings onto the usage contract (domain/mapping.ts). */
    mapping: z.string().min(1).optional(),
    /** CSV or Parquet file of churn labels joined by subscriber id: a churn flag or the month left (docs/own-data.md). */
    labels: z.string().min(1).optional(),
    /** Months of history features look back over, including the run month. Trends need 6. */
    historyMonths: z.number().int().min(6).max(24).default(6),
    /** Number of segments; left out, it is chosen from kMin..kMax by silhouette. */
    k: z.number().int().min(2).max(30).optional(),
    kMin: z.number().int().min(2).max(30).default(3),
    kMax: z.number().int().min(2).max(30).default(8),
    /** Rows the silhouette of each candidate k is measured on (it is quadratic in rows). */
    silhouetteSampleSize: z.number().int().min(100).max(20_000).default(2_000),
    /** Seed for sampling, k-means++ and the train/holdout split. */
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .default(42),
    /** Rows k-means is fitted on; every subscriber is then assigned to its nearest centroid. */
    kmeansSampleSize: z.number().int().min(100).max(1_000_000).default(10_000),
    /** k-means++ starts on the sample; the one with the lowest inertia wins (scikit-learn's n_init). */
    kmeansRestarts: z.number().int().min(1).max(20).default(3),
    /** Churn tree depth. */
    treeDepth: z.number().int().min(1).max(16).default(6),
    /** Minimum subscribers in a tree leaf. */
    treeMinLeaf: z.number().int().min(1).max(100_000).default(50),
    /** Scores come from gradient-boosted trees (default) or the single readable tree (trained and published either way). */
    churnModel: z.enum(CHURN_MODELS).default('boosted'),
    /** Most boosting rounds; early stopping on a validation split of the training rows may keep fewer. */
    boostTrees: z.number().int().min(1).max(2_000).default(100),
    /** Depth of each boosted tree. */
    boostDepth: z.number().int().min(1).max(12).default(5),
    /** Shrinkage of each boosted tree's leaf values. */
    boostLearningRate: z.number().gt(0).max(1).default(0.1),
    /** Share of training rows each boosted tree is grown on. */
    boostRowSubsample: z.number().gt(0).max(1).default(0.8),
    /** Share of features each boosted tree may split on. */
    boostFeatureSubsample: z.number().gt(0).max(1).default(0.8),
    /** Share of labelled subscribers held out to measure the churn model. */
    holdoutShare: z.number().gt(0).lt(0.9).default(0.25),
    /** Order of each grid's dispatch list: operation priority then churn score (default), or revenue at risk (churn probability x ARPU). */
    dispatchOrder: z.enum(DISPATCH_ORDERS).default('priority'),
    /** Monthly spend (yuan) from which a subscriber is a high-value customer. */
    highValueThreshold: z.number().positive().default(3000),
    /** Top subscribers holding this share of revenue are key customers. */
    keyCustomerRevenueShare: z.number().gt(0).lt(1).default(0.3),
    /** Stop the run when more than this share of input rows is quarantined. */
    maxQuarantineShare: z.number().min(0).max(1).default(0.05),
    /**
     * Share of each month's dispatch list held out as a control group (flagged control, not to be
     * contacted), so next month's run can tell what the contacts changed. 0 holds out nobody.
     */
    controlShare: z.number().min(0).max(0.5).default(0.1),
    /**
     * Contact log of last month's dispatch list (CSV or Parquet: subscriber_id, contact_date,
     * action, channel, outcome; data/contacts-contract.ts). Given, the run measures whether the
     * contacts kept subscribers (campaigns.parquet).
     */
    contacts: z.string().min(1).optional(),
    /** Publish keyed hashes instead of subscriber ids (key from SEGFLOW_PSEUDONYM_KEY on the worker). */
    pseudonymiseIds: z.boolean().default(false),
  })
  .strict()
  .refine((p) => p.kMin <= p.kMax, { message: 'kMin must not exceed kMax', path: ['kMax'] });

export type RunParamsInput = z.input<typeof RunParamsSchema>;
export type RunParams = z.output<typeof RunParamsSchema>;

/** Validates and fills defaults; the message lists every problem, one per line. */
export function parseRunParams(input: unknown): { ok: true; params: RunParams } | { ok: false; problems: string[] } {
  const result = RunParamsSchema.safeParse(input);
  if (result.success) return { ok: true, params: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((issue) => `${issue.path.join('.') || '(params)'}: ${issue.message}`),
  };
}

/**
 * The parameters a run set away from the schema's defaults, in schema order, with the default
 * (undefined for `k` and `mapping`, which have none). Month and input are always given, so they
 * are left out.
 */
export function paramsDifferingFromDefaults(
  params: RunParams,
): { name: keyof RunParams; value: unknown; defaultValue: unknown }[] {
  const defaults: Partial<RunParams> = RunParamsSchema.parse({ month: params.month, input: params.input });
  return (Object.keys(RunParamsSchema.shape) as (keyof RunParams)[])
    .filter((name) => name !== 'month' && name !== 'input')
    .filter((name) => JSON.stringify(params[name]) !== JSON.stringify(defaults[name]))
    .map((name) => ({ name, value: params[name], defaultValue: defaults[name] }));
}
