/**
 * A CART classifier trained on histograms: every feature is binned once into at most 256
 * quantile bins, each node counts classes per bin, and the best Gini split comes from cumulative
 * counts. Linear in rows per tree level, where ml-cart's own `train` is quadratic.
 *
 * It emits ml-cart's model JSON, so `DecisionTreeClassifier.load` reads the result; split values
 * are on the original scale (`x < splitValue` goes left, as in ml-cart).
 */

export interface HistogramTreeOptions {
  maxDepth: number;
  /** Smallest number of training rows a leaf may hold. */
  minLeafSize: number;
  /** Bins per feature, at most 256 (bins are stored as bytes). Default 256. */
  maxBins?: number;
  /** A split must improve Gini impurity by more than this. Default 0. */
  minGain?: number;
}

export interface BinnedFeatures {
  /** Per feature: the bin of every row. */
  bins: Uint8Array[];
  /** Per feature: ascending bin edges; bin(x) = number of edges <= x, so bin(x) < t iff x < edges[t-1]. */
  edges: Float64Array[];
  rows: number;
}

/** ml-cart's serialised tree node (the fields `DecisionTreeClassifier.load` reads, plus numberSamples). */
export type TreeNodeJSON =
  | { splitColumn: number; splitValue: number; gain: number; numberSamples: number; left: TreeNodeJSON; right: TreeNodeJSON }
  | { distribution: number[][]; numberSamples: number };

export interface DTClassifierJSON {
  name: 'DTClassifier';
  options: { gainFunction: 'gini'; splitFunction: 'mean'; minNumSamples: number; maxDepth: number; gainThreshold: number; kind: 'classifier' };
  root: TreeNodeJSON;
}

/** Bins each column into quantile bins computed from at most `sampleSize` evenly spaced rows. NaN must not occur. */
export function binFeatures(columns: Float64Array[], maxBins = 256, sampleSize = 200_000): BinnedFeatures {
  if (maxBins < 2 || maxBins > 256) throw new RangeError('maxBins must be 2..256');
  const rows = columns[0]?.length ?? 0;
  const step = Math.max(1, Math.floor(rows / sampleSize));
  const edges = columns.map((column) => {
    const sample = new Float64Array(Math.ceil(rows / step));
    for (let i = 0, j = 0; i < rows; i += step, j++) sample[j] = column[i];
    sample.sort();
    const cuts: number[] = [];
    for (let b = 1; b < maxBins; b++) {
      const value = sample[Math.floor((b * sample.length) / maxBins)];
      // an edge equal to the sample minimum would leave bin 0 empty
      if (value > sample[0] && (cuts.length === 0 || value > cuts[cuts.length - 1])) cuts.push(value);
    }
    return Float64Array.from(cuts);
  });
  const bins = columns.map((column, f) => {
    const featureEdges = edges[f];
    const out = new Uint8Array(rows);
    for (let i = 0; i < rows; i++) {
      const x = column[i];
      let lo = 0;
      let hi = featureEdges.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (featureEdges[mid] <= x) lo = mid + 1;
        else hi = mid;
      }
      out[i] = lo;
    }
    return out;
  });
  return { bins, edges, rows };
}

/** Trains on `rows` (indices into the binned features; labels are 0/1 per row index). */
export function trainHistogramTree(
  binned: BinnedFeatures,
  labels: Uint8Array,
  rows: Uint32Array,
  options: HistogramTreeOptions,
): DTClassifierJSON {
  const { maxDepth, minLeafSize } = options;
  const minGain = options.minGain ?? 0;
  if (maxDepth < 1) throw new RangeError('maxDepth must be >= 1');
  if (minLeafSize < 1) throw new RangeError('minLeafSize must be >= 1');
  const featureCount = binned.bins.length;
  const histogram = new Float64Array(256 * 2);

  const leaf = (positives: number, n: number): TreeNodeJSON => ({
    distribution: [[(n - positives) / n, positives / n]],
    numberSamples: n,
  });

  const grow = (nodeRows: Uint32Array, depth: number): TreeNodeJSON => {
    const n = nodeRows.length;
    let positives = 0;
    for (let i = 0; i < n; i++) positives += labels[nodeRows[i]];
    if (depth >= maxDepth || n < 2 * minLeafSize || positives === 0 || positives === n) return leaf(positives, n);

    const parentGini = gini(positives, n);
    let best = { gain: minGain, feature: -1, threshold: 0 };
    for (let f = 0; f < featureCount; f++) {
      const bins = binned.bins[f];
      const binCount = binned.edges[f].length + 1;
      histogram.fill(0, 0, binCount * 2);
      for (let i = 0; i < n; i++) {
        const row = nodeRows[i];
        histogram[bins[row] * 2 + labels[row]] += 1;
      }
      let leftN = 0;
      let leftPos = 0;
      for (let t = 1; t < binCount; t++) {
        leftN += histogram[(t - 1) * 2] + histogram[(t - 1) * 2 + 1];
        leftPos += histogram[(t - 1) * 2 + 1];
        if (leftN < minLeafSize) continue;
        const rightN = n - leftN;
        if (rightN < minLeafSize) break;
        const gain = parentGini - (leftN / n) * gini(leftPos, leftN) - (rightN / n) * gini(positives - leftPos, rightN);
        if (gain > best.gain) best = { gain, feature: f, threshold: t };
      }
    }
    if (best.feature < 0) return leaf(positives, n);

    const bins = binned.bins[best.feature];
    let leftCount = 0;
    for (let i = 0; i < n; i++) if (bins[nodeRows[i]] < best.threshold) leftCount++;
    const leftRows = new Uint32Array(leftCount);
    const rightRows = new Uint32Array(n - leftCount);
    for (let i = 0, l = 0, r = 0; i < n; i++) {
      const row = nodeRows[i];
      if (bins[row] < best.threshold) leftRows[l++] = row;
      else rightRows[r++] = row;
    }
    return {
      splitColumn: best.feature,
      splitValue: binned.edges[best.feature][best.threshold - 1],
      gain: best.gain,
      numberSamples: n,
      left: grow(leftRows, depth + 1),
      right: grow(rightRows, depth + 1),
    };
  };

  return {
    name: 'DTClassifier',
    options: { gainFunction: 'gini', splitFunction: 'mean', minNumSamples: minLeafSize, maxDepth, gainThreshold: minGain, kind: 'classifier' },
    root: grow(rows, 0),
  };
}

function gini(positives: number, n: number): number {
  const p = positives / n;
  return 2 * p * (1 - p);
}

/** P(class 1) for every row, walking the tree with ml-cart's rule (x < splitValue goes left). */
export function predictProbabilities(model: DTClassifierJSON, columns: Float64Array[]): Float64Array {
  const rows = columns[0]?.length ?? 0;
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let node = model.root;
    while (!('distribution' in node)) node = columns[node.splitColumn][i] < node.splitValue ? node.left : node.right;
    out[i] = node.distribution[0][1];
  }
  return out;
}
