import type { DTClassifierJSON, TreeNodeJSON } from './histogram-tree';

/** One leaf of the churn tree in words a marketer can read. */
export interface LeafRule {
  /** e.g. "mou_trend < 0.71 and tenure_months < 11.5" */
  condition: string;
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
      rules.push({
        condition: describe(bounds, featureNames),
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

function describe(bounds: Map<number, { low?: number; high?: number }>, names: readonly string[]): string {
  if (bounds.size === 0) return 'all subscribers';
  return [...bounds.entries()]
    .map(([column, { low, high }]) => {
      const name = names[column] ?? `feature_${column}`;
      if (low !== undefined && high !== undefined) return `${formatNumber(low)} <= ${name} < ${formatNumber(high)}`;
      return low !== undefined ? `${name} >= ${formatNumber(low)}` : `${name} < ${formatNumber(high as number)}`;
    })
    .join(' and ');
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

function formatNumber(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(0) : Number(value.toPrecision(3)).toString();
}
