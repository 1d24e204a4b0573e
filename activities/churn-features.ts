import { listValue, type DuckDBConnection } from '@duckdb/node-api';
import { quoteIdent } from '../data/contract';
import { CHURN_FEATURES } from '../domain/churn-features';
import { SUBSCRIBER_COLUMNS, WORKING_COLUMNS } from '../domain/snapshot-columns';
import { numberedVariable, queryOne, setVariable } from './duckdb';
import type { FeatureMeta, FeatureSource } from './ml/feature-matrix';
import type { UserFeature } from './user-features';

/** One column of the churn matrix: what it is, and the SQL over table features that reads it. */
export interface ChurnFeatureSpec {
  meta: FeatureMeta;
  /** A number, or a category's code (its index in the bound levels); NULL becomes NaN. */
  sql: string;
  /** The session variable `sql` reads a categorical feature's levels from, and its value. */
  levels?: { variable: string; values: string[] };
  /**
   * A user's feature: its value as subscribers.parquet shows it under the feature's name, so a rule
   * or reason naming it names a column there (a number, a date's days, a category's text).
   */
  shown?: string;
}

/** The contract's own text columns the churn model splits on natively (with the user's features). */
const CONTRACT_CATEGORICALS = ['plan', 'region'] as const;
/** Contract columns taken into the model as they are; the other churn features are derived. */
const CONTRACT_NUMERIC = new Set(['tenure_months']);

/** Every feature's share of missing values and its importance, as the manifest and report list them. */
export interface FeatureUse {
  name: string;
  source: FeatureSource;
  type: 'numeric' | 'categorical';
  missingShare: number;
  importance: number;
  /** A user's column read with a note (user-features.ts), as the manifest lists it beside the report. */
  note?: string;
  /** A missing indicator: the feature whose gaps it marks (FeatureMeta.missingOf). */
  missingOf?: string;
}

/** The derived churn features the input supports: CHURN_FEATURES but those the features stage skipped. */
export function derivedChurnFeatures(skippedFeatures: readonly string[]): string[] {
  return CHURN_FEATURES.filter((name) => !skippedFeatures.includes(name));
}

/**
 * The churn matrix's columns: the derived features the input supports, then (when the mapping
 * opens the feature set) the contract's categorical columns and the user's own features.
 * Categorical levels are bound as session variables (`levels_a`, `levels_b`, ...), never spliced.
 */
export async function churnFeatureSpecs(
  conn: DuckDBConnection,
  derived: readonly string[],
  userFeatures: readonly UserFeature[],
  openFeatureSet: boolean,
  maxCategories = 254,
): Promise<ChurnFeatureSpec[]> {
  const specs: ChurnFeatureSpec[] = derived.map((name) => ({
    meta: { name, source: CONTRACT_NUMERIC.has(name) ? 'contract' : 'derived', categorical: false },
    sql: quoteIdent(name),
  }));
  const categorical: {
    name: string;
    source: FeatureSource;
    column: string;
    shown?: string;
    categories?: string[];
    /** The last category stands for every value not listed (UserFeature.otherValues). */
    other?: boolean;
  }[] = [];
  if (openFeatureSet) {
    const levels = await queryOne<Record<string, string[]>>(
      conn,
      `SELECT ${CONTRACT_CATEGORICALS.map((c) => `list_sort(list_distinct(list(${quoteIdent(c)}))) AS ${c}`).join(', ')} FROM features`,
    );
    for (const name of CONTRACT_CATEGORICALS) {
      const categories = [...levels[name]];
      if (categories.length >= 2 && categories.length <= maxCategories)
        categorical.push({ name, source: 'contract', column: name, categories });
    }
  }
  const taken = new Set([...derived, ...categorical.map((c) => c.name)].map(nameKey));
  // names the user's features may not take: segflow's features, subscribers.parquet's columns and
  // the columns its tables work with, in any case (DuckDB's names are case-insensitive: a user's
  // ARPU beside arpu was published as ARPU_1, and one named control_draw drew the control group)
  const segflows = new Set([...taken, ...SUBSCRIBER_COLUMNS, ...WORKING_COLUMNS].map(nameKey));
  for (const feature of userFeatures) {
    // a user column named like one of segflow's features or published columns keeps both apart
    const name = segflows.has(nameKey(feature.name)) ? `user:${feature.name}` : feature.name;
    const column = quoteIdent(feature.column);
    if (feature.type === 'numeric') {
      specs.push({
        meta: { name: uniqueName(name, taken), source: 'user', categorical: false },
        sql: column,
        shown: column,
      });
    } else if (feature.type === 'date') {
      // days to the end of the row's month: a tenure (or days left, for a date ahead) that means the
      // same in the training month and the month scored, where the date itself would not
      const days = `date_diff('day', ${column}, last_day(as_of))`;
      specs.push({
        meta: { name: uniqueName(`days since ${name}`, taken), source: 'user', categorical: false },
        sql: days,
        shown: days,
      });
    } else
      categorical.push({
        name: uniqueName(name, taken),
        source: 'user',
        column: feature.column,
        shown: column,
        categories: feature.categories,
        ...(feature.otherValues ? { other: true } : {}),
      });
  }
  for (const [index, feature] of categorical.entries()) {
    const categories = feature.categories ?? [];
    const variable = numberedVariable('levels', index);
    const column = quoteIdent(feature.column);
    // the values listed; with `other`, any other value is the last category (missing stays missing)
    const values = feature.other ? categories.slice(0, -1) : categories;
    await setVariable(conn, variable, listValue(values));
    const position = feature.other
      ? `CASE WHEN ${column} IS NOT NULL THEN coalesce(list_position(getvariable('${variable}'), ${column}), ${categories.length}) END`
      : `list_position(getvariable('${variable}'), ${column})`;
    specs.push({
      meta: { name: feature.name, source: feature.source, categorical: true, categories },
      sql: `${position} - 1`,
      levels: { variable, values },
      ...(feature.shown ? { shown: feature.shown } : {}),
    });
  }
  return specs;
}

/**
 * `wanted`, or with " (2)", " (3)", ... when another feature has that name already (a user's column
 * named `days since join_date` beside a date column `join_date`, or `user:mou` beside `mou`);
 * taken into `taken`. Two features of one name mixed their reasons and importances.
 */
export function uniqueName(wanted: string, taken: Set<string>): string {
  let name = wanted;
  for (let n = 2; taken.has(nameKey(name)); n++) name = `${wanted} (${n})`;
  taken.add(nameKey(name));
  return name;
}

/** A name as a table's column compares: DuckDB's names are case-insensitive (Calls and calls are one column). */
function nameKey(name: string): string {
  return name.toLowerCase();
}

/**
 * Beside each numeric user feature with gaps in the training rows, its missing indicator
 * `<name> missing` (1 where the value is missing, else 0): the models see a missing number as 0,
 * so without it "no value" and a true 0 were one value to them. Returns the indicators' specs;
 * `gaps` marks the features that have them. Derived features have no gaps (their SQL gives 0 or
 * a neutral value), categorical ones their missing category.
 */
export function missingIndicators(
  specs: readonly ChurnFeatureSpec[],
  missing: readonly number[],
  /** Names no indicator may take besides the specs' own (features left out of the models). */
  alsoTaken: Iterable<string> = [],
  /** Per spec, whether its values are one number where given: the number itself says whether it is there. */
  singleValue: readonly boolean[] = [],
): ChurnFeatureSpec[] {
  const taken = new Set([...specs.map((spec) => spec.meta.name), ...alsoTaken].map(nameKey));
  return specs.flatMap((spec, f) => {
    const { meta } = spec;
    if (meta.source !== 'user' || meta.categorical || singleValue[f] || !(missing[f] > 0 && missing[f] < 1)) return [];
    return [
      {
        meta: {
          name: uniqueName(`${meta.name} missing`, taken),
          source: 'user',
          categorical: false,
          missingOf: meta.name,
        },
        // as readColumns reads the feature: NULL and NaN are its gaps
        sql: `coalesce(isnan((${spec.sql})::DOUBLE), true)::INTEGER`,
      },
    ];
  });
}

/** Reasons per subscriber: `reasons`, or every feature where there are fewer. */
export function reasonSlots(meta: readonly FeatureMeta[], reasons: number): number {
  return Math.min(meta.length, reasons);
}

/**
 * Per feature, the feature a missing indicator's contribution joins before the reasons are
 * picked (-1: none): a feature and its indicator are one column of the user's, so one reason,
 * their contributions added (as SHAP values of a group of features add up) and ranked by the sum.
 * Without it one subscriber read "app_sessions missing" twice, once for each.
 */
export function indicatorFolds(names: readonly string[], meta: readonly FeatureMeta[]): Int16Array {
  const into = new Int16Array(meta.length).fill(-1);
  meta.forEach((feature, f) => {
    if (feature.missingOf !== undefined) into[f] = names.indexOf(feature.missingOf);
  });
  return into;
}

/** Share of NaN per column (before numeric gaps are filled). */
export function missingShares(columns: Float64Array[]): number[] {
  return columns.map((column) => {
    let missing = 0;
    for (let i = 0; i < column.length; i++) if (Number.isNaN(column[i])) missing++;
    return column.length > 0 ? missing / column.length : 0;
  });
}

/**
 * Per column, the rows (ascending) whose numeric value was missing and is filled in; empty where none.
 * The models never see them (a filled gap is 0 to them), the reasons do: a reason on a filled
 * value says the value was missing (churn-reasons.ts), not that it was 0.
 */
export type NumericGaps = Uint32Array[];

const NO_GAPS = new Uint32Array(0);

/**
 * Numeric gaps become 0 (the derived features' own convention); categorical NaN stays: it is the
 * missing category. Returns the rows filled, per column.
 */
export function fillNumericGaps(columns: Float64Array[], features: readonly FeatureMeta[]): NumericGaps {
  return columns.map((column, f) => {
    if (features[f].categorical) return NO_GAPS;
    let missing = 0;
    for (let i = 0; i < column.length; i++) if (Number.isNaN(column[i])) missing++;
    if (missing === 0) return NO_GAPS;
    const rows = new Uint32Array(missing);
    for (let i = 0, n = 0; i < column.length; i++)
      if (Number.isNaN(column[i])) {
        column[i] = 0;
        rows[n++] = i;
      }
    return rows;
  });
}
