import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  predictBoosted,
  predictMargins,
  scaleModel,
  trainBoosted,
  type BoostingOptions,
} from '../../activities/ml/boosting';
import { brierScore, fitPlatt, reliabilityCurve } from '../../activities/ml/calibration';
import { nodeMeans, rowContributions, topContributions } from '../../activities/ml/contributions';
import { rowMajorValues } from '../../activities/ml/compiled-model';
import { ShapWalk, shapTables } from '../../activities/ml/tree-shap';
import { binFeatures, predictProbabilities, trainHistogramTree } from '../../activities/ml/histogram-tree';
import { classifierMetrics } from '../../activities/ml/metrics';
import { seededRandom } from '../../activities/ml/random';
import { xgboostModelText } from '../../activities/ml/xgboost-export';
import { runPythonJson } from '../python';

/** Churn-like data with smooth, additive risk (what one tree approximates in steps): f0..f3 matter, f4..f5 are noise. */
function syntheticChurn(rows: number, seed: number): { columns: Float64Array[]; labels: Uint8Array } {
  const random = seededRandom(seed);
  const columns = Array.from({ length: 6 }, () => new Float64Array(rows));
  const labels = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) {
    for (const column of columns) column[i] = random();
    columns[1][i] = Math.round(columns[1][i] * 120);
    const margin = -3 + 2.5 * (0.5 - columns[0][i]) - columns[1][i] / 60 + 1.5 * columns[2][i] * columns[3][i];
    labels[i] = random() < 1 / (1 + Math.exp(-margin)) ? 1 : 0;
  }
  return { columns, labels };
}

const OPTIONS: BoostingOptions = {
  trees: 100,
  maxDepth: 4,
  learningRate: 0.1,
  minLeafSize: 20,
  rowSubsample: 0.8,
  featureSubsample: 0.8,
  seed: 3,
};
const range = (from: number, to: number) => Uint32Array.from({ length: to - from }, (_, i) => from + i);

describe('trainBoosted', () => {
  const { columns, labels } = syntheticChurn(20_000, 11);
  const train = range(0, 15_000);
  const holdout = range(15_000, 20_000);
  const holdoutColumns = columns.map((c) => c.slice(15_000));
  const holdoutLabels = labels.slice(15_000);
  const result = trainBoosted(columns, labels, train, OPTIONS);

  it('ranks a holdout better than one tree of the same data', () => {
    const tree = trainHistogramTree(binFeatures(columns), labels, train, { maxDepth: 6, minLeafSize: 50 });
    const treeAuc = classifierMetrics(predictProbabilities(tree, holdoutColumns), holdoutLabels).rocAuc;
    const boostedAuc = classifierMetrics(predictBoosted(result.model, holdoutColumns), holdoutLabels).rocAuc;
    expect(boostedAuc).toBeGreaterThanOrEqual(treeAuc + 0.01);
    expect(holdout.length).toBe(5_000);
  });

  it('stops early on the validation split and keeps the best round', () => {
    const long = trainBoosted(columns, labels, train, { ...OPTIONS, trees: 400, learningRate: 0.5 });
    expect(long.validationLogLoss.length).toBeLessThan(400);
    expect(long.model.trees.length).toBe(long.bestRound);
    const bestLoss = Math.min(...long.validationLogLoss);
    expect(long.validationLogLoss[long.bestRound - 1]).toBe(bestLoss);
    expect(result.fitRows.length + result.validationRows.length).toBe(train.length);
  });

  it('is byte-for-byte deterministic for a seed, and the seed matters', () => {
    const again = trainBoosted(columns, labels, train, OPTIONS);
    expect(JSON.stringify(again.model)).toBe(JSON.stringify(result.model));
    const other = trainBoosted(columns, labels, train, { ...OPTIONS, seed: 4 });
    expect(JSON.stringify(other.model)).not.toBe(JSON.stringify(result.model));
  });

  it('Platt scaling on the validation rows gives a Brier score no worse than the raw model on the holdout', () => {
    const validationColumns = columns.map((c) => Float64Array.from(result.validationRows, (row) => c[row]));
    const validationLabels = Uint8Array.from(result.validationRows, (row) => labels[row]);
    const { a, b } = fitPlatt(predictMargins(result.model, validationColumns), validationLabels);
    const calibrated = scaleModel(result.model, a, b);
    const raw = brierScore(predictBoosted(result.model, holdoutColumns), holdoutLabels);
    const scaled = brierScore(predictBoosted(calibrated, holdoutColumns), holdoutLabels);
    expect(scaled).toBeLessThanOrEqual(raw + 1e-4);
    const curve = reliabilityCurve(predictBoosted(calibrated, holdoutColumns), holdoutLabels);
    expect(curve).toHaveLength(10);
    expect(curve.reduce((sum, bin) => sum + bin.rows, 0)).toBe(5_000);
  });

  it('path contributions add up to the margin, and the top three are the largest positive ones', () => {
    const means = result.model.trees.map(nodeMeans);
    const margins = predictMargins(result.model, holdoutColumns);
    const top = topContributions(result.model, holdoutColumns, 3);
    for (let i = 0; i < 200; i++) {
      const all = rowContributions(result.model, means, holdoutColumns, i);
      expect(all.reduce((s, v) => s + v, 0)).toBeCloseTo(margins[i], 4);
      const positives = [...all.slice(0, -1)].filter((v) => v > 0).sort((x, y) => y - x);
      for (let k = 0; k < 3; k++) {
        if (k < positives.length) expect(top.contributions[i * 3 + k]).toBe(positives[k]);
        else expect(top.features[i * 3 + k]).toBe(-1);
      }
    }
  });
});

describe('categorical features', () => {
  /** Churn depends on a 12-level category (codes with no order) and a little on a numeric feature. */
  function categoricalChurn(rows: number, seed: number) {
    const random = seededRandom(seed);
    const risky = new Set([1, 4, 6, 9, 11]);
    const code = new Float64Array(rows);
    const numeric = new Float64Array(rows);
    const labels = new Uint8Array(rows);
    for (let i = 0; i < rows; i++) {
      code[i] = random() < 0.05 ? Number.NaN : Math.floor(random() * 12);
      numeric[i] = random();
      const p = (risky.has(code[i]) ? 0.3 : Number.isNaN(code[i]) ? 0.2 : 0.03) + 0.05 * numeric[i];
      labels[i] = random() < p ? 1 : 0;
    }
    return { columns: [code, numeric], labels };
  }

  it('never puts the missing values alone on the right of a category split: an XGBoost model file needs a category there', () => {
    // missing on a fifth of the rows, churning least: the best cut would leave it alone on one side
    const random = seededRandom(9);
    const rows = 10_000;
    const code = Float64Array.from({ length: rows }, () => (random() < 0.2 ? Number.NaN : Math.floor(random() * 4)));
    const labels = Uint8Array.from(code, (c) => (random() < (Number.isNaN(c) ? 0.01 : 0.2 + 0.1 * c) ? 1 : 0));
    const { model } = trainBoosted([code], labels, range(0, rows), {
      ...OPTIONS,
      trees: 20,
      maxDepth: 2,
      featureSubsample: 1,
      categorical: [true],
    });
    const splits = model.trees.flatMap((tree) =>
      tree.feature.flatMap((f, node) => (tree.left[node] !== -1 && f === 0 ? [tree.rightCategories[node]] : [])),
    );
    expect(splits.length).toBeGreaterThan(0);
    for (const right of splits) expect(right.length).toBeGreaterThan(0);
  });

  it('splits a category set in one node where numeric splits on the codes need many', () => {
    const { columns, labels } = categoricalChurn(20_000, 5);
    const train = range(0, 15_000);
    const holdoutColumns = columns.map((c) => c.slice(15_000));
    const holdoutLabels = labels.slice(15_000);
    const options = { ...OPTIONS, trees: 5, maxDepth: 1, featureSubsample: 1 };
    const asCategory = trainBoosted(columns, labels, train, { ...options, categorical: [true, false] });
    const root = asCategory.model.trees[0];
    expect(root.feature[0]).toBe(0);
    // categories ordered by gradient: the risky codes (and missing, also risky) on one side, the rest on the other
    expect(root.rightCategories[0]).toEqual([0, 2, 3, 5, 7, 8, 10]);
    expect(root.defaultLeft[0]).toBe(true);
    const asNumber = trainBoosted(columns, labels, train, { ...options, categorical: [false, false] });
    const auc = (model: typeof root extends never ? never : typeof asCategory.model) =>
      classifierMetrics(predictBoosted(model, holdoutColumns), holdoutLabels).rocAuc;
    expect(auc(asCategory.model)).toBeGreaterThan(auc(asNumber.model) + 0.05);
  });
});

describe('XGBoost model file', () => {
  const dirs: string[] = [];
  afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

  it('scores, path contributions and exact SHAP values in the xgboost package match segflow (max abs diff < 1e-6, 1e-5)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'segflow-xgb-'));
    dirs.push(dir);
    const { columns, labels } = syntheticChurn(6_000, 21);
    // a categorical feature too, with missing codes
    const random = seededRandom(9);
    const code = Float64Array.from({ length: 6_000 }, () => (random() < 0.05 ? Number.NaN : Math.floor(random() * 8)));
    code.forEach((c, i) => {
      if (c === 2 || c === 5) labels[i] = random() < 0.4 ? 1 : labels[i];
    });
    const all = [...columns, code];
    const categorical = [false, false, false, false, false, false, true];
    const names = ['usage', 'tenure', 'a', 'b', 'noise1', 'noise2', 'plan'];
    const trained = trainBoosted(all, labels, range(0, 6_000), { ...OPTIONS, categorical, trees: 60 });
    const model = scaleModel(trained.model, 1.1, -0.2);
    await writeFile(join(dir, 'model.json'), xgboostModelText(model, names));
    await writeFile(
      join(dir, 'x.json'),
      JSON.stringify(all.map((c) => Array.from(c, (v) => (Number.isNaN(v) ? null : v)))),
    );
    const python = `
import json, sys, numpy as np, xgboost as xgb
booster = xgb.Booster(model_file=sys.argv[1])
cols = json.load(open(sys.argv[2]))
x = np.array([[np.nan if v is None else v for v in c] for c in cols], dtype=np.float64).T
d = xgb.DMatrix(x, feature_names=${JSON.stringify(names)}, feature_types=${JSON.stringify(categorical.map((c) => (c ? 'c' : 'q')))}, enable_categorical=True)
print(json.dumps({"p": booster.predict(d).tolist(), "contribs": booster.predict(d, pred_contribs=True, approx_contribs=True).tolist(), "shap": booster.predict(d, pred_contribs=True).tolist()}))
`;
    const theirs = runPythonJson<{ p: number[]; contribs: number[][]; shap: number[][] }>(python, [
      join(dir, 'model.json'),
      join(dir, 'x.json'),
    ]);
    const ours = predictBoosted(model, all);
    let maxDiff = 0;
    ours.forEach((p, i) => (maxDiff = Math.max(maxDiff, Math.abs(p - theirs.p[i]))));
    expect(maxDiff).toBeLessThan(1e-6);
    const means = model.trees.map(nodeMeans);
    let maxContribDiff = 0;
    for (let i = 0; i < 6_000; i += 3) {
      const contributions = rowContributions(model, means, all, i);
      contributions.forEach((v, f) => (maxContribDiff = Math.max(maxContribDiff, Math.abs(v - theirs.contribs[i][f]))));
    }
    expect(maxContribDiff).toBeLessThan(1e-5);
    // exact TreeSHAP (tree-shap.ts) against XGBoost's, bias in the last column
    const tables = shapTables(model);
    const shap = new ShapWalk(tables, rowMajorValues(all)).values(0, 6_000);
    let maxShapDiff = 0;
    for (let i = 0; i < 6_000; i++) {
      for (let f = 0; f < all.length; f++)
        maxShapDiff = Math.max(maxShapDiff, Math.abs(shap[i * all.length + f] - theirs.shap[i][f]));
      maxShapDiff = Math.max(maxShapDiff, Math.abs(tables.bias - theirs.shap[i][all.length]));
    }
    expect(maxShapDiff).toBeLessThan(1e-5);
  }, 120_000);
});
