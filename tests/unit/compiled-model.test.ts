import { describe, expect, it } from 'vitest';
import type { BoostedModel, BoostedTree } from '../../activities/ml/boosted-model';
import { predictMargins, scaleModel, trainBoosted, type BoostingOptions } from '../../activities/ml/boosting';
import {
  compiledMarginPairs,
  compileModel,
  nodeMeans,
  rowMajorValues,
  scoreWithReasons,
} from '../../activities/ml/compiled-model';
import { topContributions } from '../../activities/ml/contributions';
import { seededRandom } from '../../activities/ml/random';

/**
 * The scoring code as it was before the compiled model, node by node: the reference the
 * compiled walk must equal bit for bit.
 */
const reference = {
  nextNode(tree: BoostedTree, categorical: boolean[], columns: Float64Array[], row: number, node: number): number {
    const f = tree.feature[node];
    const x = Math.fround(columns[f][row]);
    let left: boolean;
    if (Number.isNaN(x)) left = tree.defaultLeft[node];
    else if (categorical[f]) left = !tree.rightCategories[node].includes(x);
    else left = x < tree.threshold[node];
    return left ? tree.left[node] : tree.right[node];
  },

  margins(model: BoostedModel, columns: Float64Array[]): Float64Array {
    const out = new Float64Array(columns[0].length).fill(model.baseMargin);
    for (const tree of model.trees)
      for (let i = 0; i < out.length; i++) {
        let node = 0;
        while (tree.left[node] >= 0) node = reference.nextNode(tree, model.categorical, columns, i, node);
        out[i] = Math.fround(out[i] + tree.value[node]);
      }
    return out;
  },

  topContributions(model: BoostedModel, columns: Float64Array[], k: number) {
    const rows = columns[0].length;
    const means = model.trees.map(nodeMeans);
    const features = new Int16Array(rows * k).fill(-1);
    const contributions = new Float64Array(rows * k);
    for (let i = 0; i < rows; i++) {
      const all = new Float64Array(model.featureCount);
      model.trees.forEach((tree, t) => {
        for (let node = 0; tree.left[node] >= 0;) {
          const next = reference.nextNode(tree, model.categorical, columns, i, node);
          all[tree.feature[node]] += means[t][next] - means[t][node];
          node = next;
        }
      });
      for (let f = 0; f < model.featureCount; f++) {
        const value = all[f];
        if (!(value > 0)) continue;
        let slot = k;
        while (slot > 0 && (features[i * k + slot - 1] < 0 || contributions[i * k + slot - 1] < value)) slot--;
        if (slot >= k) continue;
        for (let s = k - 1; s > slot; s--) {
          features[i * k + s] = features[i * k + s - 1];
          contributions[i * k + s] = contributions[i * k + s - 1];
        }
        features[i * k + slot] = f;
        contributions[i * k + slot] = value;
      }
    }
    return { features, contributions };
  },
};

/** A 9-level category with gaps (NaN), a numeric feature with gaps, two plain ones. */
function mixedChurn(rows: number, seed: number): { columns: Float64Array[]; labels: Uint8Array } {
  const random = seededRandom(seed);
  const columns = Array.from({ length: 4 }, () => new Float64Array(rows));
  const labels = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) {
    columns[0][i] = random() < 0.1 ? Number.NaN : Math.floor(random() * 9);
    columns[1][i] = random() < 0.1 ? Number.NaN : random() * 100;
    columns[2][i] = random();
    columns[3][i] = Math.round(random() * 20) / 10;
    const margin = -2 + ([2, 5, 7].includes(columns[0][i]) ? 1.5 : 0) + columns[2][i] - columns[3][i] / 2;
    labels[i] = random() < 1 / (1 + Math.exp(-margin)) ? 1 : 0;
  }
  return { columns, labels };
}

/** The model with every third split's missing values sent the other way (training sends numeric gaps left). */
function flipDefaults(model: BoostedModel): BoostedModel {
  return {
    ...model,
    trees: model.trees.map((tree) => ({
      ...tree,
      defaultLeft: tree.defaultLeft.map((left, i) => (i % 3 ? left : !left)),
    })),
  };
}

/** The model with thresholds just off the float32 grid (another trainer's might be float64). */
function offGrid(model: BoostedModel): BoostedModel {
  return {
    ...model,
    trees: model.trees.map((tree) => ({ ...tree, threshold: tree.threshold.map((t) => t * (1 + 2 ** -40) + 1e-300) })),
  };
}

/** Values the training never saw: codes out of range or fractional, -0, infinities, thresholds hit exactly. */
function oddRows(model: BoostedModel): Float64Array[] {
  const thresholds = model.trees.flatMap((tree) => tree.threshold.filter((_, node) => tree.left[node] >= 0));
  const odd = [Number.NaN, -0, 0, Infinity, -Infinity, 2.5, 9, 300, -1, ...thresholds.slice(0, 40)];
  return Array.from({ length: 4 }, (_, f) =>
    Float64Array.from(odd, (x, i) => (i % 4 === f ? x : odd[(i * 7) % odd.length])),
  );
}

const OPTIONS: BoostingOptions = {
  trees: 40,
  maxDepth: 4,
  learningRate: 0.2,
  minLeafSize: 10,
  seed: 8,
  categorical: [true, false, false, false],
};

describe('compiled model', () => {
  const { columns, labels } = mixedChurn(6_000, 21);
  const trained = trainBoosted(
    columns,
    labels,
    Uint32Array.from({ length: 6_000 }, (_, i) => i),
    OPTIONS,
  ).model;
  const models = { trained, flipped: flipDefaults(trained), 'off-grid': offGrid(trained) };
  const rows = {
    training: columns,
    odd: oddRows(trained),
  };
  const same = (a: ArrayLike<number>, b: ArrayLike<number>) =>
    expect(Array.from(a, (x, i) => Object.is(x, b[i])).every(Boolean)).toBe(true);

  it('has categorical splits with missing values on both sides', () => {
    const categorical = trained.trees.flatMap((tree) => tree.rightCategories.filter((codes) => codes.length > 0));
    expect(categorical.length).toBeGreaterThan(5);
    expect(models.flipped.trees.some((tree) => tree.defaultLeft.includes(false))).toBe(true);
  });

  for (const [modelName, model] of Object.entries(models))
    for (const [rowsName, data] of Object.entries(rows))
      it(`scores and picks reasons bit for bit like the node-by-node code (${modelName} model, ${rowsName} rows)`, () => {
        const margins = reference.margins(model, data);
        const top = reference.topContributions(model, data, 3);
        same(predictMargins(model, data), margins);
        const scored = scoreWithReasons(compileModel(model), rowMajorValues(data), 3);
        same(scored.margins, margins);
        same(scored.features, top.features);
        same(scored.contributions, top.contributions);
        const picked = topContributions(model, data, 3);
        same(picked.features, top.features);
        same(picked.contributions, top.contributions);
        // a model with scaled leaves (as Platt calibration makes) scored in the same walk
        const scaled = scaleModel(model, 0.7, -0.2);
        const pair = compiledMarginPairs(compileModel(scaled), compileModel(model), rowMajorValues(data));
        same(pair.margins, reference.margins(scaled, data));
        same(pair.otherMargins, margins);
      });

  it('refuses to walk two models whose trees differ in one walk', () => {
    // the same splits, but missing values sent the other way
    expect(() =>
      compiledMarginPairs(compileModel(models.trained), compileModel(models.flipped), rowMajorValues(rows.training)),
    ).toThrow(/different trees/);
  });
});
