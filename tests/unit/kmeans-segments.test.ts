import { MockActivityEnvironment } from '@temporalio/testing';
import { kmeans } from 'ml-kmeans';
import { describe, expect, it } from 'vitest';
import {
  assignToCentroids,
  chooseK,
  fitKMeans,
  standardisation,
  standardisedRow,
  type KMeansFit,
} from '../../activities/ml/kmeans';
import { seededRandom } from '../../activities/ml/random';
import { meanSilhouettes } from '../../activities/ml/silhouette';
import { distinctNames, segmentName } from '../../domain/segment-names';

/** Three well separated blobs in 2-D; returns columns and the true blob of each row. */
function blobs(perBlob: number): { columns: Float64Array[]; truth: Uint8Array } {
  const centres = [
    [0, 0],
    [10, 0],
    [0, 10],
  ];
  const random = seededRandom(3);
  const n = perBlob * centres.length;
  const columns = [new Float64Array(n), new Float64Array(n)];
  const truth = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const blob = i % centres.length;
    truth[i] = blob;
    columns[0][i] = centres[blob][0] + random() - 0.5;
    columns[1][i] = centres[blob][1] + random() - 0.5;
  }
  return { columns, truth };
}

describe('k-means on a sample, then assignment of every row', () => {
  it('recovers separated blobs from a 10% sample and assigns all rows consistently', async () => {
    const { columns, truth } = blobs(3_000);
    const fit = await fitKMeans(columns, { k: 3, seed: 1, sampleSize: 900 });
    expect(fit.sampleSize).toBe(900);
    const { segment, inertia } = await assignToCentroids(columns, fit);
    // each true blob maps to exactly one segment, and no segment holds two blobs
    const mapping = new Map<number, Set<number>>();
    truth.forEach((blob, i) => mapping.set(blob, (mapping.get(blob) ?? new Set()).add(segment[i])));
    expect([...mapping.values()].every((segments) => segments.size === 1)).toBe(true);
    expect(new Set([...mapping.values()].map((s) => [...s][0])).size).toBe(3);
    expect(inertia).toBeGreaterThan(0);
  });

  it("fits step by step as ml-kmeans' one call does, heartbeating between the steps", async () => {
    const { columns } = blobs(400);
    const { means, stdDevs } = standardisation(columns);
    // a sample as large as the data is every row, in order
    const points = Array.from({ length: 1_200 }, (_, row) => standardisedRow(columns, row, means, stdDevs));
    const env = new MockActivityEnvironment();
    const steps: string[] = [];
    env.on('heartbeat', (details: { stage: string }) => steps.push(details.stage));
    const fit: KMeansFit = await env.run(() => fitKMeans(columns, { k: 4, seed: 9, sampleSize: 1_200 }));
    const whole = kmeans(points, 4, { initialization: 'kmeans++', seed: 9, maxIterations: 300, tolerance: 1e-6 });
    expect(fit.centroids).toEqual(whole.centroids);
    expect(fit.iterations).toBe(whole.iterations);
    expect(whole.iterations).toBeGreaterThan(1);
    // one before the start and one after each step: a fit of any length keeps the worker's heartbeats going
    expect(steps.filter((step) => step === 'cluster: fitting k-means, k = 4').length).toBe(1 + whole.iterations);
  });

  it('repeats exactly for the same seed', async () => {
    const { columns } = blobs(500);
    const a = await fitKMeans(columns, { k: 3, seed: 9, sampleSize: 600 });
    const b = await fitKMeans(columns, { k: 3, seed: 9, sampleSize: 600 });
    expect(a.centroids).toEqual(b.centroids);
  });

  it('refuses more segments than subscribers', async () => {
    await expect(fitKMeans([Float64Array.of(1, 2)], { k: 3, seed: 1, sampleSize: 10 })).rejects.toThrow(
      /cannot make 3 segments from 2/,
    );
  });
});

/** The silhouette as its definition reads: one clustering at a time, every distance computed per point. */
function silhouetteByDefinition(points: Float64Array[], labels: Uint16Array, k: number): number {
  const n = points.length;
  if (n < 2 || k < 2) return 0;
  const counts = new Uint32Array(k);
  for (const label of labels) counts[label] += 1;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const sums = new Float64Array(k);
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      let d = 0;
      for (let c = 0; c < points[i].length; c++) d += (points[i][c] - points[j][c]) ** 2;
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

describe('choosing k by silhouette', () => {
  it('gives each clustering the number the one-at-a-time definition gives, to the last bit', async () => {
    const random = seededRandom(5);
    for (const n of [0, 1, 2, 3, 57, 400]) {
      const points = Array.from({ length: n }, () => Float64Array.from({ length: 4 }, () => random() * 10 - 5));
      // k 1 (not measured), a singleton cluster (row 0 alone in k - 1), empty clusters (k 12 on few rows)
      const clusterings = [1, 2, 3, 5, 12].map((k) => ({
        k,
        labels: Uint16Array.from(points, (_, i) => (i === 0 ? k - 1 : Math.floor(random() * Math.max(1, k - 1)))),
      }));
      const scores = await meanSilhouettes(points, clusterings);
      clusterings.forEach(({ k, labels }, t) => {
        expect(Object.is(scores[t], silhouetteByDefinition(points, labels, k))).toBe(true);
      });
    }
  });

  it('heartbeats between fits and inside the silhouettes, so a long choice neither times out nor ignores a cancel', async () => {
    const { columns } = blobs(6_000);
    const options = { kMin: 2, kMax: 6, seed: 1, fitSampleSize: 900, restarts: 2, sampleSize: 6_000 };
    const env = new MockActivityEnvironment();
    const steps: string[] = [];
    env.on('heartbeat', (details: { stage: string }) => steps.push(details.stage));
    await env.run(() => chooseK(columns, options));
    // at each of the 10 starts (5 candidate k, 2 starts each) and after each start's every step
    // (at least one), and in the silhouettes' 18M pairs
    const fitting = steps.filter((step) => step.startsWith('cluster: fitting k-means'));
    expect(new Set(fitting).size).toBe(5);
    expect(fitting.length).toBeGreaterThanOrEqual(2 * 10);
    expect(steps).toContain('cluster: choosing k (silhouettes)');
    const cancelled = new MockActivityEnvironment();
    const choice = cancelled.run(() => chooseK(columns, options));
    cancelled.cancel();
    await expect(choice).rejects.toThrow();
  });

  it("picks the blobs' own k", async () => {
    const { columns } = blobs(1_000);
    const choice = await chooseK(columns, {
      kMin: 2,
      kMax: 6,
      seed: 1,
      fitSampleSize: 900,
      restarts: 2,
      sampleSize: 600,
    });
    expect(choice.k).toBe(3);
    expect(Object.keys(choice.silhouetteByK).map(Number)).toEqual([2, 3, 4, 5, 6]);
    expect(choice.silhouetteByK[3]).toBe(Math.max(...Object.values(choice.silhouetteByK)));
  });
});

describe('segment names', () => {
  it('reads value, usage preference, bundling and trend from the profile', () => {
    expect(segmentName({ valueZ: 1.2, dataZ: 1.5, voiceZ: -0.3, stickyZ: 0, mouTrend: 0.7 })).toBe(
      'high value · data heavy · declining',
    );
    expect(segmentName({ valueZ: -1, dataZ: -1, voiceZ: -1, stickyZ: 0, mouTrend: 1 })).toBe('low value · light user');
    expect(segmentName({ valueZ: 0, dataZ: 0, voiceZ: 0, stickyZ: 1.5, mouTrend: 1.3 })).toBe(
      'mid value · balanced · bundled · growing',
    );
  });
  it('names no trend without trend data (a NULL trend is not "declining")', () => {
    expect(segmentName({ valueZ: 0, dataZ: 0, voiceZ: 0, stickyZ: 0, mouTrend: null })).toBe('mid value · balanced');
    // an input without data volumes (or without minutes): no word leans on the usage it lacks
    expect(segmentName({ valueZ: -1, dataZ: null, voiceZ: -1.6, stickyZ: 0, mouTrend: null })).toBe(
      'low value · light voice user',
    );
    expect(segmentName({ valueZ: 0, dataZ: 1.2, voiceZ: null, stickyZ: 0, mouTrend: null })).toBe(
      'mid value · heavy data user',
    );
    expect(segmentName({ valueZ: 0, dataZ: null, voiceZ: 0.1, stickyZ: 0, mouTrend: null })).toBe('mid value');
    expect(segmentName({ valueZ: 1, dataZ: null, voiceZ: null, stickyZ: 0, mouTrend: null })).toBe('high value');
  });
  it('tells equal names apart by the axis their centroids differ most on, never by a number', () => {
    const names = distinctNames(
      ['a', 'b', 'a', 'a'],
      [
        [0, 0],
        [5, 5],
        [0.1, 2],
        [0.2, -1],
      ],
      ['spend', 'tenure'],
    );
    expect(names).toEqual([
      'a · lower tenure · lower spend',
      'b',
      'a · higher tenure',
      'a · lower tenure · higher spend',
    ]);
    expect(new Set(names).size).toBe(4);
    expect(names.some((name) => /\d/.test(name))).toBe(false);
  });
});
