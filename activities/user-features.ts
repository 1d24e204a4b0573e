import { listValue, type DuckDBConnection } from '@duckdb/node-api';
import { USAGE_CONTRACT, quoteIdent } from '../data/contract';
import { SchemaContractError } from '../domain/errors';
import { renamedColumn, type DecimalSeparator, type InputMapping } from '../domain/mapping';
import { queryOne, queryRows, setVariable } from './duckdb';
import { dateSql, numberFormatHint, textNumberSql } from './load-sql';

/** One of the user's own columns that the models use, beside the contract's features. */
export interface UserFeature {
  /** The user's column name, as rules and the manifest show it. */
  name: string;
  /** Its column in segflow's tables (user_0, user_1, ...): user names may clash with feature names. */
  column: string;
  /**
   * A date's column holds the day (DATE); the churn models read it as the days from it to the end
   * of the row's month (churn-features.ts), so a tenure means the same in the training month and
   * the month scored.
   */
  type: 'numeric' | 'categorical' | 'date';
  /**
   * Categorical only: the labels, sorted; a value's code is its index. With `otherValues`, the
   * last label stands for every value not listed before it.
   */
  categories?: string[];
  /**
   * Categorical only, for a column of more distinct values than maxCategories: how many of its
   * values are read as one category, the last of `categories` (the others are its most frequent).
   */
  otherValues?: number;
  /**
   * Categorical only, for a column whose values are all numbers ("auto" reads one so only when it
   * holds 0 and gaps: as a number it would be 0 throughout): each category's number. A value is
   * its number's category however it is written (`0`, `0.00` and `-0` are one), the category
   * labelled as its shortest spelling; a value no category's number is missing, as a category the
   * column does not list is.
   */
  numbers?: number[];
  /**
   * Numeric or date: when some values are not numbers (dates), how many, read as missing, and which
   * (up to 3). Categorical with otherValues: how much of the column its most frequent values cover.
   */
  note?: string;
}

export interface SkippedUserFeature {
  feature: string;
  reason: string;
}

/** The churn label, as far as it is known when the user's columns are typed. */
export interface UserFeatureLabel {
  /**
   * The label's column name (the input's, or the labels file's): a column named so is never taken
   * by "auto". None for the label segflow gives monthly usage itself (churned = absent next month).
   */
  name?: string;
  /** SQL over one input row: its label (BOOLEAN, NULL when unknown); with it "auto" checks each column for a leak. */
  sql?: string;
}

/** A user's value as text, blank or empty as NULL (a missing value, never a quarantine reason). */
export function userText(sourceColumn: string): string {
  return `nullif(trim(${quoteIdent(sourceColumn)}::VARCHAR), '')`;
}

/**
 * The typed value a user feature's column holds (numeric: DOUBLE, NULL when blank or not a number,
 * read with the mapping's decimal separator; date: DATE, NULL when blank or not a date).
 */
export function userFeatureSql(
  feature: Pick<UserFeature, 'name' | 'type' | 'categories' | 'numbers'>,
  decimalSeparator: DecimalSeparator = '.',
): string {
  const text = userText(feature.name);
  if (feature.type === 'numeric') return finiteNumberSql(text, decimalSeparator);
  if (feature.type === 'date') return dateSql(text);
  const { numbers, categories = [] } = feature;
  if (!numbers) return text;
  // each category as its number, so 0.00 is the category 0 is; labels are the input's spellings, quoted
  const when = numbers.map(
    (number, i) => `WHEN CAST('${String(number)}' AS DOUBLE) THEN '${categories[i].replaceAll("'", "''")}'`,
  );
  return `CASE ${finiteNumberSql(text, decimalSeparator)} ${when.join(' ')} END`;
}

/**
 * The categories of a column whose values are numbers: one per number, labelled as its shortest
 * spelling (then the first in text order), sorted by label; the others read as missing.
 */
async function numberCategories(
  conn: DuckDBConnection,
  inputRows: string,
  name: string,
  decimalSeparator: DecimalSeparator | undefined,
): Promise<{ categories: string[]; numbers: number[] }> {
  const text = userText(name);
  const rows = await queryRows<{ number: number; label: string }>(
    conn,
    `SELECT number, first(t ORDER BY length(t), t) AS label FROM (
       SELECT ${text} AS t, ${finiteNumberSql(text, decimalSeparator)} AS number FROM (${inputRows}))
     WHERE number IS NOT NULL GROUP BY number ORDER BY label`,
  );
  return { categories: rows.map((row) => row.label), numbers: rows.map((row) => Number(row.number)) };
}

/**
 * A user's value as a number (DOUBLE): NULL when blank, not a number, or not finite (`NaN`,
 * `Infinity`, `-Infinity`, a Parquet DOUBLE's inf): those are missing values, as the models read
 * a gap, never a number an average, a spread or a reason would carry.
 */
function finiteNumberSql(text: string, decimalSeparator: DecimalSeparator | undefined): string {
  const number = textNumberSql(text, decimalSeparator);
  return `CASE WHEN isfinite(${number}) THEN ${number} END`;
}

/**
 * Values that stand for "no value" in exported extracts (pandas' default `na_values`, lower case,
 * and a few more): besides numbers, a column holding only these is a number column with gaps.
 */
const MISSING_MARKERS = [
  '#n/a',
  '#n/a n/a',
  '#na',
  '-1.#ind',
  '-1.#qnan',
  '1.#ind',
  '1.#qnan',
  '<na>',
  'n/a',
  'na',
  'n.a.',
  'nan',
  '-nan',
  // DuckDB reads these as numbers that are not finite: missing values too
  'inf',
  '-inf',
  '+inf',
  'infinity',
  '-infinity',
  '+infinity',
  'null',
  'none',
  'missing',
  'unknown',
  'not available',
  '-',
  '--',
  '?',
  '#value!',
  '#div/0!',
];
/** "auto" reads a column as numbers (the others missing) when at most this share of its values are not numbers. */
const NOT_NUMBERS_SHARE = 0.01;
/** How many of a column's values that are not numbers a note or a reason quotes. */
const EXAMPLES = 3;
/** Column names (lower case, letters and digits only) that "auto" takes for a leftover label, never a feature. */
const LABEL_NAMES = new Set([
  'churn',
  'churned',
  'churner',
  'churnlabel',
  'churnflag',
  'churnstatus',
  'ischurn',
  'ischurned',
  'haschurned',
  'label',
  'target',
  'exited',
  'attrition',
  // Chinese operators' words for churn (流失) and leaving the network (离网), as flags
  '流失',
  '是否流失',
  '流失标志',
  '流失标识',
  '离网',
  '是否离网',
  '离网标志',
  '离网标识',
]);
/** A name with case, spaces and punctuation dropped: letters of any script and digits are kept. */
const labelKey = (name: string) => name.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
/**
 * A column alone that gets this share of the labelled rows right (as categories, or by one
 * threshold) and leaves at most a tenth of the minority class's rows wrong is taken for a leak.
 */
const LEAK_ACCURACY = 0.995;
const LEAK_OF_MINORITY = 0.1;
/** Rows the leak check reads at most (about: whole subscribers are sampled); at 6M rows it took ~6 s of ~13. */
const LEAK_SAMPLE_ROWS = 1_000_000;

/**
 * Columns a statement types at most: DuckDB holds each expression's working vectors outside its
 * memory limit, so 100 columns in one statement peaked at 1.1-1.8 GB and 500 took planLoad past
 * 15 GB (security review, session 49); 50 peaked at ~0.45 GB, and a 27-column extract of 15M
 * rows (docs/reuse.md) stays one pass over its CSV.
 */
const COLUMNS_PER_PASS = 50;

/** `items` in consecutive batches of at most `size`. */
function batches<T>(items: Iterable<T>, size: number): T[][] {
  const all = [...items];
  const count = Math.ceil(all.length / size);
  return Array.from({ length: count }, (_, b) => all.slice(b * size, (b + 1) * size));
}

/** Fewer churners (or stayers) than this: too few labels to call a column a leak. */
const LEAK_MIN_MINORITY = 10;
const NAMED_LIKE_A_LABEL = "named like a churn label: a leak? declare it in the mapping's features to use it anyway";

/**
 * "auto" takes a column for an id when it has at least this many distinct values per subscriber
 * with a value, each subscriber's value the same in (nearly) all its rows, and more than
 * maxCategories distinct values.
 */
const ID_SHARE = 0.95;

/**
 * A column of more distinct values than maxCategories is read as its most frequent ones and one
 * category for the rest when those cover at least this share of its values; else it is skipped
 * (free text, codes spread thin).
 */
const MOST_FREQUENT_COVER = 0.5;
/** A number written with thousands separators (7,339.75, 1.234,56, 12 345): not a category. */
const FORMATTED_NUMBER = /^[+-]?\d{1,3}([,. ]\d{3})+([.,]\d+)?$/;

/**
 * The `count` most frequent values (ties by value) of each of `columns`, sorted, and how many rows
 * hold them: a pass over the input rows per COLUMNS_PER_PASS of them (a scan of an 8M-row CSV
 * takes ~2 s).
 */
async function mostFrequent(
  conn: DuckDBConnection,
  inputRows: string,
  columns: string[],
  count: number,
): Promise<Map<string, { values: string[]; rows: number }>> {
  const found = new Map(columns.map((column) => [column, { values: [] as string[], rows: 0 }]));
  if (columns.length === 0) return found;
  // each row's values as (column number, value) pairs, counted together, a batch of columns a
  // pass
  for (const batch of batches(columns, COLUMNS_PER_PASS)) {
    const pairs = batch.map((column, i) => `{'i': ${i}, 'v': ${userText(column)}}`).join(', ');
    const rows = await queryRows<{ i: number; values: string[]; rows: number }>(
      conn,
      `SELECT i, list_sort(list(v)) AS values, sum(times)::BIGINT AS rows FROM (
         SELECT i, v, times, row_number() OVER (PARTITION BY i ORDER BY times DESC, v) AS place FROM (
           SELECT p.i AS i, p.v AS v, count(*) AS times FROM (SELECT unnest([${pairs}]) AS p FROM (${inputRows}))
           WHERE p.v IS NOT NULL GROUP BY ALL))
       WHERE place <= ${Number(count)} GROUP BY i`,
    );
    for (const row of rows) found.set(batch[Number(row.i)], { values: [...row.values], rows: Number(row.rows) });
  }
  return found;
}

/** What one pass over the input rows tells of a candidate column. */
interface ColumnStats {
  /** Non-empty values. */
  n: number;
  /** Values that are numbers, and their distinct count. */
  numbers: number;
  distinctNumbers: number;
  /** Distinct non-empty values. */
  distinct: number;
  /**
   * Subscribers with a value, and distinct (subscriber, value) pairs: an id has one value per
   * subscriber. Counted only for a column with about as many values as subscribers (else all
   * subscribers, estimated, and no pairs: not an id).
   */
  subscribers: number;
  pairs: number;
  /** Values equal to their row's number in its file, from 0 or 1 (counted when the rows carry file_row). */
  fileRowNumbers: number;
  /** How many of the values that are not numbers are missing markers, and how many are dates. */
  markers: number;
  dates: number;
  /** Of the values that are numbers: how many are whole, the shortest and longest text (counted with the pairs), the smallest and largest. */
  integers: number;
  shortest: number;
  longest: number;
  min: number;
  max: number;
}

/**
 * Whether a column looks like an id (about one distinct value per subscriber, the same in each of
 * its rows, and more than maxCategories):
 * text, or numbers that are codes rather than measures: whole numbers all written with as many
 * digits (IMSI, MSISDN, account numbers) or running nearly consecutively (row or customer
 * numbers). Amounts with decimals and counts spread over magnitudes stay numeric.
 */
function looksLikeId(stats: ColumnStats, numeric: boolean, maxCategories: number): boolean {
  const { distinct, subscribers, pairs } = stats;
  // one value per subscriber and the same in its every row (a month's row each, in long format)
  if (distinct <= maxCategories || distinct < ID_SHARE * subscribers || pairs > (2 - ID_SHARE) * subscribers)
    return false;
  if (!numeric) return true;
  const wholeNumbers = stats.integers === stats.numbers;
  const sameWidth = stats.shortest === stats.longest;
  const consecutive = stats.max - stats.min + 1 <= 2 * stats.distinctNumbers;
  return wholeNumbers && (sameWidth || consecutive);
}

/**
 * Whole numbers, a different one on every row, running without a gap, and more of them than a
 * category has values: a file's row numbers or index, not a measure (a handful of rows may hold
 * a measure that happens to run so).
 */
function isRowNumber(
  { n, numbers, integers, distinct, min, max, fileRowNumbers }: ColumnStats,
  maxCategories: number,
): boolean {
  if (n <= maxCategories || numbers !== n || integers !== n) return false;
  // each file's own index (monthly files written one by one): its row's number in its file
  // (a 0/1 flag equals the row's number in files of one row: more values than two are asked)
  return (distinct === n && max - min + 1 === n) || (fileRowNumbers === n && max >= 2);
}

const plural = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;
const quoted = (value: string) => `'${value.length > 40 ? `${value.slice(0, 39)}…` : value}'`;
const percent = (share: number) => (share < 0.01 ? '<1%' : `${Math.round(share * 100)}%`);

/** How "auto" checks the user's columns against the label. */
export interface LeakCheckOptions {
  /**
   * SQL over one input row: whether the churn model trains on it (the training month's rows). A
   * column is judged on these rows only: across months, a value that gives the label away in the
   * training month (the month a subscriber left, on each of its rows) predicts nothing. Default:
   * every row.
   */
  trainingRows?: string;
  /** Rows past which the leak check reads a sample of subscribers (default LEAK_SAMPLE_ROWS). */
  leakSampleRows?: number;
  /** Whether the input rows carry `file_row`, their number in their file: a column equal to it is an index. */
  fileRows?: boolean;
  /** Columns typed (or checked for a leak) per pass over the rows (default COLUMNS_PER_PASS). */
  columnsPerPass?: number;
}

/**
 * The user's columns the models use, typed. "auto" takes every column not mapped one-to-one to
 * a contract column: numeric when its non-empty values are numbers but for at most 1% of them
 * or for missing markers ("n/a", "NULL", "-", ...), which are then missing values and named in
 * the feature's note (as pandas' `to_numeric(errors="coerce")` does, with a report);
 * categorical with at most maxCategories distinct values; otherwise skipped with the reason.
 * `inputRows` is SQL over all input rows (every file's columns, by name); `fileColumns` the
 * columns in file order.
 */
export async function resolveUserFeatures(
  conn: DuckDBConnection,
  inputRows: string,
  fileColumns: string[],
  mapping: InputMapping,
  label?: UserFeatureLabel | null,
  {
    trainingRows,
    leakSampleRows = LEAK_SAMPLE_ROWS,
    fileRows = false,
    columnsPerPass = COLUMNS_PER_PASS,
  }: LeakCheckOptions = {},
): Promise<{ features: UserFeature[]; skipped: SkippedUserFeature[] }> {
  if (mapping.features === undefined) return { features: [], skipped: [] };
  const churnLabel = label === undefined ? await mappedLabel(conn, mapping, fileColumns) : label;
  // a label named with no letter or digit says nothing of other names (and would match them all)
  const ownLabelName = churnLabel?.name ? labelKey(churnLabel.name) : '';
  const labelNames = new Set([...LABEL_NAMES, ...(ownLabelName ? [ownLabelName] : [])]);
  const skipped: SkippedUserFeature[] = [];
  const wanted = new Map<string, 'numeric' | 'categorical' | 'date' | 'auto'>();
  const mappedOneToOne = new Set(
    USAGE_CONTRACT.map((column) =>
      mapping.columns[column.name] === undefined ? column.name : renamedColumn(mapping, column.name),
    ),
  );
  // the columns "auto" types: all not mapped one-to-one, or (object form) those not listed, under "*": "auto"
  const { '*': others = 'skip', ...listed } = mapping.features === 'auto' ? { '*': 'auto' as const } : mapping.features;
  for (const [column, type] of Object.entries(listed)) {
    if (!fileColumns.includes(column))
      throw new SchemaContractError(`the mapping's features name column "${column}", which no input file has`);
    if (type === 'skip') skipped.push({ feature: column, reason: 'skipped by the mapping' });
    else wanted.set(column, type);
  }
  for (const column of fileColumns)
    if (mappedOneToOne.has(column) || column in listed) continue;
    else if (others === 'skip') skipped.push({ feature: column, reason: "not listed in the mapping's features" });
    else if (labelNames.has(labelKey(column))) skipped.push({ feature: column, reason: NAMED_LIKE_A_LABEL });
    else wanted.set(column, 'auto');
  const candidates = [...wanted.keys()];
  if (candidates.length === 0) return { features: [], skipped };
  // past two passes, the passes read a copy of the rows that DuckDB keeps by column: each reading
  // the input again (a CSV parsed anew, every column) made the time grow as the columns' square;
  // two read it twice, which a long input's copy (held under DuckDB's limit, spilled) costs more
  const copied = candidates.length > 2 * columnsPerPass;
  if (copied) {
    await conn.run(`CREATE OR REPLACE TEMP TABLE user_feature_rows AS ${inputRows}`);
    inputRows = 'SELECT * FROM user_feature_rows';
  }
  try {
    // a pass per batch of candidates: non-empty values, how many distinct, how many are numbers
    // (whole, smallest, largest); then, for the columns that could be ids, their subscribers
    await setVariable(conn, 'missing_markers', listValue(MISSING_MARKERS));
    const id = subscriberKeySql(mapping);
    // the rows the leak check reads, counted in the same pass (they decide whether it samples)
    const checkedRows = churnLabel?.sql ? (trainingRows ?? 'true') : 'false';
    // each value of candidates `batch` read as text and as a number once, below the aggregates
    // that use them
    const values = (batch: number[]) =>
      `SELECT ${id} AS sub, (${checkedRows}) AS checked, ${fileRows ? 'file_row' : 'NULL::BIGINT'} AS file_row, ${batch
        .map(
          (i) => `${userText(candidates[i])} AS t${i}, ${finiteNumberSql(`t${i}`, mapping.decimalSeparator)} AS x${i}`,
        )
        .join(', ')} FROM (${inputRows})`;
    // counted once, in the first pass; the subscribers exactly, as each column's values are: an
    // approximate count (HyperLogLog) read 2,000 as 1,510, and an id column fell outside the id
    // check's window below
    const totals =
      'count(*) AS rows, count(DISTINCT sub) AS subscribers, count(*) FILTER (WHERE checked) AS checked_rows';
    const raw: Record<string, number> = {};
    for (const [b, batch] of batches(candidates.keys(), columnsPerPass).entries())
      Object.assign(
        raw,
        await queryOne<Record<string, number>>(
          conn,
          `SELECT ${b === 0 ? `${totals}, ` : ''}${batch
            .map((i) => {
              const [text, number] = [`t${i}`, `x${i}`];
              return [
                `count(${text}) AS n${i}`,
                `count(${number}) AS numbers${i}`,
                `count(DISTINCT ${text}) AS distinct${i}`,
                `count(${text}) FILTER (WHERE ${number} IS NULL AND list_contains(getvariable('missing_markers'), lower(${text}))) AS markers${i}`,
                `count(${text}) FILTER (WHERE ${number} IS NULL AND ${dateSql(text)} IS NOT NULL) AS dates${i}`,
                `count(*) FILTER (WHERE ${number} = file_row OR ${number} = file_row + 1) AS file_row_numbers${i}`,
                `count(${number}) FILTER (WHERE isfinite(${number}) AND ${number} = round(${number})) AS integers${i}`,
                `coalesce(min(${number}) FILTER (WHERE isfinite(${number})), 0) AS min${i}`,
                `coalesce(max(${number}) FILTER (WHERE isfinite(${number})), 0) AS max${i}`,
              ].join(', ');
            })
            .join(', ')} FROM (${values(batch)})`,
        ),
      );
    const subscribers = Number(raw.subscribers);
    const stats = candidates.map((_, i): ColumnStats => {
      const [min, max] = [Number(raw[`min${i}`]), Number(raw[`max${i}`])];
      return {
        n: Number(raw[`n${i}`]),
        numbers: Number(raw[`numbers${i}`]),
        // until counted: one when every number is the same, else (at least) two
        distinctNumbers: Number(raw[`numbers${i}`]) === 0 ? 0 : min === max ? 1 : 2,
        distinct: Number(raw[`distinct${i}`]),
        subscribers,
        pairs: Infinity,
        markers: Number(raw[`markers${i}`]),
        dates: Number(raw[`dates${i}`]),
        fileRowNumbers: Number(raw[`file_row_numbers${i}`]),
        integers: Number(raw[`integers${i}`]),
        shortest: 0,
        longest: 0,
        min,
        max,
      };
    });
    // an id has about one value per subscriber (a measure of several months has many more values)
    const near = candidates.flatMap((_, i) => {
      const { distinct } = stats[i];
      return distinct > mapping.maxCategories && distinct >= 0.8 * subscribers && distinct <= 1.25 * subscribers
        ? [i]
        : [];
    });
    for (const batch of batches(near, columnsPerPass)) {
      const exact = await queryOne<Record<string, number>>(
        conn,
        `SELECT ${batch
          .map((i) =>
            [
              `count(DISTINCT x${i}) AS distinct_numbers${i}`,
              `count(DISTINCT sub) FILTER (WHERE t${i} IS NOT NULL) AS subscribers${i}`,
              `count(DISTINCT (sub, t${i})) FILTER (WHERE t${i} IS NOT NULL) AS pairs${i}`,
              `coalesce(min(length(t${i})) FILTER (WHERE x${i} IS NOT NULL), 0) AS shortest${i}`,
              `coalesce(max(length(t${i})) FILTER (WHERE x${i} IS NOT NULL), 0) AS longest${i}`,
            ].join(', '),
          )
          .join(', ')} FROM (${values(batch)})`,
      );
      for (const i of batch)
        Object.assign(stats[i], {
          distinctNumbers: Number(exact[`distinct_numbers${i}`]),
          subscribers: Number(exact[`subscribers${i}`]),
          pairs: Number(exact[`pairs${i}`]),
          shortest: Number(exact[`shortest${i}`]),
          longest: Number(exact[`longest${i}`]),
        });
    }
    const distinctValues = ({ distinct }: ColumnStats) => `${distinct} distinct values`;
    /**
     * The most frequent values that are not numbers (or not dates), quoted, and what they say of the
     * number format (numberFormatHint).
     */
    const notNumbers = async (
      name: string,
      read: 'numbers' | 'dates' = 'numbers',
    ): Promise<{ shown: string; hint?: string }> => {
      const text = userText(name);
      const value = read === 'numbers' ? finiteNumberSql(text, mapping.decimalSeparator) : dateSql(text);
      const rows = await queryRows<{ value: string; kinds: number }>(
        conn,
        `SELECT value, kinds FROM (
         SELECT ${text} AS value, count(*) AS times, count(*) OVER () AS kinds FROM (${inputRows})
         WHERE ${text} IS NOT NULL AND ${value} IS NULL GROUP BY value)
       ORDER BY times DESC, value LIMIT ${EXAMPLES}`,
      );
      const shown = rows.map((row) => quoted(row.value)).join(', ');
      const kinds = Number(rows[0]?.kinds ?? 0);
      const hint =
        read === 'numbers'
          ? rows.map((row) => numberFormatHint(row.value, mapping.decimalSeparator)).find((h) => h !== undefined)
          : undefined;
      return {
        shown: kinds > rows.length ? `${shown} and ${kinds - rows.length} more` : shown,
        ...(hint ? { hint } : {}),
      };
    };
    /** Examples of the values that are not numbers and what to do: fix the format, or read them as missing. */
    const notNumbersAdvice = async (name: string): Promise<string> => {
      const { shown, hint } = await notNumbers(name);
      return hint
        ? `e.g. ${shown}: ${hint} (declared "numeric" in the mapping's features, the column would read those values as missing)`
        : `e.g. ${shown}: declare it "numeric" in the mapping's features to read those as missing`;
    };

    const typed: {
      name: string;
      type: UserFeature['type'];
      note?: string;
      top?: { values: string[]; others: number };
      /** A column of numbers read as categories: one per number (UserFeature.numbers), as the leak check reads it too. */
      categories?: string[];
      numbers?: number[];
    }[] = [];
    // the most frequent values of every column that may be read as them, found in one pass when first asked
    const manyValued = candidates.filter((name, i) => {
      const column = stats[i];
      return (
        wanted.get(name) !== 'numeric' &&
        wanted.get(name) !== 'date' &&
        column.distinct > mapping.maxCategories &&
        column.numbers < column.n / 2 &&
        column.dates < column.n / 2 &&
        !(wanted.get(name) === 'auto' && looksLikeId(column, false, mapping.maxCategories))
      );
    });
    let frequentValues: Promise<Map<string, { values: string[]; rows: number }>> | undefined;
    const frequent = () => (frequentValues ??= mostFrequent(conn, inputRows, manyValued, mapping.maxCategories - 1));
    for (const [i, name] of candidates.entries()) {
      const column = stats[i];
      const { n, numbers, distinct } = column;
      const others = n - numbers;
      const declared = wanted.get(name);
      // numbers with a few exceptions, or with missing markers only: the exceptions are missing values
      // (numbers and markers alone are numbers with gaps even of one number, as pandas reads them: 0
      // or n/a is the flag 0 or blank is)
      const numbersWithGaps =
        numbers > 0 && ((column.distinctNumbers >= 2 && others <= NOT_NUMBERS_SHARE * n) || column.markers === others);
      const autoNumeric = declared === 'auto' && (others === 0 || numbersWithGaps);
      // dates but for at most 1% of the values or for missing markers (numbers are no dates)
      const notDates = n - column.dates;
      const autoDate =
        declared === 'auto' &&
        !autoNumeric &&
        column.dates > 0 &&
        (notDates <= NOT_NUMBERS_SHARE * n || notDates === column.markers);
      const note = async () => {
        const { shown, hint } = await notNumbers(name);
        return `${plural(others, 'value', 'values')} not numbers taken as missing: ${shown}${hint ? ` (${hint})` : ''}`;
      };
      /** Its values that are not numbers, quoted, and what they say of the number format. */
      const notNumbersHinted = async () => {
        const { shown, hint } = await notNumbers(name);
        return hint ? `${shown}: ${hint}` : shown;
      };
      /** Why a column of numbers (some written another way) is skipped, and the fix. */
      const notNumbersReason = async () =>
        numbers > 0
          ? `${distinctValues(column)}, more than maxCategories=${mapping.maxCategories}; ` +
            `${plural(others, 'value', 'values')} (${percent(others / n)}) ${others === 1 ? 'is not a number' : 'are not numbers'}, ` +
            (await notNumbersAdvice(name))
          : `${distinctValues(column)}, more than maxCategories=${mapping.maxCategories} and no numbers; ${await notNumbersAdvice(name)}`;
      const dateNote = async () =>
        `${plural(notDates, 'value', 'values')} not dates taken as missing: ${(await notNumbers(name, 'dates')).shown}`;
      // a column read as numbers counts its values as numbers: 0 and 0.00 (or -0 and 0) are one
      const readsAsNumbers = (declared === 'numeric' || autoNumeric) && numbers > 0;
      const values = readsAsNumbers ? column.distinctNumbers : distinct;
      // rows without a value: blank, or (read as numbers) a value taken as missing. One value and
      // gaps is two categories (Y or blank), no single value
      const gaps = Number(raw.rows) - (readsAsNumbers ? numbers : n);
      if (n === 0) skipped.push({ feature: name, reason: 'no values' });
      else if (values < 2 && gaps === 0) skipped.push({ feature: name, reason: 'a single value' });
      else if (declared === 'numeric' && numbers === 0)
        skipped.push({
          feature: name,
          reason: `declared "numeric", but none of its ${plural(n, 'value', 'values')} is a number, e.g. ${await notNumbersHinted()}`,
        });
      else if (declared === 'date' && column.dates === 0)
        skipped.push({
          feature: name,
          reason: `declared "date", but none of its ${plural(n, 'value', 'values')} is a date, e.g. ${(await notNumbers(name, 'dates')).shown}`,
        });
      // a date before the id check: a moment of activation can differ for every subscriber
      else if (declared === 'date' || autoDate)
        typed.push({ name, type: 'date', ...(notDates > 0 ? { note: await dateNote() } : {}) });
      else if (declared === 'auto' && looksLikeId(column, autoNumeric, mapping.maxCategories))
        skipped.push({
          feature: name,
          reason: `looks like an id: ${distinctValues(column)} for ${column.subscribers} subscribers, one each`,
        });
      else if (declared === 'auto' && isRowNumber(column, mapping.maxCategories))
        skipped.push({
          feature: name,
          reason:
            column.fileRowNumbers === n
              ? `a row number: each of its ${n} values is its row's number in its file (an index, as pandas' to_csv writes one)`
              : `a row number: a different whole number on each of its ${n} rows, running ${column.min} to ${column.max} (an index, as pandas' to_csv writes one)`,
        });
      else if (declared === 'auto' && autoNumeric && values === 1 && column.min === 0)
        // 0 or a gap: the models read a missing number as 0, so as a number it would say nothing;
        // a category for the number, not for each way it is written (0 and 0.00)
        typed.push({
          name,
          type: 'categorical',
          ...(await numberCategories(conn, inputRows, name, mapping.decimalSeparator)),
          ...(others > 0 ? { note: await note() } : {}),
        });
      else if (declared === 'numeric' || autoNumeric)
        typed.push({ name, type: 'numeric', ...(others > 0 ? { note: await note() } : {}) });
      else if (distinct <= mapping.maxCategories) typed.push({ name, type: 'categorical' });
      // mostly numbers, with too many exceptions to read those as missing unasked
      else if (declared === 'auto' && numbers >= n / 2)
        skipped.push({ feature: name, reason: await notNumbersReason() });
      else {
        // many values, but most rows in a few (handset models, cities): those few, the rest as one
        const kept = mapping.maxCategories - 1;
        // a column the pass left out (declared "categorical", holding numbers): on its own
        const top = (await frequent()).get(name) ?? (await mostFrequent(conn, inputRows, [name], kept)).get(name)!;
        const covered = top.rows / n;
        const formatted = top.values.filter((value) => FORMATTED_NUMBER.test(value)).length;
        if (declared === 'auto' && formatted >= top.values.length / 2)
          // numbers written another way (7,339.75): a measure to fix the format of, not categories
          skipped.push({ feature: name, reason: await notNumbersReason() });
        else if (covered >= MOST_FREQUENT_COVER)
          typed.push({
            name,
            type: 'categorical',
            top: { values: top.values, others: distinct - top.values.length },
            note: `its ${kept} most frequent of ${distinct} values (${percent(covered)} of its values); the other ${distinct - top.values.length} read as one category`,
          });
        else
          skipped.push({
            feature: name,
            reason:
              `${distinctValues(column)}, more than maxCategories=${mapping.maxCategories}${declared === 'auto' ? ' and no numbers' : ''}, ` +
              `the ${kept} most frequent covering ${percent(covered)} of its values (under ${percent(MOST_FREQUENT_COVER)})`,
          });
      }
    }
    if (churnLabel?.sql) {
      const auto = typed.filter((feature) => wanted.get(feature.name) === 'auto');
      // judged on the rows the model trains on; past LEAK_SAMPLE_ROWS of them, a seeded share of
      // the subscribers (all their rows) tells as much
      const every = Math.ceil(Number(raw.checked_rows) / leakSampleRows);
      const checked = [
        ...(trainingRows ? [`(${trainingRows})`] : []),
        ...(every > 1 ? [`hash(${id}) % ${every} = 0`] : []),
      ];
      const rows = checked.length > 0 ? `SELECT * FROM (${inputRows}) WHERE ${checked.join(' AND ')}` : inputRows;
      const leaks = [];
      for (const batch of batches(auto, columnsPerPass))
        leaks.push(...(await leakChecks(conn, rows, churnLabel.sql, batch, mapping.decimalSeparator)));
      for (const [i, feature] of auto.entries()) {
        const { pos, neg, errors, values: labelledValues } = leaks[i];
        const total = pos + neg;
        const minority = Math.min(pos, neg);
        const enoughRows = feature.type !== 'categorical' || total >= 10 * labelledValues;
        if (
          minority >= LEAK_MIN_MINORITY &&
          enoughRows &&
          errors <= (1 - LEAK_ACCURACY) * total &&
          errors <= LEAK_OF_MINORITY * minority
        ) {
          typed.splice(typed.indexOf(feature), 1);
          const how = feature.type === 'categorical' ? 'its values alone get' : 'one threshold gets';
          skipped.push({
            feature: feature.name,
            reason: `predicts the churn label almost perfectly: a leak? (${how} ${total - errors} of ${total} labelled rows right${every > 1 ? ` in a sample of 1 subscriber in ${every}` : ''}; declare it in the mapping's features to use it anyway)`,
          });
        }
      }
    }
    const categorical = typed.filter((feature) => feature.type === 'categorical' && !feature.top && !feature.numbers);
    const levels: Record<string, string[]> = {};
    for (const batch of batches(categorical.keys(), columnsPerPass))
      Object.assign(
        levels,
        await queryOne<Record<string, string[]>>(
          conn,
          `SELECT ${batch
            .map((i) => `list_sort(list_distinct(list(${userText(categorical[i].name)}))) AS levels${i}`)
            .join(', ')} FROM (${inputRows})`,
        ),
      );
    const features = typed.map(({ name, type, note, top, categories, numbers }, i): UserFeature => {
      const column = `user_${i}`;
      if (type !== 'categorical') return { name, column, type, ...(note === undefined ? {} : { note }) };
      if (numbers) return { name, column, type, categories, numbers, ...(note === undefined ? {} : { note }) };
      if (top)
        return {
          name,
          column,
          type,
          categories: [...top.values, `(${top.others} other values)`],
          otherValues: top.others,
          ...(note === undefined ? {} : { note }),
        };
      return { name, column, type, categories: [...levels[`levels${categorical.findIndex((f) => f.name === name)}`]] };
    });
    return { features, skipped };
  } finally {
    if (copied) await conn.run('DROP TABLE IF EXISTS user_feature_rows');
  }
}

/**
 * The label as the input holds it, when the mapping reads churn_label from one of its columns
 * (or the file has churn_label itself): that column's values through the mapping's encodings,
 * as load reads them. Null when the label comes from elsewhere (a labels file) or not at all.
 */
async function mappedLabel(
  conn: DuckDBConnection,
  mapping: InputMapping,
  fileColumns: string[],
): Promise<UserFeatureLabel | null> {
  const source = mapping.columns.churn_label ?? 'churn_label';
  if (typeof source !== 'string' || !fileColumns.includes(source)) return null;
  const raw = `${quoteIdent(source)}::VARCHAR`;
  const encodings = Object.entries(mapping.values.churn_label ?? {});
  if (encodings.length === 0) return { name: source, sql: `TRY_CAST(${raw} AS BOOLEAN)` };
  await setVariable(conn, 'feature_label_sources', listValue(encodings.map(([from]) => from)));
  await setVariable(
    conn,
    'feature_label_targets',
    listValue(encodings.map(([, to]) => (to === null ? null : String(to)))),
  );
  return {
    name: source,
    sql: `TRY_CAST(coalesce(getvariable('feature_label_targets')[list_position(getvariable('feature_label_sources'), ${raw})], ${raw}) AS BOOLEAN)`,
  };
}

/**
 * For each column, how many labelled rows (churned, stayed), how many distinct values they hold
 * (missing not counted) and how many of them the column alone gets wrong at best: a categorical
 * column by the majority label of each value, a numeric one by the best single threshold;
 * missing values are a group of their own either way. One pass over `inputRows`.
 */
async function leakChecks(
  conn: DuckDBConnection,
  inputRows: string,
  labelSql: string,
  columns: Pick<UserFeature, 'name' | 'type' | 'categories' | 'numbers'>[],
  decimalSeparator?: DecimalSeparator,
): Promise<{ pos: number; neg: number; values: number; errors: number }[]> {
  if (columns.length === 0) return [];
  // a date as its day's number: one threshold on it is one on the date
  const values = columns.map((column, i) => {
    const value = userFeatureSql(column, decimalSeparator);
    return `${column.type === 'date' ? `date_diff('day', DATE '1970-01-01', ${value})::DOUBLE` : value} AS c${i}`;
  });
  const groups = columns.map(
    (column, i) =>
      `SELECT ${i} AS i, ${column.type === 'categorical' ? `c${i} AS category, NULL::DOUBLE AS number` : `NULL::VARCHAR AS category, c${i} AS number`},
         c${i} IS NULL AS missing, count(*) FILTER (WHERE l) AS pos, count(*) FILTER (WHERE NOT l) AS neg
       FROM r WHERE l IS NOT NULL GROUP BY c${i}`,
  );
  const rows = await queryRows<{ i: number; pos: number; neg: number; present_values: number; errors: number }>(
    conn,
    `WITH r AS MATERIALIZED (SELECT TRY_CAST((${labelSql}) AS BOOLEAN) AS l, ${values.join(', ')} FROM (${inputRows})),
     g AS MATERIALIZED (${groups.join('\nUNION ALL\n')}),
     t AS (
       SELECT i, sum(pos) AS pos, sum(neg) AS neg, count(*) FILTER (WHERE NOT missing) AS present_values,
         coalesce(sum(pos) FILTER (WHERE NOT missing), 0) AS present_pos,
         coalesce(sum(neg) FILTER (WHERE NOT missing), 0) AS present_neg,
         coalesce(sum(least(pos, neg)) FILTER (WHERE missing), 0) AS missing_errors,
         coalesce(sum(least(pos, neg)) FILTER (WHERE NOT missing), 0) AS category_errors
       FROM g GROUP BY i),
     s AS (
       SELECT i, sum(pos) OVER w AS below_pos, sum(neg) OVER w AS below_neg FROM g
       WHERE number IS NOT NULL WINDOW w AS (PARTITION BY i ORDER BY number ROWS UNBOUNDED PRECEDING)),
     threshold AS (
       SELECT s.i, min(least(s.below_pos + t.present_neg - s.below_neg, s.below_neg + t.present_pos - s.below_pos)) AS errors
       FROM s JOIN t USING (i) GROUP BY s.i)
     SELECT t.i, t.pos, t.neg, t.present_values, t.missing_errors + coalesce(threshold.errors, t.category_errors) AS errors
     FROM t LEFT JOIN threshold USING (i) ORDER BY t.i`,
  );
  return columns.map((_, i) => {
    const row = rows.find((r) => Number(r.i) === i);
    return {
      pos: Number(row?.pos ?? 0),
      neg: Number(row?.neg ?? 0),
      values: Number(row?.present_values ?? 0),
      errors: Number(row?.errors ?? 0),
    };
  });
}

/**
 * A subscriber's key in the raw input rows: the mapped id column, or (ids made from row numbers,
 * one row per subscriber) the row's place.
 */
function subscriberKeySql(mapping: InputMapping): string {
  const source = mapping.columns.subscriber_id ?? 'subscriber_id';
  return typeof source === 'string' ? quoteIdent(source) : 'hash(file_index, file_row)';
}
