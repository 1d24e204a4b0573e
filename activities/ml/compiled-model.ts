/**
 * A BoostedModel compiled for scoring millions of rows: every tree's nodes in flat typed arrays,
 * siblings side by side (the right child follows the left), leaves that are their own children,
 * so a row takes exactly `depth` steps down a tree; blocks of rows meet every tree while their
 * values sit in cache. The rows' values are one row-major Float32Array; the walks run in the
 * WebAssembly kernel (kernel.ts).
 *
 * Scores bit for bit like the model read node by node (boosting.ts `nextNode`): float32 values,
 * `x < threshold` left, NaN to the default side, a categorical code right iff in the split's set,
 * the margin summed in float32 tree by tree. The same walk credits each step's change in the
 * node means to the split's feature, in the order contributions.ts `rowContributions` adds them.
 * Plain typed arrays throughout: structured-cloneable into a worker thread.
 */
import type { BoostedModel, BoostedTree } from './boosted-model';
import { kernelWith, type BoostingKernel } from './kernel';

export interface CompiledModel {
  featureCount: number;
  baseMargin: number;
  /** Per tree: its root node and the steps from the root to its deepest leaf. */
  roots: Int32Array;
  depths: Int32Array;
  /**
   * Per node, a 16-byte record (NODE_WORDS 32-bit words, one cache line read per step): the
   * feature its split reads (0 on a leaf, read and ignored) with the node's flags in the top
   * byte (MISSING_RIGHT, CATEGORICAL; 0 on a numeric split that sends NaN left, as training makes
   * them); the float32 threshold, x >= threshold goes right (the split's threshold rounded up to
   * float32, which no float32 x tells apart from it; NaN on a leaf, which nothing passes); its
   * left child (the right one is next; a leaf is its own left child); where its categorical
   * right-set starts in `categoryBits`.
   */
  nodes: Int32Array;
  /** Right-sets of `categoryWords` 32-bit words each, bit c set when code c goes right. */
  categoryBits: Uint32Array;
  categoryWords: number;
  /** Per node: the leaf value (0 on inner nodes). */
  value: Float64Array;
  /** At 2 * node + (1 if right): the child's mean minus the node's, what the step is credited; 0 from a leaf. */
  step: Float64Array;
}

/** A split's flags, in the top byte (FLAGS_SHIFT) of its record's first word; the kernel's $unusualGoesRight reads them. */
export const MISSING_RIGHT = 1;
export const CATEGORICAL = 2;
export const FLAGS_SHIFT = 24;
const NODE_WORDS = 4;

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
  // a node's feature shares its record's first word with the flags
  if (model.featureCount >= 1 << FLAGS_SHIFT) throw new RangeError(`at most ${(1 << FLAGS_SHIFT) - 1} features`);
  const nodes = model.trees.reduce((sum, tree) => sum + tree.left.length, 0);
  const compiled: CompiledModel = {
    featureCount: model.featureCount,
    baseMargin: model.baseMargin,
    roots: new Int32Array(model.trees.length),
    depths: new Int32Array(model.trees.length),
    nodes: new Int32Array(nodes * NODE_WORDS),
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
  const words = compiled.nodes;
  const thresholds = new Float32Array(words.buffer, words.byteOffset, words.length);
  for (const node of order) {
    const i = at[node];
    const record = i * NODE_WORDS;
    if (tree.left[node] < 0) {
      thresholds[record + 1] = Number.NaN;
      words[record + 2] = i;
      compiled.value[i] = tree.value[node];
      continue;
    }
    const f = tree.feature[node];
    const flags = (tree.defaultLeft[node] ? 0 : MISSING_RIGHT) | (categorical[f] ? CATEGORICAL : 0);
    words[record] = f | (flags << FLAGS_SHIFT);
    thresholds[record + 1] = splitThreshold(tree.threshold[node]);
    words[record + 2] = at[tree.left[node]];
    compiled.step[2 * i] = mean[tree.left[node]] - mean[node];
    compiled.step[2 * i + 1] = mean[tree.right[node]] - mean[node];
    if (categorical[f]) {
      words[record + 3] = sets.length * compiled.categoryWords;
      sets.push(tree.rightCategories[node]);
    }
  }
  return offset + order.length;
}

/** A numeric split's threshold as the kernel compares it (x >= it goes right). */
export function splitThreshold(t: number): number {
  // `x < NaN` holds for no x: a NaN threshold sends every value right
  return Number.isNaN(t) ? -Infinity : ceilFloat32(t);
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
export function categoryWords(model: BoostedModel): number {
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

export function categoryBitsets(sets: number[][], words: number): Uint32Array {
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
  return compiledMarginPairs(model, null, values).margins;
}

/**
 * The margins of every row under `model` and under `other`, the same trees with other leaf
 * values (the uncalibrated model: calibration only scales leaf values), from one walk.
 */
export function compiledMarginPairs(
  model: CompiledModel,
  other: CompiledModel | null,
  values: Float32Array,
): { margins: Float64Array; otherMargins: Float64Array } {
  if (other && !sameTrees(model, other)) throw new Error('compiledMarginPairs: the two models have different trees');
  const walk = new KernelWalk(model, values, other);
  const { at } = walk;
  for (let from = 0; from < walk.rows; from += BLOCK_ROWS)
    walk.kernel.addMargins(at.values, from, Math.min(walk.rows, from + BLOCK_ROWS), at.margins, at.nodes, at.margins2);
  return { margins: walk.margins.slice(), otherMargins: walk.otherMargins.slice() };
}

/** Whether two compiled models route every row alike (only their leaf values may differ). */
function sameTrees(a: CompiledModel, b: CompiledModel): boolean {
  const same = (x: ArrayLike<number>, y: ArrayLike<number>) =>
    x.length === y.length && Array.prototype.every.call(x, (v: number, i: number) => Object.is(v, y[i]));
  return (
    a.featureCount === b.featureCount &&
    same(a.roots, b.roots) &&
    same(a.depths, b.depths) &&
    same(a.nodes, b.nodes) &&
    same(a.categoryBits, b.categoryBits)
  );
}

/**
 * Every row's margin and its `k` largest positive contributions (ties to the lower feature
 * index), from one walk of each row's paths. `foldInto[f]`, where it is a feature index (not -1),
 * is the feature whose contribution f's joins before the pick (a missing indicator's, its
 * feature's: one column of the user's, one reason, ranked by the sum; contributions add up).
 */
export function scoreWithReasons(
  model: CompiledModel,
  values: Float32Array,
  k: number,
  foldInto?: Int16Array,
): ScoredRows {
  const walk = new KernelWalk(model, values, null, k);
  const { rows, at } = walk;
  const folds = foldInto ? [...foldInto].flatMap((into, f) => (into >= 0 ? [f, into] : [])) : [];
  const stride = model.featureCount;
  for (let from = 0; from < rows; from += BLOCK_ROWS) {
    const to = Math.min(rows, from + BLOCK_ROWS);
    walk.kernel.addCredits(at.values, from, to, at.margins, at.credit, at.nodes);
    if (folds.length > 0) {
      const credit = new Float64Array(walk.memory.buffer, at.credit, (to - from) * stride);
      for (let row = 0; row < to - from; row++)
        for (let i = 0; i < folds.length; i += 2) {
          const [f, into] = [row * stride + folds[i], row * stride + folds[i + 1]];
          credit[into] += credit[f];
          credit[f] = 0;
        }
    }
    walk.kernel.keepLargest(at.credit, to - from, at.slots + from * k * 2, at.kept + from * k * 8, k);
  }
  return {
    margins: walk.margins.slice(),
    features: new Int16Array(walk.memory.buffer, at.slots, rows * k).slice(),
    contributions: new Float64Array(walk.memory.buffer, at.kept, rows * k).slice(),
    k,
  };
}

function rowCount(model: CompiledModel, values: Float32Array): number {
  return model.featureCount > 0 ? values.length / model.featureCount : 0;
}

/**
 * The model and the rows' values copied into a kernel memory (kernel.ts), where the kernel's
 * addMargins and addCredits walk them (histogram-kernel.wat): the walks in JavaScript spent most
 * of their time on typed-array bounds checks.
 */
class KernelWalk {
  readonly rows: number;
  readonly memory: WebAssembly.Memory;
  readonly kernel: BoostingKernel;
  /** Byte addresses; `margins2` is 0 when there is no second model. */
  readonly at: Record<'values' | 'margins' | 'credit' | 'nodes' | 'margins2' | 'slots' | 'kept', number>;
  /** Per row, starting at the base margin. */
  readonly margins: Float64Array;
  /** The second model's margins (empty without one). */
  readonly otherMargins: Float64Array;

  /**
   * `other`: a model of the same trees whose margins addMargins also adds (compiledMarginPairs);
   * `reasons`: slots per row for keepLargest.
   */
  constructor(model: CompiledModel, values: Float32Array, other: CompiledModel | null = null, reasons = 0) {
    this.rows = rowCount(model, values);
    const { memory, at, kernel } = kernelWith(
      {
        values,
        nodeRecords: model.nodes,
        categoryBits: model.categoryBits,
        value: model.value,
        step: model.step,
        roots: model.roots,
        depths: model.depths,
        value2: other?.value ?? new Float64Array(0),
      },
      {
        margins: this.rows * 8,
        credit: BLOCK_ROWS * model.featureCount * 8,
        nodes: BLOCK_ROWS * 4,
        otherMargins: other ? this.rows * 8 : 0,
        slots: this.rows * reasons * 2,
        kept: this.rows * reasons * 8,
      },
    );
    this.memory = memory;
    this.at = { ...at, margins2: other ? at.otherMargins : 0 };
    this.kernel = kernel;
    this.kernel.setModel(
      model.featureCount,
      at.nodeRecords,
      at.categoryBits,
      model.categoryWords,
      at.value,
      at.step,
      at.roots,
      at.depths,
      model.roots.length,
    );
    this.kernel.setSecondValues(at.value2);
    this.margins = new Float64Array(memory.buffer, at.margins, this.rows).fill(model.baseMargin);
    this.otherMargins = other
      ? new Float64Array(memory.buffer, at.otherMargins, this.rows).fill(other.baseMargin)
      : new Float64Array(0);
  }
}
