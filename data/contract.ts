/**
 * The usage input contract: one row per subscriber per month. The loader enforces it: files
 * missing a required column are refused; rows breaking a type, range or key rule are
 * quarantined with the first rule they break.
 */

type ColumnType = 'VARCHAR' | 'DATE' | 'DOUBLE' | 'INTEGER' | 'BOOLEAN';

export interface ColumnContract {
  name: string;
  type: ColumnType;
  /** A file without this column is refused; optional columns are filled with NULL. */
  required: boolean;
  /** NULL allowed in a row. */
  nullable: boolean;
  /** Inclusive bounds for numeric columns: values outside are absurd, not merely rare. */
  min?: number;
  max?: number;
  maxLength?: number;
  description: string;
}

const MINUTES_IN_MONTH = 31 * 24 * 60;

export const USAGE_CONTRACT: readonly ColumnContract[] = [
  {
    name: 'subscriber_id',
    type: 'VARCHAR',
    required: true,
    nullable: false,
    maxLength: 64,
    description: 'Subscriber key',
  },
  { name: 'month', type: 'DATE', required: true, nullable: false, description: 'First day of the usage month' },
  {
    name: 'voice_minutes',
    type: 'DOUBLE',
    required: true,
    nullable: false,
    min: 0,
    max: MINUTES_IN_MONTH,
    description: 'Outgoing + incoming call minutes (MOU)',
  },
  {
    name: 'data_mb',
    type: 'DOUBLE',
    required: true,
    nullable: false,
    min: 0,
    max: 10_000_000,
    description: 'Mobile data volume in MB (DOU)',
  },
  {
    name: 'sms_count',
    type: 'INTEGER',
    required: false,
    nullable: true,
    min: 0,
    max: 100_000,
    description: 'SMS sent',
  },
  {
    name: 'spend',
    type: 'DOUBLE',
    required: true,
    nullable: false,
    min: 0,
    max: 1_000_000,
    description: 'Billed revenue in the month, yuan (ARPU source)',
  },
  {
    name: 'recharge_count',
    type: 'INTEGER',
    required: false,
    nullable: true,
    min: 0,
    max: 1_000,
    description: 'Recharges / payments in the month',
  },
  {
    name: 'recharge_amount',
    type: 'DOUBLE',
    required: false,
    nullable: true,
    min: 0,
    max: 1_000_000,
    description: 'Amount recharged / paid, yuan',
  },
  {
    name: 'last_recharge_date',
    type: 'DATE',
    required: false,
    nullable: true,
    description: 'Date of the last recharge or payment so far',
  },
  {
    name: 'payment_delay_days',
    type: 'INTEGER',
    required: false,
    nullable: true,
    min: 0,
    max: 366,
    description: 'Days the bill was paid late',
  },
  {
    name: 'complaints',
    type: 'INTEGER',
    required: false,
    nullable: true,
    min: 0,
    max: 1_000,
    description: 'Complaints and service calls',
  },
  { name: 'plan', type: 'VARCHAR', required: false, nullable: true, maxLength: 128, description: 'Tariff plan' },
  {
    name: 'contract_end_date',
    type: 'DATE',
    required: false,
    nullable: true,
    description: 'End of the contract, NULL without one',
  },
  {
    name: 'has_broadband',
    type: 'BOOLEAN',
    required: false,
    nullable: true,
    description: 'Sticky service: fixed broadband',
  },
  {
    name: 'has_family_bundle',
    type: 'BOOLEAN',
    required: false,
    nullable: true,
    description: 'Sticky service: family / bundle plan',
  },
  {
    name: 'tenure_months',
    type: 'INTEGER',
    required: true,
    nullable: false,
    min: 0,
    max: 1_200,
    description: 'Months on the network',
  },
  {
    name: 'call_circle',
    type: 'INTEGER',
    required: false,
    nullable: true,
    min: 0,
    max: 100_000,
    description: 'Distinct contacts called in the month',
  },
  {
    name: 'premium_number',
    type: 'BOOLEAN',
    required: false,
    nullable: true,
    description: 'Holds a premium ("lucky") number',
  },
  { name: 'region', type: 'VARCHAR', required: false, nullable: true, maxLength: 128, description: 'Region' },
  {
    name: 'grid',
    type: 'VARCHAR',
    required: false,
    nullable: true,
    maxLength: 128,
    description: 'Service grid (territory owned by a store and manager)',
  },
  {
    name: 'churn_label',
    type: 'BOOLEAN',
    required: false,
    nullable: true,
    description: "The user's churn outcome: left within the month after this row's month",
  },
];

/** The contract's number columns (DOUBLE, INTEGER): those a mapping's decimalSeparator applies to. */
export const NUMBER_COLUMNS: ReadonlySet<string> = new Set(
  USAGE_CONTRACT.filter((column) => column.type === 'DOUBLE' || column.type === 'INTEGER').map((column) => column.name),
);

/**
 * Cells a CSV export writes for "no value", read as missing as an empty cell is: SQL dumps' \N,
 * NULL as databases and Excel print it, pandas' NaN and <NA>, Excel's #N/A, Python's None. Every
 * CSV (usage, labels, contact log) is read with them (csvNullstr), so a "NULL" is never a plan or
 * grid named NULL, nor a number that fails its check.
 */
const CSV_MISSING_CELLS: readonly string[] = [
  '',
  'NULL',
  'null',
  'Null',
  '\\N',
  'NA',
  'N/A',
  'n/a',
  '#N/A',
  'NaN',
  'nan',
  '<NA>',
  'None',
  'none',
];

/** Whether a file is read as CSV, by its name: .csv, or .tsv (a tab-separated one: read_csv finds the tab). */
export function isCsvPath(path: string): boolean {
  return /\.(csv|tsv)$/i.test(path);
}

/**
 * Whether the load passes over a file or folder of this name, with all it holds: hidden, as Spark,
 * Hive and DuckDB take them (a notebook's `.ipynb_checkpoints`, a write's `_temporary` and
 * `_SUCCESS`, a store kept in `.segflow`). The one rule for the load's listing and `run`'s checks.
 */
export function isPassedOverName(name: string): boolean {
  return name.startsWith('.') || name.startsWith('_');
}

/**
 * read_csv's nullstr option naming CSV_MISSING_CELLS (none holds a quote), but those in `kept`:
 * cells a mapping's `values` give a meaning ("NA": "north_america") are read as written. An empty
 * cell is missing whatever the mapping says.
 */
export function csvNullstr(kept: Iterable<string> = []): string {
  const keep = new Set(kept);
  const missing = CSV_MISSING_CELLS.filter((cell) => cell === '' || !keep.has(cell));
  return `nullstr = [${missing.map((cell) => `'${cell}'`).join(', ')}]`;
}

/**
 * The quarantine reason of a valid row of a month outside the run's window (a file holding every
 * month): listed like the others, but not a break of the contract (load.ts assertUsable), and not
 * read. Here, with no import, for what only reads manifests (`snapshots show`).
 */
export const OUTSIDE_WINDOW = 'month: outside the run window';

/** Double-quotes an identifier; every identifier segflow puts in SQL comes from the contract. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
