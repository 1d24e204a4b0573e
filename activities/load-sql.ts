import { USAGE_CONTRACT, quoteIdent, type ColumnContract } from '../data/contract';

/**
 * Builds the statement that types every raw row and names the first contract rule it breaks.
 * Identifiers come only from the contract; the run window is bound as $window_start/$window_end.
 * Reads table `raw_input(input_row, source_file, <columns present>)`, writes `checked_input`.
 */
export function buildCheckSql(presentColumns: ReadonlySet<string>): string {
  const typed = USAGE_CONTRACT.map((column) => {
    const id = quoteIdent(column.name);
    if (!presentColumns.has(column.name)) return `NULL::${column.type} AS ${id}`;
    const cast = `TRY_CAST(${id} AS ${column.type})`;
    return column.type === 'DATE' && column.name === 'month' ? `date_trunc('month', ${cast})::DATE AS ${id}` : `${cast} AS ${id}`;
  });
  const typeFailures = USAGE_CONTRACT.filter((column) => presentColumns.has(column.name)).map((column) => {
    const id = quoteIdent(column.name);
    return `WHEN ${id} IS NOT NULL AND TRY_CAST(${id} AS ${column.type}) IS NULL THEN '${column.name}: not a valid ${column.type.toLowerCase()}'`;
  });
  const ruleFailures = USAGE_CONTRACT.flatMap((column) => rowRules(column));
  return `
CREATE OR REPLACE TABLE checked_input AS
WITH typed AS (
  SELECT input_row, source_file, ${typed.join(',\n         ')},
    CASE ${typeFailures.join('\n      ') || 'WHEN false THEN NULL'} END AS type_failure
  FROM raw_input
), reasoned AS (
  SELECT t.* EXCLUDE (type_failure),
    coalesce(type_failure, CASE
      ${ruleFailures.join('\n      ')}
      WHEN t."month" < $window_start::DATE OR t."month" > $window_end::DATE THEN 'month: outside the run window'
    END) AS reason
  FROM typed t
)
SELECT * EXCLUDE (reason),
  coalesce(reason, CASE WHEN row_number() OVER (PARTITION BY (reason IS NULL), subscriber_id, "month" ORDER BY input_row) > 1
                        THEN 'duplicate (subscriber_id, month)' END) AS reason
FROM reasoned`;
}

/** WHEN-clauses for one column's NULL, range and length rules, in that order. */
function rowRules(column: ColumnContract): string[] {
  const id = `t.${quoteIdent(column.name)}`;
  const rules: string[] = [];
  if (!column.nullable) rules.push(`WHEN ${id} IS NULL THEN '${column.name}: missing'`);
  if (column.type === 'DOUBLE') rules.push(`WHEN isnan(${id}) OR isinf(${id}) THEN '${column.name}: not a finite number'`);
  if (column.min !== undefined && column.max !== undefined) {
    rules.push(`WHEN ${id} < ${column.min} OR ${id} > ${column.max} THEN '${column.name}: outside [${column.min}, ${column.max}]'`);
  }
  if (column.maxLength !== undefined) {
    rules.push(`WHEN length(${id}) > ${column.maxLength} THEN '${column.name}: longer than ${column.maxLength} characters'`);
  }
  return rules;
}
