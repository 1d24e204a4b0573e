/**
 * View `churn_reasons(row_idx, churn_reasons, reason_words)`: per scored subscriber the features
 * that raised the score most (feature, value, contribution in log-odds) and the same in words.
 *
 * Crosses into DuckDB as numbers: one row per subscriber with reasons, each reason slot a feature
 * index, value, contribution and the id of its text, appended as typed arrays, and each distinct
 * text once. A million subscribers have ~2.4M reasons, ~1M distinct (feature, value) pairs and a
 * few ten thousand distinct texts: one JS string per reason took seconds to build and append.
 */
import { DOUBLE, INTEGER, SMALLINT, UTINYINT, VARCHAR, type DuckDBConnection } from '@duckdb/node-api';
import { describeFeature } from '../domain/feature-words';
import type { NumericGaps } from './churn-features';
import { writeParquetView } from './duckdb';
import type { BoostedModel } from './ml/boosted-model';
import { nextNode } from './ml/boosting';
import { appendColumnsTable, type ColumnSet, type NamedColumn } from './ml/columns';
import { nodeMeans } from './ml/compiled-model';
import type { FeatureMeta } from './ml/feature-matrix';

/** Per row, `k` slots of feature index (-1 = none, slots filled from the first) and contribution. */
export interface RowReasons {
  features: Int16Array;
  contributions: Float64Array;
  k: number;
}

/**
 * The subscribers with reasons: per reason slot s, its entries at s * rows..(s + 1) * rows of the
 * entry arrays. A slot past a row's `count` holds feature 0 and text 0, sliced off in SQL.
 */
interface ReasonRows {
  rowIdx: Int32Array;
  count: Uint8Array;
  feature: Int16Array;
  value: Float64Array;
  contribution: Float64Array;
  text: Int32Array;
}

const NO_REASONS: RowReasons = { features: new Int16Array(0), contributions: new Float64Array(0), k: 1 };

/**
 * The contribution of feature `f` to the margin of row `row` of the scored columns, by the same
 * attribution as the picked reasons: what completes a feature and its missing indicator when
 * only one of them was picked.
 */
export type FeatureContribution = (row: number, f: number) => number;

/** The reasons as rows of numbers and the distinct texts: what `writeReasons` hands to DuckDB. */
export interface ReasonTable {
  k: number;
  rows: ReasonRows;
  texts: string[];
  featureNames: string[];
}

/**
 * The reason table of `reasons` (null: none, the single tree scores) on this month's columns;
 * holds no reference to the columns, which the caller may then release. The columns' rows are
 * row_idx 0, 1, ... unless `rowIdx` gives each one's. `gaps` are the rows whose numeric values
 * were missing before fillNumericGaps made them 0: a reason there has no value (NULL in
 * `churn_reasons`) and reads "<feature> missing", as a missing category reads "<feature>: missing".
 */
export function reasonTable(
  reasons: RowReasons | null,
  current: ColumnSet,
  meta: readonly FeatureMeta[],
  rowIdx?: Int32Array,
  gaps?: NumericGaps,
  /** Reasons kept per subscriber, of the `reasons.k` picked (reasonSlots: more where indicators fold). */
  keep = (reasons ?? NO_REASONS).k,
  /**
   * Any feature's contribution for a row (pathContribution): a feature and its indicator then fold
   * to their sum though one of them was not picked. Without it such a pair shows the picked one's.
   */
  contribution?: FeatureContribution,
): ReasonTable {
  const folded = withIndicatorsFolded(reasons ?? NO_REASONS, current.names, meta, keep, contribution);
  const { k } = folded;
  const rows = reasonRows(folded, current, rowIdx, gaps);
  const texts = reasonTexts(rows, current.names.length, (f, x) => reasonInWords(current.names[f], meta[f], x));
  return { k, rows, texts, featureNames: [...current.names] };
}

/** Writes the table as a Parquet file at `path` read by the connection's view `view`. */
export async function writeReasons(
  conn: DuckDBConnection,
  table: ReasonTable,
  path: string,
  view = 'churn_reasons',
): Promise<void> {
  const { k, rows, texts, featureNames } = table;
  const slots = Array.from({ length: k }, (_, s) => s + 1);
  await appendTable(conn, 'reason_slots', [
    ['row_idx', INTEGER, rows.rowIdx],
    ['reasons', UTINYINT, rows.count],
    ...slots.flatMap((s): NamedColumn[] => {
      const slot = <T extends Int16Array | Float64Array | Int32Array>(entries: T) =>
        entries.subarray((s - 1) * rows.count.length, s * rows.count.length) as T;
      return [
        [`feature_${s}`, SMALLINT, slot(rows.feature)],
        [`value_${s}`, DOUBLE, slot(rows.value)],
        [`contribution_${s}`, DOUBLE, slot(rows.contribution)],
        [`text_${s}`, INTEGER, slot(rows.text)],
      ];
    }),
  ]);
  await appendTable(conn, 'reason_features', [
    ['f', SMALLINT, Int16Array.from(featureNames, (_, f) => f)],
    ['name', VARCHAR, featureNames],
  ]);
  await appendTable(conn, 'reason_texts', [
    ['id', INTEGER, Int32Array.from(texts, (_, id) => id)],
    ['words', VARCHAR, texts],
  ]);
  // a missing value (NaN: a numeric gap, a missing category) is NULL, as in the input
  const reason = (s: number) =>
    `struct_pack(feature := f${s}.name, "value" := CASE WHEN NOT isnan(r.value_${s}) THEN r.value_${s} END, contribution := r.contribution_${s})`;
  // joins, not list variables: indexing a list of 30k texts per row was ten times slower
  await writeParquetView(
    conn,
    view,
    `SELECT r.row_idx,
            [${slots.map(reason).join(', ')}][1:r.reasons]::STRUCT(feature VARCHAR, "value" DOUBLE, contribution DOUBLE)[] AS churn_reasons,
            [${slots.map((s) => `t${s}.words`).join(', ')}][1:r.reasons]::VARCHAR[] AS reason_words
     FROM reason_slots r
     ${slots.map((s) => `JOIN reason_features f${s} ON f${s}.f = r.feature_${s} JOIN reason_texts t${s} ON t${s}.id = r.text_${s}`).join('\n     ')}
     ORDER BY r.row_idx`,
    path,
    'connection',
  );
  await conn.run('DROP TABLE reason_slots; DROP TABLE reason_features; DROP TABLE reason_texts');
}

/** The reasons' working tables (their rows can be many: appended in chunks). */
const appendTable = (conn: DuckDBConnection, table: string, columns: NamedColumn[]) =>
  appendColumnsTable(conn, table, columns, 'churn: writing reasons');

/** Per feature, the feature whose missing indicator it is (-1: none). */
function indicatedFeatures(names: readonly string[], meta: readonly FeatureMeta[]): Int16Array {
  const featureOf = new Int16Array(meta.length).fill(-1);
  meta.forEach((feature, f) => {
    if (feature.missingOf !== undefined) featureOf[f] = names.indexOf(feature.missingOf);
  });
  return featureOf;
}

/**
 * A feature and its missing indicator are one column of the user's: their contributions are added
 * (contributions add up, as SHAP values of a group of features do); then the `keep` largest
 * positive ones are kept, largest first. Without it one subscriber read "app_sessions missing"
 * twice, once for each. The pick is wider than `keep` where there are indicators (reasonSlots);
 * with `contribution`, a pair of which one member was picked adds the other's (which may lower
 * it, even below 0: it is then no reason), and where the pick was full, so that a pair of which
 * neither was picked may still outrank the kept (each member at most the smallest picked, the sum
 * at most twice it), those pairs are summed too: the kept reasons are then the largest sums, as
 * if every column's sum had been ranked. Without `contribution` a pair whose other member was
 * not picked shows its picked member's alone.
 */
function withIndicatorsFolded(
  reasons: RowReasons,
  names: readonly string[],
  meta: readonly FeatureMeta[],
  keep: number,
  contribution?: FeatureContribution,
): RowReasons {
  const featureOf = indicatedFeatures(names, meta);
  const { k } = reasons;
  if (keep >= k && featureOf.every((f) => f < 0)) return reasons;
  // each pair, as [feature, indicator]; per feature, its indicator (-1: none)
  const pairs = [...featureOf].flatMap((f, indicator) => (f >= 0 ? [[f, indicator] as const] : []));
  const pairOf = new Int16Array(meta.length).fill(-1);
  for (const [f, indicator] of pairs) pairOf[f] = indicator;
  const rows = reasons.features.length / k;
  const features = new Int16Array(rows * keep).fill(-1);
  const contributions = new Float64Array(rows * keep);
  const picked = new Map<number, number>();
  // the row (plus one) at which each feature was last picked
  const pickedAt = new Int32Array(meta.length);
  for (let row = 0; row < rows; row++) {
    picked.clear();
    let filled = 0;
    for (let s = 0; s < k; s++) {
      const f = reasons.features[row * k + s];
      if (f < 0) break;
      // an indicator counts as its feature
      const unit = featureOf[f] >= 0 ? featureOf[f] : f;
      picked.set(unit, (picked.get(unit) ?? 0) + reasons.contributions[row * k + s]);
      pickedAt[f] = row + 1;
      filled++;
    }
    if (contribution && filled > 0) {
      // a member not picked is at most the smallest picked, or (a pick not full) at most 0
      const notPicked = filled === k ? reasons.contributions[row * k + k - 1] : 0;
      // the features that are no pair's are final: a pair that cannot reach `keep` of them is left out
      const floor = keptAmongSingles(picked, featureOf, pairOf, keep);
      for (const [f, indicator] of pairs) {
        const [feature, its] = [pickedAt[f] === row + 1, pickedAt[indicator] === row + 1];
        if (feature && its) continue;
        const most = feature || its ? picked.get(f)! + notPicked : 2 * notPicked;
        if (most <= 0 || most < floor) picked.delete(f);
        // the member not picked added (a sum of two is the same in either order), or both
        else if (feature || its) picked.set(f, picked.get(f)! + contribution(row, feature ? indicator : f));
        else picked.set(f, contribution(row, f) + contribution(row, indicator));
      }
    }
    // largest first; a tie keeps the order they were picked in. Only positive sums are reasons
    const ranked = [...picked]
      .filter(([, c]) => c > 0)
      .sort((a, b) => b[1] - a[1])
      .slice(0, keep);
    ranked.forEach(([f, c], s) => {
      features[row * keep + s] = f;
      contributions[row * keep + s] = c;
    });
  }
  return { features, contributions, k: keep };
}

/** The `keep`-th largest positive sum of the features that are no pair's (0 when fewer are positive). */
function keptAmongSingles(sums: Map<number, number>, featureOf: Int16Array, pairOf: Int16Array, keep: number): number {
  const singles = [...sums]
    .filter(([f, c]) => c > 0 && featureOf[f] < 0 && pairOf[f] < 0)
    .map(([, c]) => c)
    .sort((a, b) => b - a);
  return singles.length >= keep ? singles[keep - 1] : 0;
}

/**
 * Each row's `k` largest positive contributions per column, a feature and its missing indicator
 * summed, from every feature's contribution (row-major, `names.length` per row: exact SHAP values,
 * ShapWalk.values); largest first, ties to the lower feature, as the kernel's keepLargest picks.
 * Folding before the pick, where every contribution is known, needs no wider pick.
 */
export function largestByColumn(
  values: Float64Array,
  names: readonly string[],
  meta: readonly FeatureMeta[],
  k: number,
): RowReasons {
  const featureOf = indicatedFeatures(names, meta);
  const count = names.length;
  const rows = count > 0 ? values.length / count : 0;
  const features = new Int16Array(rows * k).fill(-1);
  const contributions = new Float64Array(rows * k);
  const sums = new Float64Array(count);
  for (let row = 0; row < rows; row++) {
    sums.set(values.subarray(row * count, (row + 1) * count));
    for (let f = 0; f < count; f++)
      if (featureOf[f] >= 0) {
        sums[featureOf[f]] += sums[f];
        sums[f] = 0;
      }
    const at = row * k;
    for (let f = 0; f < count; f++) {
      const value = sums[f];
      if (!(value > 0)) continue;
      // the first slot (from the end) this value does not beat: empty or not smaller
      let slot = k;
      while (slot > 0 && (features[at + slot - 1] < 0 || contributions[at + slot - 1] < value)) slot--;
      if (slot >= k) continue;
      for (let s = k - 1; s > slot; s--) {
        features[at + s] = features[at + s - 1];
        contributions[at + s] = contributions[at + s - 1];
      }
      features[at + slot] = f;
      contributions[at + slot] = value;
    }
  }
  return { features, contributions, k };
}

/**
 * One feature's path contribution (Saabas) to a row's margin under `model`, as the scoring
 * kernel credits it: the same steps (the change in the node means) added in the same order, so
 * the same number bit for bit (compiled-model.ts). Walks only the trees that split on the
 * feature, each as far down as a split on it is left; `columns` are the scored rows as the
 * model read them (gaps filled).
 */
export function pathContribution(model: BoostedModel, columns: Float64Array[]): FeatureContribution {
  const means: (Float64Array | undefined)[] = [];
  // per feature, the trees that split on it and, per node, whether a split on it is at or below
  const walks = new Map<number, { tree: number; below: Uint8Array }[]>();
  const walksOf = (f: number) =>
    model.trees.flatMap((tree, t) => {
      const below = new Uint8Array(tree.left.length);
      const mark = (node: number): number =>
        tree.left[node] < 0
          ? 0
          : (below[node] = mark(tree.left[node]) | mark(tree.right[node]) | (tree.feature[node] === f ? 1 : 0));
      return mark(0) ? [{ tree: t, below }] : [];
    });
  return (row, f) => {
    let trees = walks.get(f);
    if (!trees) walks.set(f, (trees = walksOf(f)));
    let sum = 0;
    for (const { tree: t, below } of trees) {
      const tree = model.trees[t];
      const mean = (means[t] ??= nodeMeans(tree));
      for (let node = 0; below[node];) {
        const next = nextNode(tree, model.categorical, columns, row, node);
        if (tree.feature[node] === f) sum += mean[next] - mean[node];
        node = next;
      }
    }
    return sum;
  };
}

/** A reason in words: a categorical one reads as its category, not its code; a missing number as missing. */
function reasonInWords(name: string, meta: FeatureMeta, x: number): string {
  const categories = meta.categorical ? meta.categories : undefined;
  if (categories) return `${name}: ${categories[x] ?? 'missing'}`;
  return Number.isNaN(x) ? `${name} missing` : describeFeature(name, x);
}

/** Whether ascending `rows` holds `row`. */
function holds(rows: Uint32Array, row: number): boolean {
  const at = lowerBound(rows, row);
  return at < rows.length && rows[at] === row;
}

/** The rows with reasons and their reasons' entries (text ids not yet filled in); a filled gap's value is NaN. */
function reasonRows(reasons: RowReasons, current: ColumnSet, rowIdx?: Int32Array, gaps?: NumericGaps): ReasonRows {
  const { features, contributions, k } = reasons;
  let count = 0;
  for (let i = 0; i < features.length; i += k) if (features[i] >= 0) count++;
  const rows: ReasonRows = {
    rowIdx: new Int32Array(count),
    count: new Uint8Array(count),
    feature: new Int16Array(k * count),
    value: new Float64Array(k * count),
    contribution: new Float64Array(k * count),
    text: new Int32Array(k * count),
  };
  for (let i = 0, r = 0; r < count; i++) {
    if (features[i * k] < 0) continue;
    rows.rowIdx[r] = rowIdx ? rowIdx[i] : i;
    for (let s = 0; s < k && features[i * k + s] >= 0; s++) {
      const f = features[i * k + s];
      const entry = s * count + r;
      rows.feature[entry] = f;
      const gap = gaps !== undefined && gaps[f].length > 0 && holds(gaps[f], i);
      rows.value[entry] = gap ? Number.NaN : current.columns[f][i];
      rows.contribution[entry] = Math.round(contributions[i * k + s] * 1e6) / 1e6;
      rows.count[r] = s + 1;
    }
    r++;
  }
  return rows;
}

/**
 * Fills each used entry's text id and returns the distinct texts. Per feature, its values are
 * sorted and described once each (neighbours often read alike, so most texts are compared with
 * the last one instead of hashed); each entry finds its value by binary search. NaN and -0 are
 * described entry by entry: a sort and search by `<` cannot tell them apart.
 */
function reasonTexts(rows: ReasonRows, features: number, describe: (f: number, x: number) => string): string[] {
  const texts = new DistinctTexts();
  entriesByFeature(rows, features).forEach((entries, f) => {
    const values = new Float64Array(entries.length);
    let n = 0;
    for (const entry of entries) if (plain(rows.value[entry])) values[n++] = rows.value[entry];
    const distinct = uniqueSorted(values.subarray(0, n));
    const ids = new Int32Array(distinct.length);
    for (let i = 0; i < distinct.length; i++) ids[i] = texts.id(describe(f, distinct[i]));
    for (const entry of entries) {
      const x = rows.value[entry];
      rows.text[entry] = plain(x) ? ids[lowerBound(distinct, x)] : texts.id(describe(f, x));
    }
  });
  return texts.list;
}

function plain(x: number): boolean {
  return !Number.isNaN(x) && !Object.is(x, -0);
}

/** Per feature, the used entries that name it. */
function entriesByFeature(rows: ReasonRows, features: number): Uint32Array[] {
  const rowCount = rows.count.length;
  const used = (entry: number) => Math.floor(entry / rowCount) < rows.count[entry % rowCount];
  const counts = new Int32Array(features);
  for (let entry = 0; entry < rows.feature.length; entry++) if (used(entry)) counts[rows.feature[entry]]++;
  const lists = Array.from(counts, (count) => new Uint32Array(count));
  const filled = new Int32Array(features);
  for (let entry = 0; entry < rows.feature.length; entry++) {
    const f = rows.feature[entry];
    if (used(entry)) lists[f][filled[f]++] = entry;
  }
  return lists;
}

class DistinctTexts {
  readonly list: string[] = [];
  readonly #ids = new Map<string, number>();
  #last = { text: '', id: -1 };

  id(text: string): number {
    if (text === this.#last.text) return this.#last.id;
    let id = this.#ids.get(text);
    if (id === undefined) {
      id = this.list.push(text) - 1;
      this.#ids.set(text, id);
    }
    this.#last = { text, id };
    return id;
  }
}

function uniqueSorted(values: Float64Array): Float64Array {
  values.sort();
  let n = 0;
  for (let i = 0; i < values.length; i++) if (i === 0 || values[i] !== values[n - 1]) values[n++] = values[i];
  return values.subarray(0, n);
}

/** The first index whose value is not below `x`. */
function lowerBound(sorted: Float64Array | Uint32Array, x: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid] < x) low = mid + 1;
    else high = mid;
  }
  return low;
}
