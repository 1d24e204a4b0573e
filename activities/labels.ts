import type { DuckDBConnection } from '@duckdb/node-api';
import { isCsvPath, quoteIdent } from '../data/contract';
import { DataQualityError, InputFileError, SchemaContractError } from '../domain/errors';
import type { InputMapping } from '../domain/mapping';
import { hashFile } from '../store/hashing';
import { csvReadProblem } from './csv-encoding';
import { literalPath, queryOne, queryRows, setVariable } from './duckdb';
import {
  formattedMonthSql,
  formattedTextMonthSql,
  idTextSql,
  instantDaySql,
  INSTANT_TYPE,
  mappingNullstr,
  textMonthSql,
} from './load-sql';

/**
 * Churn labels from their own file (`--param labels=<file>`): a subscriber id and either a churn
 * flag or the month the subscriber left, joined to the input by id. Labels whose id is not in
 * the input are counted and reported, never dropped silently or invented.
 */
export interface LabelsFile {
  path: string;
  sha256: string;
  bytes: number;
  rows: number;
  idColumn: string;
  labelColumn: string;
  /** "flag": churned yes/no; "month-left": the month the subscriber left (absent = stayed). */
  kind: 'flag' | 'month-left';
  /** Label rows whose subscriber id is not in the input. */
  unknownIds: number;
  /** Months left stored as instants (TIMESTAMPTZ): read as the month whose midnight each stamps (instantDaySql). */
  instants?: true;
}

function readerSql(path: string, mapping: InputMapping): string {
  return isCsvPath(path)
    ? `read_csv(getvariable('labels_file'), header = true, all_varchar = true, ${mappingNullstr(mapping)}, hive_partitioning = false)`
    : "read_parquet(getvariable('labels_file'), hive_partitioning = false)";
}

/** Flag values segflow understands without a mapping (the mapping's churn_label encodings win over them). */
const TRUE_WORDS = ['yes', 'y', 'true', 't', '1', 'churned', 'churn', '是', '流失', '离网'];
const FALSE_WORDS = ['no', 'n', 'false', 'f', '0', 'stayed', 'active', '否', '在网', '未流失'];

/** Label values that read as no flag, past which the labels file is taken for unreadable rather than a few odd rows. */
const UNREAD_LABELS_SHARE = 0.01;

/** A labels file's month left as a DATE: as the input's months are read (the mapping's monthFormat, a date, YYYY-MM). */
function monthLeftSql(value: string, mapping: InputMapping): string {
  return mapping.monthFormat
    ? formattedTextMonthSql(formattedMonthSql(value, mapping.monthFormat))
    : textMonthSql(value);
}

/**
 * Describes the labels file and counts its ids unknown to the input. `inputIds` is SQL giving
 * column `subscriber_id` (text) for every input row.
 */
export async function inspectLabels(
  conn: DuckDBConnection,
  /** The file as the run names it (in messages and in what is recorded). */
  path: string,
  mapping: InputMapping,
  inputIds: string,
  /**
   * Where its bytes are: `copy`, hashed (the run's copy, labelsRunCopy, or a snapshot's), and the
   * file DuckDB reads, `copy` or its UTF-8 copy (csv-encoding.ts).
   */
  { copy = path, readFrom = copy }: { copy?: string; readFrom?: string } = {},
): Promise<LabelsFile> {
  await setVariable(conn, 'labels_file', literalPath(readFrom));
  const columns = await queryRows<{ column_name: string; column_type: string }>(
    conn,
    `DESCRIBE SELECT * FROM ${readerSql(path, mapping)}`,
  ).catch((error: Error) => {
    throw new InputFileError(`the labels file ${path} is not readable: ${csvReadProblem(error)}`);
  });
  const names = columns.map((c) => c.column_name);
  if (names.length < 2)
    throw new SchemaContractError(`the labels file ${path} needs a subscriber id column and a label column`);
  const idSource = mapping.columns.subscriber_id;
  const idColumn = typeof idSource === 'string' && names.includes(idSource) ? idSource : names[0];
  const labelColumn = names.find((name) => name !== idColumn) as string;
  // read qualified, as createUserLabels reads it (flagSql)
  const value = `nullif(trim(f.${quoteIdent(labelColumn)}::VARCHAR), '')`;
  await setVariable(conn, 'month_format', mapping.monthFormat ?? null);
  await createLabelWords(conn, mapping);
  const flag = isFlagSql(value);
  const counts = await queryOne<{ rows: number; values: number; months: number; flags: number }>(
    conn,
    `SELECT count(*) AS rows, count(${value}) AS values,
            count(${monthLeftSql(value, mapping)}) AS months, count(*) FILTER (WHERE ${flag}) AS flags
     FROM ${readerSql(path, mapping)} f`,
  );
  const kind = counts.values > 0 && counts.months === counts.values ? 'month-left' : 'flag';
  // values read as no label: all of them would label nobody, and the run stop later for want of
  // churners; months among flags would leave their churners unlabelled. A few odd values are
  // unknown labels (those subscribers are not trained on)
  const unread = counts.values - counts.flags;
  if (kind === 'flag' && (counts.flags === 0 || counts.months > 0 || unread > UNREAD_LABELS_SHARE * counts.values)) {
    const examples = await queryRows<{ value: string }>(
      conn,
      `SELECT DISTINCT ${value} AS value FROM ${readerSql(path, mapping)} f
       WHERE ${value} IS NOT NULL AND NOT ${flag} ORDER BY 1 LIMIT 3`,
    );
    throw new SchemaContractError(
      `the labels file ${path}: ${unread} of ${counts.values} values of its label column "${labelColumn}" are no churn flag ` +
        `(yes/no, true/false, 1/0, 是/否, or the mapping's churn_label values)` +
        (counts.months > 0
          ? `, and ${counts.months} ${counts.months === 1 ? 'is a month' : 'are months'}: a file of months left holds one for each subscriber who left, nothing for one who stayed`
          : ", nor, all of them, a month left (2026-07 or 2026-07-01, or as the mapping's monthFormat reads months)") +
        `, e.g. ${examples.map((e) => `'${e.value}'`).join(', ')}`,
    );
  }
  const { unknown, with_id } = await queryOne<{ unknown: number; with_id: number }>(
    conn,
    `SELECT count(*) FILTER (WHERE ${idTextSql(quoteIdent(idColumn))} NOT IN (SELECT subscriber_id FROM (${inputIds}) WHERE subscriber_id IS NOT NULL)) AS unknown,
            count(${quoteIdent(idColumn)}) AS with_id
     FROM ${readerSql(path, mapping)} l`,
  );
  if (Number(with_id) > 0 && Number(unknown) === Number(with_id)) {
    // every label would be dropped, and the run stop later for want of training rows
    const example = await queryOne<{ label_id: string | null; input_id: string | null }>(
      conn,
      `SELECT (SELECT min(${idTextSql(quoteIdent(idColumn))}) FROM ${readerSql(path, mapping)} l) AS label_id,
              (SELECT min(subscriber_id) FROM (${inputIds})) AS input_id`,
    );
    throw new DataQualityError(
      `none of the ${with_id} subscriber ids in the labels file ${path} (column "${idColumn}") is one of the input's, ` +
        `e.g. '${example.label_id}' in the labels file and '${example.input_id}' in the input: are they the same ids, written alike?`,
    );
  }
  const instants =
    kind === 'month-left' && columns.find((c) => c.column_name === labelColumn)?.column_type === INSTANT_TYPE;
  return {
    path,
    ...(await hashFile(copy)),
    rows: counts.rows,
    idColumn,
    labelColumn,
    kind,
    unknownIds: unknown,
    ...(instants ? { instants: true as const } : {}),
  };
}

/**
 * Sets churn_label on the valid rows of checked_usage from the labels file: a flag as given
 * (translated by the mapping's churn_label encodings, else yes/no, true/false, 1/0); a month
 * left as "left the month after the row's month" (monthly usage) or "left after the snapshot
 * month" (a snapshot), and false for subscribers the file does not list.
 */
export async function applyLabels(
  conn: DuckDBConnection,
  labels: LabelsFile,
  mapping: InputMapping,
  readFrom = labels.path,
): Promise<void> {
  await createUserLabels(conn, labels, mapping, readFrom);
  const label = `(SELECT ${labelAggregate(labels)}(l.label) FROM user_labels l WHERE l.subscriber_id = c.subscriber_id)`;
  await conn.run(
    `UPDATE checked_usage c SET churn_label = ${churnedSql(labels, mapping, label, 'c."month"')} WHERE c.reason IS NULL`,
  );
}

/**
 * SQL giving a raw input row's churn label from the labels file, as applyLabels sets it on the
 * row once checked: `row.id` is the row's subscriber id as text, `row.month` its month (a DATE;
 * when NULL, the row cannot be checked and its label is NULL). For the plan's leak check
 * (resolveUserFeatures' `label.sql`). Creates temp table labels_by_id, one label per id, its
 * columns named apart from `inputColumns`: an unqualified column of the input row in its
 * subquery would otherwise be read from labels_by_id.
 */
export async function inputRowLabelSql(
  conn: DuckDBConnection,
  labels: LabelsFile,
  mapping: InputMapping,
  row: { id: string; month: string },
  inputColumns: string[],
  readFrom = labels.path,
): Promise<string> {
  await createUserLabels(conn, labels, mapping, readFrom);
  const taken = new Set(inputColumns.map((column) => column.toLowerCase()));
  const free = (name: string): string => (taken.has(name) ? free(`_${name}`) : name);
  const [id, label] = [quoteIdent(free('labels_file_id')), quoteIdent(free('labels_file_label'))];
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE labels_by_id AS
     SELECT subscriber_id AS ${id}, ${labelAggregate(labels)}(label) AS ${label} FROM user_labels GROUP BY ALL`,
  );
  return churnedSql(labels, mapping, `(SELECT l.${label} FROM labels_by_id l WHERE l.${id} = ${row.id})`, row.month);
}

/**
 * Temp table user_labels(subscriber_id, label) from the labels file: a flag (BOOLEAN) through the
 * mapping's churn_label encodings and the words segflow knows, or the first day of the month
 * left (DATE). An id may be listed more than once.
 */
async function createUserLabels(
  conn: DuckDBConnection,
  labels: LabelsFile,
  mapping: InputMapping,
  readFrom: string,
): Promise<void> {
  await setVariable(conn, 'labels_file', literalPath(readFrom));
  await setVariable(conn, 'month_format', mapping.monthFormat ?? null);
  // the file's columns read qualified: one named as label_words' (churned, word, priority) is still the file's
  const value = `nullif(trim(f.${quoteIdent(labels.labelColumn)}::VARCHAR), '')`;
  await createLabelWords(conn, mapping);
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE user_labels AS
     SELECT ${idTextSql(`f.${quoteIdent(labels.idColumn)}`)} AS subscriber_id,
            ${
              labels.kind === 'flag'
                ? flagSql(value)
                : `date_trunc('month', ${labels.instants ? instantDaySql(`f.${quoteIdent(labels.labelColumn)}`) : monthLeftSql(value, mapping)})::DATE`
            } AS label
     FROM ${readerSql(labels.path, mapping)} f`,
  );
}

/**
 * Temp table label_words(word, churned, priority): the flag words a labels file is read with.
 * Priority 0: the mapping's churn_label encodings, 1: the words segflow knows.
 */
async function createLabelWords(conn: DuckDBConnection, mapping: InputMapping): Promise<void> {
  const encodings = Object.entries(mapping.values.churn_label ?? {});
  // A value may match both ({"yes": false} and the known 'yes'): the lookup orders by priority,
  // then an exact match before a lower-cased one, never by the table's scan order (a reproduced
  // snapshot must match)
  await conn.run('CREATE OR REPLACE TEMP TABLE label_words (word VARCHAR, churned BOOLEAN, priority INTEGER)');
  // (the known words go in first, so a lookup that followed the scan order would take them: the
  // labels test catches a lookup that loses its ORDER BY)
  for (const [word, churned, priority] of [
    ...TRUE_WORDS.map((word) => [word, true, 1] as const),
    ...FALSE_WORDS.map((word) => [word, false, 1] as const),
    ...encodings.map(([source, target]) => [source, target === null ? null : String(target) === 'true', 0] as const),
  ])
    await conn.run('INSERT INTO label_words VALUES ($word, $churned, $priority)', { word, churned, priority });
}

/**
 * SQL: the churn flag a label value (text) reads as, through label_words (createLabelWords) as
 * written or lower-cased, else a number 1 or 0 however written (1.0, as pandas writes a float
 * column); NULL when it reads as none. Its columns read qualified: the file's own may be named as
 * label_words' (churned, word, priority).
 */
function flagSql(value: string): string {
  return `coalesce((SELECT w.churned FROM label_words w WHERE w.word = ${value} OR w.word = lower(${value})
                   ORDER BY w.priority, w.word = ${value} DESC LIMIT 1),
                   CASE TRY_CAST(${value} AS DOUBLE) WHEN 1 THEN true WHEN 0 THEN false END)`;
}

/** SQL: whether a label value reads as a flag (flagSql), a value the mapping maps to null included. */
function isFlagSql(value: string): string {
  return `(EXISTS (SELECT 1 FROM label_words w WHERE w.word = ${value} OR w.word = lower(${value}))
     OR coalesce(TRY_CAST(${value} AS DOUBLE) IN (0, 1), false))`;
}

/** How a subscriber's labels combine when the file lists it more than once: churned if any row says so, the latest month left. */
const labelAggregate = (labels: LabelsFile) => (labels.kind === 'flag' ? 'bool_or' : 'max');

/**
 * A row's churn label from its subscriber's `label` in the file (SQL): a flag as it is; a month
 * left, compared with the row's `month`: churned when the subscriber left after the snapshot
 * month (a snapshot) or in the month after the row's (monthly usage); not listed, stayed (NULL
 * when the row's month is: unknown).
 */
function churnedSql(labels: LabelsFile, mapping: InputMapping, label: string, month: string): string {
  if (labels.kind === 'flag') return label;
  const left = mapping.format === 'snapshot' ? `> ${month}` : `= (${month} + INTERVAL 1 MONTH)::DATE`;
  return `coalesce(${label} ${left}, CASE WHEN ${month} IS NOT NULL THEN false END)`;
}
