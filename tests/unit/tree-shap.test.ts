import { describe, expect, it } from 'vitest';
import type { BoostedModel, BoostedTree } from '../../activities/ml/boosted-model';
import { predictMargins, trainBoosted } from '../../activities/ml/boosting';
import { rowMajorValues } from '../../activities/ml/compiled-model';
import { seededRandom } from '../../activities/ml/random';
import { ShapWalk, shapTables, shapTablesFit } from '../../activities/ml/tree-shap';

/** Four numeric features (one with gaps, one a repeated split) and a categorical one with missing codes. */
function data(rows: number, seed: number): { columns: Float64Array[]; labels: Uint8Array } {
  const random = seededRandom(seed);
  const columns = Array.from({ length: 5 }, () => new Float64Array(rows));
  const labels = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) {
    columns[0][i] = random();
    columns[1][i] = random() < 0.1 ? Number.NaN : Math.round(random() * 60);
    columns[2][i] = random();
    columns[3][i] = random();
    columns[4][i] = random() < 0.05 ? Number.NaN : Math.floor(random() * 6);
    const risky = columns[4][i] === 1 || columns[4][i] === 4 ? 1 : 0;
    const margin =
      -2 + 2 * (0.5 - columns[0][i]) - (columns[1][i] || 30) / 30 + 2 * columns[2][i] * columns[3][i] + risky;
    labels[i] = random() < 1 / (1 + Math.exp(-margin)) ? 1 : 0;
  }
  return { columns, labels };
}

const rows = (n: number) => Uint32Array.from({ length: n }, (_, i) => i);

function trained(maxDepth: number, trees = 30): { model: BoostedModel; columns: Float64Array[] } {
  const { columns, labels } = data(4_000, 5);
  const { model } = trainBoosted(columns, labels, rows(4_000), {
    trees,
    maxDepth,
    learningRate: 0.2,
    minLeafSize: 10,
    rowSubsample: 0.8,
    featureSubsample: 1,
    seed: 7,
    categorical: [false, false, false, false, true],
  });
  return { model, columns };
}

/** The tree's expected output when only the features in `known` are known (the others averaged over by cover). */
function expectation(model: BoostedModel, tree: BoostedTree, x: number[], known: Set<number>, node = 0): number {
  if (tree.left[node] < 0) return tree.value[node];
  const f = tree.feature[node];
  const [left, right] = [tree.left[node], tree.right[node]];
  if (!known.has(f))
    return (
      (tree.cover[left] * expectation(model, tree, x, known, left) +
        tree.cover[right] * expectation(model, tree, x, known, right)) /
      tree.cover[node]
    );
  const v = Math.fround(x[f]);
  const goesLeft = Number.isNaN(v)
    ? tree.defaultLeft[node]
    : model.categorical[f]
      ? !tree.rightCategories[node].includes(v)
      : v < tree.threshold[node];
  return expectation(model, tree, x, known, goesLeft ? left : right);
}

/** Shapley values by their definition: every coalition of the other features, weighted. */
function bruteForceShap(model: BoostedModel, x: number[]): number[] {
  const n = model.featureCount;
  const factorial = (m: number): number => (m <= 1 ? 1 : m * factorial(m - 1));
  const phi = new Array<number>(n).fill(0);
  for (const tree of model.trees)
    for (let j = 0; j < n; j++)
      for (let subset = 0; subset < 1 << n; subset++) {
        if ((subset >> j) & 1) continue;
        const known = new Set(Array.from({ length: n }, (_, f) => f).filter((f) => (subset >> f) & 1));
        const size = known.size;
        const weight = (factorial(size) * factorial(n - size - 1)) / factorial(n);
        const without = expectation(model, tree, x, known);
        known.add(j);
        phi[j] += weight * (expectation(model, tree, x, known) - without);
      }
  return phi;
}

describe('exact TreeSHAP', () => {
  it('gives every feature its Shapley value by definition, with gaps and categories (max abs diff < 1e-9)', () => {
    const { model, columns } = trained(4, 12);
    const values = rowMajorValues(columns);
    const shap = new ShapWalk(shapTables(model), values).values(0, 60);
    let maxDiff = 0;
    for (let row = 0; row < 60; row++) {
      const expected = bruteForceShap(
        model,
        columns.map((column) => column[row]),
      );
      expected.forEach((v, f) => (maxDiff = Math.max(maxDiff, Math.abs(v - shap[row * 5 + f]))));
    }
    expect(maxDiff).toBeLessThan(1e-9);
  });

  it('takes the splits training does not make: missing values right, a threshold that is not a number, codes past 31', () => {
    // root on f0 (NaN left), then f1 categorical {3, 37} (NaN right) and f2 < 0.5 (NaN right)
    const tree: BoostedTree = {
      left: [1, 3, 5, -1, -1, -1, -1],
      right: [2, 4, 6, -1, -1, -1, -1],
      feature: [0, 1, 2, 0, 0, 0, 0],
      threshold: [0.25, 0, 0.5, 0, 0, 0, 0],
      rightCategories: [[], [3, 37], [], [], [], [], []],
      defaultLeft: [true, false, false, true, true, true, true],
      value: [0, 0, 0, 0.3, -0.2, 0.7, -0.5],
      cover: [100, 60, 40, 25, 35, 10, 30],
      gain: [1, 1, 1, 0, 0, 0, 0],
    };
    const model: BoostedModel = {
      baseMargin: 0.1,
      // a NaN threshold sends every value right
      trees: [tree, { ...tree, threshold: [Number.NaN, 0, 0.5, 0, 0, 0, 0] }],
      featureCount: 3,
      categorical: [false, true, false],
    };
    const rows = [
      [0.1, 3, 0.2],
      [0.9, 37, Number.NaN],
      [Number.NaN, Number.NaN, 0.7],
      [0.3, 36, 0.5],
      [-5, 40, 0.1],
    ];
    const columns = [0, 1, 2].map((f) => Float64Array.from(rows, (x) => x[f]));
    const tables = shapTables(model);
    const shap = new ShapWalk(tables, rowMajorValues(columns)).values(0, rows.length);
    const margins = predictMargins(model, columns);
    rows.forEach((x, row) => {
      bruteForceShap(model, x).forEach((value, f) => expect(shap[row * 3 + f]).toBeCloseTo(value, 9));
      expect(tables.bias + shap[row * 3] + shap[row * 3 + 1] + shap[row * 3 + 2]).toBeCloseTo(margins[row], 5);
    });
  });

  it("adds up, with the bias, to each row's margin, at every depth the tables take", () => {
    for (const depth of [1, 3, 6]) {
      const { model, columns } = trained(depth);
      const tables = shapTables(model);
      const values = rowMajorValues(columns);
      const margins = predictMargins(model, columns);
      // the rows from 1,000 on: `from` shifts where each row's values go
      const shap = new ShapWalk(tables, values).values(1_000, 4_000);
      let maxDiff = 0;
      for (let row = 1_000; row < 4_000; row++) {
        let sum = tables.bias;
        for (let f = 0; f < 5; f++) sum += shap[(row - 1_000) * 5 + f];
        maxDiff = Math.max(maxDiff, Math.abs(sum - margins[row]));
      }
      // the margins are summed in float32, tree by tree
      expect(maxDiff).toBeLessThan(1e-5);
    }
  });

  it('refuses trees deeper than its tables take', () => {
    const { model } = trained(7, 3);
    expect(shapTablesFit(model)).toBe(false);
    expect(() => shapTables(model)).toThrow(/depth 6 at most/);
  });

  it("keeps each row's largest positive values, largest first, as the values themselves give them", () => {
    const { model, columns } = trained(5);
    const walk = new ShapWalk(shapTables(model), rowMajorValues(columns), 3);
    const all = walk.values(0, 4_000);
    walk.keepLargest(0, 1_000);
    walk.keepLargest(1_000, 4_000);
    const top = walk.largest();
    for (let row = 0; row < 4_000; row++) {
      const expected = Array.from(all.subarray(row * 5, row * 5 + 5), (value, f) => ({ f, value }))
        .filter(({ value }) => value > 0)
        // an earlier feature wins a tie
        .sort((a, b) => b.value - a.value || a.f - b.f)
        .slice(0, 3);
      expect(Array.from(top.features.subarray(row * 3, row * 3 + 3))).toEqual(
        [...expected.map(({ f }) => f), -1, -1, -1].slice(0, 3),
      );
      expect(Array.from(top.contributions.subarray(row * 3, row * 3 + expected.length))).toEqual(
        expected.map(({ value }) => value),
      );
    }
  });
});
