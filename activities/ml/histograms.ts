/**
 * Gradient histograms for boosting (boosting.ts): per (feature, bin) the sums of gradients and
 * hessians and the row count of a node's rows. A node's rows are always counted as two halves
 * added together (training-helper.ts), so the sums are the same floats whether one thread counts
 * both halves or a helper thread counts one of them: the model does not depend on the number of
 * cores.
 */
import type { BoostingKernel } from './kernel';
import { HISTOGRAM_STRIDE, type TrainingMemory } from './training-memory';

/**
 * Counts the rows at `start..end` of the order into region `region`'s histograms (zeroed first):
 * their gradients are gathered into node order once, then the features' columns are counted four
 * at a time: each pass keeps four histograms in the first-level cache, and the four independent
 * additions per row do not wait on each other. Every cell adds its rows in the order's sequence,
 * so the floats do not depend on how features are grouped.
 */
export function countRows(
  inputs: TrainingMemory,
  kernel: BoostingKernel,
  region: number,
  start: number,
  end: number,
): Float64Array {
  const { layout, features, rows, allowed } = inputs;
  const { ordered, out: outAddress } = layout.regions[region];
  const out = inputs.out(region);
  out.fill(0);
  const n = end - start;
  if (n <= 0) return out;
  const order = layout.order + start * 4;
  kernel.gather(order, n, layout.gradient, layout.hessian, ordered);
  const used: number[] = [];
  for (let f = 0; f < features; f++) if (allowed[f]) used.push(f);
  const last = used.length - 1;
  const column = (k: number) => layout.columnBins + used[Math.min(k, last)] * rows;
  // a group short of four reads any column and counts it into the spare histogram
  const histogram = (k: number) => outAddress + (k <= last ? used[k] : features) * HISTOGRAM_STRIDE * 8;
  for (let k = 0; k < used.length; k += 4) {
    kernel.count4(
      column(k),
      column(k + 1),
      column(k + 2),
      column(k + 3),
      histogram(k),
      histogram(k + 1),
      histogram(k + 2),
      histogram(k + 3),
      order,
      n,
      ordered,
    );
  }
  return out;
}
