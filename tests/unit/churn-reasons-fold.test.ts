import { describe, expect, it } from 'vitest';
import { fillNumericGaps, indicatorFolds } from '../../activities/churn-features';
import { largestByColumn, reasonTable, type ReasonTable, type RowReasons } from '../../activities/churn-reasons';
import { trainBoosted } from '../../activities/ml/boosting';
import { compileModel, rowMajorValues, scoreWithReasons } from '../../activities/ml/compiled-model';
import { nodeMeans, rowContributions } from '../../activities/ml/contributions';
import type { BoostedModel, BoostedTree } from '../../activities/ml/boosted-model';
import type { FeatureMeta } from '../../activities/ml/feature-matrix';
import { seededRandom } from '../../activities/ml/random';
import { ShapWalk, shapTables } from '../../activities/ml/tree-shap';

/**
 * A user's number with gaps (app_sessions, blank for a third: those churn more), its missing
 * indicator, and five derived features that each raise the risk a little: a subscriber's
 * reasons often hold one member of the pair and not the other, or neither though their sum
 * ranks among the first three.
 */
const ROWS = 3_000;
const names = ['app_sessions', 'mou', 'dou', 'arpu', 'calls', 'sms', 'app_sessions missing'];
const meta: FeatureMeta[] = [
  { name: 'app_sessions', source: 'user', categorical: false, gaps: true },
  ...names.slice(1, 6).map((name): FeatureMeta => ({ name, source: 'derived', categorical: false })),
  { name: 'app_sessions missing', source: 'user', categorical: false, missingOf: 'app_sessions' },
];

function scored() {
  const random = seededRandom(45);
  const columns = names.map(() => new Float64Array(ROWS));
  const labels = new Uint8Array(ROWS);
  for (let i = 0; i < ROWS; i++) {
    const missing = random() < 0.3;
    columns[0][i] = missing ? Number.NaN : Math.floor(random() * 20);
    for (let f = 1; f < 6; f++) columns[f][i] = random();
    const margin =
      -2 +
      (missing ? 0.8 : -0.08 * columns[0][i] + 0.5) +
      [1, 2, 3, 4, 5].reduce((sum, f) => sum + 0.6 * columns[f][i], 0);
    labels[i] = random() < 1 / (1 + Math.exp(-margin)) ? 1 : 0;
  }
  // as the churn stage reads them: gaps 0, the indicator 1 there
  const gaps = fillNumericGaps(columns.slice(0, 6), meta.slice(0, 6));
  for (const row of gaps[0]) columns[6][row] = 1;
  const { model } = trainBoosted(
    columns,
    labels,
    Uint32Array.from({ length: ROWS }, (_, i) => i),
    { trees: 40, maxDepth: 4, learningRate: 0.2, minLeafSize: 20, seed: 3 },
  );
  return { model, columns, gaps: [...gaps, new Uint32Array(0)] };
}

/** Each row's three largest positive sums per column (the pair summed), from every feature's contribution. */
function reference(all: (row: number) => ArrayLike<number>, rows: number): [number, number][][] {
  return Array.from({ length: rows }, (_, row) => {
    const values = all(row);
    const units = new Map<number, number>();
    for (let f = 0; f < names.length; f++) {
      const unit = f === 6 ? 0 : f;
      units.set(unit, (units.get(unit) ?? 0) + values[f]);
    }
    return [...units]
      .filter(([, c]) => c > 0)
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .slice(0, 3)
      .map(([f, c]) => [f, Math.round(c * 1e6) / 1e6]);
  });
}

/** The table's reasons per row, as (feature, published contribution). */
function published(table: ReasonTable): [number, number][][] {
  const count = table.rows.count.length;
  const byRow = new Map<number, [number, number][]>();
  for (let r = 0; r < count; r++)
    byRow.set(
      table.rows.rowIdx[r],
      Array.from({ length: table.rows.count[r] }, (_, s): [number, number] => [
        table.rows.feature[s * count + r],
        table.rows.contribution[s * count + r],
      ]),
    );
  return Array.from({ length: ROWS }, (_, row) => byRow.get(row) ?? []);
}

/** Rows whose published reasons differ from the reference. */
const differing = (ours: [number, number][][], theirs: [number, number][][]) =>
  ours.filter((reasons, row) => JSON.stringify(reasons) !== JSON.stringify(theirs[row])).length;

describe('a feature and its missing indicator folded into one reason', () => {
  const { model, columns, gaps } = scored();
  const current = { names, columns, rows: ROWS };

  it('path reasons: the pair is the sum of both members, folded before the pick', () => {
    const means = model.trees.map(nodeMeans);
    const expected = reference((row) => rowContributions(model, means, columns, row), ROWS);
    const pick = (foldInto?: Int16Array): RowReasons => {
      const picked = scoreWithReasons(compileModel(model), rowMajorValues(columns), 3, foldInto);
      return { features: picked.features, contributions: picked.contributions, k: 3 };
    };
    const folded = published(reasonTable(pick(indicatorFolds(names, meta)), current, meta, undefined, gaps));
    expect(differing(folded, expected)).toBe(0);
    // unfolded: the indicator a reason of its own beside its feature, or in place of the pair
    const before = published(reasonTable(pick(), current, meta, undefined, gaps));
    expect(differing(before, expected)).toBeGreaterThan(ROWS / 20);
    // and the rows without the pair among their reasons read as before
    const withoutPair = folded.flatMap((reasons, row) =>
      reasons.some(([f]) => f === 0) || before[row].some(([f]) => f === 0 || f === 6) ? [] : [row],
    );
    expect(withoutPair.length).toBeGreaterThan(ROWS / 10);
    for (const row of withoutPair) expect(folded[row]).toEqual(before[row]);
  });

  it('exact SHAP reasons: every value is known, so the pair is summed before the pick', () => {
    const walk = new ShapWalk(shapTables(model), rowMajorValues(columns));
    const values = walk.values(0, ROWS);
    const expected = reference((row) => values.subarray(row * names.length, (row + 1) * names.length), ROWS);
    const folded = published(reasonTable(largestByColumn(values, names, meta, 3), current, meta, undefined, gaps));
    expect(differing(folded, expected)).toBe(0);
    // unfolded: the kernel's pick of the largest values, the indicator among them
    const unfolded = new ShapWalk(shapTables(model), rowMajorValues(columns), 3);
    unfolded.keepLargest(0, ROWS);
    const before = published(reasonTable(unfolded.largest(), current, meta, undefined, gaps));
    expect(differing(before, expected)).toBeGreaterThan(ROWS / 20);
  });

  it('path reasons: a pair whose members each rank below the third reason ranks by its sum', () => {
    // one stump per feature: +size at a value of 1, -size at 0 (even covers: the root's mean is 0)
    const stump = (f: number, size: number): BoostedTree => ({
      left: [1, -1, -1],
      right: [2, -1, -1],
      feature: [f, 0, 0],
      threshold: [0.5, 0, 0],
      rightCategories: [[], [], []],
      defaultLeft: [true, true, true],
      value: [0, -size, size],
      cover: [2, 1, 1],
      gain: [0, 0, 0],
    });
    // the five derived features 0.10-0.14 outrank each member of the pair, 0.09 and 0.08, whose sum is 0.17
    const stumps: BoostedModel = {
      baseMargin: 0,
      trees: [
        stump(1, 0.1),
        stump(2, 0.11),
        stump(3, 0.12),
        stump(4, 0.13),
        stump(5, 0.14),
        stump(0, 0.09),
        stump(6, 0.08),
      ],
      featureCount: names.length,
      categorical: names.map(() => false),
    };
    const ones = names.map(() => Float64Array.of(1));
    const one = { names, columns: ones, rows: 1 };
    const noGaps = names.map(() => new Uint32Array(0));
    const pick = (foldInto?: Int16Array): RowReasons => {
      const picked = scoreWithReasons(compileModel(stumps), rowMajorValues(ones), 3, foldInto);
      return { features: picked.features, contributions: picked.contributions, k: 3 };
    };
    expect(published(reasonTable(pick(indicatorFolds(names, meta)), one, meta, undefined, noGaps))[0]).toEqual([
      [0, 0.17],
      [5, 0.14],
      [4, 0.13],
    ]);
    // unfolded, the pair is not among the reasons
    expect(published(reasonTable(pick(), one, meta, undefined, noGaps))[0].map(([f]) => f)).toEqual([5, 4, 3]);
  });
});
