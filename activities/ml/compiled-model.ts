/**
 * A BoostedModel compiled for scoring millions of rows: every tree's nodes in flat typed arrays,
 * siblings side by side (the right child follows the left), leaves that are their own children,
 * so a row takes exactly `depth` steps down a tree with no branch on its values; four rows walk a
 * tree side by side and blocks of rows meet every tree while their values sit in cache. The
 * rows' values are one row-major Float32Array.
 *
 * Scores bit for bit like the model read node by node (boosting.ts `nextNode`): float32 values,
 * `x < threshold` left, NaN to the default side, a categorical code right iff in the split's set,
 * the margin summed in float32 tree by tree. The same walk credits each step's change in the
 * node means to the split's feature, in the order contributions.ts `rowContributions` adds them.
 * Plain typed arrays throughout: structured-cloneable into a worker thread.
 */
import type { BoostedModel, BoostedTree } from './boosting';

export interface CompiledModel {
  featureCount: number;
  baseMargin: number;
  /** Per tree: its root node and the steps from the root to its deepest leaf. */
  roots: Int32Array;
  depths: Int32Array;
  /** Per node: the feature its split reads (0 on a leaf, read and ignored). */
  feature: Int32Array;
  /**
   * Per node: float32 x >= threshold goes right (the split's threshold rounded up to float32,
   * which no float32 x tells apart from it); NaN on a leaf, which nothing passes.
   */
  threshold: Float32Array;
  /** Per node: its left child, the right one is next; a leaf is its own left child. */
  firstChild: Int32Array;
  /** Per node: MISSING_RIGHT and CATEGORICAL bits; 0 on a numeric split that sends NaN left, as training makes them. */
  flags: Uint8Array;
  /** Per categorical node: where its right-set starts in `categoryBits`. */
  categorySet: Int32Array;
  /** Right-sets of `categoryWords` 32-bit words each, bit c set when code c goes right. */
  categoryBits: Uint32Array;
  categoryWords: number;
  /** Per node: the leaf value (0 on inner nodes). */
  value: Float64Array;
  /** At 2 * node + (1 if right): the child's mean minus the node's, what the step is credited; 0 from a leaf. */
  step: Float64Array;
}

const MISSING_RIGHT = 1;
const CATEGORICAL = 2;

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

export function compileModel(model: BoostedModel): CompiledModel {
  const nodes = model.trees.reduce((sum, tree) => sum + tree.left.length, 0);
  const compiled: CompiledModel = {
    featureCount: model.featureCount,
    baseMargin: model.baseMargin,
    roots: new Int32Array(model.trees.length),
    depths: new Int32Array(model.trees.length),
    feature: new Int32Array(nodes),
    threshold: new Float32Array(nodes),
    firstChild: new Int32Array(nodes),
    flags: new Uint8Array(nodes),
    categorySet: new Int32Array(nodes),
    categoryWords: categoryWords(model),
    categoryBits: new Uint32Array(0),
    value: new Float64Array(nodes),
    step: new Float64Array(2 * nodes),
  };
  const sets: number[][] = [];
  let offset = 0;
  model.trees.forEach((tree, t) => (offset = compileTree(compiled, t, tree, model.categorical, offset, sets)));
  compiled.categoryBits = categoryBitsets(sets, compiled.categoryWords);
  return compiled;
}

/** Writes tree `t`'s nodes from `offset` on (its categorical right-sets onto `sets`); returns the next free node. */
function compileTree(
  compiled: CompiledModel,
  t: number,
  tree: BoostedTree,
  categorical: boolean[],
  offset: number,
  sets: number[][],
): number {
  const { order, depth } = siblingOrder(tree);
  const at = new Int32Array(tree.left.length);
  order.forEach((node, i) => (at[node] = offset + i));
  const mean = nodeMeans(tree);
  compiled.roots[t] = offset;
  compiled.depths[t] = depth;
  for (const node of order) {
    const i = at[node];
    if (tree.left[node] < 0) {
      compiled.threshold[i] = Number.NaN;
      compiled.firstChild[i] = i;
      compiled.value[i] = tree.value[node];
      continue;
    }
    const f = tree.feature[node];
    compiled.feature[i] = f;
    compiled.firstChild[i] = at[tree.left[node]];
    compiled.flags[i] = (tree.defaultLeft[node] ? 0 : MISSING_RIGHT) | (categorical[f] ? CATEGORICAL : 0);
    // `x < NaN` holds for no x: a NaN threshold sends every value right
    compiled.threshold[i] = Number.isNaN(tree.threshold[node]) ? -Infinity : ceilFloat32(tree.threshold[node]);
    compiled.step[2 * i] = mean[tree.left[node]] - mean[node];
    compiled.step[2 * i + 1] = mean[tree.right[node]] - mean[node];
    if (categorical[f]) {
      compiled.categorySet[i] = sets.length * compiled.categoryWords;
      sets.push(tree.rightCategories[node]);
    }
  }
  return offset + order.length;
}

/** The smallest float32 not below `t`. */
function ceilFloat32(t: number): number {
  const rounded = Math.fround(t);
  if (!(rounded < t)) return rounded;
  if (rounded === 0) return 2 ** -149;
  FLOAT32[0] = rounded;
  // the next float32 up: a positive one's bits plus one, a negative one's minus one
  INT32[0] += rounded > 0 ? 1 : -1;
  return FLOAT32[0];
}

const FLOAT32 = new Float32Array(1);
const INT32 = new Int32Array(FLOAT32.buffer);

/** The tree's nodes breadth first, so each node's two children are adjacent, and its depth. */
function siblingOrder(tree: BoostedTree): { order: number[]; depth: number } {
  const order = [0];
  const depths = [0];
  for (let i = 0; i < order.length; i++) {
    const node = order[i];
    if (tree.left[node] < 0) continue;
    order.push(tree.left[node], tree.right[node]);
    depths.push(depths[i] + 1, depths[i] + 1);
  }
  return { order, depth: Math.max(...depths) };
}

/** Words per right-set: enough bits for the largest code any split names. */
function categoryWords(model: BoostedModel): number {
  let largest = 0;
  for (const tree of model.trees)
    for (const codes of tree.rightCategories)
      for (const code of codes) {
        if (!Number.isInteger(code) || code < 0 || code > 0xffff)
          throw new RangeError(`category codes must be integers 0..65535, got ${code}`);
        largest = Math.max(largest, code);
      }
  return (largest >> 5) + 1;
}

function categoryBitsets(sets: number[][], words: number): Uint32Array {
  const bits = new Uint32Array(sets.length * words);
  sets.forEach((codes, s) => {
    for (const code of codes) bits[s * words + (code >> 5)] |= 1 << (code & 31);
  });
  return bits;
}

/** The rows (all, or those listed) as float32, row-major: the i-th row's feature f at i * features + f. */
export function rowMajorValues(columns: Float64Array[], rows?: Uint32Array): Float32Array {
  const features = columns.length;
  const count = rows?.length ?? columns[0]?.length ?? 0;
  const values = new Float32Array(count * features);
  columns.forEach((column, f) => {
    for (let i = 0, at = f; i < count; i++, at += features) values[at] = column[rows ? rows[i] : i];
  });
  return values;
}

/** 1 if the row whose values start at `base` goes right at `node`, else 0 (always 0 at a leaf). */
type SplitTest = (base: number, node: number) => number;

/**
 * The model's split test on these rows. A closure over the arrays: as a function of the model
 * object (V8 reading its fields at every step, not inlining it) the walk took 40% longer.
 */
function splitTest(model: CompiledModel, values: Float32Array): SplitTest {
  const { feature, threshold, flags } = model;
  return (base, node) => {
    const x = values[base + feature[node]];
    if (flags[node] !== 0) return unusualGoesRight(model, x, node);
    // a number, not a branch: which way a row goes is as good as random to the branch predictor;
    // NaN goes left, as `x >= threshold` is false
    return +(x >= threshold[node]);
  };
}

/** At a categorical split or one that sends NaN right. */
function unusualGoesRight(model: CompiledModel, x: number, node: number): number {
  const flags = model.flags[node];
  if (Number.isNaN(x)) return flags & MISSING_RIGHT;
  if (!(flags & CATEGORICAL)) return +(x >= model.threshold[node]);
  if (!Number.isInteger(x) || x < 0 || x >= model.categoryWords * 32) return 0;
  return (model.categoryBits[model.categorySet[node] + (x >> 5)] >>> (x & 31)) & 1;
}

/** Rows scored by every tree before the next rows: their values and credits stay in cache. */
const BLOCK_ROWS = 256;

export interface ScoredRows {
  /** Per row: the margin (log-odds). */
  margins: Float64Array;
  /** Per row, `k` slots: the features with the largest positive contributions, largest first (-1 = empty slot). */
  features: Int16Array;
  contributions: Float64Array;
  k: number;
}

/** The margin of every row of `values`. */
export function compiledMargins(model: CompiledModel, values: Float32Array): Float64Array {
  const margins = new Float64Array(rowCount(model, values)).fill(model.baseMargin);
  const goesRight = splitTest(model, values);
  for (let t = 0; t < model.roots.length; t++) addTreeMargins(model, goesRight, t, 0, margins.length, margins);
  return margins;
}

/**
 * Every row's margin and its `k` largest positive contributions (ties to the lower feature
 * index), from one walk of each row's paths.
 */
export function scoreWithReasons(model: CompiledModel, values: Float32Array, k: number): ScoredRows {
  const rows = rowCount(model, values);
  const margins = new Float64Array(rows).fill(model.baseMargin);
  const features = new Int16Array(rows * k).fill(-1);
  const contributions = new Float64Array(rows * k);
  const credit = new Float64Array(BLOCK_ROWS * model.featureCount);
  const goesRight = splitTest(model, values);
  for (let from = 0; from < rows; from += BLOCK_ROWS) {
    const to = Math.min(rows, from + BLOCK_ROWS);
    for (let t = 0; t < model.roots.length; t++) addTreeCredits(model, goesRight, t, from, to, margins, credit);
    for (let row = from; row < to; row++)
      keepLargest(credit, (row - from) * model.featureCount, model.featureCount, features, contributions, row * k, k);
    credit.fill(0);
  }
  return { margins, features, contributions, k };
}

function rowCount(model: CompiledModel, values: Float32Array): number {
  return model.featureCount > 0 ? values.length / model.featureCount : 0;
}

/** Adds tree `t`'s leaf values to the margins of rows `from`..`to`, four rows side by side. */
function addTreeMargins(
  model: CompiledModel,
  goesRight: SplitTest,
  t: number,
  from: number,
  to: number,
  margins: Float64Array,
): void {
  const { featureCount: stride, firstChild, value } = model;
  const root = model.roots[t];
  const depth = model.depths[t];
  let row = from;
  for (; row + 4 <= to; row += 4) {
    const base = row * stride;
    let n0 = root;
    let n1 = root;
    let n2 = root;
    let n3 = root;
    for (let d = 0; d < depth; d++) {
      n0 = firstChild[n0] + goesRight(base, n0);
      n1 = firstChild[n1] + goesRight(base + stride, n1);
      n2 = firstChild[n2] + goesRight(base + 2 * stride, n2);
      n3 = firstChild[n3] + goesRight(base + 3 * stride, n3);
    }
    margins[row] = Math.fround(margins[row] + value[n0]);
    margins[row + 1] = Math.fround(margins[row + 1] + value[n1]);
    margins[row + 2] = Math.fround(margins[row + 2] + value[n2]);
    margins[row + 3] = Math.fround(margins[row + 3] + value[n3]);
  }
  for (; row < to; row++) {
    let node = root;
    for (let d = 0; d < depth; d++) node = firstChild[node] + goesRight(row * stride, node);
    margins[row] = Math.fround(margins[row] + value[node]);
  }
}

/** addTreeMargins that also credits every step to its feature, in `credit` at (row - from) * features. */
function addTreeCredits(
  model: CompiledModel,
  goesRight: SplitTest,
  t: number,
  from: number,
  to: number,
  margins: Float64Array,
  credit: Float64Array,
): void {
  const { featureCount: stride, firstChild, value, feature, step } = model;
  const root = model.roots[t];
  const depth = model.depths[t];
  let row = from;
  for (; row + 4 <= to; row += 4) {
    const base = row * stride;
    const at = (row - from) * stride;
    let n0 = root;
    let n1 = root;
    let n2 = root;
    let n3 = root;
    for (let d = 0; d < depth; d++) {
      const r0 = goesRight(base, n0);
      const r1 = goesRight(base + stride, n1);
      const r2 = goesRight(base + 2 * stride, n2);
      const r3 = goesRight(base + 3 * stride, n3);
      credit[at + feature[n0]] += step[2 * n0 + r0];
      credit[at + stride + feature[n1]] += step[2 * n1 + r1];
      credit[at + 2 * stride + feature[n2]] += step[2 * n2 + r2];
      credit[at + 3 * stride + feature[n3]] += step[2 * n3 + r3];
      n0 = firstChild[n0] + r0;
      n1 = firstChild[n1] + r1;
      n2 = firstChild[n2] + r2;
      n3 = firstChild[n3] + r3;
    }
    margins[row] = Math.fround(margins[row] + value[n0]);
    margins[row + 1] = Math.fround(margins[row + 1] + value[n1]);
    margins[row + 2] = Math.fround(margins[row + 2] + value[n2]);
    margins[row + 3] = Math.fround(margins[row + 3] + value[n3]);
  }
  for (; row < to; row++) {
    const at = (row - from) * stride;
    let node = root;
    for (let d = 0; d < depth; d++) {
      const right = goesRight(row * stride, node);
      credit[at + feature[node]] += step[2 * node + right];
      node = firstChild[node] + right;
    }
    margins[row] = Math.fround(margins[row] + value[node]);
  }
}

/** Inserts the positive credits at `from` into the `k` slots at `at`, largest first, ties to the lower feature index. */
function keepLargest(
  credit: Float64Array,
  from: number,
  features: number,
  slots: Int16Array,
  contributions: Float64Array,
  at: number,
  k: number,
): void {
  for (let f = 0; f < features; f++) {
    const value = credit[from + f];
    if (!(value > 0)) continue;
    let slot = k;
    while (slot > 0 && (slots[at + slot - 1] < 0 || contributions[at + slot - 1] < value)) slot--;
    if (slot >= k) continue;
    for (let s = k - 1; s > slot; s--) {
      slots[at + s] = slots[at + s - 1];
      contributions[at + s] = contributions[at + s - 1];
    }
    slots[at + slot] = f;
    contributions[at + slot] = value;
  }
}
