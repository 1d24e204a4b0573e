/**
 * The boosted model in XGBoost's JSON model format (objective binary:logistic), so the Python
 * `xgboost` package (and anything reading its format: shap, treelite, ...) loads it with
 * `Booster(model_file=...)` and scores like segflow: leaf values, thresholds and covers are the
 * model's own float32 numbers. Categorical splits use XGBoost's partition splits (split_type 1:
 * the listed categories go right); such features are typed "c" and need `enable_categorical`.
 *
 * The base score is 0.5 (a margin of 0) and the model's base margin is folded into the first
 * tree's leaves, which leaves every row's float32 sum unchanged.
 */
import type { BoostedModel, BoostedTree } from './boosted-model';

/** XGBoost's "no parent" marker for the root. */
const ROOT_PARENT = 2147483647;

/** Arrays XGBoost reads as floats: its JSON reader rejects an integer token (`0`) where it expects a number (`0.0`). */
const FLOAT_ARRAYS = ['base_weights', 'loss_changes', 'split_conditions', 'sum_hessian'];

/** The model file's text. */
export function xgboostModelText(model: BoostedModel, featureNames: readonly string[]): string {
  const text = JSON.stringify(toXGBoostJson(model, featureNames));
  return text.replace(
    new RegExp(`"(${FLOAT_ARRAYS.join('|')})":\\[([^\\]]*)\\]`, 'g'),
    (_, key: string, items: string) => {
      const floats = items === '' ? [] : items.split(',').map((item) => (/^-?\d+$/.test(item) ? `${item}.0` : item));
      return `"${key}":[${floats.join(',')}]`;
    },
  );
}

/**
 * The tree with nodes renumbered breadth first, children in adjacent ids (right = left + 1):
 * XGBoost's tree walk assumes that layout (its predictor and contribution code step to
 * `left + !(x < split)`), where segflow numbers depth first.
 */
function breadthFirst(tree: BoostedTree): BoostedTree {
  const order = [0];
  const newId = new Map<number, number>([[0, 0]]);
  for (let i = 0; i < order.length; i++) {
    const node = order[i];
    if (tree.left[node] < 0) continue;
    for (const child of [tree.left[node], tree.right[node]]) {
      newId.set(child, order.length);
      order.push(child);
    }
  }
  const child = (id: number) => (id < 0 ? -1 : (newId.get(id) as number));
  return {
    left: order.map((node) => child(tree.left[node])),
    right: order.map((node) => child(tree.right[node])),
    feature: order.map((node) => tree.feature[node]),
    threshold: order.map((node) => tree.threshold[node]),
    rightCategories: order.map((node) => tree.rightCategories[node]),
    defaultLeft: order.map((node) => tree.defaultLeft[node]),
    value: order.map((node) => tree.value[node]),
    cover: order.map((node) => tree.cover[node]),
    gain: order.map((node) => tree.gain[node]),
  };
}

function toXGBoostJson(model: BoostedModel, featureNames: readonly string[]): object {
  const trees = model.trees.map(breadthFirst).map((tree, id) => {
    const nodes = tree.left.length;
    const parents = new Array<number>(nodes).fill(ROOT_PARENT);
    const categories: number[] = [];
    const categoriesNodes: number[] = [];
    const categoriesSegments: number[] = [];
    const categoriesSizes: number[] = [];
    const splitConditions: number[] = [];
    const baseWeights: number[] = [];
    for (let node = 0; node < nodes; node++) {
      const isLeaf = tree.left[node] < 0;
      if (!isLeaf) {
        parents[tree.left[node]] = node;
        parents[tree.right[node]] = node;
      }
      const leafValue = id === 0 ? Math.fround(tree.value[node] + model.baseMargin) : tree.value[node];
      baseWeights.push(isLeaf ? leafValue : 0);
      if (isLeaf) splitConditions.push(leafValue);
      else if (model.categorical[tree.feature[node]]) {
        splitConditions.push(0);
        categoriesNodes.push(node);
        categoriesSegments.push(categories.length);
        categoriesSizes.push(tree.rightCategories[node].length);
        categories.push(...tree.rightCategories[node]);
      } else splitConditions.push(tree.threshold[node]);
    }
    const isCategoricalSplit = (node: number) => tree.left[node] >= 0 && model.categorical[tree.feature[node]];
    return {
      base_weights: baseWeights,
      categories,
      categories_nodes: categoriesNodes,
      categories_segments: categoriesSegments,
      categories_sizes: categoriesSizes,
      default_left: tree.defaultLeft.map((left, node) => (tree.left[node] >= 0 && left ? 1 : 0)),
      id,
      left_children: tree.left,
      loss_changes: tree.gain.map((gain) => Math.fround(gain)),
      parents,
      right_children: tree.right,
      split_conditions: splitConditions,
      split_indices: tree.feature,
      split_type: tree.left.map((_, node) => (isCategoricalSplit(node) ? 1 : 0)),
      sum_hessian: tree.cover,
      tree_param: {
        num_deleted: '0',
        num_feature: String(model.featureCount),
        num_nodes: String(nodes),
        size_leaf_vector: '1',
      },
    };
  });
  return {
    learner: {
      attributes: {},
      feature_names: [...featureNames],
      feature_types: model.categorical.map((categorical) => (categorical ? 'c' : 'float')),
      gradient_booster: {
        model: {
          gbtree_model_param: { num_parallel_tree: '1', num_trees: String(trees.length) },
          iteration_indptr: trees.map((_, i) => i).concat(trees.length),
          tree_info: trees.map(() => 0),
          trees,
        },
        name: 'gbtree',
      },
      learner_model_param: {
        base_score: '5E-1',
        boost_from_average: '1',
        num_class: '0',
        num_feature: String(model.featureCount),
        num_target: '1',
      },
      objective: { name: 'binary:logistic', reg_loss_param: { scale_pos_weight: '1' } },
    },
    version: [2, 1, 0],
  };
}
