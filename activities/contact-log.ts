import { listValue, type DuckDBConnection } from '@duckdb/node-api';
import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { CONTACTS_CONTRACT } from '../data/contacts-contract';
import { csvNullstr, isCsvPath, quoteIdent } from '../data/contract';
import { closestName } from '../domain/closest-name';
import { parseContactsMapping, type ContactsMapping } from '../domain/contacts-mapping';
import { count } from '../domain/decimals';
import { ContactDateFormatError, InputFileError, InvalidParamsError, SchemaContractError } from '../domain/errors';
import { addMonths } from '../domain/month';
import { DISPATCHED_PATTERN, type RunParams } from '../domain/params';
import type { StoreConfig } from '../store/layout';
import { sha256 } from '../store/hashing';
import { listVersions } from '../store/snapshots';
import type { SnapshotRef } from '../store/layout';
import { csvReadProblem, unsplitCsv, utf8ReadPath } from './csv-encoding';
import { literalPath, queryOne, queryRows, readSql, runScript, setVariable, withConnection } from './duckdb';
import { idTextSql } from './load-sql';

/**
 * View raw_contacts(file_row, <contract columns as text>) over the contact log. file_row is the
 * row's place among the file's data rows, counted from 0: a CSV's first row below the header is 0
 * (blank lines are not rows, so without blank lines or values spanning lines a CSV row is on line
 * file_row + 2), a Parquet row is its row number in the file. CSV is read as
 * text, Parquet values cast to text, so a bad value is quarantined rather than guessed. Throws
 * when the file cannot be read or lacks a required column: publishing reads the log, and the
 * load's plan calls this too, so a bad log stops the run before any work instead of at its end.
 * A CSV log in another `encoding` than UTF-8 (params.contactsEncoding, or the mapping's) is read
 * through a UTF-8 copy in `workDir`, as the usage files are (csv-encoding.ts). A `mapping`
 * (params.contactsMapping, as readContactsMapping read and checked it) names the file's column
 * for a contract column; a header it names that the file lacks throws too.
 */
export async function viewRawContacts(
  conn: DuckDBConnection,
  file: string,
  reading?: {
    encoding: string | undefined;
    workDir: string;
    mapping?: ContactsMapping;
    /** A snapshot's own copy, reproduced: read as its run read it, with the checks it passed then. */
    asRecorded?: boolean;
  },
): Promise<void> {
  // a folder of logs (each team's file) is not read as one: say so, rather than "No files found"
  if ((await stat(file).catch(() => undefined))?.isDirectory())
    throw new InputFileError(
      `the contact log ${file} is a folder: give one CSV or Parquet file holding every team's contacts (docs/campaigns.md, "The contact log")`,
    );
  const mapping = reading?.mapping;
  const csv = isCsvPath(file);
  const encoding = contactLogEncoding(reading?.encoding, mapping?.encoding);
  const readPath =
    csv && reading && encoding !== undefined
      ? await utf8ReadPath(file, encoding, join(reading.workDir, 'utf8', `contacts-${basename(file)}`))
      : file;
  await setVariable(conn, 'contacts_path', literalPath(readPath));
  const reader = csv
    ? `(SELECT *, row_number() OVER () - 1 AS file_row FROM read_csv(getvariable('contacts_path'), header = true, all_varchar = true, ${csvNullstr()}, parallel = false, hive_partitioning = false))`
    : "(SELECT * EXCLUDE (file_row_number), file_row_number AS file_row FROM read_parquet(getvariable('contacts_path'), file_row_number = true, hive_partitioning = false))";
  const unreadable = (error: unknown) => {
    const message = (error as Error).message;
    // the log's encoding is a parameter of its own (or its own mapping's), not the usage mapping's
    const problem = /not utf-8 encoded/i.test(message)
      ? `${message.split('\n')[0]} The file is not UTF-8 text: give its encoding, e.g. --param contactsEncoding=gb18030 (a CSV saved by Excel on Chinese Windows; or the contact-log mapping's "encoding"), or save it as "CSV UTF-8"`
      : csvReadProblem(error as Error);
    return new InputFileError(`the contact log ${file} is not a readable ${csv ? 'CSV' : 'Parquet'} file: ${problem}`);
  };
  let names: string[];
  try {
    const rows = await queryRows<{ column_name: string }>(conn, `DESCRIBE SELECT * FROM ${reader}`);
    names = rows.map((r) => r.column_name).filter((name) => name !== 'file_row');
    // DESCRIBE reads the first rows only: a bad byte further on would stop publishing, at the run's
    // end. Every column is read (a count alone reads none, and DuckDB 1.5's reading of some columns
    // past such a byte fails with an internal error that invalidates the database)
    if (csv) await queryRows(conn, `SELECT max(length(concat_ws(',', COLUMNS(*)))) AS longest FROM ${reader}`);
  } catch (error) {
    throw unreadable(error);
  }
  const unsplit = unsplitCsv(file, names);
  if (unsplit) throw new InputFileError(`the contact log ${file} ${unsplit}`);
  const found = contractColumns(file, names, mapping?.columns ?? {});
  const missing = CONTACTS_CONTRACT.filter((c) => c.required && !found.has(c.name)).map((c) => c.name);
  if (missing.length > 0)
    throw new SchemaContractError(
      `the contact log ${file} lacks required column(s): ${missing.join(', ')}; its columns are ${names.length ? names.map((n) => `'${n}'`).join(', ') : 'none'} (a contact log's columns: docs/campaigns.md, "The contact log")`,
    );
  // the contract's names for the file's columns; ids as the usage's read (13800000001.0 is 13800000001)
  const columns = CONTACTS_CONTRACT.map((c) => {
    const column = found.get(c.name);
    if (column === undefined) return `NULL::VARCHAR AS ${quoteIdent(c.name)}`;
    return c.name === 'subscriber_id'
      ? `${idTextSql(quoteIdent(column))} AS ${quoteIdent(c.name)}`
      : `${quoteIdent(column)}::VARCHAR AS ${quoteIdent(c.name)}`;
  });
  await conn.run(`CREATE OR REPLACE TEMP VIEW raw_contacts AS SELECT file_row, ${columns.join(', ')} FROM ${reader}`);
  const { dateFormat } = mapping ?? {};
  if (dateFormat !== undefined && !reading?.asRecorded) await assertDateFormatFitsLog(conn, file, dateFormat);
}

/** Where a contact log's own words and days are described: the remedy errors and warnings name. */
export const MAPPING_DOCS = 'docs/campaigns.md, "A log written by another system"';

/**
 * Below this share of the log's non-blank days read, a mapping's dateFormat is not how the log
 * writes days (a day-first log under "%m/%d/%Y" reads only days 1 to 12, about 40%; a format for
 * another layout none): measured, the month would rest on the few rows it happens to read.
 * From this share up, the days it does not read are the odd bad day, quarantined and counted.
 */
const DATE_FORMAT_MIN_READ_SHARE = 0.5;

/** Tried on the days of a log whose dateFormat is refused, to name a format that reads them. */
const COMMON_DATE_FORMATS = ['%d/%m/%Y', '%m/%d/%Y', '%Y-%m-%d', '%d.%m.%Y', '%Y/%m/%d', '%Y%m%d'];

/** How many of raw_contacts' days `format` reads, as 01_contacts.sql's contact_day reads them. */
async function daysRead(conn: DuckDBConnection, format: string): Promise<number> {
  const { read } = await queryOne<{ read: number }>(
    conn,
    'SELECT count(try_strptime(trim(contact_date), $format)::DATE) AS read FROM raw_contacts',
    { format },
  );
  return read;
}

/**
 * Refuses (ContactDateFormatError) a mapping's dateFormat that reads under
 * DATE_FORMAT_MIN_READ_SHARE of the log's non-blank days, naming how many it reads, the shapes of
 * a few it does not (`dd/dd/dddd`: digits and letters masked, since a contact_date mapped to the
 * wrong column holds ids or phone numbers, and the error reaches the audit log and Temporal), and
 * the common format that reads the most of them when one reads enough.
 */
async function assertDateFormatFitsLog(conn: DuckDBConnection, file: string, format: string): Promise<void> {
  const { days, read, unread } = await queryOne<{ days: number; read: number; unread: string[] }>(
    conn,
    `SELECT count(*) AS days, count(try_strptime(day, $format)::DATE) AS read,
            list(DISTINCT regexp_replace(regexp_replace(day, '[A-Za-z]', 'a', 'g'), '[0-9]', 'd', 'g')
                 ORDER BY regexp_replace(regexp_replace(day, '[A-Za-z]', 'a', 'g'), '[0-9]', 'd', 'g'))
              FILTER (WHERE try_strptime(day, $format) IS NULL)[1:3] AS unread
     FROM (SELECT nullif(trim(contact_date), '') AS day FROM raw_contacts) WHERE day IS NOT NULL`,
    { format },
  );
  const enough = days * DATE_FORMAT_MIN_READ_SHARE;
  if (days === 0 || read >= enough) return;
  const others: { format: string; read: number }[] = [];
  for (const other of COMMON_DATE_FORMATS.filter((f) => f !== format))
    others.push({ format: other, read: await daysRead(conn, other) });
  const most = Math.max(...others.map((o) => o.read));
  const best = others.filter((o) => o.read === most).map((o) => `"${o.format}"`);
  const tied = best.length > 1;
  const reads = `${tied ? 'each reads' : 'reads'} ${most === days ? 'all' : count(most)} of them`;
  const quoted = (texts: readonly string[]) => texts.map((t) => `'${t}'`).join(', ');
  const suggestion =
    most >= enough
      ? `${best.join(' or ')} ${reads}${tied ? ' (is the day or the month first?)' : ''}: ` +
        'give the format the log writes'
      : `none of ${COMMON_DATE_FORMATS.map((f) => `"${f}"`).join(', ')} reads half of them ` +
        `either: is contact_date (the mapping's "columns") the log's column of days?`;
  throw new ContactDateFormatError(
    `the contact-log mapping's dateFormat "${format}" is not how the contact log ${file} ` +
      `writes its days: it reads ${count(read)} of the log's ${count(days)} non-blank days ` +
      `(not read: days written like ${quoted(unread)}); ${suggestion} (${MAPPING_DOCS})`,
  );
}

/**
 * The file's column for each contract column it has: the header the mapping names for it (`mapped`),
 * else its name; either matched case, surrounding spaces and a space or '-' for '_' aside
 * ('Subscriber_ID', ' contact_date ', 'Subscriber ID', 'contact-date'), an exact match first. A
 * header the mapping names that the file lacks is refused.
 */
function contractColumns(
  file: string,
  names: readonly string[],
  mapped: Readonly<Record<string, string>>,
): Map<string, string> {
  const folded = (name: string) =>
    name
      .trim()
      .toLowerCase()
      .replace(/[\s_-]+/g, '_');
  const lacking = Object.entries(mapped).filter(
    ([, header]) => !names.includes(header) && !names.some((n) => folded(n) === folded(header)),
  );
  // a header the mapping gives another column ('办理结果', the outcome) is no suggestion for a lacking one
  const claimed = new Set(Object.values(mapped).map(folded));
  const unclaimed = names.filter((n) => !claimed.has(folded(n)));
  if (lacking.length > 0)
    throw new SchemaContractError(
      `the contact log ${file} lacks the column(s) its mapping (contactsMapping) names: ${lacking.map(([name, header]) => lackingHeader(name, header, unclaimed)).join(', ')}; its columns are ${names.length ? names.map((n) => `'${n}'`).join(', ') : 'none'}`,
    );
  const found = new Map<string, string>();
  for (const { name } of CONTACTS_CONTRACT) {
    const header = mapped[name] ?? name;
    const alike = names.filter((n) => folded(n) === folded(header));
    // two columns that read as one (Subscriber ID, subscriber-id), neither written exactly: which is meant is not known
    if (!names.includes(header) && alike.length > 1)
      throw new SchemaContractError(
        `the contact log's columns ${alike.map((n) => `'${n}'`).join(' and ')} both read as ${header === name ? name : `'${header}' (${name})`}: rename all but one (a contact log's columns: docs/campaigns.md, "The contact log")`,
      );
    const column = names.includes(header) ? header : alike[0];
    if (column !== undefined) found.set(name, column);
  }
  return found;
}

/** A header the mapping names that the log lacks, with the closest of the log's others ("'办理产口' (action; did you mean '办理产品'?)"). */
function lackingHeader(name: string, header: string, names: readonly string[]): string {
  const close = closestName(header, names);
  return `'${header}' (${name}${close ? `; did you mean '${close}'?` : ''})`;
}

/**
 * The contact-log mapping at `path` (a reproduction reads the snapshot's copy, `readFrom`), parsed,
 * with the sha256 of the bytes read: the manifest records it beside the log's. Throws
 * InvalidParamsError for a file that cannot be read or is no valid mapping. `asRecorded` (a
 * reproduction): not refused for words that read alike, a check younger than some snapshots, but
 * read as its run read it.
 */
export async function readContactsMapping(
  path: string,
  readFrom = path,
  { asRecorded = false }: { asRecorded?: boolean } = {},
): Promise<{ mapping: ContactsMapping; sha256: string }> {
  const bytes = await readFile(readFrom).catch((error: Error) => {
    throw new InvalidParamsError(`cannot read the contact-log mapping ${path}: ${error.message}`);
  });
  const parsed = parseContactsMapping(bytes.toString('utf8'));
  if (!parsed.ok) throw new InvalidParamsError(`invalid contact-log mapping ${path}:\n${parsed.problems.join('\n')}`);
  // one file for every month (a schedule's too): a format DuckDB cannot read would stop each run
  const { dateFormat } = parsed.mapping;
  const problems = await withConnection(':memory:', async (conn) => {
    if (dateFormat !== undefined) await assertDateFormatReadable(conn, dateFormat);
    return asRecorded ? [] : wordsReadAlike(conn, parsed.mapping);
  });
  const invalid = `invalid contact-log mapping ${path}:`;
  if (problems.length > 0) throw new InvalidParamsError([invalid, ...problems].join('\n'));
  return { mapping: parsed.mapping, sha256: sha256(bytes) };
}

/**
 * The mapping's outcome, channel and action words that read as an earlier one of their field
 * ("channels. app推送: reads as "APP推送" ..."): folded by the macro that folds the log's words
 * (normalised-text.sql), since a fold of JavaScript's own keeps apart words DuckDB's lower reads
 * as one ('İVR' and 'ivr'), and the log's row would read as either word's target.
 */
async function wordsReadAlike(conn: DuckDBConnection, mapping: ContactsMapping): Promise<string[]> {
  await runScript(conn, await readSql(import.meta.url, './campaigns/normalised-text.sql'));
  const problems: string[] = [];
  for (const field of ['outcomes', 'channels', 'actions'] as const) {
    const words = Object.keys(mapping[field]);
    if (words.length < 2) continue;
    const { folded } = await queryOne<{ folded: (string | null)[] }>(
      conn,
      'SELECT list_transform($words, w -> normalised_text(w)) AS folded',
      { words: listValue(words) },
    );
    const byFolded = new Map<string, string>();
    words.forEach((word, i) => {
      const other = byFolded.get(folded[i] ?? '');
      const alike = `reads as "${other}" (case and spacing aside): give the word once`;
      if (other !== undefined) problems.push(`${field}.${word}: ${alike}`);
      else byFolded.set(folded[i] ?? '', word);
    });
  }
  return problems;
}

/**
 * The contact log's encoding: --param contactsEncoding or the mapping's `encoding`, which may be
 * given both only when they agree (undefined: UTF-8).
 */
function contactLogEncoding(param: string | undefined, mapped: string | undefined): string | undefined {
  if (
    param !== undefined &&
    mapped !== undefined &&
    new TextDecoder(param).encoding !== new TextDecoder(mapped).encoding
  )
    throw new InvalidParamsError(
      `contactsEncoding=${param} and the contact-log mapping's encoding "${mapped}" differ: give the log's encoding once`,
    );
  return param ?? mapped;
}

/** Refuses a mapping's dateFormat that DuckDB's strptime cannot read (an unknown % code), before any row is read with it. */
async function assertDateFormatReadable(conn: DuckDBConnection, format: string): Promise<void> {
  try {
    await queryRows(conn, "SELECT try_strptime('', $format) AS day", { format });
  } catch (error) {
    throw new InvalidParamsError(
      `the contact-log mapping's dateFormat "${format}" is not a format DuckDB reads (${(error as Error).message.split('\n')[0]}): write DuckDB's strptime codes, e.g. "%d/%m/%Y" for 05/06/2026 as 5 June`,
    );
  }
}

/**
 * The snapshot `params.dispatched` names (the dispatch list the contact log reports on), or the
 * reason it cannot be measured: not a snapshot of the month before the run month, or not in
 * `store` (where last month's snapshots live). Undefined when the parameter is left out. The
 * measurement uses it; a plan can call it to stop a run with a mistyped version before any stage.
 */
export async function findDispatchedList(
  store: StoreConfig,
  params: Pick<RunParams, 'month' | 'dispatched'>,
): Promise<SnapshotRef | { reason: string } | undefined> {
  if (!params.dispatched) return undefined;
  const lastMonth = addMonths(params.month, -1);
  const [, month, version] = DISPATCHED_PATTERN.exec(params.dispatched) ?? [];
  const versions = month ? await listVersions(store, month) : [];
  if (!month || month !== lastMonth || !versions.includes(Number(version)))
    return {
      reason: `dispatched=${params.dispatched}: no such snapshot of ${lastMonth} in the store (${versions.length ? `it has ${versions.map((v) => `v${v}`).join(', ')}` : 'it has none'})`,
    };
  return { month, version: Number(version) };
}
