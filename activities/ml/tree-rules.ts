import { termInSymbols, type RuleTerm } from '../../domain/feature-words';
import { categoryLabels, type FeatureMeta } from './feature-matrix';
import { leafOf, type DTClassifierJSON, type TreeNodeJSON } from './histogram-tree';

/** One leaf of the churn tree in words a marketer can read. */
export interface LeafRule {
  /** e.g. "mou_trend < 0.71 and tenure_months < 11.5" */
  condition: string;
  /** The same condition term by term, for plain words (domain/feature-words.ts). */
  terms: RuleTerm[];
  churnRate: number;
  subscribers: number;
  /** churnRate / the training base rate */
  lift: number;
  /**
   * The held-out subscribers the rule holds for, and their churn rate (null when none): the training
   * rate of a small leaf flatters it (absent from an older run's rules).
   */
  heldOut?: { subscribers: number; churnRate: number | null };
}

/** Held-out subscribers and churners per leaf of the tree. */
export type LeafCounts = Map<TreeNodeJSON, { subscribers: number; churners: number }>;

/** Walks each of `rows` down the tree and counts, per leaf, the rows that land there and their churners. */
export function leafCounts(
  model: DTClassifierJSON,
  columns: Float64Array[],
  rows: Uint32Array,
  labels: Uint8Array,
): LeafCounts {
  const counts: LeafCounts = new Map();
  for (const row of rows) {
    const node = leafOf(model, columns, row);
    const leaf = counts.get(node) ?? { subscribers: 0, churners: 0 };
    leaf.subscribers++;
    leaf.churners += labels[row];
    counts.set(node, leaf);
  }
  return counts;
}

/** What a leaf's path says about one feature: a numeric range, or the categories (and missing) it allows. */
interface Condition {
  low?: number;
  high?: number;
  categories?: number[];
  missing?: boolean;
}

/**
 * Leaves ordered by churn rate, each with its path merged into one condition per feature: a
 * range for a number, `Contract in {Month-to-month, One year}` for a category (labels from
 * `features`, the matrix's metadata; names alone for models without categorical splits).
 */
export function leafRules(
  model: DTClassifierJSON,
  featureNames: readonly string[],
  baseRate: number,
  features: readonly FeatureMeta[] = [],
  /** Held-out rows per leaf (leafCounts), to measure each rule off its training rows too. */
  heldOut?: LeafCounts,
): LeafRule[] {
  const rules: LeafRule[] = [];
  const walk = (node: TreeNodeJSON, conditions: Map<number, Condition>) => {
    if ('distribution' in node) {
      const churnRate = node.distribution[0][1];
      const pathTerms = [...conditions.entries()].map(([column, { low, high, categories, missing }]): RuleTerm => {
        const feature = featureNames[column] ?? `feature_${column}`;
        const indicatorOf = features[column]?.missingOf;
        // an indicator is 0 or 1: its split says which side the feature's missing values are on
        if (indicatorOf !== undefined)
          return { feature: indicatorOf, presence: low !== undefined ? 'missing' : 'given' };
        if (!categories)
          return { feature, low, high, ...(features[column]?.gaps && holdsZero(low, high) ? { missing: true } : {}) };
        const labels = features[column] ? categoryLabels(features[column], categories) : categories.map(String);
        return { feature, categories: labels, ...(missing ? { missing } : {}) };
      });
      const terms = withPresence(pathTerms);
      rules.push({
        condition: terms.length === 0 ? 'all subscribers' : terms.map(termInSymbols).join(' and '),
        terms,
        churnRate,
        subscribers: node.numberSamples,
        lift: baseRate > 0 ? churnRate / baseRate : 0,
        ...(heldOut ? { heldOut: heldOutRate(heldOut.get(node)) } : {}),
      });
      return;
    }
    const current = conditions.get(node.splitColumn) ?? {};
    const narrowed = (left: boolean): Condition => {
      if (!('categories' in node)) {
        return left
          ? { ...current, high: Math.min(current.high ?? Infinity, node.splitValue) }
          : { ...current, low: Math.max(current.low ?? -Infinity, node.splitValue) };
      }
      const side = left ? node.categories : node.rightCategories;
      return {
        categories: side.filter((code) => current.categories?.includes(code) ?? true),
        missing: (current.missing ?? true) && node.missingLeft === left,
      };
    };
    walk(node.left, new Map(conditions).set(node.splitColumn, narrowed(true)));
    walk(node.right, new Map(conditions).set(node.splitColumn, narrowed(false)));
  };
  walk(model.root, new Map());
  return rules.sort((a, b) => b.churnRate - a.churnRate || b.subscribers - a.subscribers);
}

/**
 * A path that split on a feature's missing indicator says whether the value is there: a range on
 * the feature then says nothing of missing values ("given"), or nothing at all ("missing": they
 * are 0 to the tree, inside the range).
 */
function withPresence(terms: RuleTerm[]): RuleTerm[] {
  const presence = new Map(terms.flatMap((term) => (term.presence ? [[term.feature, term.presence] as const] : [])));
  return terms.flatMap((term) => {
    const known = term.presence ? undefined : presence.get(term.feature);
    if (known === 'missing') return [];
    if (known !== 'given') return [term];
    const { missing: _said, ...range } = term;
    return [range];
  });
}

/** Whether 0, a missing value as the models see it, lies in [low, high). */
function holdsZero(low: number | undefined, high: number | undefined): boolean {
  return (low ?? -Infinity) <= 0 && 0 < (high ?? Infinity);
}

function heldOutRate(leaf: { subscribers: number; churners: number } | undefined): LeafRule['heldOut'] {
  const subscribers = leaf?.subscribers ?? 0;
  return { subscribers, churnRate: subscribers > 0 ? (leaf?.churners ?? 0) / subscribers : null };
}

/** Gain-weighted importance per feature (share of the total impurity decrease), summing to 1. */
export function featureImportance(model: DTClassifierJSON, featureNames: readonly string[]): Record<string, number> {
  const totals = new Float64Array(featureNames.length);
  const rootSamples = model.root.numberSamples;
  const walk = (node: TreeNodeJSON) => {
    if ('distribution' in node) return;
    totals[node.splitColumn] += (node.gain * node.numberSamples) / rootSamples;
    walk(node.left);
    walk(node.right);
  };
  walk(model.root);
  return importanceShares(totals, featureNames);
}

/** Gains per feature as shares of their total, largest first, features without gain left out. */
export function importanceShares(totals: Float64Array, featureNames: readonly string[]): Record<string, number> {
  const sum = totals.reduce((a, b) => a + b, 0);
  return Object.fromEntries(
    featureNames
      .map((name, i) => [name, sum > 0 ? totals[i] / sum : 0] as const)
      .filter(([, share]) => share > 0)
      .sort((a, b) => b[1] - a[1]),
  );
}
