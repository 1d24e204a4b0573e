import { kmeansGenerator } from 'ml-kmeans';
import { checkpoint } from '../context';
import { sampleIndices, seededRandom } from './random';
import { meanSilhouettes } from './silhouette';

export interface KMeansFit {
  k: number;
  /** Centroids in standardised units, one array per segment. */
  centroids: number[][];
  means: number[];
  stdDevs: number[];
  sampleSize: number;
  iterations: number;
  converged: boolean;
}

export interface KMeansOptions {
  k: number;
  seed: number;
  sampleSize: number;
  /** k-means++ starts (seeds seed, seed + 1, ...); the fit with the lowest sample inertia wins. Default 1. */
  restarts?: number;
  maxIterations?: number;
  tolerance?: number;
}

/** Column means and population standard deviations (1 where a column is constant). */
export function standardisation(columns: Float64Array[]): { means: number[]; stdDevs: number[] } {
  const means = columns.map((column) => column.reduce((sum, x) => sum + x, 0) / Math.max(column.length, 1));
  const stdDevs = columns.map((column, c) => {
    let sum = 0;
    for (let i = 0; i < column.length; i++) sum += (column[i] - means[c]) ** 2;
    const sd = Math.sqrt(sum / Math.max(column.length, 1));
    return sd > 1e-12 ? sd : 1;
  });
  return { means, stdDevs };
}

/** One row of the columns in standard units, as k-means sees it. */
export function standardisedRow(columns: Float64Array[], row: number, means: number[], stdDevs: number[]): number[] {
  return columns.map((column, c) => (column[row] - means[c]) / stdDevs[c]);
}

/** The rows k-means is fitted on: a seeded random sample, standardised with every row's means and spreads. */
interface FitSample {
  points: number[][];
  means: number[];
  stdDevs: number[];
}

function fitSample(columns: Float64Array[], sampleSize: number, seed: number): FitSample {
  const rows = columns[0]?.length ?? 0;
  const { means, stdDevs } = standardisation(columns);
  const sample = sampleIndices(rows, sampleSize, seededRandom(seed));
  return { points: Array.from(sample, (row) => standardisedRow(columns, row, means, stdDevs)), means, stdDevs };
}

/**
 * Fits ml-kmeans (k-means++, seeded) on a random sample of standardised rows: the full data
 * adds little to the centroids and costs linear time per iteration in ml-kmeans' row objects.
 * A single k-means++ start can settle in a poor local optimum (27% above scikit-learn's inertia
 * on one benchmark sample), so it restarts and keeps the best fit, as scikit-learn's n_init does.
 */
export async function fitKMeans(columns: Float64Array[], options: KMeansOptions): Promise<KMeansFit> {
  const rows = columns[0]?.length ?? 0;
  if (rows < options.k) throw new RangeError(`cannot make ${options.k} segments from ${rows} subscribers`);
  return fitOnSample(fitSample(columns, options.sampleSize, options.seed), options);
}

type KMeansStep = ReturnType<typeof kmeansGenerator> extends Generator<infer Step> ? Step : never;

/**
 * Runs ml-kmeans a step at a time (kmeansGenerator: kmeans' own loop, the same result), and
 * heartbeats between steps, where the activity also hears of a cancellation. One synchronous fit of
 * a 1M-row sample took 31.6 s at k = 12: past the heartbeat timeout, with the worker's heartbeats
 * stopped. What still runs in one piece is the k-means++ start (its longest step at 1M rows, 9.7 s).
 */
async function fitOnSample({ points, means, stdDevs }: FitSample, options: KMeansOptions): Promise<KMeansFit> {
  const stage = `cluster: fitting k-means, k = ${options.k}`;
  let best: { result: KMeansStep; inertia: number } | undefined;
  for (let start = 0; start < (options.restarts ?? 1); start++) {
    await checkpoint({ stage });
    let result: KMeansStep | undefined;
    for (const step of kmeansGenerator(points, options.k, {
      initialization: 'kmeans++',
      seed: options.seed + start,
      maxIterations: options.maxIterations ?? 300,
      tolerance: options.tolerance ?? 1e-6,
    })) {
      result = step;
      await checkpoint({ stage });
    }
    if (!result) throw new RangeError(`k-means made no step (maxIterations ${options.maxIterations})`);
    const inertia = inertiaOf(points, result.centroids, result.clusters);
    if (!best || inertia < best.inertia) best = { result, inertia };
  }
  const { result } = best as { result: KMeansStep };
  return {
    k: options.k,
    centroids: result.centroids,
    means,
    stdDevs,
    sampleSize: points.length,
    iterations: result.iterations,
    converged: result.converged,
  };
}

/** Sum of squared distances from each point to the centroid of its cluster. */
export function inertiaOf(points: number[][], centroids: number[][], clusters: number[]): number {
  let inertia = 0;
  points.forEach((point, i) => {
    const centroid = centroids[clusters[i]];
    for (let d = 0; d < point.length; d++) inertia += (point[d] - centroid[d]) ** 2;
  });
  return inertia;
}

export interface KChoice {
  k: number;
  /** Mean silhouette of every candidate k, on the same sample. */
  silhouetteByK: Record<number, number>;
  /** The chosen k's fit, so it is not fitted again. */
  fit: KMeansFit;
}

/**
 * Picks k in [kMin, kMax] with the highest mean silhouette, measured on `sampleSize` rows. Every
 * candidate is fitted on the same sample (as fitKMeans would draw it), prepared once.
 */
export async function chooseK(
  columns: Float64Array[],
  options: { kMin: number; kMax: number; seed: number; fitSampleSize: number; restarts: number; sampleSize: number },
): Promise<KChoice> {
  const rows = columns[0]?.length ?? 0;
  const fitOn = fitSample(columns, options.fitSampleSize, options.seed);
  const { means, stdDevs } = fitOn;
  const sample = sampleIndices(rows, options.sampleSize, seededRandom(options.seed + 1));
  const points = Array.from(sample, (row) => Float64Array.from(standardisedRow(columns, row, means, stdDevs)));
  const fits: KMeansFit[] = [];
  for (let k = options.kMin; k <= Math.min(options.kMax, rows - 1); k++) {
    fits.push(
      await fitOnSample(fitOn, {
        k,
        seed: options.seed,
        sampleSize: options.fitSampleSize,
        restarts: options.restarts,
      }),
    );
  }
  const scores = await meanSilhouettes(
    points,
    fits.map((fit) => ({ k: fit.k, labels: Uint16Array.from(points, (point) => nearest(point, fit.centroids).index) })),
  );
  const silhouetteByK: Record<number, number> = {};
  let best: { score: number; fit: KMeansFit } | undefined;
  fits.forEach((fit, t) => {
    silhouetteByK[fit.k] = scores[t];
    if (!best || scores[t] > best.score) best = { score: scores[t], fit };
  });
  // no candidate fits (fewer rows than kMin + 1): fitKMeans reports why
  const fit =
    best?.fit ??
    (await fitKMeans(columns, {
      k: options.kMin,
      seed: options.seed,
      sampleSize: options.fitSampleSize,
      restarts: options.restarts,
    }));
  return { k: fit.k, silhouetteByK, fit };
}

function nearest(point: Float64Array, centroids: number[][]): { index: number; distance: number } {
  let index = 0;
  let distance = Infinity;
  for (let c = 0; c < centroids.length; c++) {
    let sum = 0;
    for (let d = 0; d < point.length; d++) sum += (point[d] - centroids[c][d]) ** 2;
    if (sum < distance) {
      distance = sum;
      index = c;
    }
  }
  return { index, distance };
}

/** Nearest centroid for every row in one pass over the typed columns. Returns segment index and squared distance. */
export async function assignToCentroids(
  columns: Float64Array[],
  fit: KMeansFit,
): Promise<{ segment: Uint16Array; distance: Float64Array; inertia: number }> {
  const rows = columns[0]?.length ?? 0;
  const dims = columns.length;
  const segment = new Uint16Array(rows);
  const distance = new Float64Array(rows);
  const point = new Float64Array(dims);
  let inertia = 0;
  for (let i = 0; i < rows; i++) {
    for (let d = 0; d < dims; d++) point[d] = (columns[d][i] - fit.means[d]) / fit.stdDevs[d];
    const best = nearest(point, fit.centroids);
    segment[i] = best.index;
    distance[i] = best.distance;
    inertia += best.distance;
    if ((i & 0x3ffff) === 0x3ffff) await checkpoint({ stage: 'cluster: assigning', rowsDone: i, rowsTotal: rows });
  }
  return { segment, distance, inertia };
}
