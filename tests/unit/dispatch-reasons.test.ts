import { describe, expect, it } from 'vitest';
import { explainDispatchList } from '../../activities/dispatch-reasons';
import { withConnection } from '../../activities/duckdb';
import type { BoostedTree } from '../../activities/ml/boosted-model';
import { writeExplainer } from '../../activities/stage-outputs';
import { tempDir } from '../helpers';

/** A chain of `depth` splits on feature 0, each with a leaf on its left. */
function chain(depth: number): BoostedTree {
  const tree: BoostedTree = {
    left: [],
    right: [],
    feature: [],
    threshold: [],
    rightCategories: [],
    defaultLeft: [],
    value: [],
    cover: [],
    gain: [],
  };
  const add = (inner: boolean, cover: number) => {
    tree.left.push(-1);
    tree.right.push(-1);
    tree.feature.push(0);
    tree.threshold.push(inner ? 0.5 : 0);
    tree.rightCategories.push([]);
    tree.defaultLeft.push(true);
    tree.value.push(inner ? 0 : 0.1);
    tree.cover.push(cover);
    tree.gain.push(0);
    return tree.left.length - 1;
  };
  let node = add(true, 2 ** depth);
  for (let d = 1; d <= depth; d++) {
    const cover = 2 ** (depth - d);
    tree.left[node] = add(false, cover);
    tree.right[node] = add(d < depth, cover);
    node = tree.right[node];
  }
  return tree;
}

describe('the dispatch list reasons: when they stay path contributions', () => {
  it('says why for trees deeper than the tables take, and for a churn stage that left no explainer', async () => {
    const deep = await tempDir();
    await writeExplainer(deep, {
      model: { baseMargin: 0, trees: [chain(7)], featureCount: 1, categorical: [false] },
      expressions: [['usage', 'usage']],
      variables: {},
      meta: [{ name: 'usage', source: 'derived', categorical: false }],
      reasons: 3,
    });
    const none = await tempDir();
    const [tooDeep, noExplainer] = await withConnection(':memory:', async (conn) => [
      await explainDispatchList(conn, deep),
      await explainDispatchList(conn, none),
    ]);
    expect(tooDeep).toEqual({
      method:
        'path contributions (Saabas), log-odds, top 3 positive (boostDepth above 6, deeper than exact SHAP tables are built for)',
      exactRows: 0,
      notExact: 'boostDepth above 6, deeper than exact SHAP tables are built for',
    });
    expect(noExplainer.exactRows).toBe(0);
    expect(noExplainer.notExact).toBe('scored before exact reasons were built');
  });
});
