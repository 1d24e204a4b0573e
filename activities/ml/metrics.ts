/** Holdout metrics for a binary score: how well it ranks churners above stayers. */
import { rowNumbers } from './feature-matrix';

export interface ClassifierMetrics {
  rows: number;
  positives: number;
  baseRate: number;
  rocAuc: number;
  /** DeLong's standard error of rocAuc, from these scores (NaN under 2 churners or 2 stayers; absent from older runs). */
  rocAucStdError?: number;
  /** Average precision (area under the precision-recall curve, step-wise). */
  prAuc: number;
  precisionAtTopDecile: number;
  recallAtTopDecile: number;
  /** Lift per decile of score, highest scores first: positive rate in the decile / base rate. */
  liftByDecile: number[];
  /** At threshold 0.5. */
  confusion: { truePositive: number; falsePositive: number; trueNegative: number; falseNegative: number };
}

export function classifierMetrics(scores: Float64Array, labels: Uint8Array): ClassifierMetrics {
  const n = scores.length;
  if (n === 0 || labels.length !== n) throw new RangeError('scores and labels must be non-empty and of equal length');
  const order = scoreOrder(scores, 'descending');
  let positives = 0;
  for (let i = 0; i < n; i++) positives += labels[i];
  const negatives = n - positives;

  // ROC AUC and average precision over groups of tied scores, so row order among ties cannot matter;
  // and the churners among the first i rows, a tie's shared evenly over its places, so a decile's
  // cut through a tie (a tree's leaf holds thousands of rows of one score) counts what it holds
  let truePos = 0;
  let falsePos = 0;
  let auc = 0;
  let averagePrecision = 0;
  const hitsBefore = new Float64Array(n + 1);
  // DeLong: each churner's share of stayers scored below it, each stayer's of churners above it
  const placements = { churners: { sum: 0, squares: 0 }, stayers: { sum: 0, squares: 0 } };
  for (let start = 0; start < n;) {
    let end = start;
    let groupPos = 0;
    while (end < n && scores[order[end]] === scores[order[start]]) groupPos += labels[order[end++]];
    const groupNeg = end - start - groupPos;
    const churnerPlacement = (negatives - falsePos - groupNeg / 2) / Math.max(negatives, 1);
    const stayerPlacement = (truePos + groupPos / 2) / Math.max(positives, 1);
    placements.churners.sum += groupPos * churnerPlacement;
    placements.churners.squares += groupPos * churnerPlacement ** 2;
    placements.stayers.sum += groupNeg * stayerPlacement;
    placements.stayers.squares += groupNeg * stayerPlacement ** 2;
    for (let i = start; i < end; i++)
      hitsBefore[i + 1] = hitsBefore[start] + (groupPos / (end - start)) * (i + 1 - start);
    auc += groupNeg * (truePos + groupPos / 2);
    truePos += groupPos;
    falsePos += groupNeg;
    if (groupPos > 0) averagePrecision += (groupPos / Math.max(positives, 1)) * (truePos / (truePos + falsePos));
    start = end;
  }
  const rocAuc = positives === 0 || negatives === 0 ? Number.NaN : auc / (positives * negatives);
  const variance = ({ sum, squares }: { sum: number; squares: number }, count: number) =>
    Math.max(0, (squares - (sum * sum) / count) / (count - 1));
  const rocAucStdError =
    positives < 2 || negatives < 2
      ? Number.NaN
      : Math.sqrt(
          variance(placements.churners, positives) / positives + variance(placements.stayers, negatives) / negatives,
        );

  const baseRate = positives / n;
  const liftByDecile: number[] = [];
  for (let d = 0; d < 10; d++) {
    const from = Math.floor((d * n) / 10);
    const to = Math.floor(((d + 1) * n) / 10);
    const hits = hitsBefore[to] - hitsBefore[from];
    liftByDecile.push(to > from && baseRate > 0 ? hits / (to - from) / baseRate : 0);
  }
  const topCount = Math.max(1, Math.floor(n / 10));
  const topHits = hitsBefore[topCount];

  const confusion = { truePositive: 0, falsePositive: 0, trueNegative: 0, falseNegative: 0 };
  for (let i = 0; i < n; i++) {
    const predicted = scores[i] >= 0.5;
    if (predicted && labels[i]) confusion.truePositive++;
    else if (predicted) confusion.falsePositive++;
    else if (labels[i]) confusion.falseNegative++;
    else confusion.trueNegative++;
  }
  return {
    rows: n,
    positives,
    baseRate,
    rocAuc,
    rocAucStdError,
    prAuc: averagePrecision,
    precisionAtTopDecile: topHits / topCount,
    recallAtTopDecile: positives === 0 ? 0 : topHits / positives,
    liftByDecile,
    confusion,
  };
}

/** Adjusted Rand index of two labelings given their contingency counts (1 = identical partitions, ~0 = chance). */
export function adjustedRandIndex(cells: { a: string | number; b: string | number; n: number }[]): number {
  const pairs = (n: number) => (n * (n - 1)) / 2;
  const rows = new Map<string | number, number>();
  const cols = new Map<string | number, number>();
  let total = 0;
  let sumCells = 0;
  for (const { a, b, n } of cells) {
    rows.set(a, (rows.get(a) ?? 0) + n);
    cols.set(b, (cols.get(b) ?? 0) + n);
    total += n;
    sumCells += pairs(n);
  }
  const sumRows = [...rows.values()].reduce((sum, n) => sum + pairs(n), 0);
  const sumCols = [...cols.values()].reduce((sum, n) => sum + pairs(n), 0);
  const expected = (sumRows * sumCols) / pairs(total);
  const maximum = (sumRows + sumCols) / 2;
  return maximum === expected ? 1 : (sumCells - expected) / (maximum - expected);
}

/** ROC curve points (false positive rate, true positive rate), at most `maxPoints` of them, from (0,0) to (1,1). */
export function rocCurve(scores: Float64Array, labels: Uint8Array, maxPoints = 101): { fpr: number; tpr: number }[] {
  const n = scores.length;
  const order = scoreOrder(scores, 'descending');
  let positives = 0;
  for (let i = 0; i < n; i++) positives += labels[i];
  const negatives = n - positives;
  const points = [{ fpr: 0, tpr: 0 }];
  let tp = 0;
  let fp = 0;
  for (let start = 0; start < n;) {
    let end = start;
    while (end < n && scores[order[end]] === scores[order[start]]) {
      if (labels[order[end++]]) tp++;
      else fp++;
    }
    points.push({ fpr: negatives ? fp / negatives : 0, tpr: positives ? tp / positives : 0 });
    start = end;
  }
  if (points.length <= maxPoints) return points;
  const step = (points.length - 1) / (maxPoints - 1);
  return Array.from({ length: maxPoints }, (_, i) => points[Math.round(i * step)]);
}

/**
 * Row indices by score, ties in row order: what a stable comparison sort on the scores gives
 * (-0 ties with 0). A least-significant-digit radix sort on the scores' bits, 16 at a time: a
 * comparator sort of the 160k holdout rows took ~0.1 s, three times per model.
 */
export function scoreOrder(scores: Float64Array, direction: 'ascending' | 'descending'): Uint32Array {
  const n = scores.length;
  // the float64 bits as an unsigned key of the same order: negatives' bits flipped, positives' sign bit set
  // descending: every key's bits inverted
  const invert = direction === 'descending' ? 0xffffffff : 0;
  const keys = new Float64Array(n);
  const words = new Uint32Array(keys.buffer);
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(scores[i])) throw new RangeError('scores must not be NaN');
    keys[i] = scores[i] === 0 ? 0 : scores[i];
    const high = words[2 * i + 1];
    const flip = high >>> 31 ? 0xffffffff : 0;
    words[2 * i] = (words[2 * i] ^ flip ^ invert) >>> 0;
    words[2 * i + 1] = (high ^ (flip | 0x80000000) ^ invert) >>> 0;
  }
  let order = rowNumbers(n, Uint32Array);
  let next = new Uint32Array(n);
  const starts = new Uint32Array(65_537);
  for (let pass = 0; pass < 4; pass++) {
    const word = pass >> 1;
    const shift = (pass & 1) * 16;
    starts.fill(0);
    for (let i = 0; i < n; i++) starts[((words[2 * i + word] >>> shift) & 0xffff) + 1]++;
    if (starts[((words[word] >>> shift) & 0xffff) + 1] === n) continue; // every key has this digit
    for (let d = 0; d < 65_536; d++) starts[d + 1] += starts[d];
    for (let i = 0; i < n; i++) {
      const row = order[i];
      next[starts[(words[2 * row + word] >>> shift) & 0xffff]++] = row;
    }
    [order, next] = [next, order];
  }
  return order;
}
