import { z } from 'zod';
import { NUMBER_COLUMNS, USAGE_CONTRACT } from '../data/contract';
import { closestName } from './closest-name';
import { isKnownEncoding, UNKNOWN_ENCODING } from './encoding';
import { parseJsonAgainst } from './schema-problems';
import { SchemaContractError } from './errors';

const CONTRACT_NAMES = new Set(USAGE_CONTRACT.map((column) => column.name));
/** "1.000", "12.500.000": a point between groups of three digits, which a decimal-comma writer puts between thousands. */
const THOUSANDS_WITH_POINTS = /^[+-]?[1-9]\d{0,2}(\.\d{3})+$/;
function notAContractColumn(name: string): string {
  const close = closestName(name, [...CONTRACT_NAMES]);
  return `not a column of the usage contract (listed in the README, "Running it on your own data")${close ? `: did you mean ${close}?` : ''}`;
}
const contractName = z.string().superRefine((name, context) => {
  if (!CONTRACT_NAMES.has(name)) context.addIssue({ code: 'custom', message: notAContractColumn(name) });
});

/** Several of the user's columns added up (NULL counts as 0 unless all are NULL), optionally times a factor. */
const SumSource = z
  .object({ sum: z.array(z.string().min(1)).min(1), scale: z.number().finite().positive().optional() })
  .strict();
/** Ids made from the file and the row's position in it (snapshot files without an id column). */
const RowNumberSource = z.object({ rowNumber: z.literal(true) }).strict();

/** tenure_months from the day a subscriber joined: whole months from it to the row's month. */
const MonthsSinceSource = z.object({ monthsSince: z.string().min(1) }).strict();

const ColumnSourceSchema = z.union([z.string().min(1), SumSource, RowNumberSource, MonthsSinceSource]);
export type ColumnSource = z.output<typeof ColumnSourceSchema>;

const USER_FEATURE_TYPES = ['numeric', 'categorical', 'date', 'skip'] as const;
type UserFeatureType = (typeof USER_FEATURE_TYPES)[number];

/**
 * The object form of `features`: the listed columns with their types, and under "*" what becomes
 * of every column not listed (and not mapped one-to-one): "auto" types them as `features: "auto"`
 * does (so the list overrides "auto"), "skip" (the default) leaves them out.
 */
const UserFeatureList = z
  .object({
    '*': z.enum(['auto', 'skip'], { error: '"*" (every column not listed) takes "auto" or "skip"' }).optional(),
  })
  .catchall(z.enum(USER_FEATURE_TYPES));

/**
 * How a user's own files map onto the usage contract: which of their columns is which, how
 * their values are encoded, whether the data is monthly usage or one snapshot row per
 * subscriber, and which of their other columns the models may use. Given as a JSON file
 * (`--param mapping=path/to/mapping.json`); docs/own-data.md explains each field.
 */
const MAPPING_FIELDS = {
  /** "long": a row per subscriber per month; "snapshot": one row per subscriber for the run month. */
  format: z.enum(['long', 'snapshot']).default('long'),
  /** contract column -> the user's column name, a sum of columns, or (subscriber_id) row numbers. */
  columns: z
    .record(z.string(), ColumnSourceSchema)
    .superRefine((columns, context) => {
      for (const [name, source] of Object.entries(columns)) {
        if (CONTRACT_NAMES.has(name)) continue;
        // { "ARPU(元)": "spend" }: the user's column first, the wrong way round
        const reversed = typeof source === 'string' && CONTRACT_NAMES.has(source);
        context.addIssue({
          code: 'custom',
          path: [name],
          message: reversed
            ? `not a column of the usage contract, which "${source}" is: columns map a contract column to yours, "${source}": "${name}"`
            : notAContractColumn(name),
        });
      }
    })
    .default({}),
  /** contract column -> { the user's value: segflow's value }, e.g. churn_label: { "Yes": true, "No": false }. */
  values: z
    .record(contractName, z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])))
    .default({}),
  /** strptime format of text months, e.g. "%Y%m" or "%b %Y" (DuckDB's format codes); "excel": Excel's serial day numbers (46296). */
  monthFormat: z
    .string()
    .min(2)
    // "YYYY/MM" reads nothing: strptime matches its letters as they are, and every month is quarantined
    .refine((format) => format === 'excel' || format.includes('%'), {
      error: (issue) =>
        `${JSON.stringify(issue.input)} has no % code: write DuckDB's format codes, e.g. "%Y/%m" for 2026/04, "%Y%m" for 202604, "%b %Y" for Apr 2026, or "excel" for Excel's day numbers`,
    })
    .optional(),
  /**
   * The decimal mark of the CSV input's numbers: "." (the default) or "," (103,03; a point in a
   * number then makes it no number, as DuckDB's read_csv reads with decimal_separator ',').
   * Left out, the mapping is as before (its hash too).
   */
  decimalSeparator: z.enum(['.', ','], { error: 'decimalSeparator takes "." or ","' }).optional(),
  /**
   * The character encoding of the CSV input (and a CSV labels file) when not UTF-8: "gb18030"
   * (Excel's CSV on Chinese Windows; "gbk" reads as it), "big5", "shift_jis", "utf-16le",
   * "windows-1252", ...: a label of the WHATWG Encoding standard. Left out: UTF-8, with or without
   * a byte-order mark (and the mapping's hash as before).
   */
  encoding: z.string().refine(isKnownEncoding, { error: UNKNOWN_ENCODING }).optional(),
  /**
   * The user's own columns the models use: "auto" (every column not mapped one-to-one, typed
   * from its values) or { column: "numeric" | "categorical" | "skip" } (only the listed
   * columns, unless "*": "auto" types the others). Default: none.
   */
  features: z.union([z.literal('auto'), UserFeatureList]).optional(),
  /** A column with more distinct values than this is not taken as categorical by "auto". */
  maxCategories: z.number().int().min(2).max(254).default(50),
};

export const InputMappingSchema = z
  .object(MAPPING_FIELDS)
  .strict()
  .superRefine((mapping, context) => {
    for (const [column, source] of Object.entries(mapping.columns)) {
      if (typeof source === 'object' && 'rowNumber' in source && column !== 'subscriber_id')
        context.addIssue({ code: 'custom', path: ['columns', column], message: 'rowNumber only makes subscriber ids' });
      if (typeof source === 'object' && 'rowNumber' in source && mapping.format !== 'snapshot')
        context.addIssue({
          code: 'custom',
          path: ['columns', column],
          message: 'rowNumber ids need format "snapshot" (monthly rows of one subscriber need a real id)',
        });
      if (typeof source === 'object' && 'monthsSince' in source && column !== 'tenure_months')
        context.addIssue({
          code: 'custom',
          path: ['columns', column],
          message: "monthsSince only makes tenure_months (months from a date to the row's month)",
        });
      if (typeof source === 'object' && 'monthsSince' in source && mapping.values[column])
        context.addIssue({
          code: 'custom',
          path: ['values', column],
          message: 'a column made by monthsSince has no value encoding',
        });
      if (typeof source === 'object' && 'sum' in source && mapping.values[column])
        context.addIssue({
          code: 'custom',
          path: ['values', column],
          message: 'a summed column has no value encoding',
        });
    }
    // a text number takes JSON's point ("0.5" is 0.5), which a reader of decimal commas may mean as thousands
    if (mapping.decimalSeparator === ',')
      for (const [column, encodings] of Object.entries(mapping.values))
        for (const [value, target] of Object.entries(encodings))
          if (NUMBER_COLUMNS.has(column) && typeof target === 'string' && THOUSANDS_WITH_POINTS.test(target))
            context.addIssue({
              code: 'custom',
              path: ['values', column, value],
              message: `"${target}" reads as ${Number(target)} (a point is a number's decimal mark in the mapping), not as ${target.replaceAll('.', '')} with decimalSeparator ",": write the number without quotes (${target.replaceAll('.', '')} or ${Number(target)})`,
            });
  });

export type InputMapping = z.output<typeof InputMappingSchema>;

/** How the input's numbers mark their decimals: "." or "," (the mapping's decimalSeparator). */
export type DecimalSeparator = NonNullable<InputMapping['decimalSeparator']>;

/** A mapping file's text checked against the schema: the mapping, or every problem, one per line. */
export function parseMapping(text: string): { ok: true; mapping: InputMapping } | { ok: false; problems: string[] } {
  // a misspelt field of the mapping itself ("decimalSeperator") gets the closest one
  const parsed = parseJsonAgainst(text, InputMappingSchema, (key) => {
    const close = closestName(key, Object.keys(MAPPING_FIELDS));
    return `(mapping): unknown field "${key}"${close ? ` (did you mean ${close}?)` : ''}; docs/own-data.md lists the fields`;
  });
  return parsed.ok ? { ok: true, mapping: parsed.value } : parsed;
}

export const IDENTITY_MAPPING: InputMapping = { format: 'long', columns: {}, values: {}, maxCategories: 50 };

/** Whether a contract column is counted in months since a date of the user's (`{ "monthsSince": ... }`). */
export function isMonthsSince(source: ColumnSource | undefined): boolean {
  return typeof source === 'object' && 'monthsSince' in source;
}

/** The user's column a contract column is read from one-to-one, if it is (not a sum or row numbers). */
export function renamedColumn(mapping: InputMapping, contractColumn: string): string | undefined {
  const source = mapping.columns[contractColumn];
  return typeof source === 'string' ? source : undefined;
}

/**
 * How a quarantine reason names a contract column: as the user's own column(s) with the contract
 * name beside it when the mapping reads it from elsewhere ("arpu (spend)", "voice_local +
 * voice_roam (voice_minutes)"), else the contract name alone.
 */
export function columnLabel(mapping: InputMapping, contractColumn: string): string {
  const source = mapping.columns[contractColumn];
  if (source === undefined || source === contractColumn) return contractColumn;
  if (typeof source === 'string') return `${source} (${contractColumn})`;
  if ('sum' in source) return `${source.sum.join(' + ')} (${contractColumn})`;
  if ('monthsSince' in source) return `months since ${source.monthsSince} (${contractColumn})`;
  return contractColumn;
}

/** Contract columns a snapshot file may lack: what they feed is skipped and listed instead. */
export const SNAPSHOT_OPTIONAL = new Set(['month', 'voice_minutes', 'data_mb', 'spend', 'tenure_months']);

/**
 * An input file's column: DuckDB's name for it, and the name the file gives it. They differ where
 * a file repeats a name but for case (`Spend`, `spend`): DuckDB, whose names ignore case, reads
 * the second as `spend_1`.
 */
export interface InputColumn {
  name: string;
  original: string;
}

/** A file's columns, by path. */
export interface InputColumns {
  path: string;
  columns: readonly InputColumn[];
}

/** A name the mapping (or the contract, unmapped) reads that the input writes otherwise. */
export interface ColumnMatch {
  /** The name as the mapping or the contract gives it. */
  name: string;
  /** The column read for it, as DuckDB names it. */
  column: string;
  /**
   * "case": the one column named so but for case (SUBSCRIBER_ID for subscriber_id); "renamed":
   * the column named so exactly, which DuckDB renamed beside one named so but for case.
   */
  how: 'case' | 'renamed';
}

/** The column of a file a name means: named so exactly, else by DuckDB's name, else the one column named so but for case. */
function findColumn(
  name: string,
  columns: readonly InputColumn[],
): { column: InputColumn; how?: ColumnMatch['how'] } | undefined {
  const exact = columns.find((column) => column.original === name);
  if (exact) return exact.name === name ? { column: exact } : { column: exact, how: 'renamed' };
  const byName = columns.find((column) => column.name === name);
  if (byName) return { column: byName };
  const folded = columns.filter((column) => column.original.toLowerCase() === name.toLowerCase());
  return folded.length === 1 ? { column: folded[0], how: 'case' } : undefined;
}

/** The columns of a file that differ from `name` only in case, for a name that matches none exactly. */
export function sameButForCase(name: string, columns: readonly InputColumn[]): InputColumn[] {
  if (columns.some((column) => column.original === name || column.name === name)) return [];
  return columns.filter((column) => column.original.toLowerCase() === name.toLowerCase());
}

/** What resolveColumnNames made of the mapping's names against the input's columns. */
export interface ResolvedColumns {
  /** The mapping naming every column as DuckDB reads it; the mapping itself when nothing differs. */
  mapping: InputMapping;
  matches: ColumnMatch[];
  /** Columns DuckDB renamed (`arpu_1`) -> the file's name for it and the column it was renamed beside. */
  renamed: Map<string, { original: string; beside: string }>;
  /** Renamed columns "auto" would have typed, skipped instead: they could not be published under their own names. */
  skippedRenamed: Set<string>;
}

/**
 * The mapping with each column it reads named as DuckDB reads it from the input files `files`:
 * a contract column left out of the mapping, a column the mapping reads, and a feature it lists
 * are found by their name, else (none named so exactly) as the one column named so but for case
 * (an export in capitals: SUBSCRIBER_ID). A name the file writes exactly but DuckDB renamed
 * (`spend` beside `Spend`, read as `spend_1`) is read by DuckDB's name; such a column can be a
 * contract column or skipped, not a feature of the user's (it would be published as `spend_1`).
 */
export function resolveColumnNames(mapping: InputMapping, files: readonly InputColumns[]): ResolvedColumns {
  const matches = new Map<string, ColumnMatch>();
  const renamed = new Map<string, { original: string; beside: string }>();
  for (const { columns } of files)
    for (const column of columns)
      if (column.name !== column.original) {
        const beside = columns.find(
          (other) => other !== column && other.original.toLowerCase() === column.original.toLowerCase(),
        );
        renamed.set(column.name, { original: column.original, beside: beside?.name ?? column.original });
      }
  let changed = false;
  /** The column `name` is read from, the same in every file that has it (DuckDB reads them together by name). */
  const resolve = (name: string): { column: string; how?: ColumnMatch['how'] } | undefined => {
    let first: { path: string; column: string; how?: ColumnMatch['how'] } | undefined;
    for (const { path, columns } of files) {
      const found = findColumn(name, columns);
      if (!found) continue;
      if (!first) first = { path, column: found.column.name, how: found.how };
      else if (found.column.name.toLowerCase() !== first.column.toLowerCase())
        throw new SchemaContractError(
          `"${name}" is column "${first.column}" of ${first.path} but "${found.column.name}" of ${path} (DuckDB reads the files' columns together by name, ignoring case, and renames a name repeated but for case): give the column the same name in every file, and no other column that name but for case`,
        );
    }
    if (!first) return undefined;
    if (first.how) {
      matches.set(name, { name, column: first.column, how: first.how });
      changed = true;
    }
    return first;
  };
  const read = (name: string) => resolve(name)?.column ?? name;
  const columns: InputMapping['columns'] = { ...mapping.columns };
  for (const { name } of USAGE_CONTRACT) {
    const source = mapping.columns[name];
    // a snapshot's month is the run month unless the mapping names a column for it
    if (source === undefined && !(name === 'month' && mapping.format === 'snapshot')) {
      const found = resolve(name);
      if (found?.how) columns[name] = found.column;
    } else if (typeof source === 'string') columns[name] = read(source);
    else if (source && 'sum' in source) columns[name] = { ...source, sum: source.sum.map(read) };
    else if (source && 'monthsSince' in source) columns[name] = { monthsSince: read(source.monthsSince) };
  }
  let features = mapping.features;
  const skippedRenamed = new Set<string>();
  if (mapping.features !== undefined) {
    const { '*': others, ...listed }: { '*'?: 'auto' | 'skip'; [column: string]: string | undefined } =
      mapping.features === 'auto' ? { '*': 'auto' } : mapping.features;
    const resolvedList: Record<string, UserFeatureType> = {};
    for (const [name, type] of Object.entries(listed as Record<string, UserFeatureType>)) {
      const found = resolve(name);
      const column = found?.column ?? name;
      const clash = renamed.get(column);
      if (clash && type !== 'skip')
        throw new SchemaContractError(
          `the mapping's features list "${name}" as ${type}, but DuckDB reads that column as "${column}": the input also has "${clash.beside}", and DuckDB's column names ignore case, so it could not be published under its own name: rename one of the two in the file, or skip it ("${name}": "skip")`,
        );
      resolvedList[column] = type;
    }
    if (others === 'auto') {
      const mapped = new Set(Object.values(columns).filter((source) => typeof source === 'string'));
      for (const column of renamed.keys())
        if (!mapped.has(column) && !(column in resolvedList) && !USAGE_CONTRACT.some((c) => c.name === column)) {
          resolvedList[column] = 'skip';
          skippedRenamed.add(column);
        }
    }
    if (changed || skippedRenamed.size > 0)
      features = { ...resolvedList, ...(others ? { '*': others } : {}) } as InputMapping['features'];
  }
  if (!changed && skippedRenamed.size === 0) return { mapping, matches: [], renamed, skippedRenamed };
  return {
    mapping: { ...mapping, columns, ...(features === undefined ? {} : { features }) },
    matches: [...matches.values()],
    renamed,
    skippedRenamed,
  };
}
