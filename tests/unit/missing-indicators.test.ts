import { describe, expect, it } from 'vitest';
import {
  indicatorFolds,
  missingIndicators,
  reasonSlots,
  uniqueName,
  type ChurnFeatureSpec,
} from '../../activities/churn-features';
import { reasonTable } from '../../activities/churn-reasons';
import type { FeatureMeta } from '../../activities/ml/feature-matrix';
import type { DTClassifierJSON, TreeNodeJSON } from '../../activities/ml/histogram-tree';
import { leafRules } from '../../activities/ml/tree-rules';
import { describeFeature, termInWords } from '../../domain/feature-words';

const numeric = (name: string, source: FeatureMeta['source'] = 'user'): ChurnFeatureSpec => ({
  meta: { name, source, categorical: false },
  sql: `"${name}"`,
});

const leaf = (churnRate: number, numberSamples: number): TreeNodeJSON => ({
  distribution: [[1 - churnRate, churnRate]],
  numberSamples,
});
const split = (splitColumn: number, splitValue: number, left: TreeNodeJSON, right: TreeNodeJSON): TreeNodeJSON => ({
  splitColumn,
  splitValue,
  gain: 0.1,
  numberSamples: 100,
  left,
  right,
});
const tree = (root: TreeNodeJSON): DTClassifierJSON => ({
  name: 'DTClassifier',
  options: {
    gainFunction: 'gini',
    splitFunction: 'mean',
    minNumSamples: 3,
    maxDepth: 3,
    gainThreshold: 0,
    kind: 'classifier',
  },
  root,
});

describe('missing indicators beside numeric user features with gaps', () => {
  it('adds "<name> missing" only for a user number with some gaps, read as readColumns reads the gaps', () => {
    const specs = [
      numeric('arpu', 'derived'),
      numeric('app_sessions'),
      numeric('nps'),
      {
        meta: { name: 'plan', source: 'user', categorical: true, categories: ['a', 'b'] },
        sql: 'x',
      } as ChurnFeatureSpec,
      numeric('never_given'),
    ];
    const indicators = missingIndicators(specs, [0.2, 0.3, 0, 0.4, 1]);
    expect(indicators).toEqual([
      {
        meta: { name: 'app_sessions missing', source: 'user', categorical: false, missingOf: 'app_sessions' },
        sql: 'coalesce(isnan(("app_sessions")::DOUBLE), true)::INTEGER',
      },
    ]);
    // a flag written 1 or blank says itself whether it is there: no indicator, its exact opposite
    expect(missingIndicators(specs, [0.2, 0.3, 0, 0.4, 1], [], [false, true])).toEqual([]);
    // nor a name a feature left out of the models has
    expect(missingIndicators(specs, [0.2, 0.3], ['app_sessions missing'])[0].meta.name).toBe(
      'app_sessions missing (2)',
    );
    const all = [...specs.map((spec) => spec.meta), ...indicators.map((spec) => spec.meta)];
    expect(reasonSlots(all, 3)).toBe(3);
    expect(reasonSlots([specs[0].meta, specs[1].meta], 3)).toBe(2);
    // the indicator's contribution joins its feature's before the reasons are picked
    expect([...indicatorFolds([...specs.map((spec) => spec.meta.name), 'app_sessions missing'], all)]).toEqual([
      ...specs.map(() => -1),
      specs.findIndex((spec) => spec.meta.name === 'app_sessions'),
    ]);
  });

  it('gives a feature whose name is taken another one, never two features one name', () => {
    const taken = new Set(['days since join_date', 'user:mou']);
    expect(uniqueName('days since join_date', taken)).toBe('days since join_date (2)');
    expect(uniqueName('days since join_date', taken)).toBe('days since join_date (3)');
    expect(uniqueName('tenure', taken)).toBe('tenure');
    expect(missingIndicators([numeric('x'), numeric('x missing')], [0.5, 0])[0].meta.name).toBe('x missing (2)');
  });

  it('states rules on the indicator as missing or given, and a range on a number with gaps as taking them in', () => {
    const features: FeatureMeta[] = [
      { name: 'app_sessions', source: 'user', categorical: false, gaps: true },
      { name: 'app_sessions missing', source: 'user', categorical: false, missingOf: 'app_sessions' },
      { name: 'mou', source: 'derived', categorical: false },
    ];
    const names = features.map((f) => f.name);
    // app_sessions < 1 (0 is a gap's value: "or missing"), then the indicator, then mou
    const model = tree(
      split(
        0,
        1,
        split(1, 0.5, split(2, 300, leaf(0.04, 30), leaf(0.05, 20)), leaf(0.3, 20)),
        split(0, 5, split(1, 0.5, leaf(0.1, 10), leaf(0.02, 10)), leaf(0.01, 10)),
      ),
    );
    const rules = leafRules(model, names, 0.05, features);
    const byRate = Object.fromEntries(rules.map((rule) => [rule.churnRate, rule]));
    // the indicator says "missing": the range on app_sessions says nothing more
    expect(byRate[0.3].condition).toBe('app_sessions missing');
    expect(byRate[0.3].terms.map(termInWords)).toEqual(['app_sessions missing']);
    // "given": the range keeps no missing values
    expect(byRate[0.04].condition).toBe('app_sessions < 1 and app_sessions given and mou < 300');
    // no indicator on the path: missing values (0 to the tree) are inside the range, and it says so
    expect(byRate[0.01].condition).toBe('app_sessions >= 5');
    expect(byRate[0.1].condition).toBe('1 <= app_sessions < 5 and app_sessions given');
    const noIndicator = leafRules(tree(split(0, 1, leaf(0.2, 50), leaf(0.01, 50))), names, 0.05, features);
    expect(noIndicator.map((rule) => rule.condition)).toEqual(['(app_sessions < 1 or missing)', 'app_sessions >= 1']);
    expect(termInWords(noIndicator[0].terms[0])).toBe('(app_sessions < 1 or missing)');
  });

  it('reads a folded pair as its feature: missing where there was a gap, its value where given', () => {
    const rows = 3;
    const current = {
      names: ['app_sessions', 'mou', 'dou', 'arpu', 'app_sessions missing'],
      columns: [
        Float64Array.from([0, 4, 0]),
        Float64Array.from([10, 20, 30]),
        Float64Array.from([1, 2, 3]),
        Float64Array.from([5, 6, 7]),
        Float64Array.from([1, 0, 1]),
      ],
      rows,
    };
    const meta: FeatureMeta[] = [
      { name: 'app_sessions', source: 'user', categorical: false, gaps: true },
      { name: 'mou', source: 'derived', categorical: false },
      { name: 'dou', source: 'derived', categorical: false },
      { name: 'arpu', source: 'derived', categorical: false },
      { name: 'app_sessions missing', source: 'user', categorical: false, missingOf: 'app_sessions' },
    ];
    // picked with the indicator folded into app_sessions (scoreWithReasons' foldInto): the pair is feature 0
    const k = 3;
    const features = Int16Array.from([0, 1, 2, 0, 1, -1, 0, 1, -1]);
    const contributions = Float64Array.from([0.4, 0.3, 0.25, 0.1, 0.05, 0, 0.5, 0.05, 0]);
    const gaps = [
      Uint32Array.from([0, 2]),
      new Uint32Array(0),
      new Uint32Array(0),
      new Uint32Array(0),
      new Uint32Array(0),
    ];
    const table = reasonTable({ features, contributions, k }, current, meta, undefined, gaps);
    expect(table.k).toBe(3);
    const count = table.rows.count.length;
    const reasonsOf = (r: number) =>
      Array.from({ length: table.rows.count[r] }, (_, s) => s * count + r).map((entry) => [
        table.rows.feature[entry],
        Math.round(table.rows.contribution[entry] * 1e6) / 1e6,
        table.texts[table.rows.text[entry]],
      ]);
    expect(reasonsOf(0)).toEqual([
      [0, 0.4, 'app_sessions missing'],
      [1, 0.3, describeFeature('mou', 10)],
      [2, 0.25, describeFeature('dou', 1)],
    ]);
    expect(reasonsOf(1)).toEqual([
      [0, 0.1, 'app_sessions = 4'],
      [1, 0.05, describeFeature('mou', 20)],
    ]);
    expect(reasonsOf(2)).toEqual([
      [0, 0.5, 'app_sessions missing'],
      [1, 0.05, describeFeature('mou', 30)],
    ]);
    expect(table.rows.value[0]).toBeNaN();
  });
});
