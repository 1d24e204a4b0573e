/**
 * Mean silhouette of a clustering: for each point, (b - a) / max(a, b), where a is its mean
 * distance to its own cluster and b to the nearest other cluster. Quadratic in rows, so callers
 * pass a sample. Points in a singleton cluster score 0, as in scikit-learn.
 */
export function meanSilhouette(points: Float64Array[], labels: Uint16Array, k: number): number {
  const n = points.length;
  if (n < 2 || k < 2) return 0;
  const sums = new Float64Array(k);
  const counts = new Uint32Array(k);
  for (const label of labels) counts[label] += 1;
  let total = 0;
  for (let i = 0; i < n; i++) {
    sums.fill(0);
    const p = points[i];
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const q = points[j];
      let d = 0;
      for (let c = 0; c < p.length; c++) d += (p[c] - q[c]) ** 2;
      sums[labels[j]] += Math.sqrt(d);
    }
    const own = labels[i];
    if (counts[own] <= 1) continue;
    const a = sums[own] / (counts[own] - 1);
    let b = Infinity;
    for (let c = 0; c < k; c++) if (c !== own && counts[c] > 0) b = Math.min(b, sums[c] / counts[c]);
    if (Number.isFinite(b)) total += (b - a) / Math.max(a, b);
  }
  return total / n;
}
