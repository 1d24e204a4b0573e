/**
 * Gradient-boosted histogram trees for a binary label (log-loss), in the style of XGBoost /
 * LightGBM: second-order split gain with L2 regularisation, shrinkage, row and feature
 * subsampling, early stopping on an internal validation split, and native categorical splits
 * (categories ordered by gradient / hessian, best cut over that order).
 *
 * Everything is float32 where XGBoost is float32 (feature values, thresholds, leaf values, the
 * running margin), so the exported model (xgboost-export.ts) scores bit for bit like this code up
 * to XGBoost's float32 sigmoid. Seeded: the same inputs give the same model, byte for byte.
 */
import { compiledMargins, compileModel, rowMajorValues } from './compiled-model';
import { binFeatures } from './histogram-tree';
import { seededRandom, shuffle } from './random';
import { importanceShares } from './tree-rules';

export interface BoostingOptions {
  /** Most boosting rounds (trees). */
  trees: number;
  maxDepth: number;
  /** Shrinkage applied to every leaf value. */
  learningRate: number;
  /** Smallest number of training rows a leaf may hold. */
  minLeafSize: number;
  /** L2 penalty on leaf values (XGBoost's lambda). Default 1. */
  l2?: number;
  /** Share of fit rows each tree is grown on (drawn without replacement). Default 1. */
  rowSubsample?: number;
  /** Share of features each tree may split on. Default 1. */
  featureSubsample?: number;
  /** Share of the training rows held back to stop early (and to calibrate on). Default 0.15. */
  validationShare?: number;
  /** Stop once the validation log-loss has not improved for this many rounds. Default 10. */
  earlyStoppingRounds?: number;
  seed: number;
  /** Per feature: values are category codes 0..K-1 (NaN = missing) and split as sets. */
  categorical?: boolean[];
}

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

export interface BoostingResult {
  model: BoostedModel;
  /** Rows the trees were fitted on and the validation rows (both subsets of the given rows). */
  fitRows: Uint32Array;
  validationRows: Uint32Array;
  /** Validation log-loss after each round; the model keeps the rounds up to the best. */
  validationLogLoss: number[];
  bestRound: number;
}

const f32 = Math.fround;

/** Feature values rounded to float32, as XGBoost reads them. */
export function toFloat32Columns(columns: Float64Array[]): Float64Array[] {
  return columns.map((column) => Float64Array.from(column, f32));
}

/** Quantile bins for numeric features, the code itself for categorical ones (missing: the bin after the largest code). */
function binAll(columns: Float64Array[], categorical: boolean[]) {
  const binned = binFeatures(columns);
  const { bins, features, rows } = binned;
  const binCounts = binned.edges.map((edges) => edges.length + 1);
  const categoryCounts = new Int32Array(features);
  columns.forEach((column, f) => {
    if (!categorical[f]) return;
    let k = 0;
    for (let i = 0; i < rows; i++) {
      const code = column[i];
      if (Number.isNaN(code)) continue;
      if (!Number.isInteger(code) || code < 0 || code > 254)
        throw new RangeError(`categorical feature ${f}: codes must be integers 0..254, got ${code}`);
      k = Math.max(k, code + 1);
    }
    for (let i = 0; i < rows; i++) bins[i * features + f] = Number.isNaN(column[i]) ? k : column[i];
    categoryCounts[f] = k;
    binCounts[f] = k + 1;
  });
  return { ...binned, binCounts, categoryCounts };
}

/** Trains on `rows` (indices into the columns; labels 0/1 per row index). */
export function trainBoosted(
  columns: Float64Array[],
  labels: Uint8Array,
  rows: Uint32Array,
  options: BoostingOptions,
): BoostingResult {
  const features = columns.length;
  const categorical = options.categorical ?? new Array<boolean>(features).fill(false);
  const l2 = options.l2 ?? 1;
  const rowSubsample = options.rowSubsample ?? 1;
  const featureSubsample = options.featureSubsample ?? 1;
  const patience = options.earlyStoppingRounds ?? 10;
  const { maxDepth, minLeafSize, learningRate } = options;
  if (maxDepth < 1 || minLeafSize < 1 || options.trees < 1)
    throw new RangeError('trees, maxDepth, minLeafSize must be >= 1');
  const random = seededRandom(options.seed);

  const values = toFloat32Columns(columns);
  const binned = binAll(values, categorical);
  const { bins, binCounts } = binned;

  const shuffled = shuffle(Uint32Array.from(rows), random);
  const validationCount = Math.round(rows.length * (options.validationShare ?? 0.15));
  const validationRows = shuffled.slice(0, validationCount).sort();
  const fitRows = shuffled.slice(validationCount).sort();

  let positives = 0;
  for (const row of fitRows) positives += labels[row];
  const prior = Math.min(Math.max(positives / fitRows.length, 1e-6), 1 - 1e-6);
  const baseMargin = f32(Math.log(prior / (1 - prior)));

  const margin = new Float64Array(labels.length).fill(baseMargin);
  const gradient = new Float64Array(labels.length);
  const hessian = new Float64Array(labels.length);
  const trees: BoostedTree[] = [];
  const validationLogLoss: number[] = [];
  let best = { loss: Infinity, round: 0 };

  for (let round = 0; round < options.trees; round++) {
    for (const row of fitRows) {
      const p = sigmoid(margin[row]);
      gradient[row] = p - labels[row];
      hessian[row] = Math.max(p * (1 - p), 1e-16);
    }
    const sampleSize = Math.max(1, Math.round(fitRows.length * rowSubsample));
    const treeRows =
      sampleSize >= fitRows.length ? fitRows : shuffle(Uint32Array.from(fitRows), random).slice(0, sampleSize).sort();
    const allowed = pickFeatures(features, featureSubsample, random);
    const grown = growTree(binned, binCounts, categorical, gradient, hessian, treeRows, allowed, {
      maxDepth,
      minLeafSize,
      l2,
      learningRate,
      edges: binned.edges,
    });
    trees.push(grown.tree);
    for (const set of [fitRows, validationRows])
      for (const row of set)
        margin[row] = f32(margin[row] + grown.tree.value[leafOfBinnedRow(grown, bins, features, row)]);

    let loss = 0;
    for (const row of validationRows) {
      const p = Math.min(Math.max(sigmoid(margin[row]), 1e-15), 1 - 1e-15);
      loss -= labels[row] ? Math.log(p) : Math.log(1 - p);
    }
    loss /= Math.max(validationRows.length, 1);
    validationLogLoss.push(loss);
    if (loss < best.loss - 1e-12) best = { loss, round: round + 1 };
    else if (validationRows.length > 0 && round + 1 - best.round >= patience) break;
  }
  const bestRound = validationRows.length > 0 ? Math.max(1, best.round) : trees.length;
  return {
    model: { baseMargin, trees: trees.slice(0, bestRound), featureCount: features, categorical },
    fitRows,
    validationRows,
    validationLogLoss,
    bestRound,
  };
}

function pickFeatures(features: number, share: number, random: () => number): Uint8Array {
  const allowed = new Uint8Array(features);
  const count = Math.max(1, Math.round(features * share));
  const order = shuffle(
    Uint32Array.from({ length: features }, (_, i) => i),
    random,
  );
  for (let i = 0; i < count; i++) allowed[order[i]] = 1;
  return allowed;
}

interface GrowSettings {
  maxDepth: number;
  minLeafSize: number;
  l2: number;
  learningRate: number;
  edges: Float64Array[];
}

/** A grown tree with, per inner node, which bins of its feature go left (training-time routing only). */
interface GrownTree {
  tree: BoostedTree;
  routes: Uint8Array[];
}

/** Per (feature, bin): gradient sum, hessian sum and row count at [(feature * 256 + bin) * 3 + 0..2]. */
type Histograms = Float64Array;
const STRIDE = 256 * 3;

function growTree(
  binned: { bins: Uint8Array; features: number; categoryCounts: Int32Array },
  binCounts: number[],
  categorical: boolean[],
  gradient: Float64Array,
  hessian: Float64Array,
  rows: Uint32Array,
  allowed: Uint8Array,
  settings: GrowSettings,
): GrownTree {
  const { bins, features } = binned;
  const { maxDepth, minLeafSize, l2, learningRate, edges } = settings;
  const tree: BoostedTree = {
    left: [],
    right: [],
    feature: [],
    threshold: [],
    rightCategories: [],
    defaultLeft: [],
    value: [],
    cover: [],
    gain: [],
  };
  const routes: Uint8Array[] = [];
  const count = (nodeRows: Uint32Array): Histograms => {
    const histograms = new Float64Array(features * STRIDE);
    for (let i = 0; i < nodeRows.length; i++) {
      const row = nodeRows[i];
      const base = row * features;
      const g = gradient[row];
      const h = hessian[row];
      for (let f = 0; f < features; f++) {
        const at = f * STRIDE + bins[base + f] * 3;
        histograms[at] += g;
        histograms[at + 1] += h;
        histograms[at + 2]++;
      }
    }
    return histograms;
  };
  const score = (g: number, h: number) => (g * g) / (h + l2);

  const grow = (nodeRows: Uint32Array, depth: number, known?: Histograms): number => {
    const node = tree.left.length;
    let g = 0;
    let h = 0;
    for (let i = 0; i < nodeRows.length; i++) {
      g += gradient[nodeRows[i]];
      h += hessian[nodeRows[i]];
    }
    tree.left.push(-1);
    tree.right.push(-1);
    tree.feature.push(0);
    tree.threshold.push(0);
    tree.rightCategories.push([]);
    tree.defaultLeft.push(true);
    tree.value.push(f32((-g / (h + l2)) * learningRate));
    tree.cover.push(f32(h));
    tree.gain.push(0);
    routes.push(NO_ROUTES);
    const n = nodeRows.length;
    if (depth >= maxDepth || n < 2 * minLeafSize) return node;

    const histograms = known ?? count(nodeRows);
    const parent = score(g, h);
    let best: { gain: number; feature: number; threshold: number; rightBins: number[] | null } = {
      gain: 1e-12,
      feature: -1,
      threshold: 0,
      rightBins: null,
    };
    for (let f = 0; f < features; f++) {
      if (!allowed[f]) continue;
      const offset = f * STRIDE;
      const binCount = binCounts[f];
      if (categorical[f]) {
        const present: number[] = [];
        for (let b = 0; b < binCount; b++) if (histograms[offset + b * 3 + 2] > 0) present.push(b);
        const ratio = (b: number) => histograms[offset + b * 3] / (histograms[offset + b * 3 + 1] + l2);
        present.sort((a, b) => ratio(a) - ratio(b) || a - b);
        let gl = 0;
        let hl = 0;
        let nl = 0;
        for (let j = 0; j < present.length - 1; j++) {
          const at = offset + present[j] * 3;
          gl += histograms[at];
          hl += histograms[at + 1];
          nl += histograms[at + 2];
          if (nl < minLeafSize) continue;
          if (n - nl < minLeafSize) break;
          const gain = score(gl, hl) + score(g - gl, h - hl) - parent;
          if (gain > best.gain) best = { gain, feature: f, threshold: 0, rightBins: present.slice(j + 1) };
        }
        continue;
      }
      let gl = 0;
      let hl = 0;
      let nl = 0;
      for (let t = 1; t < binCount; t++) {
        const at = offset + (t - 1) * 3;
        gl += histograms[at];
        hl += histograms[at + 1];
        nl += histograms[at + 2];
        if (nl < minLeafSize) continue;
        if (n - nl < minLeafSize) break;
        const gain = score(gl, hl) + score(g - gl, h - hl) - parent;
        if (gain > best.gain) best = { gain, feature: f, threshold: t, rightBins: null };
      }
    }
    if (best.feature < 0) return node;

    const f = best.feature;
    const goesLeft = new Uint8Array(256);
    if (best.rightBins) {
      goesLeft.fill(1);
      for (const b of best.rightBins) goesLeft[b] = 0;
    } else goesLeft.fill(1, 0, best.threshold);
    let leftCount = 0;
    for (let i = 0; i < n; i++) leftCount += goesLeft[bins[nodeRows[i] * features + f]];
    const leftRows = new Uint32Array(leftCount);
    const rightRows = new Uint32Array(n - leftCount);
    for (let i = 0, l = 0, r = 0; i < n; i++) {
      const row = nodeRows[i];
      if (goesLeft[bins[row * features + f]]) leftRows[l++] = row;
      else rightRows[r++] = row;
    }
    let leftHistograms: Histograms | undefined;
    let rightHistograms: Histograms | undefined;
    if (depth + 1 < maxDepth) {
      const smallerIsLeft = leftCount <= n - leftCount;
      const smaller = count(smallerIsLeft ? leftRows : rightRows);
      const larger = histograms.map((value, i) => value - smaller[i]);
      [leftHistograms, rightHistograms] = smallerIsLeft ? [smaller, larger] : [larger, smaller];
    }
    routes[node] = goesLeft;
    tree.feature[node] = f;
    tree.gain[node] = best.gain;
    tree.value[node] = 0;
    if (best.rightBins) {
      const missingBin = binned.categoryCounts[f];
      tree.rightCategories[node] = best.rightBins.filter((b) => b !== missingBin).sort((a, b) => a - b);
      tree.defaultLeft[node] = goesLeft[missingBin] === 1;
    } else {
      // NaN lands in bin 0 (binFeatures), which every numeric split sends left
      tree.threshold[node] = edges[f][best.threshold - 1];
    }
    tree.left[node] = grow(leftRows, depth + 1, leftHistograms);
    tree.right[node] = grow(rightRows, depth + 1, rightHistograms);
    return node;
  };
  grow(rows, 0);
  return { tree, routes };
}

const NO_ROUTES = new Uint8Array(0);

/** The leaf a training row reaches, read from its bins with each split's bin routes (the same path its float32 values take). */
function leafOfBinnedRow(grown: GrownTree, bins: Uint8Array, features: number, row: number): number {
  const { tree, routes } = grown;
  let node = 0;
  while (tree.left[node] >= 0)
    node = routes[node][bins[row * features + tree.feature[node]]] ? tree.left[node] : tree.right[node];
  return node;
}

export function sigmoid(margin: number): number {
  return 1 / (1 + Math.exp(-margin));
}

/**
 * The child of inner `node` that `row` goes to, from its float32 feature value: the rule, one
 * node at a time (compiled-model.ts walks many rows the same way).
 */
export function nextNode(
  tree: BoostedTree,
  categorical: boolean[],
  columns: Float64Array[],
  row: number,
  node: number,
): number {
  const f = tree.feature[node];
  const x = f32(columns[f][row]);
  let left: boolean;
  if (Number.isNaN(x)) left = tree.defaultLeft[node];
  else if (categorical[f]) left = !tree.rightCategories[node].includes(x);
  else left = x < tree.threshold[node];
  return left ? tree.left[node] : tree.right[node];
}

/** The margin (log-odds) of every row: base margin plus each tree's leaf, accumulated in float32 as XGBoost does. */
export function predictMargins(model: BoostedModel, columns: Float64Array[]): Float64Array {
  return compiledMargins(compileModel(model), rowMajorValues(columns));
}

export function predictBoosted(model: BoostedModel, columns: Float64Array[]): Float64Array {
  return predictMargins(model, columns).map(sigmoid);
}

/** The model whose margin is a * margin + b (Platt scaling folded into the trees), in float32. */
export function scaleModel(model: BoostedModel, a: number, b: number): BoostedModel {
  return {
    ...model,
    baseMargin: f32(a * model.baseMargin + b),
    trees: model.trees.map((tree) => ({ ...tree, value: tree.value.map((v) => f32(a * v)) })),
  };
}

/** Gain-weighted share of each feature's splits over the ensemble, summing to 1. */
export function boostedImportance(model: BoostedModel, featureNames: readonly string[]): Record<string, number> {
  const totals = new Float64Array(featureNames.length);
  for (const tree of model.trees)
    for (let node = 0; node < tree.left.length; node++)
      if (tree.left[node] >= 0) totals[tree.feature[node]] += tree.gain[node];
  return importanceShares(totals, featureNames);
}
