/**
 * What boosting's per-row work reads and writes, in one shared WebAssembly memory: the training
 * thread and its helper thread (training-helper.ts) run the same WebAssembly kernel
 * (histogram-kernel.wat) over the same bytes, each on half of a range of rows.
 */
import { kernelMemory } from './kernel';

/** Doubles per feature in a histogram: 256 bins x (gradient, hessian, count). */
export const HISTOGRAM_STRIDE = 256 * 3;

/**
 * Doubles in a histogram set: every feature's, plus one spare feature's worth that counting
 * writes padding into (histograms.ts counts four features per pass).
 */
export function histogramLength(features: number): number {
  return (features + 1) * HISTOGRAM_STRIDE;
}

/** The sizes a training memory is made for. */
export interface TrainingShape {
  /** Rows of the feature columns (row indices address them). */
  rows: number;
  features: number;
  /** Rows the trees are fitted on (the most a tree's row order holds) and the validation rows. */
  fitRows: number;
  validationRows: number;
  /** Depth of every tree: the steps a row's walk to its leaf takes. */
  depth: number;
}

/** Byte addresses in a training memory (TrainingMemory); it and the memory are what a helper thread receives. */
export interface TrainingLayout extends TrainingShape {
  columnBins: number;
  rowBins: number;
  gradient: number;
  hessian: number;
  margin: number;
  labels: number;
  lossTerms: number;
  fit: number;
  order: number;
  /** Where a split writes its right side before copying it back after the left (fitRows rows). */
  scratch: number;
  /** Per bin of the splitting feature: 1 when its rows go left (256 bytes). */
  goesLeft: number;
  allowed: number;
  walkRows: number;
  next: number;
  nodeFeature: number;
  nodeValue: number;
  /** Per feature: 256 bin edges (f64, padded with +Infinity), where binning reads them. */
  edges: number;
  /** Per counting thread: where it gathers a node's gradients, and the histograms it counts into. */
  regions: { ordered: number; out: number }[];
  bytes: number;
}

/** The regions of a training memory: the boosted ensemble's largest allocation (the churn stage checks it fits). */
export function trainingRegions({ rows, features, fitRows, validationRows, depth }: TrainingShape) {
  const histograms = histogramLength(features) * 8;
  const nodes = 2 ** (depth + 1);
  return {
    columnBins: rows * features,
    rowBins: rows * features,
    gradient: rows * 8,
    hessian: rows * 8,
    margin: rows * 8,
    labels: rows,
    lossTerms: rows * 8,
    fit: fitRows * 4,
    order: fitRows * 4,
    scratch: fitRows * 4,
    goesLeft: 256,
    allowed: features,
    walkRows: (fitRows + validationRows) * 4,
    next: nodes * 256 * 2,
    nodeFeature: nodes * 4,
    nodeValue: nodes * 8,
    edges: features * 256 * 8,
    ordered0: fitRows * 16,
    out0: histograms,
    ordered1: fitRows * 16,
    out1: histograms,
  };
}

export class TrainingMemory {
  readonly features: number;
  /** Column-major bins: columnBins[f * rows + row] (one feature's column stays in cache while counted). */
  readonly columnBins: Uint8Array;
  /** Row-major bins: rowBins[row * features + f] (a row's walk to its leaf reads one cache line). */
  readonly rowBins: Uint8Array;
  /** Per row index: the log-loss gradient and hessian of the current round. */
  readonly gradient: Float64Array;
  readonly hessian: Float64Array;
  /** Per row index: the margin (log-odds) after the rounds so far. */
  readonly margin: Float64Array;
  /** Per row index: bit 0 the label, bit 1 set on a validation row. */
  readonly labels: Uint8Array;
  /** Per validation row index: log of the probability its margin gives its label. */
  readonly lossTerms: Float64Array;
  /** The rows trees are fitted on, ascending (each tree's sample is drawn from them). */
  readonly fit: Uint32Array;
  /** The tree's row indices in node order; a node is a range of it. */
  readonly order: Uint32Array;
  /** Per bin of the feature a node splits on: 1 when its rows go left. */
  readonly goesLeft: Uint8Array;
  /** The features the current tree may split on (the others' histograms stay zero). */
  readonly allowed: Uint8Array;
  /** The fit and validation rows, ascending: their margins walk each new tree to their leaf. */
  readonly walkRows: Uint32Array;
  /** The new tree for the walk: next[node * 256 + bin] is the child a row with that bin goes to (a leaf leads to itself). */
  readonly next: Uint16Array;
  readonly nodeFeature: Int32Array;
  readonly nodeValue: Float64Array;
  /** Per feature f: its bin edges at edges[f * 256 ..], +Infinity after the last. */
  readonly edges: Float64Array;

  /** A new memory for this shape. */
  static allocate(shape: TrainingShape): TrainingMemory {
    const { memory, at, bytes } = kernelMemory(trainingRegions(shape));
    const { ordered0, out0, ordered1, out1, ...single } = at;
    const regions = [
      { ordered: ordered0, out: out0 },
      { ordered: ordered1, out: out1 },
    ];
    return new TrainingMemory(memory, { ...shape, ...single, regions, bytes });
  }

  constructor(
    readonly memory: WebAssembly.Memory,
    readonly layout: TrainingLayout,
  ) {
    const { buffer } = memory;
    const { rows, features, fitRows, validationRows, depth } = layout;
    const nodes = 2 ** (depth + 1);
    this.features = features;
    this.columnBins = new Uint8Array(buffer, layout.columnBins, rows * features);
    this.rowBins = new Uint8Array(buffer, layout.rowBins, rows * features);
    this.gradient = new Float64Array(buffer, layout.gradient, rows);
    this.hessian = new Float64Array(buffer, layout.hessian, rows);
    this.margin = new Float64Array(buffer, layout.margin, rows);
    this.labels = new Uint8Array(buffer, layout.labels, rows);
    this.lossTerms = new Float64Array(buffer, layout.lossTerms, rows);
    this.fit = new Uint32Array(buffer, layout.fit, fitRows);
    this.order = new Uint32Array(buffer, layout.order, fitRows);
    this.goesLeft = new Uint8Array(buffer, layout.goesLeft, 256);
    this.allowed = new Uint8Array(buffer, layout.allowed, features);
    this.walkRows = new Uint32Array(buffer, layout.walkRows, fitRows + validationRows);
    this.next = new Uint16Array(buffer, layout.next, nodes * 256);
    this.nodeFeature = new Int32Array(buffer, layout.nodeFeature, nodes);
    this.nodeValue = new Float64Array(buffer, layout.nodeValue, nodes);
    this.edges = new Float64Array(buffer, layout.edges, features * 256);
  }

  get rows(): number {
    return this.layout.rows;
  }

  /** The histograms counting region `region` writes. */
  out(region: number): Float64Array {
    return new Float64Array(this.memory.buffer, this.layout.regions[region].out, histogramLength(this.features));
  }
}
