/**
 * The ensemble's bins, into the training memory (training-memory.ts), a feature at a time: the
 * values rounded to float32 (as XGBoost reads them), quantile bins for a numeric feature (the
 * readable tree's edges, histogram-tree.ts, and the kernel's binColumn; NaN in bin 0), the code
 * itself for a categorical one (missing: the bin after the largest code), written row-major and
 * column-major. One feature's float32 copy at a time: at 10M rows all of them took 0.6 GB, and
 * the binned copies before they reached the memory as much again.
 */
import { quantileEdges } from './histogram-tree';
import type { BoostingKernel } from './kernel';
import type { TrainingMemory } from './training-memory';

/** Bins a numeric feature has at most (bins are bytes). */
const MAX_BINS = 256;
/** Rows a numeric feature's quantiles are taken from, evenly spaced (binFeatures' default). */
const QUANTILE_SAMPLE = 200_000;

/** What tree growing reads of the bins, besides the bins themselves. */
export interface TrainingBins {
  features: number;
  rows: number;
  /** Per feature: ascending bin edges (bin b holds values in [edges[b - 1], edges[b])); empty for a categorical feature. */
  edges: Float64Array[];
  /** Per feature: bins in use (numeric: edges + 1; categorical: K codes + the missing bin). */
  binCounts: number[];
  /** Per categorical feature its K (bin K = missing); 0 for numeric ones. */
  categoryCounts: Int32Array;
  categorical: boolean[];
}

/**
 * Bins every feature of `columns` into the memory's row-major and column-major bins; `scratch`
 * is a byte address in it with room for a column of doubles (the kernel bins from there).
 */
export function binTrainingFeatures(
  memory: TrainingMemory,
  kernel: BoostingKernel,
  columns: readonly Float64Array[],
  categorical: boolean[],
  scratch: number,
): TrainingBins {
  const { layout, rowBins, columnBins, features } = memory;
  const { rows } = layout;
  const edges: Float64Array[] = [];
  const binCounts: number[] = [];
  const categoryCounts = new Int32Array(features);
  columns.forEach((column, f) => {
    // Float32Array.from rounds as Math.fround does
    const values = Float32Array.from(column);
    if (categorical[f]) {
      let k = 0;
      for (const code of values) {
        if (Number.isNaN(code)) continue;
        if (!Number.isInteger(code) || code < 0 || code > 254)
          throw new RangeError(`categorical feature ${f}: codes must be integers 0..254, got ${code}`);
        k = Math.max(k, code + 1);
      }
      for (let i = 0; i < rows; i++) rowBins[i * features + f] = Number.isNaN(values[i]) ? k : values[i];
      edges.push(new Float64Array(0));
      categoryCounts[f] = k;
      binCounts.push(k + 1);
    } else {
      const cuts = quantileEdges(values, MAX_BINS, Math.max(1, Math.floor(rows / QUANTILE_SAMPLE)));
      memory.edges
        .subarray(f * MAX_BINS, (f + 1) * MAX_BINS)
        .fill(Infinity)
        .set(cuts);
      new Float64Array(memory.memory.buffer, scratch, rows).set(values);
      kernel.binColumn(scratch, rows, layout.edges + f * MAX_BINS * 8, layout.rowBins + f, features);
      edges.push(cuts);
      binCounts.push(cuts.length + 1);
    }
    for (let i = 0; i < rows; i++) columnBins[f * rows + i] = rowBins[i * features + f];
  });
  return { features, rows, edges, binCounts, categoryCounts, categorical };
}
