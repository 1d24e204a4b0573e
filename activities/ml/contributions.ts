/**
 * Per-row feature contributions of a boosted model by path attribution (Saabas): walking a row's
 * path, each split's feature is credited with the change in the node's expected value (the
 * cover-weighted mean of the leaves below it). The same numbers as XGBoost's
 * `predict(pred_contribs=True, approx_contribs=True)`; they add up, with the bias, to the margin.
 * Linear in tree depth per row, where exact TreeSHAP is quadratic in depth times the leaves:
 * at a million subscribers, the difference between seconds and many minutes.
 */
import { nextNode, type BoostedModel, type BoostedTree } from './boosting';

/** Cover-weighted mean leaf value below every node (XGBoost's node mean values). */
export function nodeMeans(tree: BoostedTree): Float64Array {
  const means = new Float64Array(tree.left.length);
  const fill = (node: number): number => {
    if (tree.left[node] < 0) return (means[node] = tree.value[node]);
    const left = tree.left[node];
    const right = tree.right[node];
    const l = fill(left);
    const r = fill(right);
    return (means[node] = (l * tree.cover[left] + r * tree.cover[right]) / tree.cover[node]);
  };
  fill(0);
  return means;
}

export interface TopContributions {
  /** Per row, `k` slots: feature index (-1 = empty slot), sorted by contribution, largest first. */
  features: Int16Array;
  contributions: Float64Array;
  k: number;
}

/** Contributions of every feature for one row, plus the bias (base margin + root means) in the last slot. */
export function rowContributions(
  model: BoostedModel,
  means: Float64Array[],
  columns: Float64Array[],
  row: number,
  out = new Float64Array(model.featureCount + 1),
): Float64Array {
  out.fill(0);
  out[model.featureCount] = model.baseMargin;
  model.trees.forEach((tree, t) => {
    const mean = means[t];
    out[model.featureCount] += mean[0];
    for (let node = 0; tree.left[node] >= 0;) {
      const next = nextNode(tree, model.categorical, columns, row, node);
      out[tree.feature[node]] += mean[next] - mean[node];
      node = next;
    }
  });
  return out;
}

/** The `k` features that raised each row's margin most (positive contributions only). */
export function topContributions(model: BoostedModel, columns: Float64Array[], k = 3): TopContributions {
  const rows = columns[0]?.length ?? 0;
  const means = model.trees.map(nodeMeans);
  const features = new Int16Array(rows * k).fill(-1);
  const contributions = new Float64Array(rows * k);
  const scratch = new Float64Array(model.featureCount + 1);
  for (let i = 0; i < rows; i++) {
    const all = rowContributions(model, means, columns, i, scratch);
    for (let f = 0; f < model.featureCount; f++) {
      const value = all[f];
      if (!(value > 0)) continue;
      // insertion into the row's k slots, ties to the lower feature index
      let slot = k;
      while (slot > 0 && (features[i * k + slot - 1] < 0 || contributions[i * k + slot - 1] < value)) slot--;
      if (slot >= k) continue;
      for (let s = k - 1; s > slot; s--) {
        features[i * k + s] = features[i * k + s - 1];
        contributions[i * k + s] = contributions[i * k + s - 1];
      }
      features[i * k + slot] = f;
      contributions[i * k + slot] = value;
    }
  }
  return { features, contributions, k };
}
