import type { DuckDBConnection } from '@duckdb/node-api';
import { USAGE_CONTRACT, quoteIdent } from '../data/contract';
import { SchemaContractError } from '../domain/errors';
import { renamedColumn, type InputMapping } from '../domain/mapping';
import { queryOne } from './duckdb';

/** One of the user's own columns that the models use, beside the contract's features. */
export interface UserFeature {
  /** The user's column name, as rules and the manifest show it. */
  name: string;
  /** Its column in segflow's tables (user_0, user_1, ...): user names may clash with feature names. */
  column: string;
  type: 'numeric' | 'categorical';
  /** Categorical only: the labels, sorted; a value's code is its index. */
  categories?: string[];
}

export interface SkippedUserFeature {
  feature: string;
  reason: string;
}

/** A user's value as text, blank or empty as NULL (a missing value, never a quarantine reason). */
export function userText(sourceColumn: string): string {
  return `nullif(trim(${quoteIdent(sourceColumn)}::VARCHAR), '')`;
}

/** The typed value a user feature's column holds (numeric: DOUBLE, NULL when blank or not a number). */
export function userFeatureSql(feature: UserFeature): string {
  const text = userText(feature.name);
  return feature.type === 'numeric' ? `TRY_CAST(${text} AS DOUBLE)` : text;
}

/**
 * The user's columns the models use, typed. "auto" takes every column not mapped one-to-one to
 * a contract column: numeric when every non-empty value is a number, categorical with at most
 * maxCategories distinct values, otherwise skipped with the reason. `inputRows` is SQL over all
 * input rows (every file's columns, by name); `fileColumns` the columns in file order.
 */
export async function resolveUserFeatures(
  conn: DuckDBConnection,
  inputRows: string,
  fileColumns: string[],
  mapping: InputMapping,
): Promise<{ features: UserFeature[]; skipped: SkippedUserFeature[] }> {
  if (mapping.features === undefined) return { features: [], skipped: [] };
  const skipped: SkippedUserFeature[] = [];
  const wanted = new Map<string, 'numeric' | 'categorical' | 'auto'>();
  if (mapping.features === 'auto') {
    const mappedOneToOne = new Set(
      USAGE_CONTRACT.map((column) =>
        mapping.columns[column.name] === undefined ? column.name : renamedColumn(mapping, column.name),
      ),
    );
    for (const column of fileColumns) if (!mappedOneToOne.has(column)) wanted.set(column, 'auto');
  } else {
    for (const [column, type] of Object.entries(mapping.features)) {
      if (!fileColumns.includes(column))
        throw new SchemaContractError(`the mapping's features name column "${column}", which no input file has`);
      if (type === 'skip') skipped.push({ feature: column, reason: 'skipped by the mapping' });
      else wanted.set(column, type);
    }
  }
  const candidates = [...wanted.keys()];
  if (candidates.length === 0) return { features: [], skipped };

  // one pass for every candidate: non-empty values, how many are numbers, how many distinct
  const stats = await queryOne<Record<string, number>>(
    conn,
    `SELECT ${candidates
      .map((column, i) => {
        const text = userText(column);
        return `count(${text}) AS n${i}, count(TRY_CAST(${text} AS DOUBLE)) AS numbers${i}, count(DISTINCT ${text}) AS distinct${i}`;
      })
      .join(', ')} FROM (${inputRows})`,
  );
  const typed: { name: string; type: 'numeric' | 'categorical' }[] = [];
  candidates.forEach((name, i) => {
    const [n, numbers, distinct] = [stats[`n${i}`], stats[`numbers${i}`], stats[`distinct${i}`]].map(Number);
    const declared = wanted.get(name);
    if (n === 0) skipped.push({ feature: name, reason: 'no values' });
    else if (distinct < 2) skipped.push({ feature: name, reason: 'a single value' });
    else if (declared === 'numeric' || (declared === 'auto' && numbers === n)) typed.push({ name, type: 'numeric' });
    else if (distinct <= mapping.maxCategories) typed.push({ name, type: 'categorical' });
    else
      skipped.push({
        feature: name,
        reason: `${distinct} distinct values, more than maxCategories=${mapping.maxCategories}${declared === 'auto' ? ' and not all numbers' : ''}`,
      });
  });
  const categorical = typed.filter((feature) => feature.type === 'categorical');
  const levels =
    categorical.length === 0
      ? {}
      : await queryOne<Record<string, string[]>>(
          conn,
          `SELECT ${categorical
            .map((feature, i) => `list_sort(list_distinct(list(${userText(feature.name)}))) AS levels${i}`)
            .join(', ')} FROM (${inputRows})`,
        );
  const features = typed.map(({ name, type }, i): UserFeature => {
    const column = `user_${i}`;
    if (type === 'numeric') return { name, column, type };
    return { name, column, type, categories: [...levels[`levels${categorical.findIndex((f) => f.name === name)}`]] };
  });
  return { features, skipped };
}
