import { OUTSIDE_WINDOW, USAGE_CONTRACT, csvNullstr, quoteIdent, type ColumnContract } from '../data/contract';
import type { DecimalSeparator, InputMapping } from '../domain/mapping';
import { sqlString } from './duckdb';

export { OUTSIDE_WINDOW };

/**
 * A number written as text (SQL `text`), as `type` (DOUBLE or INTEGER), NULL when it is not one.
 * With decimalSeparator "," the comma is the decimal mark and a point makes the text no number
 * (1.234 may be 1234 with a thousands point), as DuckDB's read_csv reads numbers with
 * decimal_separator ',': before the cast, one translate() turns each comma into a point and each
 * point into "!" (not a letter: '0x5' casts to an integer). As spreadsheets format numbers, a
 * currency sign before (¥12.50, $, €, £) or 元 after is dropped, and a percent sign (12% is 12),
 * and a number in parentheses is negative, as accounts write it: (12.50) is -12.5. Thousands
 * separators are read where they cannot be a decimal mark (groupedNumberSql): 1,744.38 and
 * 1.744,38 are 1744.38, 1,234,567 and 1.234.567 are 1234567, whatever decimalSeparator says; a
 * lone separator before three digits (1,744 or 1.744) is read only as decimalSeparator has it.
 */
export function textNumberSql(text: string, decimalSeparator: DecimalSeparator = '.', type = 'DOUBLE'): string {
  const cast = (value: string) =>
    decimalSeparator === ',' ? `TRY_CAST(translate(${value}, ',.', '.!') AS ${type})` : `TRY_CAST(${value} AS ${type})`;
  const raw = `${text}::VARCHAR`;
  // read so only where the text is no number as it is, and only text that starts or ends so
  // reaches the regexps (a category's values would cost twice as much)
  const formatted = [
    ...FORMATTED_NUMBER_ENDS.map((end) => `ends_with(${raw}, '${end}')`),
    ...FORMATTED_NUMBER_STARTS.map((start) => `starts_with(${raw}, '${start}')`),
  ].join(' OR ');
  const bare = `regexp_replace(${raw}, '^\\s*[¥￥$€£]\\s*|\\s*[元%]\\s*$', '', 'g')`;
  const negative = `regexp_extract(${bare}, '^\\(\\s*([0-9][^()]*)\\)$', 1)`;
  // grouped digits only where the text is no number as it is, holds a comma or a point and starts
  // as a number does: most text of a category (e-mails, versions) is passed over before the regexps
  const separated = `(contains(${raw}, ',') OR contains(${raw}, '.')) AND contains('123456789+-', left(ltrim(${raw}), 1))`;
  return `coalesce(${cast(text)}, CASE WHEN ${formatted} THEN coalesce(${cast(bare)}, -${cast(negative)}, ${groupedNumberSql(bare, type)}, -${groupedNumberSql(negative, type)})
    WHEN ${separated} THEN ${groupedNumberSql(raw, type)} END)`;
}

/** Digits in groups of three after the first one to three, between commas (COMMA_GROUPS) or points: a thousands separator. */
const COMMA_GROUPS = '[+-]?[1-9][0-9]{0,2}(,[0-9]{3})+';
const POINT_GROUPS = '[+-]?[1-9][0-9]{0,2}(\\.[0-9]{3})+';

/**
 * A number written with thousands separators, as `type`, where they cannot be read as a decimal
 * mark: commas between groups of three digits before a decimal point (1,744.38) or twice
 * (1,234,567), points so before a decimal comma (1.744,38) or twice (1.234.567). NULL otherwise:
 * a lone separator before three digits (1,744) may as well be a decimal mark.
 */
function groupedNumberSql(text: string, type: string): string {
  const value = `trim(${text})`;
  return `CASE WHEN regexp_full_match(${value}, '${COMMA_GROUPS}\\.[0-9]+|[+-]?[1-9][0-9]{0,2}(,[0-9]{3}){2,}')
      THEN TRY_CAST(replace(${value}, ',', '') AS ${type})
    WHEN regexp_full_match(${value}, '${POINT_GROUPS},[0-9]+|[+-]?[1-9][0-9]{0,2}(\\.[0-9]{3}){2,}')
      THEN TRY_CAST(replace(replace(${value}, '.', ''), ',', '.') AS ${type}) END`;
}

/** How a number a spreadsheet formatted ends (a closing parenthesis, %, 元) or starts (a currency sign). */
const FORMATTED_NUMBER_ENDS = [')', '%', '元'];
const FORMATTED_NUMBER_STARTS = ['¥', '￥', '$', '€', '£'];

/**
 * What a value that is not a number says about how the file writes its numbers: digits with both
 * a point and a comma, or one of them more than once (17.488,0, 17,488.0, 1.234.567), have
 * thousands separators, which no reading of numbers takes; digits with one comma (103,03) have a
 * decimal comma, read with the mapping's decimalSeparator ",". Nothing for any other value.
 */
export function numberFormatHint(value: string, decimalSeparator: DecimalSeparator = '.'): string | undefined {
  const text = value.trim();
  // digits between single marks: 12..5 is a typo, no format
  if (!/^[+-]?\d+([.,]\d+)*$/.test(text)) return undefined;
  const points = text.split('.').length - 1;
  const commas = text.split(',').length - 1;
  if ((points > 0 && commas > 0) || points > 1 || commas > 1) return THOUSANDS_HINT;
  if (commas === 1 && decimalSeparator !== ',')
    // 12,345 is a decimal comma or a thousands separator (as US exports write): the file tells which
    return /,\d{3}$/.test(text) ? DECIMAL_COMMA_OR_THOUSANDS_HINT : DECIMAL_COMMA_HINT;
  return undefined;
}

/** What numberFormatHint says of digits with thousands separators that are not read (not in groups of three). */
export const THOUSANDS_HINT =
  'thousands separators are not read here: they are read only between groups of three digits (1,234,567.89, 1.234.567,89)';
const DECIMAL_COMMA_HINT = 'set "decimalSeparator": "," in the mapping';
const DECIMAL_COMMA_OR_THOUSANDS_HINT =
  'a decimal comma (set "decimalSeparator": "," in the mapping) or a thousands separator (not read alone: write numbers without it)';

/** A quarantine reason apart from the number format hint the check added to it (numberFormatHintSql), and that hint. */
export function withoutNumberHint(reason: string): { reason: string; hint?: string } {
  for (const hint of [THOUSANDS_HINT, DECIMAL_COMMA_HINT, DECIMAL_COMMA_OR_THOUSANDS_HINT])
    if (reason.endsWith(`: ${hint}`)) return { reason: reason.slice(0, -hint.length - 2), hint };
  return { reason };
}

/**
 * numberFormatHint in SQL, for a value `text` of any type that is no number: its hint, NULL for
 * none. The load's check adds it to the quarantine reason of a number column's value, so a
 * reason says what a run that stops on it says (the same words: tested beside numberFormatHint).
 */
export function numberFormatHintSql(text: string, decimalSeparator: DecimalSeparator = '.'): string {
  const value = `trim(${text}::VARCHAR)`;
  const count = (mark: string) => `(length(${value}) - length(replace(${value}, '${mark}', '')))`;
  const comma =
    decimalSeparator === ','
      ? ''
      : `WHEN ${count(',')} = 1 THEN CASE WHEN regexp_matches(${value}, ',[0-9]{3}$') THEN ${sqlString(DECIMAL_COMMA_OR_THOUSANDS_HINT)} ELSE ${sqlString(DECIMAL_COMMA_HINT)} END`;
  return `CASE WHEN regexp_full_match(${value}, '[+-]?[0-9]+([.,][0-9]+)*') THEN CASE
    WHEN (${count('.')} > 0 AND ${count(',')} > 0) OR ${count('.')} > 1 OR ${count(',')} > 1 THEN ${sqlString(THOUSANDS_HINT)}
    ${comma} END END`;
}

/** read_csv's nullstr for the input's and labels' CSV files: the missing-value cells but those the mapping's `values` name. */
export function mappingNullstr(mapping: InputMapping): string {
  return csvNullstr(Object.values(mapping.values).flatMap((encoding) => Object.keys(encoding)));
}

/** The quarantine rule of an id a spreadsheet wrote in scientific notation. */
const SCIENTIFIC_ID =
  'a number in scientific notation (1.38E+10): a spreadsheet rounded the id; export the id column as text';

/** The quarantine reason of a row holding the file's header again (exports joined one after another). */
export const REPEATED_HEADER = 'repeated header row';

/**
 * Whether a row is a header row repeated in its file (SQL), as a CSV made by joining exports one
 * after another holds: each of `columns` (a column as the row holds it, the header the file gives
 * it) holds its own header, compared without case. Two columns at least, or undefined: one value
 * equal to its column's name may be a value. The first column's ILIKE comes first, which nearly
 * every row fails cheaply (lower() of every value cost the check ~1.5 s per 10M rows, the ILIKE
 * ~0.5 s), with room for spaces around the name; its wildcards (`_`, `%`) only let more rows on
 * to the exact comparisons, which trim.
 */
export function repeatedHeaderSql(columns: [sql: string, header: string][]): string | undefined {
  const [first] = columns;
  if (first === undefined || columns.length < 2) return undefined;
  // DuckDB trims the header's names, not the values: "subscriber_id, month" repeats as " month"
  const same = columns.map(([sql, header]) => `lower(trim(${sql}::VARCHAR)) = lower(${sqlString(header)})`);
  return `(${first[0]}::VARCHAR ILIKE ${sqlString(`%${first[1]}%`)} AND ${same.join(' AND ')})`;
}

/** The quarantine rule of a value its contract column's type cannot read ("not a valid double"). */
export function notReadableAs(type: string): string {
  return `not a valid ${type.toLowerCase()}`;
}

/**
 * A month written as a date (2026-10-01) or as a year and month (2026-10), as a DATE; NULL when it
 * is neither. Every reader of a text month goes through it: the load's check, the plan's leak
 * check (load.ts inputMonthSql) and a labels file's month left (labels.ts).
 */
export function textMonthSql(value: string): string {
  return `coalesce(TRY_CAST(${value} AS DATE), try_strptime(${value}::VARCHAR, '%Y-%m')::DATE)`;
}

/**
 * A month under the mapping's monthFormat (formattedMonthSql's text: what the format read, as
 * 2026-10-01, else the text as written), as a DATE; NULL when it is none. As textMonthSql reads
 * it, but only a date or a year and month written in full, two digits each (2026-10-01, 2026-10,
 * a DATE's text). Without a format the month rules read an unpadded month (2026-1 as January);
 * with one, text the format does not read is no month the analyst declared, and its row is
 * quarantined as "not a valid date" rather than read by a rule the mapping did not choose. Every
 * reader of a formatted month goes through it: the load's check (buildCheckSql), the plan's leak
 * check (load.ts inputMonthSql) and a labels file's month left (labels.ts).
 */
export function formattedTextMonthSql(value: string): string {
  // the format's reading (2026-10-01) passes the LIKE, at a third of the regexp's cost (~0.6 s
  // against ~1.8 s per 10M rows); other text (a timestamp's, 2026-10) is left to the regexp
  const text = `${value}::VARCHAR`;
  return `CASE WHEN ${text} LIKE '____-__-__' OR regexp_full_match(${text}, '${FULL_MONTH}') THEN ${textMonthSql(value)} END`;
}

/** A date or a year and month with two-digit parts, a time of day or zone after a date allowed. */
const FULL_MONTH = '\\s*[0-9]{4}-[0-9]{2}(-[0-9]{2}([^0-9].*)?)?\\s*';

/**
 * The day of a month stamp stored as an instant (TIMESTAMP WITH TIME ZONE), whatever zone wrote
 * it. A warehouse writes a month as its first day's midnight in its own zone: in UTC the evening
 * before east of Greenwich (2026-07-31 16:00 for August in UTC+8), the morning of it west. A cast
 * to DATE would take the first for July, and would depend on the zone of the machine reading it.
 * 13 hours on in UTC, the day is the one whose midnight it stamps in any zone from UTC-10 to
 * UTC+13 (Hawaii to New Zealand's summer). Left out: UTC-11 and UTC+14, and a month stamped by
 * its last second in UTC (read as the next month).
 */
export function instantDaySql(value: string): string {
  return `((${value} AT TIME ZONE 'UTC') + INTERVAL 13 HOUR)::DATE`;
}

/**
 * A subscriber id as text, a whole number stored as a DOUBLE or FLOAT written without its `.0`
 * (pandas stores an integer id column holding one gap as floats: 13800000001.0), as the same id
 * stored as an integer or text reads; such a number written as text too (pandas' `to_csv` of that
 * column); anything else as DuckDB writes it. Binds for a column of any type (the type test folds
 * away), so readers that do not know the column's type use it too.
 */
export function idTextSql(value: string): string {
  const number = `TRY_CAST(${value} AS DOUBLE)`;
  return `CASE WHEN typeof(${value}) IN ('DOUBLE', 'FLOAT') AND ${number} = trunc(${number}) AND abs(${number}) < 1e18
    THEN TRY_CAST(${number} AS HUGEINT)::VARCHAR ELSE ${wholeIdTextSql(`TRY_CAST(${value} AS VARCHAR)`)} END`;
}

/** A whole number written with a decimal part of zeros (`13800000001.0`), as a regular expression's text. */
export const DECIMAL_ID = '-?[0-9]+\\.0+';

/** Whether an id's text is such a number; the substring test first, most ids hold no dot. */
function decimalIdSql(text: string): string {
  return `(contains(${text}, '.') AND regexp_full_match(${text}, '${DECIMAL_ID}'))`;
}

/** An id's text without a decimal part of zeros: `13800000001.0` is the subscriber `13800000001` of the other months' files. */
function wholeIdTextSql(text: string): string {
  return `CASE WHEN ${decimalIdSql(text)} THEN split_part(${text}, '.', 1) ELSE ${text} END`;
}

/** The SQL type DuckDB gives a TIMESTAMPTZ column. */
export const INSTANT_TYPE = 'TIMESTAMP WITH TIME ZONE';

/** The monthFormat of months written as Excel's serial day numbers (46296 is 2026-10-01). */
export const EXCEL_MONTH_FORMAT = 'excel';

/**
 * A month read with the mapping's monthFormat (`format`, bound as month_format), as text:
 * 2026-10-01 where the format reads it; else as written, which the check reads as a date or
 * YYYY-MM or names "not a valid date" (as NULL it read as missing). Text whatever the column's
 * type: checkChunks reads it so. The format "excel" reads Excel's serial day numbers: days since
 * 1899-12-30 (Excel's day 1 is 1900-01-01, and it counts a 29 February 1900 that never was), a
 * time of day as a fraction. Where two number codes meet (undelimitedNumbers: "%Y%m"), the text
 * must be what the format writes back, every number at its width: strptime's `%m` takes one digit
 * as well as two, so `20261` (202601 or 202611 cut short?) would read as January.
 */
export function formattedMonthSql(value: string, format: string): string {
  const text = `${value}::VARCHAR`;
  const serial = `strftime(DATE '1899-12-30' + TRY_CAST(floor(TRY_CAST(${text} AS DOUBLE)) AS INTEGER), '%Y-%m-%d')`;
  const parsed = `try_strptime(${text}, getvariable('month_format'))`;
  // strptime takes spaces around the text and month names in any case; so does the comparison
  const written = `lower(strftime(${parsed}, getvariable('month_format'))) = lower(trim(${text}))`;
  const formatted = undelimitedNumbers(format)
    ? `CASE WHEN ${written} THEN strftime(${parsed}, '%Y-%m-%d') END`
    : `strftime(${parsed}, '%Y-%m-%d')`;
  return `coalesce(CASE WHEN getvariable('month_format') = '${EXCEL_MONTH_FORMAT}' THEN ${serial} ELSE ${formatted} END, ${text})`;
}

/**
 * Whether a strptime format has two number codes with nothing between them (`%Y%m`, `%Y%m%d`,
 * `%m%Y`): only the numbers' widths split such digits. Apart (`%Y-%m`, `%Y年%m月`, `%m/%Y`), a
 * month of one digit is as the text writes it and reads as it is (`2026-6`).
 */
export function undelimitedNumbers(format: string): boolean {
  return /%-?[CdeGgHIjMmSUuVWwYy]%-?[CdeGgHIjMmSUuVWwYy]/.test(format);
}

/** Table quarantine's columns: each row that broke the contract, where it was, and why. */
export const QUARANTINE_COLUMNS =
  '(source_file VARCHAR, file_row BIGINT, subscriber_id VARCHAR, "month" VARCHAR, reason VARCHAR)';

/**
 * The load's table quarantine: QUARANTINE_COLUMNS, then month_text, the row's month as the input
 * wrote it where it could not be read ("month" is NULL there: `2026-6` under "%Y%m", `202613`),
 * NULL otherwise. Last, so a reader of QUARANTINE_COLUMNS reads either table alike (features.ts
 * makes one of those alone for a database the load did not make).
 */
export const LOADED_QUARANTINE_COLUMNS = `${QUARANTINE_COLUMNS.slice(0, -1)}, month_text VARCHAR)`;

/** Columns of table checked_usage that are the check's, not a usage row's: never written to a month's file. */
export const CHECK_COLUMNS = 'file_index, file_row, reason, month_text';

/**
 * A DATE from text as exports write days (NULL when it is none): ISO dates with or without a
 * time or zone, `/` between the parts and unpadded parts (`2019/3/5`), as DuckDB casts them, and
 * `2019年3月5日` and `2019.03.05`. A DATE or TIMESTAMP column reads the same through its text.
 */
export function dateSql(text: string): string {
  // every form starts with a year and a separator: other text (most of a column of categories,
  // 'infinity') is passed over before the casts, which cost ~10x the test
  return `CASE WHEN regexp_matches(${text}, '^\\s*\\d{4}\\D') THEN coalesce(TRY_CAST(${text} AS DATE), try_strptime(${text}, ['%Y年%m月%d日', '%Y.%m.%d'])::DATE) END`;
}

/**
 * Statements that type every raw row and name the first contract rule it breaks. Reads view
 * `raw_input(file_index, file_row, <columns present>)`; leaves table `checked_usage` with
 * typed columns and `reason` (NULL for a valid row), a temporary table (`create`, then
 * `duplicates`); `count` counts what they would find without keeping a row. `presentColumns` maps each input column to
 * its DuckDB type: a column that already has the contract's type is taken as it is (a cast and
 * its failure check would cost a pass over every value and can never fail). Identifiers come
 * only from the contract; the run window is read from the session variables window_start /
 * window_end (bound with setVariable). `userColumns` (user feature columns of raw_input, already
 * typed; a blank is a missing value, never a reason) are carried through as they are;
 * `columnLabels` names a contract column in its reasons as the user's file does (domain/mapping.ts
 * columnLabel, the user's names in a string literal); `decimalSeparator` how a number column
 * read as text writes its numbers (textNumberSql).
 */
export function buildCheckSql(
  presentColumns: ReadonlyMap<string, string>,
  userColumns: string[] = [],
  columnLabels: ReadonlyMap<string, string> = new Map(),
  decimalSeparator: DecimalSeparator = '.',
  /** Whether any input file is a CSV, whose ids a spreadsheet may have turned into numbers (1.38E+10). */
  csvInput = false,
  /** Whether tenure_months arrives as a date's text (the mapping's monthsSince): its months to the row's month are counted. */
  tenureFromDate = false,
  {
    monthFormat = false,
    headerNames = new Map(),
  }: {
    /** Whether the month arrives as formattedMonthSql's text (the mapping's monthFormat): read by formattedTextMonthSql. */
    monthFormat?: boolean;
    /**
     * Contract column -> the input's header for the column it is read from as it is (load.ts
     * headerColumns): a row holding those headers is a header row repeated in the file, quarantined
     * as REPEATED_HEADER (repeatedHeaderSql).
     */
    headerNames?: ReadonlyMap<string, string>;
  } = {},
): { create: string; duplicates: string; count: string } {
  const reason = (column: ColumnContract, rule: string) =>
    sqlString(`${columnLabels.get(column.name) ?? column.name}: ${rule}`);
  const sourceType = (column: ColumnContract) => presentColumns.get(column.name);
  /** Whether the column is tenure_months counted from a day joined (the mapping's monthsSince). */
  const fromDayJoined = (column: ColumnContract) => column.name === 'tenure_months' && tenureFromDate;
  /** The row's month, read: the first day of it. */
  const monthSql = () => {
    const month = USAGE_CONTRACT.find((column) => column.name === 'month');
    return month && presentColumns.has('month') ? `date_trunc('month', ${conversion(month)})::DATE` : 'NULL::DATE';
  };
  /** Text that arrives as bytes (BLOB) must be valid UTF-8; anything else is cast. */
  const conversion = (column: ColumnContract): string => {
    const id = quoteIdent(column.name);
    // whole months from the day joined to the row's month: joined in the row's month is 0
    if (fromDayJoined(column)) return `date_diff('month', ${dateSql(id)}, ${monthSql()})`;
    if (column.name === 'subscriber_id' && sourceType(column) === 'VARCHAR') return wholeIdTextSql(id);
    if (sourceType(column) === column.type) return id;
    if (column.type === 'VARCHAR' && sourceType(column) === 'BLOB') return `try(decode(${id}))`;
    // numbers of any type (a BIGINT file beside a DOUBLE one reads as DOUBLE): whole ones as integers
    if (column.name === 'subscriber_id' && sourceType(column) !== 'VARCHAR') return idTextSql(id);
    // months as text: a date (2026-10-01) or a year and month (2026-10)
    if (column.name === 'month' && sourceType(column) === INSTANT_TYPE) return instantDaySql(id);
    if (column.name === 'month' && !['DATE', 'TIMESTAMP'].includes(sourceType(column) ?? ''))
      return monthFormat ? formattedTextMonthSql(id) : textMonthSql(id);
    // numbers written as text (a CSV's: every column is text), as a spreadsheet formats them too
    if (['DOUBLE', 'INTEGER'].includes(column.type) && sourceType(column) === 'VARCHAR')
      return textNumberSql(id, decimalSeparator, column.type);
    return `TRY_CAST(${id} AS ${column.type})`;
  };
  /** The contract's columns read; with `rawTextId` a text id as written (the count: a dotted one stops its file's copy anyway). */
  const typedColumns = (rawTextId: boolean) =>
    USAGE_CONTRACT.map((column) => {
      const id = quoteIdent(column.name);
      // a snapshot may lack a non-nullable usage column: a placeholder, and what it feeds is skipped (features.ts)
      if (!presentColumns.has(column.name)) return `${column.nullable ? 'NULL' : '0'}::${column.type} AS ${id}`;
      if (rawTextId && column.name === 'subscriber_id' && sourceType(column) === 'VARCHAR') return id;
      return column.name === 'month' ? `${monthSql()} AS ${id}` : `${conversion(column)} AS ${id}`;
    });
  const converted = USAGE_CONTRACT.filter(
    (column) => presentColumns.has(column.name) && sourceType(column) !== column.type,
  );
  // a header row repeated in the file, before the type failures, which would name its month
  const headerRow = repeatedHeaderSql([...headerNames].map(([column, name]) => [quoteIdent(column), name]));
  const typeFailures = converted.map((column) => {
    const rule =
      sourceType(column) === 'BLOB' && column.type === 'VARCHAR'
        ? 'not valid UTF-8 text'
        : fromDayJoined(column)
          ? 'not a date'
          : notReadableAs(column.type);
    // a day joined read apart from the row's month, whose own failure is the month's to name
    const read = fromDayJoined(column) ? dateSql(quoteIdent(column.name)) : conversion(column);
    // a number written another way says how (the hint the run's stop gives): `spend: not a valid double: <hint>`
    const said =
      NUMBER_TYPES.has(column.type) && !fromDayJoined(column)
        ? `${reason(column, rule)} || coalesce(': ' || ${numberFormatHintSql(quoteIdent(column.name), decimalSeparator)}, '')`
        : reason(column, rule);
    return `WHEN ${quoteIdent(column.name)} IS NOT NULL AND ${read} IS NULL THEN ${said}`;
  });
  // a spreadsheet shows a long numeric id as 1.38E+10 and saves it so: many subscribers would
  // become one (quarantined as duplicates but one, scored as a made-up id). A substring test
  // first: most ids hold no "E+"
  const scientificId = (column: ColumnContract) =>
    csvInput && column.name === 'subscriber_id' && presentColumns.has(column.name)
      ? [
          `WHEN (contains(t.subscriber_id, 'E+') OR contains(t.subscriber_id, 'e+')) AND regexp_full_match(trim(t.subscriber_id), '[0-9]([.,][0-9]+)?[eE]\\+[0-9]+') THEN ${reason(column, SCIENTIFIC_ID)}`,
        ]
      : [];
  /** Whether the checks may rewrite a row's id (a whole number written with `.0`: it holds a dot), on raw_input. */
  const idRewrittenSql =
    presentColumns.get('subscriber_id') === 'VARCHAR' ? `coalesce(contains(subscriber_id, '.'), false)` : 'false';
  const ruleFailures = USAGE_CONTRACT.flatMap((column) => [...rowRules(column, reason), ...scientificId(column)]);
  // the month as written, kept where it cannot be read (a date's never fails)
  const monthText =
    presentColumns.has('month') && !['DATE', 'TIMESTAMP', INSTANT_TYPE].includes(presentColumns.get('month') ?? '')
      ? `"month"::VARCHAR`
      : 'NULL::VARCHAR';
  // the count's: text ids as written, and `extra` columns of raw_input's beside the checked ones
  const checkedRowsSql = (count = false, extra: string[] = []) => `WITH typed AS (
  SELECT file_index, file_row, ${[...typedColumns(count), ...userColumns.map(quoteIdent), ...extra].join(',\n         ')},
    CASE ${[...(headerRow ? [`WHEN ${headerRow} THEN ${sqlString(REPEATED_HEADER)}`] : []), ...typeFailures].join('\n      ') || 'WHEN false THEN NULL'} END AS type_failure,
    ${monthText} AS month_text
  FROM raw_input
)
SELECT t.* EXCLUDE (type_failure, month_text), CASE WHEN t."month" IS NULL THEN t.month_text END AS month_text,
  -- a row of a month outside the window is that first, whatever else it breaks: it is not read
  CASE WHEN t."month" < getvariable('window_start')::DATE OR t."month" > getvariable('window_end')::DATE THEN '${OUTSIDE_WINDOW}'
  ELSE coalesce(type_failure, CASE
    ${ruleFailures.join('\n    ')}
  END) END AS reason
FROM typed t`;
  return {
    // temporary (in memory, spilled past the memory limit): the load writes each month's valid
    // rows to Parquet and keeps the quarantined rows, so the database file never holds them
    create: `CREATE OR REPLACE TEMP TABLE checked_usage AS ${checkedRowsSql()}`,
    // what the checks would find, counted without keeping any row: rows that break a rule, rows
    // beyond the first of a (subscriber, month) when none does, and ids the checks may rewrite
    count: `SELECT count(*) AS rows, count(*) FILTER (WHERE reason IS NOT NULL) AS broken,
  count(*) - count(DISTINCT (subscriber_id, "month")) AS repeated,
  count(*) FILTER (WHERE id_rewritten) AS rewritten
FROM (${checkedRowsSql(true, [`${idRewrittenSql} AS id_rewritten`])})`,
    // Duplicates are rare: find their keys with a hash aggregate, then keep the first row of each
    // key in file order (files are numbered in path order) and quarantine the rest, instead of
    // windowing over every row.
    duplicates: `UPDATE checked_usage SET reason = 'duplicate (subscriber_id, month)'
FROM (
  SELECT file_index, file_row
  FROM (
    SELECT c.file_index, c.file_row,
           row_number() OVER (PARTITION BY c.subscriber_id, c."month" ORDER BY c.file_index, c.file_row) AS copy_no
    FROM checked_usage c
    SEMI JOIN (
      SELECT subscriber_id, "month" FROM checked_usage WHERE reason IS NULL GROUP BY ALL HAVING count(*) > 1
    ) k ON c.subscriber_id = k.subscriber_id AND c."month" = k."month"
    WHERE c.reason IS NULL
  )
  WHERE copy_no > 1
) d
WHERE checked_usage.file_index = d.file_index AND checked_usage.file_row = d.file_row`,
  };
}

/** The contract's number types, whose values a file may write as numbers are formatted (numberFormatHintSql). */
const NUMBER_TYPES = new Set(['DOUBLE', 'INTEGER']);

/** WHEN-clauses for one column's NULL, range and length rules, in that order. */
function rowRules(column: ColumnContract, reason: (column: ColumnContract, rule: string) => string): string[] {
  const id = `t.${quoteIdent(column.name)}`;
  const rules: string[] = [];
  if (!column.nullable) rules.push(`WHEN ${id} IS NULL THEN ${reason(column, 'missing')}`);
  if (column.type === 'DOUBLE')
    rules.push(`WHEN isnan(${id}) OR isinf(${id}) THEN ${reason(column, 'not a finite number')}`);
  if (column.min !== undefined && column.max !== undefined) {
    rules.push(
      `WHEN ${id} < ${column.min} OR ${id} > ${column.max} THEN ${reason(column, `outside [${column.min}, ${column.max}]`)}`,
    );
  }
  if (column.maxLength !== undefined) {
    rules.push(
      `WHEN length(${id}) > ${column.maxLength} THEN ${reason(column, `longer than ${column.maxLength} characters`)}`,
    );
  }
  return rules;
}
