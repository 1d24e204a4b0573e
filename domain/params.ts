import { z } from 'zod';
import { schemaProblems } from './schema-problems';
import { closestName } from './closest-name';
import { isKnownEncoding, UNKNOWN_ENCODING } from './encoding';
import { addMonths, isMonth } from './month';

/**
 * Everything that changes what a run computes. The schema is the single source of defaults and
 * ranges (an optional parameter's default is a constant beside it): the CLI, the schedule and the
 * workflow all go through `parseRunParams`.
 */
const CHURN_MODELS = ['boosted', 'tree'] as const;
export type ChurnModel = (typeof CHURN_MODELS)[number];
export const DISPATCH_ORDERS = ['priority', 'revenueAtRisk'] as const;
/** boostMaxTrainingRows when a run leaves it out (docs/churn-models.md: the measured cost of the sample at 10M). */
export const DEFAULT_BOOST_MAX_TRAINING_ROWS = 2_000_000;
/**
 * minRunMonthShare when a run leaves it out: a run month with fewer subscribers than 80% of the
 * month before's is taken for a delivery cut off part way, not a base that shrank (a month's churn
 * is a few percent; at 0.5, a delivery 30% short was published with a third of the month before
 * labelled churners, its holdout AUC 0.52 against 0.87 once complete: the operator walkthrough).
 */
export const DEFAULT_MIN_RUN_MONTH_SHARE = 0.8;
/** `dispatched`: a snapshot as 'YYYY-MM/vN' (month and version of the dispatch list marketing worked from). */
export const DISPATCHED_PATTERN = /^(\d{4}-(?:0[1-9]|1[0-2]))\/v([1-9]\d*)$/;

export const RunParamsSchema = z
  .object({
    month: z
      .string()
      .refine(isMonth, 'month must be YYYY-MM with a month 01-12')
      .describe("Month to segment and score, 'YYYY-MM'."),
    input: z.string().min(1).describe('Folder of usage Parquet / CSV files (searched recursively), or one file.'),
    mapping: z
      .string()
      .min(1)
      .optional()
      .describe(
        "JSON file mapping the input's columns and value encodings onto the usage contract (domain/mapping.ts).",
      ),
    labels: z
      .string()
      .min(1)
      .optional()
      .describe(
        'CSV or Parquet file of churn labels joined by subscriber id: a churn flag or the month left (docs/own-data.md).',
      ),
    historyMonths: z
      .number()
      .int()
      .min(6)
      .max(24)
      .default(6)
      .describe('Months of history features look back over, including the run month. Trends need 6.'),
    k: z
      .number()
      .int()
      .min(2)
      .max(30)
      .optional()
      .describe('Number of segments; left out, it is chosen from kMin..kMax by silhouette.'),
    kMin: z.number().int().min(2).max(30).default(3).describe('Fewest segments silhouette may choose.'),
    kMax: z.number().int().min(2).max(30).default(8).describe('Most segments silhouette may choose.'),
    silhouetteSampleSize: z
      .number()
      .int()
      .min(100)
      .max(20_000)
      .default(2_000)
      .describe('Rows the silhouette of each candidate k is measured on (it is quadratic in rows).'),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .default(42)
      .describe('Seed for sampling, k-means++ and the train/holdout split.'),
    kmeansSampleSize: z
      .number()
      .int()
      .min(100)
      .max(1_000_000)
      .default(10_000)
      .describe('Rows k-means is fitted on; every subscriber is then assigned to its nearest centroid.'),
    kmeansRestarts: z
      .number()
      .int()
      .min(1)
      .max(20)
      .default(3)
      .describe("k-means++ starts on the sample; the one with the lowest inertia wins (scikit-learn's n_init)."),
    treeDepth: z.number().int().min(1).max(16).default(6).describe('Churn tree depth.'),
    treeMinLeaf: z.number().int().min(1).max(100_000).default(50).describe('Minimum subscribers in a tree leaf.'),
    churnModel: z
      .enum(CHURN_MODELS)
      .default('boosted')
      .describe(
        'Scores come from gradient-boosted trees (default) or the single readable tree (trained and published either way).',
      ),
    boostTrees: z
      .number()
      .int()
      .min(1)
      .max(2_000)
      .default(100)
      .describe('Most boosting rounds; early stopping on a validation split of the training rows may keep fewer.'),
    boostDepth: z.number().int().min(1).max(12).default(5).describe('Depth of each boosted tree.'),
    boostLearningRate: z.number().gt(0).max(1).default(0.1).describe("Shrinkage of each boosted tree's leaf values."),
    boostRowSubsample: z
      .number()
      .gt(0)
      .max(1)
      .default(0.8)
      .describe('Share of training rows each boosted tree is grown on.'),
    boostFeatureSubsample: z
      .number()
      .gt(0)
      .max(1)
      .default(0.8)
      .describe('Share of features each boosted tree may split on.'),
    // optional, not defaulted: a run that leaves it out keeps the parameters hash it had before it existed
    boostMaxTrainingRows: z
      .number()
      .int()
      .min(1_000)
      .optional()
      .describe(
        `Most training rows the boosted ensemble trains on (left out: ${DEFAULT_BOOST_MAX_TRAINING_ROWS.toLocaleString('en-US')}); above it, a seeded sample with the churn rate kept (the readable tree and the holdout take every row).`,
      ),
    holdoutShare: z
      .number()
      .gt(0)
      .lt(0.9)
      .default(0.25)
      .describe('Share of labelled subscribers held out to measure the churn model.'),
    dispatchOrder: z
      .enum(DISPATCH_ORDERS)
      .default('priority')
      .describe(
        "Order of each grid's dispatch list: operation priority then churn score (default), or revenue at risk (churn probability x ARPU).",
      ),
    highValueThreshold: z
      .number()
      .positive()
      .default(3000)
      .describe('Monthly spend (yuan) from which a subscriber is a high-value customer.'),
    keyCustomerRevenueShare: z
      .number()
      .gt(0)
      .lt(1)
      .default(0.3)
      .describe('Top subscribers holding this share of revenue are key customers.'),
    maxQuarantineShare: z
      .number()
      .min(0)
      .max(1)
      .default(0.05)
      .describe(
        "Stop the run when more than this share of the rows in the run's window break a rule (rows of months outside the window are quarantined, not counted).",
      ),
    // optional, not defaulted: a run that leaves it out keeps the parameters hash it had before it existed
    minRunMonthShare: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe(
        `Stop the run before the models train when the run month holds fewer subscribers than this share of the month before's (left out: ${DEFAULT_MIN_RUN_MONTH_SHARE}): a delivery cut off part way, whose missing subscribers the churn label would count as churners. Lower it for a base that truly shrank; 0 turns the check off.`,
      ),
    controlShare: z
      .number()
      .min(0)
      .max(0.5)
      .default(0.1)
      .describe(
        "Share of each month's dispatch list held out as a control group (flagged control, not to be contacted), so next month's run can tell what the contacts changed. 0 holds out nobody.",
      ),
    contacts: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Contact log of last month's dispatch list (CSV or Parquet: subscriber_id, contact_date, action, channel, outcome; docs/campaigns.md, The contact log). Given, the run measures whether the contacts kept subscribers (campaigns.parquet).",
      ),
    // optional, not defaulted: a run that leaves it out keeps the parameters hash it had before it existed
    contactsEncoding: z
      .string()
      .refine(isKnownEncoding, { error: UNKNOWN_ENCODING })
      .optional()
      .describe(
        'The character encoding of a CSV contact log (contacts) that is not UTF-8, e.g. gb18030 (a CSV saved by Excel on Chinese Windows): a label of the WHATWG Encoding standard. A log that is UTF-8 already is read as it is.',
      ),
    // optional, not defaulted: a run that leaves it out keeps the parameters hash it had before it existed
    contactsMapping: z
      .string()
      .min(1)
      .optional()
      .describe(
        "JSON file mapping a contact log (contacts) written by another system onto segflow's: its headers, how it writes a day (DuckDB strptime codes, e.g. %d/%m/%Y), its outcome, channel and action words, its encoding (domain/contacts-mapping.ts; docs/campaigns.md, A log written by another system).",
      ),
    // optional, not defaulted: a run that leaves it out keeps the parameters hash it had before it existed
    dispatched: z
      .string()
      .regex(
        DISPATCHED_PATTERN,
        "must be the snapshot 'YYYY-MM/vN' whose dispatch list the contacts worked from, e.g. 2026-09/v1",
      )
      .optional()
      .describe(
        "The snapshot of the month before, 'YYYY-MM/vN', whose dispatch list the contact log (contacts) reports on. Left out: the version this run's segment ids are matched to (the month's latest when the run starts); when that month has other versions the measurement warns and says which one the log fits best.",
      ),
    pseudonymiseIds: z
      .boolean()
      .default(false)
      .describe('Publish keyed hashes instead of subscriber ids (key from SEGFLOW_PSEUDONYM_KEY on the worker).'),
  })
  .strict()
  .refine((p) => p.kMin <= p.kMax, { message: 'kMin must not exceed kMax', path: ['kMax'] })
  .superRefine((p, ctx) => {
    if (p.contactsEncoding !== undefined && p.contacts === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['contactsEncoding'],
        message: 'is the encoding of a contact log: give contacts=<file> with it',
      });
    if (p.contactsMapping !== undefined && p.contacts === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['contactsMapping'],
        message: 'maps a contact log: give contacts=<file> with it',
      });
    if (!p.dispatched) return;
    if (p.contacts === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['dispatched'],
        message: 'names the list a contact log reports on: give contacts=<file> with it',
      });
    const before = isMonth(p.month) ? addMonths(p.month, -1) : undefined;
    if (before && DISPATCHED_PATTERN.test(p.dispatched) && !p.dispatched.startsWith(`${before}/`))
      ctx.addIssue({
        code: 'custom',
        path: ['dispatched'],
        message: `must be a snapshot of ${before}, the month before the run month (the list the contacts of ${p.month} worked from)`,
      });
  });

/**
 * The run parameters' JSON Schema (as a run may give them: a default where one may be left out).
 * domain/run-params.schema.json holds it for the command line's help, which reads the file
 * instead of loading zod and this schema (scripts/write-params-schema.ts writes it).
 */
export function runParamsJsonSchema(): object {
  return z.toJSONSchema(RunParamsSchema, { io: 'input', unrepresentable: 'any' });
}

export type RunParamsInput = z.input<typeof RunParamsSchema>;
export type RunParams = z.output<typeof RunParamsSchema>;

/** Validates and fills defaults; the message lists every problem, one per line. */
export function parseRunParams(input: unknown): { ok: true; params: RunParams } | { ok: false; problems: string[] } {
  const result = RunParamsSchema.safeParse(input);
  if (result.success) return { ok: true, params: result.data };
  return {
    ok: false,
    problems: result.error.issues.flatMap((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => unknownParamProblem(key))
        : schemaProblems([issue], '(params)'),
    ),
  };
}

/**
 * The parameters a run set away from the schema's defaults, in schema order, with the default
 * (undefined for `k` and `mapping`, which have none). Month and input are always given, so they
 * are left out; so are parameters not set.
 */
export function paramsDifferingFromDefaults(
  params: Partial<Record<keyof RunParams, unknown>>,
): { name: keyof RunParams; value: unknown; defaultValue: unknown }[] {
  const defaults: Partial<RunParams> = RunParamsSchema.parse({ month: '2000-01', input: '.' });
  return (Object.keys(RunParamsSchema.shape) as (keyof RunParams)[])
    .filter((name) => name !== 'month' && name !== 'input' && params[name] !== undefined)
    .filter((name) => JSON.stringify(params[name]) !== JSON.stringify(defaults[name]))
    .map((name) => ({ name, value: params[name], defaultValue: defaults[name] }));
}

/** The same as a name -> value record, for listings. */
export function changedParams(params: Partial<Record<keyof RunParams, unknown>>): Record<string, unknown> {
  return Object.fromEntries(paramsDifferingFromDefaults(params).map(({ name, value }) => [name, value]));
}

/** "unknown parameter treedepth (did you mean treeDepth?)", suggesting the closest known name. */
function unknownParamProblem(name: string): string {
  const close = closestName(name, Object.keys(RunParamsSchema.shape));
  return `${name}: unknown parameter${close ? ` (did you mean ${close}?)` : ''}; see --help for the list`;
}
