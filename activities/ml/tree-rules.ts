import { termInSymbols, type RuleTerm } from '../../domain/feature-words';
import type { DTClassifierJSON, TreeNodeJSON } from './histogram-tree';

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
}

/** Leaves ordered by churn rate, each with its path merged into one range per feature. */
export function leafRules(model: DTClassifierJSON, featureNames: readonly string[], baseRate: number): LeafRule[] {
  const rules: LeafRule[] = [];
  const walk = (node: TreeNodeJSON, bounds: Map<number, { low?: number; high?: number }>) => {
    if ('distribution' in node) {
      const churnRate = node.distribution[0][1];
      const terms = [...bounds.entries()].map(([column, range]) => ({
        feature: featureNames[column] ?? `feature_${column}`,
        ...range,
      }));
      rules.push({
        condition: terms.length === 0 ? 'all subscribers' : terms.map(termInSymbols).join(' and '),
        terms,
        churnRate,
        subscribers: node.numberSamples,
        lift: baseRate > 0 ? churnRate / baseRate : 0,
      });
      return;
    }
    const current = bounds.get(node.splitColumn) ?? {};
    walk(
      node.left,
      new Map(bounds).set(node.splitColumn, { ...current, high: Math.min(current.high ?? Infinity, node.splitValue) }),
    );
    walk(
      node.right,
      new Map(bounds).set(node.splitColumn, { ...current, low: Math.max(current.low ?? -Infinity, node.splitValue) }),
    );
  };
  walk(model.root, new Map());
  return rules.sort((a, b) => b.churnRate - a.churnRate || b.subscribers - a.subscribers);
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
  const sum = totals.reduce((a, b) => a + b, 0);
  return Object.fromEntries(
    featureNames
      .map((name, i) => [name, sum > 0 ? totals[i] / sum : 0] as const)
      .filter(([, share]) => share > 0)
      .sort((a, b) => b[1] - a[1]),
  );
}
