/**
 * Gradient-boosted histogram trees for a binary label (log-loss), in the style of XGBoost /
 * LightGBM: second-order split gain with L2 regularisation, shrinkage, row and feature
 * subsampling, early stopping on an internal validation split, and native categorical splits
 * (categories ordered by gradient / hessian, best cut over that order; small categories grouped
 * and the chance gain of ordering many taken off, as LightGBM's min_data_per_group and cat_smooth).
 *
 * Everything is float32 where XGBoost is float32 (feature values, thresholds, leaf values, the
 * running margin), so the exported model (xgboost-export.ts) scores bit for bit like this code up
 * to XGBoost's float32 sigmoid. Seeded: the same inputs give the same model, byte for byte.
 */
import type { BoostedModel, BoostedTree } from './boosted-model';
import { compiledMargins, compileModel, rowMajorValues } from './compiled-model';
import type { BoostingKernel } from './kernel';
import { RandomStream, shuffle } from './random';
import { binTrainingFeatures, type TrainingBins } from './training-bins';
import { HalfTask, LocalHelper, ThreadHelper, type TrainingHelper } from './training-helper';
import { HISTOGRAM_STRIDE, histogramLength, TrainingMemory, type TrainingShape } from './training-memory';
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
  /** Threads running the per-row work (1 or 2; the model is the same either way). Default 1; with 2 this thread blocks while the helper works, so never on the activity's event loop. */
  threads?: number;
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

/** The training memory trainBoosted allocates for `trainRows` of `rows` rows (the churn stage checks it fits first). */
export function trainingShape(
  rows: number,
  features: number,
  trainRows: number,
  options: Pick<BoostingOptions, 'maxDepth' | 'validationShare'>,
): TrainingShape {
  const validationRows = Math.round(trainRows * (options.validationShare ?? 0.15));
  return { rows, features, fitRows: trainRows - validationRows, validationRows, depth: options.maxDepth };
}

/** Trains on `rows` (indices into the columns; labels 0/1 per row index). */
export function trainBoosted(
  columns: Float64Array[],
  labels: Uint8Array,
  rows: Uint32Array,
  options: BoostingOptions,
): BoostingResult {
  if (options.maxDepth < 1 || options.minLeafSize < 1 || options.trees < 1)
    throw new RangeError('trees, maxDepth, minLeafSize must be >= 1');
  // the memory and its helper thread first: the helper's start-up (~0.2 s) overlaps binning
  const memory = TrainingMemory.allocate(trainingShape(columns[0]?.length ?? 0, columns.length, rows.length, options));
  const helper = (options.threads ?? 1) > 1 ? new ThreadHelper(memory) : new LocalHelper(memory);
  try {
    return boostRounds(columns, labels, rows, options, helper);
  } finally {
    helper.close();
  }
}

/** trainBoosted once its helper has started: bins the rows, splits off the validation rows, grows the trees. */
function boostRounds(
  columns: Float64Array[],
  labels: Uint8Array,
  rows: Uint32Array,
  options: BoostingOptions,
  helper: TrainingHelper,
): BoostingResult {
  const { memory } = helper;
  const features = columns.length;
  const categorical = options.categorical ?? new Array<boolean>(features).fill(false);
  const rowSubsample = options.rowSubsample ?? 1;
  const featureSubsample = options.featureSubsample ?? 1;
  const patience = options.earlyStoppingRounds ?? 10;
  const stream = new RandomStream(options.seed);
  const random = () => stream.next();

  // the gradients are not computed yet: their space holds the column being binned
  const binned = binTrainingFeatures(memory, helper.kernel, columns, categorical, memory.layout.gradient);
  const shuffled = shuffle(Uint32Array.from(rows), random);
  const validationRows = shuffled.slice(0, memory.layout.validationRows).sort();
  const fitRows = shuffled.slice(memory.layout.validationRows).sort();
  // the validation rows marked: walking a tree gives them loss terms, the fit rows gradients
  memory.labels.set(labels);
  for (const row of validationRows) memory.labels[row] |= 2;
  memory.fit.set(fitRows);
  memory.walkRows.set(Uint32Array.from(rows).sort());

  let positives = 0;
  for (const row of fitRows) positives += labels[row];
  const prior = Math.min(Math.max(positives / fitRows.length, 1e-6), 1 - 1e-6);
  const baseMargin = f32(Math.log(prior / (1 - prior)));

  memory.margin.fill(baseMargin);
  addLeafValues(helper, null);
  const grower = new TreeGrower(binned, helper, {
    maxDepth: options.maxDepth,
    minLeafSize: options.minLeafSize,
    l2: options.l2 ?? 1,
    learningRate: options.learningRate,
  });
  const trees: BoostedTree[] = [];
  const validationLogLoss: number[] = [];
  let best = { loss: Infinity, round: 0 };
  for (let round = 0; round < options.trees; round++) {
    // the tree's rows, drawn from the fit rows into the row order
    const treeSize = Math.min(Math.max(1, Math.round(fitRows.length * rowSubsample)), fitRows.length);
    if (treeSize === fitRows.length) memory.order.set(fitRows);
    else stream.sampleAscending(helper.kernel, memory.layout.fit, fitRows.length, treeSize, memory.layout.order);
    const grown = grower.grow(treeSize, pickFeatures(features, featureSubsample, random));
    trees.push(grown.tree);
    addLeafValues(helper, grown);

    let loss = 0;
    for (const row of validationRows) loss -= memory.lossTerms[row];
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
}

/** Per (feature, bin): gradient sum, hessian sum and row count at [(feature * 256 + bin) * 3 + 0..2]. */
type Histograms = Float64Array;
const STRIDE = HISTOGRAM_STRIDE;

/** The best split of a node, with the left side's sums (the right side's are the node's minus these). */
interface SplitChoice {
  gain: number;
  feature: number;
  /** Numeric: the first bin that goes right. */
  threshold: number;
  /** Categorical: the bins that go right. */
  rightBins: number[] | null;
  gradient: number;
  hessian: number;
  rows: number;
}

/**
 * Grows one tree at a time over reused buffers: a node is a range of one row-order array
 * (partitioned stably, so every histogram sums its rows in ascending order), a node's sums come
 * from its parent's split, and of two children only the smaller is counted; the larger is its
 * parent's histogram minus the smaller's, in place.
 */
class TreeGrower {
  private readonly memory: TrainingMemory;
  /** Splits a node's rows (histogram-kernel.wat `partition`). */
  private readonly kernel: BoostingKernel;
  private readonly spare: Histograms[] = [];

  constructor(
    private readonly binned: TrainingBins,
    private readonly helper: TrainingHelper,
    private readonly settings: GrowSettings,
  ) {
    this.memory = helper.memory;
    this.kernel = helper.kernel;
  }

  /** Grows a tree on the first `rows` rows of the row order (ascending), from their gradients. */
  grow(rows: number, allowed: Uint8Array): GrownTree {
    const { memory } = this;
    memory.allowed.set(allowed);
    const { gradient, hessian, order } = memory;
    let g = 0;
    let h = 0;
    for (let i = 0; i < rows; i++) {
      g += gradient[order[i]];
      h += hessian[order[i]];
    }
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
    this.growNode(tree, routes, allowed, 0, rows, 0, g, h, null);
    return new GrownTree(tree, routes);
  }

  /** Adds the node at `start..end` of the row order (and its subtree) to `tree`; returns its index. */
  private growNode(
    tree: BoostedTree,
    routes: Uint8Array[],
    allowed: Uint8Array,
    start: number,
    end: number,
    depth: number,
    g: number,
    h: number,
    known: Histograms | null,
  ): number {
    const { maxDepth, minLeafSize, l2, learningRate } = this.settings;
    const node = tree.left.length;
    tree.left.push(-1);
    tree.right.push(-1);
    tree.feature.push(0);
    tree.threshold.push(0);
    tree.rightCategories.push([]);
    tree.defaultLeft.push(true);
    // + 0: a leaf with no gradient is +0, not -0 (models are stored as JSON, which drops the sign)
    tree.value.push(f32((-g / (h + l2)) * learningRate) + 0);
    tree.cover.push(f32(h));
    tree.gain.push(0);
    routes.push(NO_ROUTES);
    const n = end - start;
    if (depth >= maxDepth || n < 2 * minLeafSize) {
      if (known) this.spare.push(known);
      return node;
    }
    const histograms = known ?? this.count(start, end);
    const best = this.bestSplit(histograms, allowed, n, g, h);
    if (!best) {
      this.spare.push(histograms);
      return node;
    }
    const { categoryCounts, edges } = this.binned;
    const f = best.feature;
    const goesLeft = new Uint8Array(256);
    if (best.rightBins) {
      goesLeft.fill(1);
      for (const b of best.rightBins) goesLeft[b] = 0;
    } else goesLeft.fill(1, 0, best.threshold);
    const middle = start + best.rows;
    let leftHistograms: Histograms | null = null;
    let rightHistograms: Histograms | null = null;
    if (depth + 1 < maxDepth) {
      this.partition(start, end, goesLeft, f);
      const smallerIsLeft = best.rows <= n - best.rows;
      const smaller = smallerIsLeft ? this.count(start, middle) : this.count(middle, end);
      for (let i = 0; i < histograms.length; i++) histograms[i] -= smaller[i];
      [leftHistograms, rightHistograms] = smallerIsLeft ? [smaller, histograms] : [histograms, smaller];
    } else this.spare.push(histograms); // the children are leaves: their sums are all they need

    routes[node] = goesLeft;
    tree.feature[node] = f;
    tree.gain[node] = best.gain;
    tree.value[node] = 0;
    if (best.rightBins) {
      const missingBin = categoryCounts[f];
      tree.rightCategories[node] = best.rightBins.filter((b) => b !== missingBin).sort((a, b) => a - b);
      tree.defaultLeft[node] = goesLeft[missingBin] === 1;
    } else {
      // NaN lands in bin 0 (binFeatures), which every numeric split sends left
      tree.threshold[node] = edges[f][best.threshold - 1];
    }
    tree.left[node] = this.growNode(
      tree,
      routes,
      allowed,
      start,
      middle,
      depth + 1,
      best.gradient,
      best.hessian,
      leftHistograms,
    );
    tree.right[node] = this.growNode(
      tree,
      routes,
      allowed,
      middle,
      end,
      depth + 1,
      g - best.gradient,
      h - best.hessian,
      rightHistograms,
    );
    return node;
  }

  /** Histograms of the rows at `start..end` of the row order. */
  private count(start: number, end: number): Histograms {
    const histograms = this.spare.pop() ?? new Float64Array(histogramLength(this.binned.features));
    this.helper.count(start, end, histograms);
    return histograms;
  }

  /** Moves the rows at `start..end` whose bin goes left to the front, keeping both sides in ascending order. */
  private partition(start: number, end: number, goesLeft: Uint8Array, feature: number): void {
    const { memory } = this;
    const { layout } = memory;
    memory.goesLeft.set(goesLeft);
    this.kernel.partition(
      layout.order + start * 4,
      end - start,
      layout.columnBins + feature * layout.rows,
      layout.goesLeft,
      layout.scratch,
    );
  }

  /** The split with the largest second-order gain over the allowed features, or null when none gains. */
  private bestSplit(histograms: Histograms, allowed: Uint8Array, n: number, g: number, h: number): SplitChoice | null {
    const { minLeafSize, l2 } = this.settings;
    const { binCounts, categorical, categoryCounts, features } = this.binned;
    const score = (sumG: number, sumH: number) => (sumG * sumG) / (sumH + l2);
    const parent = score(g, h);
    let best: SplitChoice | null = null;
    let bestGain = 1e-12;
    for (let f = 0; f < features; f++) {
      if (!allowed[f]) continue;
      const offset = f * STRIDE;
      const binCount = binCounts[f];
      // categorical: categories ordered by gradient / hessian (shrunk, LightGBM's cat_smooth), cut
      // anywhere in that order, those with fewer than minLeafSize rows right together
      // (min_data_per_group), and the chance gain of ordering k of them taken off (histogram-tree.ts);
      // numeric: cut between bins
      let order: number[];
      const rare: number[] = [];
      let penalty = 0;
      if (categorical[f]) {
        order = [];
        for (let b = 0; b < binCount; b++) {
          const rows = histograms[offset + b * 3 + 2];
          if (rows >= minLeafSize) order.push(b);
          else if (rows > 0) rare.push(b);
        }
        const ratio = (b: number) =>
          histograms[offset + b * 3] / (histograms[offset + b * 3 + 1] + l2 + CATEGORY_SMOOTHING);
        order.sort((a, b) => ratio(a) - ratio(b) || a - b);
        // G^2 / H of a group of rows is about chi-squared with one degree of freedom by chance
        penalty = Math.max(0, order.length - 2);
      } else order = NUMERIC_ORDER;
      const cuts = categorical[f] ? order.length - 1 : binCount - 1;
      let gl = 0;
      let hl = 0;
      let nl = 0;
      for (let j = 0; j < cuts; j++) {
        const at = offset + order[j] * 3;
        gl += histograms[at];
        hl += histograms[at + 1];
        nl += histograms[at + 2];
        if (nl < minLeafSize) continue;
        if (n - nl < minLeafSize) break;
        // XGBoost's model file needs a category on the right: not the missing bin alone
        if (categorical[f] && rare.length === 0 && j === cuts - 1 && order[cuts] === categoryCounts[f]) continue;
        const gain = score(gl, hl) + score(g - gl, h - hl) - parent;
        // chosen by the gain less a categorical cut's chance gain; the node records the gain
        if (gain - penalty > bestGain) {
          bestGain = gain - penalty;
          best = {
            gain,
            feature: f,
            threshold: categorical[f] ? 0 : j + 1,
            rightBins: categorical[f] ? [...order.slice(j + 1), ...rare] : null,
            gradient: gl,
            hessian: hl,
            rows: nl,
          };
        }
      }
    }
    return best;
  }
}

/** Hessian a category's gradient / hessian is shrunk with toward 0 (LightGBM's cat_smooth). */
const CATEGORY_SMOOTHING = 10;

/** Bins 0..255 in order: a numeric feature's cuts walk its bins from the left. */
const NUMERIC_ORDER = Array.from({ length: 256 }, (_, b) => b);

const NO_ROUTES = new Uint8Array(0);

/** A grown tree with, per inner node, which bins of its feature go left (training-time routing only). */
class GrownTree {
  /** next[node * 256 + bin]: the child a row with that bin of the node's feature goes to; a leaf leads to itself. */
  readonly next: Uint16Array;
  readonly feature: Int32Array;
  readonly value: Float64Array;

  constructor(
    readonly tree: BoostedTree,
    routes: Uint8Array[],
  ) {
    this.feature = Int32Array.from(tree.feature);
    this.value = Float64Array.from(tree.value);
    this.next = new Uint16Array(routes.length * 256);
    routes.forEach((goesLeft, node) => {
      for (let bin = 0; bin < 256; bin++)
        this.next[node * 256 + bin] = tree.left[node] < 0 ? node : goesLeft[bin] ? tree.left[node] : tree.right[node];
    });
  }
}

/**
 * Adds a round's leaf values to the margins of the fit and validation rows (walkRows, ascending),
 * the lower rows on this thread and the upper ones on the helper: each walks the tree from its
 * bins (the kernel's addLeafValues: a fixed `depth` steps, leaves looping on themselves), adds
 * the leaf value rounded to float32 (the path XGBoost's float32 values take), then computes from
 * its new margin its gradient and hessian (a fit row) or its loss term (a validation row). With
 * no tree, a tree of one leaf worth 0: the margins stay and get their gradients.
 */
function addLeafValues(helper: TrainingHelper, grown: GrownTree | null): void {
  const { memory } = helper;
  if (grown) {
    memory.next.set(grown.next);
    memory.nodeFeature.set(grown.feature);
    memory.nodeValue.set(grown.value);
  } else {
    memory.next.fill(0);
    memory.nodeFeature.fill(0);
    memory.nodeValue.fill(0);
  }
  helper.inHalves(HalfTask.Walk, 0, memory.walkRows.length);
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
    baseMargin: f32(a * model.baseMargin + b) + 0,
    trees: model.trees.map((tree) => ({ ...tree, value: tree.value.map((v) => f32(a * v) + 0) })),
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
