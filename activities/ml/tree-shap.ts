/**
 * Exact TreeSHAP values of a boosted model (Lundberg et al., "path-dependent": a feature left out
 * of a coalition is averaged over by the training rows' cover), the numbers of XGBoost's
 * `predict(pred_contribs=True)` and shap's TreeExplainer.
 *
 * Per leaf, the tree's output given a coalition S is the leaf value times, for each distinct
 * feature on the path, 1 or 0 (whether the row takes the path's side at every split on it) when
 * it is in S and the product of its splits' cover fractions when it is not. The leaf's share of
 * every path feature's Shapley value therefore depends on the row only through which path
 * features the row agrees with: a bitmask. Each leaf keeps a table of the shares for every mask
 * (Yang's "Fast TreeSHAP v2"), built once per model, instead of Lundberg's quadratic walk per
 * leaf. A row's masks follow node by node down the tree; two sibling leaves share one table by
 * their parent's mask and the side the row takes, so a row costs a step per inner node and a
 * lookup per leaf pair. The
 * walk runs in the WebAssembly kernel (histogram-kernel.wat `addShap`): in JavaScript, bounds
 * checks on every typed-array read made it several times slower. The tables grow as
 * 2^(distinct features on a path) per leaf: `SHAP_MAX_DEPTH` bounds them.
 */
import type { BoostedModel, BoostedTree } from './boosted-model';
import {
  CATEGORICAL,
  categoryBitsets,
  categoryWords,
  FLAGS_SHIFT,
  MISSING_RIGHT,
  splitThreshold,
} from './compiled-model';
import { kernelWith, type BoostingKernel } from './kernel';

/** Deepest trees the tables are built for (2^6 masks x 6 shares per leaf, 64 leaves a tree). */
export const SHAP_MAX_DEPTH = 6;

export interface ShapTables {
  featureCount: number;
  /** The base margin plus every tree's expected value (its root's cover-weighted mean): the values' sum at no feature. */
  bias: number;
  /** Per tree, where its inner nodes start (pre-order, a parent before its children) and how many it has. */
  treeStart: Int32Array;
  treeSize: Int32Array;
  /** Per inner node, a record of NODE_WORDS words (histogram-kernel.wat, "Exact TreeSHAP"). */
  nodes: Int32Array;
  /** Categorical right-sets, as compiled-model.ts keeps them. */
  categoryBits: Uint32Array;
  categoryWords: number;
  /** The distinct path features of each node's children, from the index its record holds. */
  distinctFeature: Int32Array;
  /** Shares of the Shapley values: per table entry, one per distinct path feature. */
  table: Float64Array;
}

const NODE_WORDS = 8;
/** In a record's slot word: the node's feature is new on the path (else met above). */
const NEW_FEATURE = 256;

/** Whether the model's trees are shallow enough for the tables. */
export function shapTablesFit(model: BoostedModel): boolean {
  return model.trees.every((tree) => treeDepth(tree) <= SHAP_MAX_DEPTH);
}

function treeDepth(tree: BoostedTree, node = 0): number {
  return tree.left[node] < 0 ? 0 : 1 + Math.max(treeDepth(tree, tree.left[node]), treeDepth(tree, tree.right[node]));
}

interface InnerNode {
  feature: number;
  threshold: number;
  missingRight: boolean;
  /** The categorical split's right-set (null: numeric). */
  categories: number[] | null;
  /** The node's feature's place among the path's distinct features, and whether it is new there. */
  slot: number;
  isNew: boolean;
  /** Per side: the child's inner node (the tree's own numbering), or -1 - its leaf's table entry. */
  child: [number, number];
  /** The pair's table entry, -1 unless both children are leaves. */
  pairTable: number;
  distinct: number[];
}

export function shapTables(model: BoostedModel): ShapTables {
  if (!shapTablesFit(model)) throw new RangeError(`exact SHAP tables need trees of depth ${SHAP_MAX_DEPTH} at most`);
  const inner: InnerNode[] = [];
  const table: number[] = [];
  const treeStart: number[] = [];
  let bias = model.baseMargin;

  for (const tree of model.trees) {
    const first = inner.length;
    treeStart.push(first);
    if (tree.left[0] < 0) {
      bias += tree.value[0];
      continue;
    }
    /** The leaf's shares by mask; its expected value joins the bias. */
    const leafShares = (leaf: number, fractions: number[]): Float64Array => {
      bias += tree.value[leaf] * fractions.reduce((product, fraction) => product * fraction, 1);
      return leafTable(tree.value[leaf], fractions);
    };
    // distinct: the path's distinct features above `node`; fractions: each one's product of cover fractions
    const visit = (node: number, distinct: number[], fractions: number[]): number => {
      const local = inner.length - first;
      const f = tree.feature[node];
      const known = distinct.indexOf(f);
      const slot = known < 0 ? distinct.length : known;
      const below = known < 0 ? [...distinct, f] : distinct;
      const entry: InnerNode = {
        feature: f,
        threshold: tree.threshold[node],
        missingRight: !tree.defaultLeft[node],
        categories: model.categorical[f] ? tree.rightCategories[node] : null,
        slot,
        isNew: known < 0,
        child: [-1, -1],
        pairTable: -1,
        distinct: below,
      };
      inner.push(entry);
      const children = [tree.left[node], tree.right[node]];
      const childFractions = children.map((child) => {
        const next = known < 0 ? [...fractions, 1] : [...fractions];
        next[slot] *= tree.cover[child] / tree.cover[node];
        return next;
      });
      const leaves = children.map((child) => tree.left[child] < 0);
      if (leaves[0] && leaves[1]) {
        const shares = children.map((child, side) => leafShares(child, childFractions[side]));
        entry.pairTable = append(table, pairTable(shares, distinct.length, below.length, entry));
      } else
        children.forEach((child, side) => {
          entry.child[side] = leaves[side]
            ? -1 - append(table, leafShares(child, childFractions[side]))
            : visit(child, below, childFractions[side]);
        });
      return local;
    };
    visit(0, [], []);
  }
  treeStart.push(inner.length);

  const distinctFeature: number[] = [];
  const distinctStart = inner.map((node) => distinctFeature.push(...node.distinct) - node.distinct.length);
  const words = categoryWords(model);
  const sets: number[][] = [];
  const nodes = new Int32Array(inner.length * NODE_WORDS);
  const thresholds = new Float32Array(nodes.buffer);
  inner.forEach((node, i) => {
    const record = i * NODE_WORDS;
    const n = node.distinct.length;
    const flags = (node.missingRight ? MISSING_RIGHT : 0) | (node.categories ? CATEGORICAL : 0) | (n << 2);
    nodes[record] = node.feature | (flags << FLAGS_SHIFT);
    thresholds[record + 1] = splitThreshold(node.threshold);
    nodes[record + 2] = distinctStart[i];
    if (node.categories) {
      nodes[record + 3] = sets.length * words;
      sets.push(node.categories);
    }
    nodes[record + 4] = node.slot | (node.isNew ? NEW_FEATURE : 0);
    nodes[record + 5] = node.child[0];
    nodes[record + 6] = node.child[1];
    nodes[record + 7] = node.pairTable;
  });
  return {
    featureCount: model.featureCount,
    bias,
    treeStart: Int32Array.from(treeStart.slice(0, -1)),
    treeSize: Int32Array.from(treeStart.slice(1), (end, t) => end - treeStart[t]),
    nodes,
    categoryBits: categoryBitsets(sets, words),
    categoryWords: words,
    distinctFeature: Int32Array.from(distinctFeature),
    table: Float64Array.from(table),
  };
}

/** A child's mask from its parent's: the side the row takes sets a new feature's bit, the other clears a known one's. */
function childMask(mask: number, taken: boolean, node: Pick<InnerNode, 'slot' | 'isNew'>): number {
  const bit = 1 << node.slot;
  if (node.isNew) return taken ? mask | bit : mask;
  return taken ? mask : mask & ~bit;
}

/** Appends `entries` to `table`; returns where they start. */
function append(table: number[], entries: Float64Array): number {
  const start = table.length;
  for (const entry of entries) table.push(entry);
  return start;
}

/**
 * Two sibling leaves' shares summed, by the parent's mask (over the `above` path features) and
 * the side the row takes: one lookup instead of two.
 */
function pairTable(
  shares: Float64Array[],
  above: number,
  n: number,
  node: Pick<InnerNode, 'slot' | 'isNew'>,
): Float64Array {
  const pair = new Float64Array((1 << above) * 2 * n);
  for (let mask = 0, at = 0; mask < 1 << above; mask++)
    for (let side = 0; side < 2; side++, at += n) {
      const left = childMask(mask, side === 0, node) * n;
      const right = childMask(mask, side === 1, node) * n;
      for (let j = 0; j < n; j++) pair[at + j] = shares[0][left + j] + shares[1][right + j];
    }
  return pair;
}

/**
 * The leaf's shares for every mask: feature j's is value * (a_j - b_j) * sum over the coalitions
 * S of the other path features the row agrees with of |S|! (n - |S| - 1)! / n! times the cover
 * fractions b_k of the path features outside S (a_j: 1 when the mask holds j; b_j: j's fraction).
 */
function leafTable(value: number, fractions: number[]): Float64Array {
  const n = fractions.length;
  const shares = new Float64Array((1 << n) * n);
  const weight = shapleyWeights(n);
  const poly = new Float64Array(n);
  for (let mask = 0; mask < 1 << n; mask++)
    for (let j = 0; j < n; j++) {
      const agrees = (mask >> j) & 1;
      const difference = agrees - fractions[j];
      // coefficient s of the product over k != j of (x + b_k) when the row agrees with k (in or
      // out of S), b_k when it does not (always out of S)
      poly.fill(0);
      poly[0] = 1;
      let degree = 0;
      for (let k = 0; k < n; k++) {
        if (k === j) continue;
        const b = fractions[k];
        if ((mask >> k) & 1) {
          for (let s = degree + 1; s > 0; s--) poly[s] = poly[s] * b + poly[s - 1];
          poly[0] *= b;
          degree++;
        } else for (let s = 0; s <= degree; s++) poly[s] *= b;
      }
      let sum = 0;
      for (let s = 0; s <= degree; s++) sum += poly[s] * weight[s];
      shares[mask * n + j] = value * difference * sum;
    }
  return shares;
}

/** s! (n - s - 1)! / n! for s = 0 .. n - 1. */
function shapleyWeights(n: number): Float64Array {
  const weights = new Float64Array(Math.max(n, 1));
  for (let s = 0; s < n; s++) {
    let w = 1 / n;
    // s! (n-s-1)! / (n-1)! = 1 / C(n-1, s)
    for (let i = 1; i <= s; i++) w *= i / (n - i);
    weights[s] = w;
  }
  return weights;
}

/** Rows explained by every tree before the next rows: a tree's tables stay in cache across them. */
const BLOCK_ROWS = 64;

/**
 * The tables and rows (row-major float32 values) in a kernel memory: `values` gives every
 * feature's SHAP value, `keepLargest` keeps each row's largest positive ones.
 */
export class ShapWalk {
  readonly rows: number;
  readonly #tables: ShapTables;
  readonly #memory: WebAssembly.Memory;
  readonly #kernel: BoostingKernel;
  readonly #at: Record<'values' | 'out' | 'slots' | 'kept', number>;
  readonly #reasons: number;

  /** `reasons`: values kept per row by keepLargest. */
  constructor(tables: ShapTables, values: Float32Array, reasons = 0) {
    this.#tables = tables;
    this.#reasons = reasons;
    this.rows = tables.featureCount > 0 ? values.length / tables.featureCount : 0;
    const { memory, at, kernel } = kernelWith(
      {
        values,
        nodes: tables.nodes,
        categoryBits: tables.categoryBits,
        distinct: tables.distinctFeature,
        table: tables.table,
        treeStart: tables.treeStart,
        treeSize: tables.treeSize,
      },
      {
        masks: Math.max(1, ...tables.treeSize) * 4,
        out: BLOCK_ROWS * tables.featureCount * 8,
        slots: this.rows * reasons * 2,
        kept: this.rows * reasons * 8,
      },
    );
    this.#memory = memory;
    this.#at = at;
    this.#kernel = kernel;
    this.#kernel.setShapModel(
      tables.featureCount,
      at.nodes,
      at.categoryBits,
      tables.categoryWords,
      at.distinct,
      at.table,
      at.treeStart,
      at.treeSize,
      tables.treeStart.length,
      at.masks,
    );
  }

  /** Every feature's SHAP value for rows from..to, row-major (the bias not added: `tables.bias` plus a row's values is its margin). */
  values(from: number, to: number): Float64Array {
    const features = this.#tables.featureCount;
    const result = new Float64Array((to - from) * features);
    const out = new Float64Array(this.#memory.buffer, this.#at.out, BLOCK_ROWS * features);
    for (let block = from; block < to; block += BLOCK_ROWS) {
      const end = Math.min(to, block + BLOCK_ROWS);
      out.fill(0);
      this.#kernel.addShap(this.#at.values, block, end, this.#at.out);
      result.set(out.subarray(0, (end - block) * features), (block - from) * features);
    }
    return result;
  }

  /** Keeps rows from..to's largest positive SHAP values (`largest` gives every row's once all have been through). */
  keepLargest(from: number, to: number): void {
    const out = new Float64Array(this.#memory.buffer, this.#at.out, BLOCK_ROWS * this.#tables.featureCount);
    out.fill(0);
    for (let block = from; block < to; block += BLOCK_ROWS) {
      const end = Math.min(to, block + BLOCK_ROWS);
      this.#kernel.addShap(this.#at.values, block, end, this.#at.out);
      // reads and zeroes the block's values
      this.#kernel.keepLargest(
        this.#at.out,
        end - block,
        this.#at.slots + block * this.#reasons * 2,
        this.#at.kept + block * this.#reasons * 8,
        this.#reasons,
      );
    }
  }

  /**
   * Each row's `reasons` largest positive SHAP values, largest first (ties to the lower feature),
   * as the kernel's keepLargest keeps path contributions: `features` (-1 = empty slot) and
   * `contributions`, copied out of the kernel's memory.
   */
  largest(): { features: Int16Array; contributions: Float64Array; k: number } {
    const count = this.rows * this.#reasons;
    return {
      features: new Int16Array(this.#memory.buffer, this.#at.slots, count).slice(),
      contributions: new Float64Array(this.#memory.buffer, this.#at.kept, count).slice(),
      k: this.#reasons,
    };
  }
}
