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
import { indicatorFolds, type NumericGaps } from './churn-features';
import { writeParquetView } from './duckdb';
import { appendColumnsTable, type ColumnSet, type NamedColumn } from './ml/columns';
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
 * A feature and its missing indicator are one reason in the picks already (indicatorFolds).
 */
export function reasonTable(
  reasons: RowReasons | null,
  current: ColumnSet,
  meta: readonly FeatureMeta[],
  rowIdx?: Int32Array,
  gaps?: NumericGaps,
): ReasonTable {
  const picked = reasons ?? NO_REASONS;
  const { k } = picked;
  const rows = reasonRows(picked, current, rowIdx, gaps);
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
  const featureOf = indicatorFolds(names, meta);
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
