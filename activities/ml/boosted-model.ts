/** A trained boosted ensemble as boosting.ts grows it and compiled-model.ts, contributions.ts and xgboost-export.ts read it. */

/** One tree in flat arrays (node 0 is the root; left[i] = -1 marks a leaf). JSON-serialisable. */
export interface BoostedTree {
  left: number[];
  right: number[];
  feature: number[];
  /** Numeric split: float32 x < threshold goes left. */
  threshold: number[];
  /** Categorical split: the category codes that go right; any other code goes left (XGBoost's rule). Empty for numeric splits. */
  rightCategories: number[][];
  /** Where a missing value (NaN) goes. */
  defaultLeft: boolean[];
  /** Leaf value (float32) on the margin (log-odds) scale; 0 on inner nodes. */
  value: number[];
  /** Sum of hessians of the rows that reached the node (float32): the weights of expectations. */
  cover: number[];
  gain: number[];
}

export interface BoostedModel {
  /** Margin every row starts from (float32). */
  baseMargin: number;
  trees: BoostedTree[];
  featureCount: number;
  categorical: boolean[];
}
