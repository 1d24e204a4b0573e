import { checkpoint } from '../context';

/** One clustering of the same points: a cluster label per point, in 0..k-1. */
export interface Labelling {
  labels: Uint16Array;
  k: number;
}

/**
 * Mean silhouette of each clustering of the same points: for each point, (b - a) / max(a, b),
 * where a is its mean distance to its own cluster and b to the nearest other cluster. Quadratic
 * in rows, so callers pass a sample. Each pair's distance is computed once, for both points and
 * every clustering (choosing k measures six on one sample); a point's sums still add the other
 * points' distances in row order, so each score is the number the plain double loop gives.
 * Points in a singleton cluster score 0, as in scikit-learn. Holds rows x (the clusterings' k
 * summed) doubles: 0.5 MB for the default sample and k range, 74 MB for the largest.
 */
export async function meanSilhouettes(points: Float64Array[], clusterings: readonly Labelling[]): Promise<number[]> {
  const n = points.length;
  const dims = points[0]?.length ?? 0;
  const flat = new Float64Array(n * dims);
  points.forEach((point, i) => flat.set(point, i * dims));
  // per point, every clustering's cluster sums side by side: clustering t's at offsets[t]..+k
  const offsets = clusterings.map((_, t) => clusterings.slice(0, t).reduce((sum, { k }) => sum + k, 0));
  const width = clusterings.reduce((sum, { k }) => sum + k, 0);
  const slots = clusterings.length;
  const slot = new Uint32Array(n * slots);
  const counts = new Uint32Array(width);
  clusterings.forEach(({ labels }, t) => {
    for (let j = 0; j < n; j++) {
      slot[j * slots + t] = offsets[t] + labels[j];
      counts[offsets[t] + labels[j]] += 1;
    }
  });
  const sums = new Float64Array(n * width);
  // pair (i, j), i < j, reaches point j's sums when the outer loop is at i, and point i's in
  // ascending j: every point's sums receive the others in row order
  let pairsSinceCheckpoint = 0;
  for (let i = 0; i < n; i++) {
    // every ~10M pairs (a fraction of a second) the activity heartbeats and hears of a cancellation
    pairsSinceCheckpoint += n - i - 1;
    if (pairsSinceCheckpoint > 10_000_000) {
      pairsSinceCheckpoint = 0;
      await checkpoint({ stage: 'cluster: choosing k (silhouettes)', rowsDone: i, rowsTotal: n });
    }
    const iSums = i * width;
    const iSlots = i * slots;
    for (let j = i + 1; j < n; j++) {
      let d = 0;
      for (let c = 0, a = i * dims, b = j * dims; c < dims; c++) d += (flat[a + c] - flat[b + c]) ** 2;
      const distance = Math.sqrt(d);
      const jSums = j * width;
      const jSlots = j * slots;
      for (let t = 0; t < slots; t++) {
        sums[iSums + slot[jSlots + t]] += distance;
        sums[jSums + slot[iSlots + t]] += distance;
      }
    }
  }
  return clusterings.map(({ k }, t) => {
    if (n < 2 || k < 2) return 0;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const own = slot[i * slots + t];
      if (counts[own] <= 1) continue;
      const row = i * width;
      const a = sums[row + own] / (counts[own] - 1);
      let b = Infinity;
      for (let c = offsets[t]; c < offsets[t] + k; c++)
        if (c !== own && counts[c] > 0) b = Math.min(b, sums[row + c] / counts[c]);
      if (Number.isFinite(b)) total += (b - a) / Math.max(a, b);
    }
    return total / n;
  });
}
