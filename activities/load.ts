import { constants, type Stats } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import writeFileAtomic from 'write-file-atomic';
import { randomUUID } from 'node:crypto';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { userInfo } from 'node:os';
import { listValue, type DuckDBConnection } from '@duckdb/node-api';
import { NUMBER_COLUMNS, USAGE_CONTRACT, isCsvPath, isPassedOverName, quoteIdent } from '../data/contract';
import {
  DataQualityError,
  InputFileError,
  InvalidParamsError,
  isPermissionDenied,
  isStoreFull,
  SchemaContractError,
  UnreadInputFilesError,
} from '../domain/errors';
import type { InputFile, MappingFile } from '../store/manifest';
import {
  columnLabel,
  IDENTITY_MAPPING,
  isMonthsSince,
  parseMapping,
  renamedColumn,
  resolveColumnNames,
  sameButForCase,
  SNAPSHOT_OPTIONAL,
  type ColumnMatch,
  type ColumnSource,
  type InputColumn,
  type DecimalSeparator,
  type InputMapping,
} from '../domain/mapping';
import { closestName } from '../domain/closest-name';
import { addMonths, firstDay, notEndedYet, trainingMonth } from '../domain/month';
import { parseRunParams, type RunParams } from '../domain/params';
import { MAX_PARTITIONS } from '../domain/partitions';
import { runDir, usageMonthFile, type RunRef, type StoreConfig } from '../store/layout';
import { linkOrCopy } from '../store/files';
import type { ReusedArtifact } from '../store/artifacts';
import { checkpoint, withQueryProgress } from './context';
import { canonicalJson, hashFile, paramsHash, sha256 } from '../store/hashing';
import {
  appendRows,
  numberedVariable,
  queryOne,
  queryRows,
  readSql,
  setVariable,
  sqlString,
  withConnection,
} from './duckdb';
import { applyLabels, inputRowLabelSql, inspectLabels, type LabelsFile } from './labels';
import { labelsRunCopy, mappingRunCopy } from './run-copies';
import {
  findPlanReading,
  keepCheckReading,
  planKey,
  storePlanReading,
  takeCheckReading,
  type PlanFileStamp,
} from './plan-cache';
import { readContactsMapping, viewRawContacts } from './contact-log';
import { csvReadProblem, isUtf8, unsplitCsv, utf8ReadPath } from './csv-encoding';
import {
  buildCheckSql,
  CHECK_COLUMNS,
  DECIMAL_ID,
  EXCEL_MONTH_FORMAT,
  formattedMonthSql,
  formattedTextMonthSql,
  mappingNullstr,
  notReadableAs,
  withoutNumberHint,
  numberFormatHint,
  OUTSIDE_WINDOW,
  LOADED_QUARANTINE_COLUMNS,
  repeatedHeaderSql,
  idTextSql,
  instantDaySql,
  INSTANT_TYPE,
  textMonthSql,
  textNumberSql,
} from './load-sql';
import {
  resolveUserFeatures,
  userFeatureSql,
  userText,
  type SkippedUserFeature,
  type UserFeature,
  type UserFeatureLabel,
} from './user-features';

/** What the load stage decided before reading any rows: small, so it travels between activities. */
export interface LoadPlan {
  params: RunParams;
  /** sha256 of the canonical parameters: equal for reruns with the same parameters. */
  paramsHash: string;
  /** Months the run reads: the history window plus one month before it for churn training. */
  windowStart: string;
  windowEnd: string;
  inputFiles: InputFile[];
  /** Month-partitioned files outside the window, not read at all. */
  filesOutsideWindow: number;
  mapping: InputMapping;
  /** The mapping file as read (`mapping` parameter): its sha256 goes into the manifest, for auditors and reproduce. */
  mappingFile: MappingFile | null;
  /** Contract column -> the DuckDB type of the input column it is read from (MIXED when files disagree). */
  presentColumns: [string, string][];
  /** The user's own columns the models use (mapping `features`), typed; table user_feature_rows holds them. */
  userFeatures: UserFeature[];
  /** The user's columns left out, with the reason. */
  skippedUserFeatures: SkippedUserFeature[];
  /**
   * Names the mapping or the contract reads that the input writes otherwise (SUBSCRIBER_ID for
   * subscriber_id; `spend` beside `Spend`, which DuckDB reads as `spend_1`), and the column read
   * for each. Absent when every name is found as written.
   */
  columnMatches?: ColumnMatch[];
  /** Churn labels from their own file (`labels` parameter), with the count of ids the input does not have. */
  labels: LabelsFile | null;
  /** The run's database, where the partitions' results are combined. */
  dbPath: string;
  /** One database per partition; with a single partition it is the run's database. */
  partitionDbPaths: string[];
  /**
   * Where each partition's ids begin after the first's (as text, and the id column's type): a
   * partition holds a range of ids, so on Parquet input sorted by subscriber, as extracts usually
   * are, it reads only the row groups holding its ids. Null with one partition, and where a range
   * would spare little reading (a file not sorted by id or without statistics) or cannot be cut
   * (CSV, ids made from row numbers, encoded by the mapping or typed differently across files): a
   * partition then holds the ids that hash to it.
   */
  partitionStarts: { type: string; ids: string[] } | null;
  /**
   * Each input file's stat before the plan hashed it, with that hash: the plan checks them at its
   * end and a partition after reading its rows (assertInputsAsPlanned). The labels file is read
   * from the run's copy, checked as it is made (copyLabels). Absent in a plan made before this
   * version; one made before session 40 stamps the labels file too.
   */
  inputStamps?: FileStamp[];
  /**
   * Input and labels files read through a UTF-8 copy in the run's folder (the mapping's
   * `encoding`; csv-encoding.ts): file -> copy, and the labels file read from the run's copy
   * (labelsRunCopy) or a reproduction's copy in the snapshot (RecordedReading.labels). Absent when
   * every file is read as it is.
   */
  readPaths?: Record<string, string>;
  /**
   * Whether every file's month is its month folder's (a partitioned export: `bill_month=2026-10-01/`
   * holding files without the month column), which the reader adds as the month column.
   */
  monthFromFolders?: boolean;
  seconds: number;
}

/**
 * A month's checked rows kept from an earlier run (activities/usage-months.ts): its valid rows
 * and its quarantined rows as Parquet files, and its counts. The load does not read that month's
 * input files again.
 */
export interface StoredUsageMonth {
  month: string;
  rowsFile: string;
  quarantineFile: string;
  rowsLoaded: number;
  rowsQuarantined: number;
  quarantineByReason: Record<string, number>;
}

/** What the load did with stored months (activities/usage-months.ts), for the audit log and the manifest. */
interface UsageMonthReuse {
  /** Each window month's key (empty: not eligible, see reason). */
  keys: Record<string, string>;
  /** The months taken from earlier runs. */
  reused: ReusedArtifact[];
  /** The months this run stored for later runs. */
  stored: string[];
  reason: string;
  /** Earlier window months whose files changed since last month's snapshot read them (activities/usage-months.ts). */
  inputChanged?: string;
}

/** One partition's rows: every row of a subscriber lands in the same partition. */
export interface PartitionLoad {
  dbPath: string;
  rowsLoaded: number;
  rowsQuarantined: number;
  quarantineByReason: Record<string, number>;
  subscribersInMonth: number;
  /** Valid rows whose month is not their file's month folder (or whose file is in none). */
  rowsOutsideMonthFolder: number;
  /** Month folders (YYYY-MM) holding a row, valid or not, of another month: such a month's rows are not its files' alone. */
  foldersWithOtherMonths: string[];
  /** Set by a load that looked up stored months (a single partition). */
  usageMonths?: UsageMonthReuse;
  /** Months whose file is their one input file, copied as it is (its sha256 is the input file's). */
  copiedMonths?: string[];
  /** Valid rows by window month (YYYY-MM) in this partition. Absent from an older worker's load. */
  rowsByMonth?: Record<string, number>;
  seconds: number;
}

export interface LoadSummary extends Omit<LoadPlan, 'mapping' | 'presentColumns' | 'readPaths' | 'seconds'> {
  rowsRead: number;
  rowsLoaded: number;
  rowsQuarantined: number;
  quarantineByReason: Record<string, number>;
  /** Of rowsQuarantined, the rows of months outside the run window (not read; no break of the contract). Absent from an older worker's load. */
  rowsOutsideWindow?: number;
  subscribersInMonth: number;
  /**
   * Valid rows whose month is not their file's month folder: when there are none, each month's
   * rows come from that month's folder alone, so a later run can reuse a month's features
   * (activities/window-cache.ts).
   */
  rowsOutsideMonthFolder: number;
  /** sha256 of how rows were read: the mapping, the contract columns' input types, the labels file and the input root. */
  readingHash: string;
  /** The months taken from and stored for other runs (a single-partition load that looked them up). */
  usageMonths?: UsageMonthReuse;
  /** "long" (monthly usage) or "snapshot" (one row per subscriber), from the mapping. */
  format: 'long' | 'snapshot';
  /** Contract columns the input provides; features needing others are skipped. */
  inputColumns: string[];
  /** The mapping names user features ("features"): the contract's categorical columns enter the churn model too. */
  openFeatureSet: boolean;
  seconds: number;
}

export const MONTH_FOLDER = /(?:^|\/)(?:usage_month|month)=(\d{4}-\d{2})(?:-01)?(?:\/|$)/;

/**
 * The month (YYYY-MM) of the month folder a file lies in, if any: `month=2026-10` or
 * `usage_month=`, also with the month's first day (`month=2026-10-01`, as DuckDB's and Spark's
 * partitioned writes name a folder). Other `..._month=` folders are not months of usage (an
 * extract's or a bill's month): their files are read whatever their names.
 */
export function monthFolderOf(path: string): string | undefined {
  return MONTH_FOLDER.exec(dirname(path))?.[1];
}

/**
 * For a file without its month that lies in a folder named like a month of another key
 * (`bill_month=2026-10-01/`, a partitioned export): which folder names segflow reads months from.
 */
function otherMonthFolderHint(path: string): string {
  const folder = /(?:^|\/)(\w+)=(\d{4}-\d{2})(?:-\d{2})?(?:\/|$)/.exec(dirname(path));
  if (!folder || monthFolderOf(path) !== undefined) return '';
  return `; its folder ${folder[1]}=${folder[2]}… names a month: segflow takes the months of a partitioned export from folders named month= or usage_month= (rename ${folder[1]}= to month=, and leave month out of the mapping)`;
}

/** The key of the month folder a file lies in (`month` or `usage_month`), if any. */
function monthFolderKey(path: string): string | undefined {
  return MONTH_FOLDER.exec(dirname(path))?.[0].replace(/^\//, '').split('=')[0];
}

/**
 * sha256 over what decides how the input's rows are read, beyond the files themselves: the
 * mapping, the type each contract column is read from (a new file can change it for all), the
 * labels file, and the input root (ids made from row numbers name files relative to it).
 */
export function readingHash(plan: LoadPlan): string {
  return sha256(
    canonicalJson({
      mapping: plan.mapping,
      presentColumns: plan.presentColumns,
      labels: plan.labels ? { path: plan.labels.path, sha256: plan.labels.sha256 } : null,
      input: resolve(plan.params.input),
    }),
  );
}

/**
 * Loads the run's usage files into DuckDB, enforcing the usage contract: plans, loads each
 * partition in turn, combines. The worker runs the same three steps as separate activities,
 * the partitions in parallel (workflows/monthly-segmentation.ts).
 */
/** What a reproduction reads in place of what the parameters name: the snapshot's own records. */
export interface RecordedReading {
  /** The input files, as the snapshot's manifest lists them, instead of listing the input folder. */
  files: readonly string[];
  /** The snapshot's copy of the contact log, when the log at its path changed since. */
  contactLog?: string;
  /** The snapshot's copy of the contact-log mapping, when the file at its path changed since. */
  contactsMapping?: string;
  /**
   * The snapshot's copy of the labels file, when the file at its path changed since: read in its
   * place, while everything recorded (LabelsFile.path, the reading hash, params) names the path.
   */
  labels?: string;
  /** The snapshot's copy of the mapping, when the file at its path changed since (as `labels`). */
  mapping?: string;
}

export async function loadUsage(
  store: StoreConfig,
  run: RunRef,
  rawParams: unknown,
  partitions = 1,
  /** What a reproduction reads instead (RecordedReading). */
  recorded?: RecordedReading,
): Promise<LoadSummary> {
  const plan = await planLoad(store, run, rawParams, partitions, recorded);
  const parts: PartitionLoad[] = [];
  for (const index of plan.partitionDbPaths.keys()) parts.push(await loadPartition(plan, index));
  return combineLoad(plan, parts);
}

/**
 * Checks the parameters and the input files (readable, with the contract's required columns),
 * counts and hashes them, types the user's own feature columns, and names the databases the
 * partitions load into. Files that cannot be read or lack required columns stop the run
 * (non-retryable).
 */
export async function planLoad(
  store: StoreConfig,
  run: RunRef,
  rawParams: unknown,
  partitions?: number,
  recorded?: RecordedReading,
  /** Whether the plan may take what an earlier plan of the same files read (plan-cache.ts); never for a reproduction. */
  reuse?: boolean,
): Promise<LoadPlan>;
/**
 * A check before a run starts (cli/load-plan-check.ts): stops where the run's plan would, and says
 * whether it took a stored reading or read the input. It takes one on the files' stamps alone,
 * before copying or hashing a file (the run's own plan hashes them): a rerun's check reads no input
 * file, only the mapping and the labels file (their sha256 are in the reading's key). It hashes
 * nothing else and stores none: a stored reading names the run that stored it, and `audit verify`
 * looks for that run in the log. 'check-local' is the check of `run --local`, whose worker is
 * this process: a reading it makes is kept in memory for the run's plan (keepCheckReading).
 */
export async function planLoad(
  store: StoreConfig,
  run: RunRef,
  rawParams: unknown,
  partitions: number,
  recorded: RecordedReading | undefined,
  reuse: 'check' | 'check-local',
): Promise<'stored' | 'read'>;
export async function planLoad(
  store: StoreConfig,
  run: RunRef,
  rawParams: unknown,
  partitions = 1,
  recorded?: RecordedReading,
  reuse: boolean | 'check' | 'check-local' = true,
): Promise<LoadPlan | 'stored' | 'read'> {
  const started = performance.now();
  const params = checkedParams(rawParams, partitions);
  const windowEnd = params.month;
  const windowStart = addMonths(params.month, -params.historyMonths);

  if (store.dataRoot) await assertWithin(store.dataRoot, params.input);
  // a reproduction may read the snapshot's copy of the labels file; what is recorded names params.labels
  const recordedLabels = params.labels ? recorded?.labels : undefined;
  if (store.dataRoot && params.labels && !recordedLabels) await assertWithin(store.dataRoot, params.labels);
  const contactLog = recorded?.contactLog ?? params.contacts;
  if (store.dataRoot && params.contacts && !recorded?.contactLog) await assertWithin(store.dataRoot, params.contacts);
  if (store.dataRoot && params.contactsMapping && !recorded?.contactsMapping)
    await assertWithin(store.dataRoot, params.contactsMapping);
  // the mapping is read on the worker too: outside the root, its errors would quote another file
  if (store.dataRoot && params.mapping && !recorded?.mapping) await assertWithin(store.dataRoot, params.mapping);
  // a reproduction reads what the run read, whatever the folder holds now (reproduce.ts names the rest)
  const { files, outsideWindow } = recorded
    ? { files: [...recorded.files], outsideWindow: 0 }
    : await findInputFiles(params.input, windowStart, windowEnd, store.dataRoot);
  const { dbPath, partitionDbPaths } = await runDatabases(store, run, partitions);
  const { mapping: givenMapping, mappingFile } = params.mapping
    ? await readMapping(params.mapping, dbPath, recorded?.mapping)
    : { mapping: IDENTITY_MAPPING, mappingFile: null };
  const check = reuse === 'check' || reuse === 'check-local';
  // from here on the labels are read from a copy no one writes: the run's own, or a snapshot's; a
  // check reads them where they are (the run's plan copies them)
  const labelsRead = params.labels
    ? (recordedLabels ?? (check ? await existingLabels(params.labels) : await copyLabels(params.labels, dbPath)))
    : undefined;

  // before hashing: a file rewritten from here on no longer matches its stamp
  const stamps = await stampFiles(files);
  let hashing: Promise<{ sha256: string; bytes: number }[]> | undefined;
  const hashes = () => {
    if (hashing) return hashing;
    hashing = hashFiles(files);
    hashing.catch(() => undefined); // awaited below; a contract error may end the plan first
    return hashing;
  };
  // a check hashes no file: the run's own plan does
  if (!check) void hashes();
  // a check makes its UTF-8 copies only once it has no stored reading to take
  const readPaths: Record<string, string> = check ? {} : await utf8ReadPaths();
  // read when publishing: a log that cannot be read stops the run now, not after every stage, with
  // the input's reading stored or not
  if (contactLog) {
    const contactsMapping = params.contactsMapping
      ? (
          await readContactsMapping(params.contactsMapping, recorded?.contactsMapping, {
            asRecorded: recorded !== undefined,
          })
        ).mapping
      : undefined;
    await withConnection(':memory:', (conn) =>
      viewRawContacts(conn, contactLog, {
        encoding: params.contactsEncoding,
        workDir: dirname(dbPath),
        mapping: contactsMapping,
        asRecorded: recorded !== undefined,
      }),
    );
  }
  const cache = { store, run, allowed: reuse !== false && recorded === undefined };
  const readingKey = planKey(stamps, {
    mapping: mappingFile?.sha256 ?? null,
    labels: labelsRead ? (await hashFile(labelsRead)).sha256 : null,
    params: {
      month: params.month,
      historyMonths: params.historyMonths,
      input: resolve(params.input),
      labels: params.labels ?? null,
      partitions,
    },
  });
  const stored = await findPlanReading<PlanReading>(cache, readingKey);
  if (check) {
    // taken on the stamps unless a file was written too close to its stamp for the stat to tell
    if (stored && !stamps.some(isRacy)) return 'stored';
    Object.assign(readPaths, await utf8ReadPaths());
  } else if (stored) {
    const sha256s = (await hashes()).map((hash) => hash.sha256);
    // the files are those the reading read, byte for byte: else it is read again
    if (canonicalJson(sha256s) === canonicalJson(stored.sha256)) {
      return planOf(stored.reading, await hashes());
    }
  } else if (cache.allowed) {
    // `run --local`'s check read these files, by the same stamps, moments ago in this process
    const checked = takeCheckReading<PlanReading>(readingKey);
    if (checked && !stamps.some(isRacy)) return storedPlanOf(checked);
  }
  // each step a pass over the input (minutes on one large CSV): named, and DuckDB's progress in it
  let step = "load: reading the input's columns and rows";
  const reading = await withConnection(
    ':memory:',
    (conn) =>
      withQueryProgress(
        conn,
        () => ({ step }),
        async (): Promise<PlanReading> => {
          const checked = await checkFiles(conn, files, givenMapping, readPaths);
          step = 'load: checking the columns a mapping sums';
          // the mapping naming each column it reads as DuckDB reads it (resolveColumnNames)
          const { mapping } = checked;
          const reading = inputReading(mapping, readPaths, checked.monthFromFolders);
          await assertSummedPartsHoldNumbers(conn, await inputRowsSql(conn, files, files, reading), mapping);
          let labels: LabelsFile | null = null;
          let label: UserFeatureLabel | undefined;
          // "auto" judges each column against the label on the rows the churn model trains on, each
          // input row's month read as the load reads it
          const rowMonth = typesAuto(mapping)
            ? await inputMonthSql(conn, mapping, params.month, checked.presentColumns.get('month'))
            : undefined;
          if (params.labels) {
            step = 'load: reading the labels file against the input';
            await bindFileNames(conn, files, params.input);
            const ids = `SELECT ${idTextSql(subscriberIdSql(mapping))} AS subscriber_id FROM (${await inputRowsSql(conn, files, files, reading)})`;
            // hashed where it is read (the copy holds the bytes the run read), named as the run named it
            labels = await inspectLabels(conn, params.labels, mapping, ids, {
              copy: labelsRead,
              readFrom: readPaths[params.labels],
            });
            checked.presentColumns.set('churn_label', 'BOOLEAN'); // set from the labels file after the check
            // a column of the input named as the labels file's label column is no feature (a leak), nor
            // one that predicts its labels almost perfectly: "auto" checks each column against them
            const row = rowMonth && { id: idTextSql(subscriberIdSql(mapping)), month: rowMonth };
            label = {
              name: labels.labelColumn,
              ...(row
                ? {
                    sql: await inputRowLabelSql(
                      conn,
                      labels,
                      mapping,
                      row,
                      checked.fileColumns,
                      readPaths[labels.path],
                    ),
                  }
                : {}),
            };
          }
          // monthly usage labelled by segflow itself (churned = no row in the run month): "auto" checks
          // the columns against that label too (a column copied from a churn flag, a month closed)
          if (
            label === undefined &&
            rowMonth &&
            mapping.format === 'long' &&
            !hasLabelColumn(mapping, checked.fileColumns)
          ) {
            step = 'load: finding who left, to check your columns against it';
            await bindFileNames(conn, files, params.input);
            label = await absentNextMonthLabel(
              conn,
              await inputRowsSql(conn, files, files, reading),
              mapping,
              rowMonth,
            );
          }
          const leakCheck = {
            fileRows: true,
            ...(rowMonth ? { trainingRows: await trainingRowsSql(conn, mapping, params.month, rowMonth) } : {}),
          };
          step = 'load: typing your columns and checking them for leaks';
          const user =
            mapping.features === undefined
              ? { features: [], skipped: [] }
              : await resolveUserFeatures(
                  conn,
                  withoutRepeatedHeaders(
                    await inputRowsSql(conn, files, files, reading),
                    headerColumns(mapping, checked.presentColumns, {
                      monthFromFolders: checked.monthFromFolders,
                      labelsFile: labels !== null,
                      matches: checked.matches,
                    }),
                  ),
                  checked.fileColumns,
                  mapping,
                  label,
                  leakCheck,
                );
          // a column DuckDB renamed (`arpu_1` beside `ARPU`) is listed under the file's own name for it
          const skippedUserFeatures = user.skipped.map((skipped) => {
            const clash = checked.renamed.get(skipped.feature);
            if (!clash) return skipped;
            return {
              feature: clash.original,
              reason: checked.skippedRenamed.has(skipped.feature)
                ? `DuckDB reads it as "${skipped.feature}", for the input also has "${clash.beside}" and DuckDB's column names ignore case, so it could not be published under its own name: rename one of the two in the file to use it`
                : skipped.reason,
            };
          });
          step = 'load: cutting the input into partitions';
          const partitionStarts =
            partitions > 1
              ? await partitionStartIds(conn, files, checked.rowCounts, mapping, checked.presentColumns, partitions)
              : null;
          return {
            rowCounts: checked.rowCounts,
            mapping,
            presentColumns: [...checked.presentColumns],
            ...(checked.monthFromFolders ? { monthFromFolders: true } : {}),
            userFeatures: user.features,
            skippedUserFeatures,
            ...(checked.matches.length > 0 ? { columnMatches: checked.matches } : {}),
            labels,
            partitionStarts,
          };
        },
      ),
    // past the memory limit (a wide input's copy of its rows, user-features.ts), into the run's
    // folder: an in-memory database spills to `.tmp` in the working folder, wherever a user ran it
    { spillDir: dirname(dbPath) },
  );
  if (check) {
    // a file written in the 2 s before its stamp may have changed under the same stamp since
    if (reuse === 'check-local' && !stamps.some(isRacy)) keepCheckReading(readingKey, reading);
    return 'read';
  }
  return storedPlanOf(reading);

  /** The plan from a reading of these files, stored for later plans under this run. */
  async function storedPlanOf(found: PlanReading): Promise<LoadPlan> {
    const hashed = await hashes();
    await storePlanReading(cache, readingKey, params.month, {
      sha256: hashed.map((hash) => hash.sha256),
      reading: found,
    });
    return planOf(found, hashed);
  }

  /** The UTF-8 copies the files are read through (utf8Copies), the labels through readPaths[params.labels]. */
  async function utf8ReadPaths(): Promise<Record<string, string>> {
    const copies = await utf8Copies(givenMapping, dirname(dbPath), labelsRead ? [...files, labelsRead] : files);
    // the labels are read through readPaths[params.labels]: the copy (or the file, in a check), or its UTF-8 copy
    if (params.labels && labelsRead) {
      copies[params.labels] = copies[labelsRead] ?? labelsRead;
      if (labelsRead !== params.labels) delete copies[labelsRead];
    }
    return copies;
  }

  /** The plan from what reading the input found, and the files' hashes (checked against their stamps). */
  async function planOf(found: PlanReading, fileHashes: { sha256: string; bytes: number }[]): Promise<LoadPlan> {
    const inputFiles: InputFile[] = fileHashes.map((hash, index) => ({
      path: files[index],
      ...hash,
      rows: found.rowCounts[index],
    }));
    const inputStamps = stamps.map((stamp, index) => ({ ...stamp, sha256: inputFiles[index].sha256 }));
    await assertStampsHeld(inputStamps);
    const { rowCounts: _rows, ...decided } = found;
    return {
      params,
      paramsHash: paramsHash(params),
      windowStart,
      windowEnd,
      inputFiles,
      filesOutsideWindow: outsideWindow,
      ...decided,
      mappingFile,
      dbPath,
      partitionDbPaths,
      inputStamps,
      ...(Object.keys(readPaths).length > 0 ? { readPaths } : {}),
      seconds: (performance.now() - started) / 1000,
    };
  }
}

/** What the plan learns by reading the input: stored for the next plan of the same files (plan-cache.ts). */
type PlanReading = Pick<
  LoadPlan,
  | 'mapping'
  | 'presentColumns'
  | 'monthFromFolders'
  | 'userFeatures'
  | 'skippedUserFeatures'
  | 'columnMatches'
  | 'labels'
  | 'partitionStarts'
> & { rowCounts: number[] };

/** Id types that Parquet statistics order as DuckDB compares them, and whose text casts back exactly. */
const RANGE_ID_TYPE = /^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|VARCHAR|UUID)$/;

/**
 * The ids at which partitions 2..N begin: the quantiles of the ids in the input's largest file,
 * so that each partition holds about as many rows. Null where the ranges would spare the
 * partitions less than a quarter of their reading, judged from the files' row-group statistics
 * (a file not sorted by id, or without statistics), or cannot be cut (LoadPlan.partitionStarts).
 */
async function partitionStartIds(
  conn: DuckDBConnection,
  files: string[],
  rowCounts: number[],
  mapping: InputMapping,
  presentColumns: Map<string, string>,
  partitions: number,
): Promise<LoadPlan['partitionStarts']> {
  const source = mapping.columns.subscriber_id ?? 'subscriber_id';
  // an encoded id is typed as text, whatever type the files store it in
  const type = mapping.values.subscriber_id ? undefined : presentColumns.get('subscriber_id');
  if (typeof source !== 'string' || type === undefined || !RANGE_ID_TYPE.test(type) || files.some(isCsvPath))
    return null;
  const id = quoteIdent(source);
  await setVariable(conn, 'largest_file', files[rowCounts.indexOf(Math.max(...rowCounts))]);
  const shares = Array.from({ length: partitions - 1 }, (_, i) => `${i + 1}/${partitions}`).join(', ');
  const cuts = await queryRows<{ id: string }>(
    conn,
    `SELECT unnest(quantile_disc(${id}, [${shares}]))::VARCHAR AS id FROM read_parquet(getvariable('largest_file'))`,
  );
  if (cuts.length !== partitions - 1) return null;
  const ids = cuts.map((cut) => cut.id);
  // a cut at an id written with `.0` would part it from the same id written without: hashed instead
  if (ids.some((cut) => new RegExp(`^${DECIMAL_ID}$`).test(cut))) return null;
  await setVariable(conn, 'id_files', listValue(files));
  // the type is one RANGE_ID_TYPE allows
  const groups = await queryRows<{ low: string | null; high: string | null; rows: number }>(
    conn,
    `SELECT TRY_CAST(stats_min_value AS ${type})::VARCHAR AS low, TRY_CAST(stats_max_value AS ${type})::VARCHAR AS high,
       row_group_num_rows AS rows
     FROM parquet_metadata(getvariable('id_files')) WHERE path_in_schema = $column`,
    { column: source },
  );
  // the rows the partitions would read: every row group whose ids overlap a partition's range,
  // and one without statistics (or without an id) in every partition
  const below = idComparator(type);
  const total = groups.reduce((sum, group) => sum + group.rows, 0);
  let read = 0;
  for (let p = 0; p < partitions; p++) {
    const from = ids[p - 1];
    const to = ids[p];
    for (const { low, high, rows } of groups)
      if (
        low === null ||
        high === null ||
        ((to === undefined || below(low, to)) && (from === undefined || !below(high, from)))
      )
        read += rows;
  }
  return read <= 0.75 * partitions * total ? { type, ids } : null;
}

/** `a < b` for two ids of `type` as text: numbers as numbers, other ids as text (an estimate's order only). */
function idComparator(type: string): (a: string, b: string) => boolean {
  return /INT(EGER)?$/.test(type) ? (a, b) => BigInt(a) < BigInt(b) : (a, b) => a < b;
}

function checkedParams(rawParams: unknown, partitions: number): RunParams {
  const parsed = parseRunParams(rawParams);
  if (!parsed.ok) throw new InvalidParamsError(`invalid run parameters:\n${parsed.problems.join('\n')}`);
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new InvalidParamsError(`partitions must be a whole number from 1 to ${MAX_PARTITIONS}, got ${partitions}`);
  }
  return parsed.params;
}

/** The run's database and one per partition (with a single partition, the run's database). */
async function runDatabases(
  store: StoreConfig,
  run: RunRef,
  partitions: number,
): Promise<{ dbPath: string; partitionDbPaths: string[] }> {
  const dir = runDir(store, run);
  await mkdir(dir, { recursive: true });
  const dbPath = join(dir, 'work.duckdb');
  const partitionDbPaths =
    partitions === 1
      ? [dbPath]
      : Array.from({ length: partitions }, (_, i) => join(dir, `partition-${String(i).padStart(2, '0')}.duckdb`));
  return { dbPath, partitionDbPaths };
}

/** A file as the plan found it before hashing it: its stat, when it was taken, and the sha256 hashed after. */
interface FileStamp extends PlanFileStamp {
  stampedAt: number;
  sha256: string;
}

/** A file written this close to its stamp is hashed again whatever its stat: a coarse file-system clock could hide a rewrite. */
const RACY_MS = 2_000;

async function stampFiles(paths: string[]): Promise<Omit<FileStamp, 'sha256'>[]> {
  return Promise.all(paths.map(async (path) => ({ path, ...statOf(await stat(path)), stampedAt: Date.now() })));
}

const statOf = ({ size, mtimeMs, ctimeMs, ino }: Stats) => ({ size, mtimeMs, ctimeMs, ino });

/** Written within RACY_MS of its stamp (by its modification or change time): its stat may hide a later write. */
function isRacy(stamp: Omit<FileStamp, 'sha256'>): boolean {
  return stamp.stampedAt - Math.max(stamp.mtimeMs, stamp.ctimeMs) < RACY_MS;
}

function sameStat(stamp: Omit<FileStamp, 'sha256'>, now: Stats): boolean {
  return (
    now.size === stamp.size && now.mtimeMs === stamp.mtimeMs && now.ctimeMs === stamp.ctimeMs && now.ino === stamp.ino
  );
}

/**
 * Stops a plan during which an input or the labels file changed: its hash and its checked
 * columns and row counts could be of two versions of the file. A file whose stat moved (a chmod,
 * a new hard link, an unstable inode on a network mount) but whose bytes still hash as planned
 * passes.
 */
async function assertStampsHeld(stamps: FileStamp[]): Promise<void> {
  for (const stamp of stamps)
    if ((await sinceStamp(stamp)) !== 'same')
      throw new InputFileError(`${stamp.path} changed while the run planned its load; run again`);
}

/**
 * Whether the file still holds the bytes its stamp was hashed from: by its stat alone, unless
 * the stat moved or the file was written within RACY_MS of the stamp (by its modification or
 * change time), then by hashing it again.
 */
async function sinceStamp(stamp: FileStamp): Promise<'same' | 'changed' | 'gone'> {
  const now = await stat(stamp.path).catch(() => null);
  if (!now) return 'gone';
  if (sameStat(stamp, now) && !isRacy(stamp)) return 'same';
  return (await hashFile(stamp.path)).sha256 === stamp.sha256 ? 'same' : 'changed';
}

/**
 * Stops a partition whose input changed after the plan hashed it (a corrected extract written
 * over the file mid-run): its rows would not be those of the sha256 that the manifest and every
 * stored result's key name, and a later run of the file as planned would take them. A file read
 * (`read`; a month taken from the store is not) or the labels file whose stat differs from its
 * stamp, or which was modified within RACY_MS of it, is hashed again; a touched one with the same
 * bytes passes. Called once the partition has read its rows, before anything is stored from them.
 */
async function assertInputsAsPlanned(plan: LoadPlan, read: string[]): Promise<void> {
  // the labels file: stamped by a plan made before session 40, which read it at its path
  const checked = new Set([...read, ...(plan.labels ? [plan.labels.path] : [])]);
  for (const stamp of (plan.inputStamps ?? []).filter((candidate) => checked.has(candidate.path))) {
    const since = await sinceStamp(stamp);
    if (since !== 'same')
      throw new InputFileError(
        `${stamp.path} changed while the run read it (${since === 'gone' ? 'it is gone' : 'its sha256 is no longer the one the run planned with'}): ` +
          'nothing was stored or published from it; run again to read it as it is now',
      );
  }
}

/**
 * Copies the labels file into the run's folder (labelsRunCopy), the file the load reads and
 * publishing keeps: a file written anew at its path before publishing (next month's labels)
 * then stops nothing. One written while it is copied stops the plan, as an input file does.
 * Written aside and renamed: a retried plan's copy replaces one left whole.
 */
async function copyLabels(path: string, dbPath: string): Promise<string> {
  const stamp = await stampLabels(path);
  const aside = join(dirname(dbPath), `.labels-${randomUUID()}.part`);
  try {
    await copyFile(path, aside);
    const { sha256: copied } = await hashFile(aside);
    if ((await sinceStamp({ ...stamp, sha256: copied })) !== 'same')
      throw new InputFileError(`the labels file ${path} changed while the run copied it; run again`);
    const copy = labelsRunCopy(dbPath, path, copied);
    await rename(aside, copy);
    return copy;
  } finally {
    await rm(aside, { force: true });
  }
}

/** The labels file where it is, for a check, which reads it there (copyLabels copies it for a run). */
async function existingLabels(path: string): Promise<string> {
  await stampLabels(path);
  return path;
}

/** The labels file's stamp: one that is not there is the user's input error. */
async function stampLabels(path: string): Promise<Omit<FileStamp, 'sha256'>> {
  const [stamp] = await stampFiles([path]).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new InputFileError(`the labels file ${path} does not exist`);
    throw error;
  });
  return stamp;
}

/** Files are hashed one after another on this thread while DuckDB reads their footers on its own. */
async function hashFiles(files: string[]): Promise<{ sha256: string; bytes: number }[]> {
  const out: { sha256: string; bytes: number }[] = [];
  for (const path of files) out.push(await hashFile(path));
  return out;
}

/**
 * Each file's columns against the contract and the mapping: which contract columns are present
 * (with the DuckDB type they are read from), every file's row count, and all files' columns.
 */
async function checkFiles(
  conn: DuckDBConnection,
  files: string[],
  givenMapping: InputMapping,
  readPaths: Readonly<Record<string, string>>,
): Promise<{
  presentColumns: Map<string, string>;
  rowCounts: number[];
  fileColumns: string[];
  monthFromFolders: boolean;
  /** The mapping naming each column it reads as DuckDB reads it, and what differed (resolveColumnNames). */
  mapping: InputMapping;
  matches: ColumnMatch[];
  renamed: Map<string, { original: string; beside: string }>;
  skippedRenamed: Set<string>;
}> {
  const { nullstr } = inputReading(givenMapping);
  const described: { columns: Map<string, string>; inputColumns: InputColumn[] }[] = [];
  for (const path of files) {
    const readFrom = readPaths[path] ?? path;
    await assertNotEmpty(path, readFrom);
    const columns = await describeFile(conn, path, readFrom, nullstr);
    const unsplit = unsplitCsv(path, [...columns.keys()]);
    if (unsplit) throw new InputFileError(`${basename(path)} ${unsplit} (${path})`);
    described.push({ columns, inputColumns: await inputColumnsOf(conn, path, readFrom, [...columns.keys()]) });
  }
  const resolved = resolveColumnNames(
    givenMapping,
    files.map((path, index) => ({ path, columns: described[index].inputColumns })),
  );
  const { mapping } = resolved;
  const mappedColumns = mappedSourceColumns(mapping);
  const rowCounts: number[] = [];
  /** contract column -> the DuckDB type of the input column it is read from */
  const presentColumns = new Map<string, string>();
  const fileColumns = new Set<string>();
  /** The types the files store subscriber ids as. */
  const idTypes = new Set<string>();
  /** Each column of the Parquet files -> the type it is stored as -> the files that store it so. */
  const storedTypes = new Map<string, Map<string, string[]>>();
  // monthly rows without a month column, each file in a month folder: a partitioned export
  const folderMonths = {
    possible: mapping.format === 'long' && ['month', 'usage_month'].includes(monthSourceColumn(mapping)),
    files: 0,
  };
  for (const [index, path] of files.entries()) {
    await checkpoint({ stage: 'load: checking files', done: index, total: files.length });
    const readFrom = readPaths[path] ?? path;
    const { columns, inputColumns } = described[index];
    // this file's names: another file may write a column otherwise but for case (read together by DuckDB)
    const fileMapping =
      files.length === 1 ? mapping : resolveColumnNames(givenMapping, [{ path, columns: inputColumns }]).mapping;
    // a CSV's start, read once for both checks (sniffed and its header split), only when one needs it
    const head =
      isCsvPath(path) && (mappedColumns.size > 0 || mapping.decimalSeparator === ',')
        ? await csvHead(conn, readFrom)
        : undefined;
    if (head) assertMappedColumnsUnique(path, head, mappedColumns);
    if (mapping.decimalSeparator === ',') assertDecimalCommaReadable(path, head);
    for (const column of columns.keys()) fileColumns.add(column);
    if (!isCsvPath(path))
      for (const [column, type] of columns) {
        const byType = storedTypes.get(column) ?? new Map<string, string[]>();
        byType.set(type, [...(byType.get(type) ?? []), path]);
        storedTypes.set(column, byType);
      }
    const missing: string[] = [];
    for (const column of USAGE_CONTRACT) {
      const type = sourceType(fileMapping, column.name, columns, path);
      if (type !== undefined && column.name === 'subscriber_id') idTypes.add(type);
      if (type !== undefined) presentColumns.set(column.name, unionType(presentColumns.get(column.name), type));
      else if (column.name === 'month' && folderMonths.possible && monthFolderOf(path) !== undefined)
        folderMonths.files++;
      else if (column.required && !(mapping.format === 'snapshot' && SNAPSHOT_OPTIONAL.has(column.name)))
        missing.push(column.name);
    }
    if (missing.length > 0) {
      throw new SchemaContractError(
        `${path} lacks required column(s): ${missing.join(', ')} (the README's "Running it on your own data" lists the columns, docs/own-data.md how to map yours)` +
          caseHint(missing, inputColumns) +
          (missing.includes('month') && !missing.includes('subscriber_id') && mapping.format === 'long'
            ? `; a file of one row per subscriber, without months, is a snapshot: set "format": "snapshot" in the mapping` +
              (files.length > 1
                ? ' (monthly rows need a month column: segflow does not read months from file names)'
                : '') +
              otherMonthFolderHint(path)
            : ''),
      );
    }
    // counting reads every line: a line past DESCRIBE's sample that breaks the file stops here
    const { rows } = await queryOne<{ rows: number }>(
      conn,
      `SELECT count(*) AS rows FROM ${readerSql(path, '$path', nullstr)}`,
      { path: readFrom },
    ).catch((error: unknown) => {
      throw isInputsFault(error) ? unreadableFile(path, error) : error;
    });
    rowCounts.push(rows);
  }
  const contractNames = new Set(USAGE_CONTRACT.map((column) => column.name));
  await assertTypesReadTogether(
    conn,
    storedTypes,
    (column) => typesAuto(mapping) || mappedColumns.has(column) || contractNames.has(column),
  );
  if (mapping.format === 'snapshot' && !presentColumns.has('month')) presentColumns.set('month', 'DATE');
  const monthFromFolders = folderMonths.files > 0;
  if (monthFromFolders && presentColumns.has('month'))
    throw new SchemaContractError(
      `${folderMonths.files} of the ${files.length} input files lack the month column "${monthSourceColumn(mapping)}", which the others have: ` +
        'segflow reads the month from the files, or from the month folders of a partitioned export when no file has it',
    );
  if (monthFromFolders) presentColumns.set('month', 'DATE');
  if (idTypes.size > 1 && idTypes.has('VARCHAR') && (idTypes.has('DOUBLE') || idTypes.has('FLOAT')))
    throw new SchemaContractError(
      `subscriber ids are text in some input files and floating-point numbers in others (${[...idTypes].join(', ')}): ` +
        "the numbers would read as 13800000001.0 beside the text's 13800000001: export the id column of every file as text",
    );
  return {
    presentColumns,
    rowCounts,
    fileColumns: [...fileColumns],
    monthFromFolders,
    mapping,
    matches: resolved.matches,
    renamed: resolved.renamed,
    skippedRenamed: resolved.skippedRenamed,
  };
}

/**
 * For required columns a file lacks: those it has more than once but for case (`Spend`, `SPEND`),
 * which the mapping must choose between, each named as the mapping reads it.
 */
function caseHint(missing: string[], columns: InputColumn[]): string {
  return missing
    .map((name) => {
      const same = sameButForCase(name, columns);
      if (same.length < 2) return '';
      const named = same.map((column) =>
        column.name === column.original ? `"${column.name}"` : `"${column.original}" (read as "${column.name}")`,
      );
      return `; it has ${named.join(' and ')}, which differ from ${name} only in case: say which is ${name} in the mapping's columns, e.g. "${name}": "${same[0].original}"`;
    })
    .join('');
}

/**
 * A file's columns as DuckDB names them (`names`, in order) and as the file does: they differ where
 * DuckDB renamed a name the file repeats but for case (`Spend`, `spend` read as `Spend`,
 * `spend_1`). The file's own names are read only when a name looks renamed so.
 */
async function inputColumnsOf(
  conn: DuckDBConnection,
  path: string,
  readFrom: string,
  names: string[],
): Promise<InputColumn[]> {
  const asNamed = names.map((name) => ({ name, original: name }));
  const folded = new Set(names.map((name) => name.toLowerCase()));
  const looksRenamed = names.some((name) => {
    const stem = /^(.+)_\d+$/.exec(name)?.[1];
    return stem !== undefined && folded.has(stem.toLowerCase());
  });
  if (!looksRenamed) return asNamed;
  const originals = isCsvPath(path) ? await csvHeaderNames(conn, readFrom) : await parquetColumnNames(conn, readFrom);
  if (originals.length !== names.length) return asNamed;
  const isRenaming = (name: string, original: string) =>
    name.startsWith(`${original}_`) &&
    /^\d+$/.test(name.slice(original.length + 1)) &&
    originals.some((other) => other !== original && other.toLowerCase() === original.toLowerCase());
  return names.map((name, i) => ({ name, original: isRenaming(name, originals[i]) ? originals[i] : name }));
}

/** A CSV's header names as the file writes them. */
async function csvHeaderNames(conn: DuckDBConnection, readFrom: string): Promise<string[]> {
  const { header, delimiter } = await csvHead(conn, readFrom);
  return csvFields(header, delimiter).map((name) => name.trim());
}

/** A Parquet file's top-level column names as it stores them (parquet_schema lists nested fields after their column). */
async function parquetColumnNames(conn: DuckDBConnection, readFrom: string): Promise<string[]> {
  const rows = await queryRows<{ name: string; num_children: number | null }>(
    conn,
    'SELECT name, num_children FROM parquet_schema($path)',
    { path: readFrom },
  );
  const names: string[] = [];
  /** The index after element `i` and its descendants. */
  const after = (i: number): number => {
    let next = i + 1;
    for (let child = 0; child < Number(rows[i]?.num_children ?? 0); child++) next = after(next);
    return next;
  };
  for (let i = 1; i < rows.length; i = after(i)) names.push(rows[i].name);
  return names;
}

/**
 * Refuses an empty input file (0 bytes; a CSV of only blank lines): it has no header for DuckDB
 * to read columns from (a CSV would read as one made-up column, and be said to lack every
 * contract column), and most often is an export that failed or was cut off.
 */
async function assertNotEmpty(path: string, readFrom: string): Promise<void> {
  const { size } = await stat(readFrom);
  const blank =
    size === 0 ||
    (isCsvPath(path) && size <= 4096 && (await fileStart(readFrom, 4096)).replace(/^\uFEFF/, '').trim() === '');
  if (blank)
    throw new InputFileError(
      `${basename(path)} is empty (${size === 0 ? '0 bytes' : 'only blank lines'}), with no header and no rows (${path}): ` +
        'was its export cut off? Export it again, or take it out of the input',
    );
}

/** Types any two of which DuckDB reads together as one (a BIGINT file beside a DOUBLE one reads as DOUBLE). */
const NUMBER_TYPE = /^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|DECIMAL\(\d+,\d+\))$/;

/**
 * Stops the plan when a column the load reads is stored as types in some Parquet files that DuckDB
 * cannot read as the type it has in others (a DATE in the months before, a list since): reading
 * all files together, or the months' rows one after another, would fail on them. Types that read
 * together (numbers, text beside numbers) pass; other differing types are tried by reading the
 * column from the files that hold it.
 */
async function assertTypesReadTogether(
  conn: DuckDBConnection,
  storedTypes: ReadonlyMap<string, ReadonlyMap<string, string[]>>,
  read: (column: string) => boolean,
): Promise<void> {
  for (const [column, byType] of storedTypes) {
    const types = [...byType.keys()];
    if (types.length < 2 || !read(column) || types.every((type) => NUMBER_TYPE.test(type))) continue;
    await setVariable(conn, 'typed_files', listValue([...byType.values()].flat().sort()));
    const problem = await queryOne(
      conn,
      `SELECT count(${quoteIdent(column)}) FROM read_parquet(getvariable('typed_files'), union_by_name = true, hive_partitioning = false)`,
    ).then(
      () => undefined,
      (error: unknown) => {
        if (!isInputsFault(error) && !/^Binder Error/i.test(error instanceof Error ? error.message : '')) throw error;
        return (error as Error).message.split('\n')[0];
      },
    );
    if (problem === undefined) continue;
    const listed = [...byType].map(([type, paths]) => {
      const shown = paths.slice(0, 3).join(', ');
      return `${type} in ${shown}${paths.length > 3 ? ` and ${paths.length - 3} more file(s)` : ''}`;
    });
    throw new SchemaContractError(
      `column "${column}" is stored as types that cannot be read together: ${listed.join('; ')} (${problem}): ` +
        'export the column with one type in every file',
    );
  }
}

/**
 * Refuses a file the mapping's decimalSeparator "," cannot apply to: a Parquet file (its numbers
 * are stored as numbers, and text read as one would be read wrong), or a CSV file whose values
 * are separated by commas too (by DuckDB's sniffer, as read_csv reads it), unless its numbers are
 * quoted ("103,03"): its start holds such a number, and its rows have as many values as its
 * header (an unquoted 103,03 makes one more, and the sniffer then takes a data row for the header).
 */
function assertDecimalCommaReadable(path: string, head: CsvHead | undefined): void {
  if (!head)
    throw new InvalidParamsError(
      `the mapping's decimalSeparator "," is for CSV files, but ${path} is Parquet, whose numbers are stored as numbers: leave decimalSeparator out of the mapping for Parquet input`,
    );
  const { delimiter, columns, start, header } = head;
  if (delimiter !== ',') return;
  if (/"\s*-?\d+,\d+\s*"/.test(start) && csvFields(header, ',').length === columns) return;
  throw new InvalidParamsError(
    `the mapping's decimalSeparator is ",", but ${path} separates its values with "," too (its delimiter), so an unquoted 103,03 reads as two values: ` +
      'write the file with ";" between values, quote its numbers ("103,03"), or leave decimalSeparator out if its numbers are written with a point',
  );
}

/**
 * Refuses a CSV whose header names a column the mapping reads twice: DuckDB reads the second as
 * `<name>_1`, so the mapping would read one of the two without a word of the other.
 */
function assertMappedColumnsUnique(path: string, head: CsvHead, mapped: ReadonlySet<string>): void {
  const names = csvFields(head.header, head.delimiter).map((name) => name.trim());
  const twice = [...new Set(names.filter((name, i) => mapped.has(name) && names.indexOf(name) !== i))];
  if (twice.length > 0)
    throw new SchemaContractError(
      `${path} has more than one column named ${twice.map((name) => `"${name}"`).join(', ')}, which the mapping reads: ` +
        `segflow cannot tell which is meant (DuckDB reads the second as "${twice[0]}_1"): rename the others in the file`,
    );
}

/**
 * Stops the plan when a column the mapping sums holds values but not one number (a text, a flag,
 * a date or a list named by mistake): it would add nothing to every row, unsaid.
 */
async function assertSummedPartsHoldNumbers(
  conn: DuckDBConnection,
  inputRows: string,
  mapping: InputMapping,
): Promise<void> {
  const sums = Object.entries(mapping.columns).flatMap(([column, source]) =>
    typeof source === 'object' && 'sum' in source ? source.sum.map((part) => ({ column, part })) : [],
  );
  if (sums.length === 0) return;
  const parts = [...new Set(sums.map(({ part }) => part))];
  const counts = await queryOne<Record<string, number | string | null>>(
    conn,
    `SELECT ${parts
      .map((part, i) => {
        const text = userText(part);
        return `count(${text}) AS values${i}, count(${textNumberSql(text, mapping.decimalSeparator)}) AS numbers${i}, min(${text}) AS example${i}`;
      })
      .join(', ')} FROM (${inputRows})`,
  );
  // numbers written another way (a decimal comma, thousands separators) are the load's to name, with the fix
  const empty = parts.flatMap((part, i) => {
    const example = String(counts[`example${i}`]);
    return Number(counts[`values${i}`]) > 0 &&
      Number(counts[`numbers${i}`]) === 0 &&
      numberFormatHint(example, mapping.decimalSeparator) === undefined
      ? [{ part, example: example.slice(0, 40) }]
      : [];
  });
  if (empty.length > 0) {
    const columns = new Set(sums.filter(({ part }) => empty.some((e) => e.part === part)).map(({ column }) => column));
    const named = empty.map(({ part, example }) => `"${part}" (e.g. '${example}')`);
    throw new SchemaContractError(
      `the mapping sums ${[...columns].join(', ')} from ${named.join(', ')}, which ${empty.length === 1 ? 'holds' : 'hold'} no number: ` +
        'is it the column meant? (a part that is not a number counts as missing on every row)',
    );
  }
}

/** The columns of the input the mapping names: renamed, summed, or listed among its features. */
function mappedSourceColumns(mapping: InputMapping): Set<string> {
  return new Set([
    ...Object.values(mapping.columns).flatMap((source) =>
      typeof source === 'string'
        ? [source]
        : 'sum' in source
          ? source.sum
          : 'monthsSince' in source
            ? [source.monthsSince]
            : [],
    ),
    ...(mapping.features && mapping.features !== 'auto' ? Object.keys(mapping.features) : []),
  ]);
}

/** A CSV's start as DuckDB's sniffer reads it (delimiter, column count) and as text (its first 64 KiB, its header line). */
interface CsvHead {
  delimiter: string;
  columns: number;
  start: string;
  header: string;
}

async function csvHead(conn: DuckDBConnection, readFrom: string): Promise<CsvHead> {
  const { delimiter, columns } = await queryOne<{ delimiter: string; columns: number }>(
    conn,
    'SELECT Delimiter AS delimiter, len(Columns) AS columns FROM sniff_csv($path, header = true)',
    { path: readFrom },
  );
  const start = (await fileStart(readFrom, 65_536)).replace(/^\uFEFF/, '');
  return { delimiter, columns: Number(columns), start, header: start.split(/\r?\n/, 1)[0] };
}

/** The values of one CSV line, `"` quoting a value that holds the delimiter (and `""` a quote). */
function csvFields(line: string, delimiter: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (char === '"' && quoted && line[i + 1] === '"') {
      field += '"';
      i++;
    } else if (char === '"') quoted = !quoted;
    else if (char === delimiter && !quoted) {
      fields.push(field);
      field = '';
    } else field += char;
  }
  return [...fields, field];
}

/** The first `bytes` of a file as text (its last character may be cut). */
async function fileStart(path: string, bytes: number): Promise<string> {
  const handle = await open(path);
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(bytes), 0, bytes, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

/**
 * The DuckDB type a contract column is read from in a file with `columns`, or undefined when
 * the file lacks it; a column the mapping names but the file lacks stops the run.
 */
function sourceType(
  mapping: InputMapping,
  contractColumn: string,
  columns: Map<string, string>,
  path: string,
): string | undefined {
  const source = mapping.columns[contractColumn] ?? contractColumn;
  if (typeof source === 'object') {
    if ('rowNumber' in source) return 'VARCHAR';
    if ('monthsSince' in source) {
      if (!columns.has(source.monthsSince))
        throw new SchemaContractError(
          `the mapping counts ${contractColumn} in months since column "${source.monthsSince}", but ${path} has no such column${whichColumns(source.monthsSince, columns)}`,
        );
      return 'VARCHAR'; // the date as text: the check counts the months (buildCheckSql)
    }
    const absent = source.sum.filter((column) => !columns.has(column));
    if (absent.length > 0)
      throw new SchemaContractError(
        `the mapping sums ${contractColumn} from column(s) ${absent.map((c) => `"${c}"`).join(', ')}, but ${path} has no such column${whichColumns(absent[0], columns)}`,
      );
    return 'DOUBLE';
  }
  if (columns.has(source)) return mapping.values[contractColumn] ? 'VARCHAR' : columns.get(source);
  // a partitioned export's month lies in its folder's name (checkFiles)
  if (contractColumn === 'month' && mapping.format === 'long' && source === monthFolderKey(path)) return undefined;
  if (mapping.columns[contractColumn])
    throw new SchemaContractError(
      `the mapping reads ${contractColumn} from column "${source}", but ${path} has no such column${whichColumns(source, columns)}` +
        (contractColumn === 'month' ? otherMonthFolderHint(path) : ''),
    );
  return undefined;
}

/** What a file does have, for a mapping that names a column it lacks: the closest name, and its columns. */
function whichColumns(wanted: string, columns: Map<string, string>): string {
  const names = [...columns.keys()];
  const close = closestName(wanted, names);
  const listed = names.length > 20 ? `${names.slice(0, 20).join(', ')}, … (${names.length} in all)` : names.join(', ');
  return `${close ? ` (did you mean "${close}"?)` : ''}; its columns: ${listed}`;
}

/**
 * Reads one partition's rows (the subscribers whose ids it holds) and checks them against the
 * contract: each month's valid rows go to a Parquet file beside the partition's database, read
 * through view `usage`; table quarantine keeps the others with their reason. The months in
 * `stored` come from an earlier run's files instead (activities/usage-months.ts): their input
 * files are not read.
 */
export async function loadPartition(
  plan: LoadPlan,
  index: number,
  stored: StoredUsageMonth[] = [],
): Promise<PartitionLoad> {
  const started = performance.now();
  const dbPath = plan.partitionDbPaths[index];
  if (dbPath === undefined)
    throw new InvalidParamsError(`no partition ${index}: the plan has ${plan.partitionDbPaths.length}`);
  const userColumns = plan.userFeatures.map((feature) => feature.column);
  const storedMonths = new Set(stored.map((month) => month.month));
  const toRead = plan.inputFiles
    .map((file) => file.path)
    .filter((path) => !storedMonths.has(monthFolderOf(path) ?? ''));
  return withConnection(dbPath, async (conn) => {
    await setVariable(conn, 'window_start', firstDay(plan.windowStart));
    await setVariable(conn, 'window_end', firstDay(plan.windowEnd));
    await setVariable(conn, 'input_files', listValue(plan.inputFiles.map((file) => file.path)));
    await conn.run('CREATE OR REPLACE TEMP TABLE file_folder_months (file_index INTEGER, folder_month VARCHAR)');
    await appendRows(
      conn,
      'file_folder_months',
      plan.inputFiles.map((file, fileIndex) => {
        const month = monthFolderOf(file.path);
        return [fileIndex, month === undefined ? null : firstDay(month)];
      }),
    );
    const partition = { index, count: plan.partitionDbPaths.length };
    // month by month when every file lies in a month folder: a month's checked rows then fit in
    // memory at operator scale. Exact unless a file holds rows of another month (a duplicate
    // could span two months' files): then all at once.
    const byMonth =
      plan.mapping.format === 'long' && toRead.length > 0 && toRead.every((path) => monthFolderOf(path) !== undefined);
    const allAtOnce = { months: windowMonths(plan).filter((month) => !storedMonths.has(month)), files: toRead };
    let checked = await checkChunks(conn, plan, partition, dbPath, byMonth ? groupByMonthFolder(toRead) : [allAtOnce]);
    if (byMonth && checked.foldersWithOtherMonths.length > 0)
      checked = await checkChunks(conn, plan, partition, dbPath, [allAtOnce]);
    // every window month has a file, empty where no valid row (the last chunk's table gives the columns)
    const files: string[] = [];
    for (const month of windowMonths(plan)) {
      const path = usageMonthFile(dbPath, month);
      files.push(path);
      const kept = stored.find((entry) => entry.month === month);
      if (kept) await linkOrCopy(kept.rowsFile, path);
      else if (!checked.written.has(month)) await writeUsageMonth(conn, path, null);
    }
    await viewUsageMonths(conn, dbPath, files);
    await setVariable(conn, 'usage_month_files', listValue(files));
    const fileRows = await queryRows<{ file_name: string; num_rows: number }>(
      conn,
      "SELECT file_name, num_rows FROM parquet_file_metadata(getvariable('usage_month_files'))",
    );
    const rowsByMonth = Object.fromEntries(
      windowMonths(plan).map((month, i) => [
        month,
        fileRows.filter((row) => row.file_name === files[i]).reduce((total, row) => total + Number(row.num_rows), 0),
      ]),
    );
    if (stored.length > 0) {
      await setVariable(conn, 'stored_quarantine_files', listValue(stored.map((month) => month.quarantineFile)));
      await conn.run(
        "INSERT INTO quarantine BY NAME SELECT * FROM read_parquet(getvariable('stored_quarantine_files'))",
      );
    }
    if (userColumns.length > 0) await keepUserFeatureRows(conn, userColumns);
    if (plan.partitionDbPaths.length > 1) {
      await setVariable(conn, 'quarantine_file', partitionOutput(dbPath, 'quarantine'));
      await conn.run("COPY quarantine TO (getvariable('quarantine_file')) (FORMAT parquet)");
      if (userColumns.length > 0) {
        await setVariable(conn, 'user_features_file', partitionOutput(dbPath, 'user-features'));
        await conn.run("COPY user_feature_rows TO (getvariable('user_features_file')) (FORMAT parquet)");
      }
    }
    await assertInputsAsPlanned(plan, toRead);
    const byReason = checked.quarantineByReason;
    for (const month of stored)
      for (const [reason, rows] of Object.entries(month.quarantineByReason))
        byReason.set(reason, (byReason.get(reason) ?? 0) + rows);
    const sum = (pick: (month: StoredUsageMonth) => number) => stored.reduce((total, month) => total + pick(month), 0);
    return {
      dbPath,
      rowsLoaded: checked.loaded + sum((month) => month.rowsLoaded),
      rowsQuarantined: checked.quarantined + sum((month) => month.rowsQuarantined),
      quarantineByReason: Object.fromEntries(byReason),
      // a stored month's rows are all of that month (activities/usage-months.ts)
      subscribersInMonth: checked.inMonth + sum((month) => (month.month === plan.params.month ? month.rowsLoaded : 0)),
      rowsOutsideMonthFolder: checked.outsideMonthFolder,
      foldersWithOtherMonths: checked.foldersWithOtherMonths,
      ...(checked.copied.size > 0 ? { copiedMonths: [...checked.copied].sort() } : {}),
      rowsByMonth,
      seconds: (performance.now() - started) / 1000,
    };
  });
}

/**
 * View `usage` over the window's month files. A month file copied as it is (copyMonthFileAsIs)
 * has the input's columns, in its order, with those the input lacks left out: the files are
 * read by column name, the checked rows' columns and types taken from an empty file written
 * first from table checked_usage, a column a file lacks read as NULL (as the check would have
 * filled it), any other column of the input left out.
 */
async function viewUsageMonths(conn: DuckDBConnection, dbPath: string, files: string[]): Promise<void> {
  const columnsFile = usageMonthFile(dbPath, 'columns');
  await writeUsageMonth(conn, columnsFile, null);
  const columns = await queryRows<{ column_name: string }>(
    conn,
    `DESCRIBE SELECT * EXCLUDE (${CHECK_COLUMNS}) FROM checked_usage`,
  );
  await conn.run(
    `CREATE OR REPLACE VIEW usage AS SELECT ${columns.map(({ column_name: name }) => quoteIdent(name)).join(', ')}
     FROM read_parquet([${[columnsFile, ...files].map(sqlString).join(', ')}], union_by_name = true)`,
  );
}

/** Files read together, and the window months whose valid rows they give. */
interface Chunk {
  months: string[];
  files: string[];
  /** The files of one month folder. */
  monthFolder?: boolean;
}

function windowMonths(plan: LoadPlan): string[] {
  const months: string[] = [];
  for (let month = plan.windowStart; month <= plan.windowEnd; month = addMonths(month, 1)) months.push(month);
  return months;
}

function groupByMonthFolder(files: string[]): Chunk[] {
  const byMonth = new Map<string, string[]>();
  for (const path of files) {
    const month = monthFolderOf(path) as string;
    byMonth.set(month, [...(byMonth.get(month) ?? []), path]);
  }
  return [...byMonth]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([month, paths]) => ({ months: [month], files: paths, monthFolder: true }));
}

/** What the checks of a partition's chunks found, added up. */
interface CheckedRows {
  loaded: number;
  quarantined: number;
  inMonth: number;
  outsideMonthFolder: number;
  quarantineByReason: Map<string, number>;
  foldersWithOtherMonths: string[];
  /** Months whose file the chunks wrote. */
  written: Set<string>;
  /** Of those, the months whose file is their input file, copied. */
  copied: Set<string>;
}

/**
 * Checks each chunk's rows into temporary table checked_usage, writes its months' valid rows to
 * their files and adds its quarantined rows to table quarantine (created anew), counting as it
 * goes. A chunk whose files hold rows of another month ends the walk: the caller checks all
 * files at once instead.
 */
async function checkChunks(
  conn: DuckDBConnection,
  plan: LoadPlan,
  partition: { index: number; count: number },
  dbPath: string,
  chunks: Chunk[],
): Promise<CheckedRows> {
  const presentColumns = new Map(plan.presentColumns);
  // with a monthFormat, raw_input gives each month as text (createRawInput), whatever the file's type
  if (plan.mapping.monthFormat && presentColumns.has('month')) presentColumns.set('month', 'VARCHAR');
  const userColumns = plan.userFeatures.map((feature) => feature.column);
  const checked: CheckedRows = {
    loaded: 0,
    quarantined: 0,
    inMonth: 0,
    outsideMonthFolder: 0,
    quarantineByReason: new Map(),
    foldersWithOtherMonths: [],
    written: new Set(),
    copied: new Set(),
  };
  await conn.run(`CREATE OR REPLACE TABLE quarantine ${LOADED_QUARANTINE_COLUMNS}`);
  const labels = new Map(USAGE_CONTRACT.map((column) => [column.name, columnLabel(plan.mapping, column.name)]));
  const checks = buildCheckSql(
    presentColumns,
    userColumns,
    labels,
    plan.mapping.decimalSeparator,
    plan.inputFiles.some((file) => isCsvPath(file.path)),
    isMonthsSince(plan.mapping.columns.tenure_months),
    {
      monthFormat: plan.mapping.monthFormat !== undefined && presentColumns.has('month'),
      headerNames: headerNames(plan),
    },
  );
  // after a month with quarantined rows the next is checked at once: counting first would read it twice
  let lastClean = true;
  for (const [number, chunk] of chunks.entries()) {
    const step =
      `load: reading and checking rows (partition ${partition.index + 1} of ${partition.count}` +
      (chunks.length > 1 ? `, month ${number + 1} of ${chunks.length})` : ')');
    await checkpoint({ stage: step });
    await createRawInput(conn, plan, partition, chunk.files);
    const asIs = partition.count === 1 ? await monthFileAsIs(conn, plan, chunk) : null;
    if (asIs && lastClean) {
      // a file that may stand for its checked rows as it is: count what the checks would find
      // first, and keep no row when they find nothing (the table checked_usage only gets its columns)
      const found = await readingInput(() =>
        withQueryProgress(
          conn,
          () => ({ step }),
          () => queryOne<{ rows: number; broken: number; repeated: number; rewritten: number }>(conn, checks.count),
        ),
      );
      if (found.rows > 0 && found.broken === 0 && found.repeated === 0 && found.rewritten === 0) {
        await conn.run(`${checks.create} LIMIT 0`);
        await conn.run('DROP VIEW raw_input');
        await copyMonthFileAsIs(asIs, usageMonthFile(dbPath, asIs.month));
        checked.written.add(asIs.month);
        checked.copied.add(asIs.month);
        checked.loaded += found.rows;
        // every row's month is the folder's (month_file_as_is.sql)
        if (asIs.month === plan.params.month) checked.inMonth += found.rows;
        continue;
      }
    }
    await readingInput(async () => {
      await withQueryProgress(
        conn,
        () => ({ step }),
        async () => {
          await conn.run(checks.create);
          await conn.run(checks.duplicates);
        },
      );
      if (plan.labels) await applyLabels(conn, plan.labels, plan.mapping, plan.readPaths?.[plan.labels.path]);
    });
    // the checks may have rewritten ids written with `.0` (they hold a dot): the file may no longer be its checked rows
    const copyable =
      asIs &&
      !(await queryOne<{ any: boolean }>(conn, `SELECT bool_or(contains(subscriber_id, '.')) AS any FROM raw_input`))
        .any;
    await conn.run('DROP VIEW raw_input');
    const folders = await queryRows<{ folder: string }>(
      conn,
      `SELECT DISTINCT strftime(f.folder_month::DATE, '%Y-%m') AS folder
       FROM checked_usage c JOIN file_folder_months f USING (file_index)
       WHERE c."month" IS DISTINCT FROM f.folder_month::DATE AND c."month" IS NOT NULL ORDER BY folder`,
    );
    checked.foldersWithOtherMonths.push(...folders.map((row) => row.folder));
    // a month folder holding another month's rows: a duplicate could span two chunks
    if (chunk.monthFolder && folders.length > 0) return checked;
    const counts = await queryOne<{
      loaded: number;
      quarantined: number;
      in_month: number;
      outside_month_folder: number;
    }>(conn, await readSql(import.meta.url, './load/row_counts.sql'), { month: firstDay(plan.params.month) });
    lastClean = counts.quarantined === 0;
    for (const month of chunk.months) {
      const path = usageMonthFile(dbPath, month);
      if (lastClean && asIs && copyable) {
        await copyMonthFileAsIs(asIs, path);
        checked.copied.add(month);
      } else await writeUsageMonth(conn, path, month);
      checked.written.add(month);
    }
    await conn.run(await readSql(import.meta.url, './load/quarantine.sql'));
    checked.loaded += counts.loaded;
    checked.quarantined += counts.quarantined;
    checked.inMonth += counts.in_month;
    checked.outsideMonthFolder += counts.outside_month_folder;
    const reasons = await queryRows<{ reason: string; rows: number }>(
      conn,
      'SELECT reason, count(*) AS rows FROM checked_usage WHERE reason IS NOT NULL GROUP BY reason',
    );
    for (const { reason, rows } of reasons)
      checked.quarantineByReason.set(reason, (checked.quarantineByReason.get(reason) ?? 0) + rows);
  }
  checked.foldersWithOtherMonths.sort();
  return checked;
}

/**
 * The contract columns read from an input column as it is, with that column (DuckDB's name) and
 * the header the file gives it: a row holding those headers is a header row repeated in the file
 * (repeatedHeaderSql). Not a column summed, counted from a date or made from row numbers, a month
 * the run or the month folders give, nor the labels file's churn label; a column DuckDB renamed
 * (`spend_1` beside `Spend`) by the name the file writes. None unless each of them is text in some
 * file: a typed column (a Parquet file's numbers or dates) holds no header.
 */
function headerColumns(
  mapping: InputMapping,
  presentColumns: ReadonlyMap<string, string>,
  { monthFromFolders = false, labelsFile = false, matches = [] as ColumnMatch[] },
): { column: string; source: string; header: string }[] {
  const columns: { column: string; source: string; header: string }[] = [];
  for (const column of USAGE_CONTRACT) {
    const source = mapping.columns[column.name] ?? column.name;
    if (!presentColumns.has(column.name) || typeof source !== 'string') continue;
    if (column.name === 'month' && (monthFromFolders || (mapping.format === 'snapshot' && !mapping.columns.month)))
      continue;
    if (column.name === 'churn_label' && labelsFile) continue;
    const renamed = matches.find((match) => match.how === 'renamed' && match.column === source);
    columns.push({ column: column.name, source, header: renamed?.name ?? source });
  }
  const text = columns.every(({ column }) => ['VARCHAR', 'MIXED'].includes(presentColumns.get(column) ?? ''));
  return text ? columns : [];
}

/** headerColumns of the plan's input, as the load's check reads them: contract column -> header. */
function headerNames(plan: LoadPlan): Map<string, string> {
  const columns = headerColumns(plan.mapping, new Map(plan.presentColumns), {
    monthFromFolders: plan.monthFromFolders,
    labelsFile: plan.labels !== null,
    matches: plan.columnMatches,
  });
  return new Map(columns.map(({ column, header }) => [column, header]));
}

/**
 * `rows` (SQL over the input files' rows, their columns by DuckDB's names) without the header rows
 * a file repeats, which the load quarantines (repeatedHeaderSql): the plan types the user's
 * columns without reading their names as values ('arpu' among a column's numbers, a category).
 */
function withoutRepeatedHeaders(rows: string, columns: { source: string; header: string }[]): string {
  const header = repeatedHeaderSql(columns.map(({ source, header }) => [quoteIdent(source), header]));
  // a CASE keeps the condition's cheap first test first (NOT coalesce(...) evaluated all of it on every row)
  return header ? `SELECT * FROM (${rows}) WHERE CASE WHEN ${header} THEN false ELSE true END` : rows;
}

/** A month folder's one input file that may stand for its checked rows as it is. */
interface MonthFileAsIs {
  file: InputFile;
  month: string;
}

/**
 * The month folder's one input file when its checked rows will be its rows unchanged, if none is
 * quarantined: a Parquet file of one month (every row group's month statistics its first day),
 * read without a mapping, labels or user features, every contract column in its contract type
 * (month_file_as_is.sql has the rest). The caller checks the rows and that the run has one
 * partition. Then copying the file saves writing its rows as Parquet again, and when the checks
 * find nothing they need not keep the rows either: most of a month's load at operator scale
 * (docs/benchmark.md, session 22).
 */
async function monthFileAsIs(conn: DuckDBConnection, plan: LoadPlan, chunk: Chunk): Promise<MonthFileAsIs | null> {
  const [path, ...others] = chunk.files;
  const [month, ...otherMonths] = chunk.months;
  const file = plan.inputFiles.find((candidate) => candidate.path === path);
  if (!chunk.monthFolder || others.length > 0 || otherMonths.length > 0 || !file || !month) return null;
  if (isCsvPath(file.path) || !readsColumnsAsIs(plan)) return null;
  const { as_is: asIs } = await queryOne<{ as_is: boolean }>(
    conn,
    await readSql(import.meta.url, './load/month_file_as_is.sql'),
    { path: file.path, month: firstDay(month) },
  );
  return asIs ? { file, month } : null;
}

/** Copies the file to `path`; it must hash to what the plan hashed, or it changed while it was read. */
async function copyMonthFileAsIs({ file }: MonthFileAsIs, path: string): Promise<void> {
  // a retried attempt may find a link into the store at this path: never write through it
  await rm(path, { force: true });
  await copyFile(file.path, path, constants.COPYFILE_FICLONE);
  const copied = await hashFile(path);
  if (copied.sha256 !== file.sha256)
    throw new InputFileError(
      `${file.path} changed while it was loaded (its sha256 is not the one the run planned with); run again`,
    );
}

/** Runs `read`, which reads input rows: an unreadable data page is the input's fault, typed as such. */
async function readingInput<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    // the footers were readable, but a data page is not (truncated file, invalid encoding)
    if (isInputsFault(error)) throw new InputFileError(`cannot read the input rows: ${csvReadProblem(error as Error)}`);
    throw error;
  }
}

/**
 * DuckDB's error reading input that is the input's fault, so no retry can mend it: a file it cannot
 * parse or find. Not the machine's: a disk's I/O error or a full disk stays retryable.
 */
export function isInputsFault(error: unknown): boolean {
  const message = error instanceof Error ? error.message : '';
  return (
    /^(IO|Invalid Input|Conversion) Error/i.test(message) &&
    !/Input\/output error/i.test(message) &&
    !isStoreFull(error)
  );
}

/** Whether every input column is read as it is: the contract's names and types, no mapping, labels or user features. */
function readsColumnsAsIs(plan: LoadPlan): boolean {
  const { mapping } = plan;
  const types = new Map(plan.presentColumns);
  return (
    mapping.format === 'long' &&
    Object.entries(mapping.columns).every(([column, source]) => source === column) &&
    Object.keys(mapping.values).length === 0 &&
    mapping.monthFormat === undefined &&
    !plan.monthFromFolders &&
    plan.labels === null &&
    plan.userFeatures.length === 0 &&
    USAGE_CONTRACT.every((column) => !types.has(column.name) || types.get(column.name) === column.type)
  );
}

/**
 * Writes month `month`'s valid rows of table checked_usage to `path`, or with `month` null no
 * row, only the checked columns (every window month has a file, and `usage` reads the columns
 * from such a file: viewUsageMonths). A month's file is what the next month's run takes instead
 * of reading that month's input again.
 */
async function writeUsageMonth(conn: DuckDBConnection, path: string, month: string | null): Promise<void> {
  // a retried attempt may find a link into the store at this path: never write through it
  await rm(path, { force: true });
  await setVariable(conn, 'usage_month_file', path);
  await conn.run(
    `COPY (SELECT * EXCLUDE (${CHECK_COLUMNS}) FROM checked_usage
           WHERE reason IS NULL AND "month" = $month::DATE ${month === null ? 'LIMIT 0' : ''})
     TO (getvariable('usage_month_file')) (FORMAT parquet)`,
    { month: month === null ? null : firstDay(month) },
  );
}

/** A window month with fewer valid rows than this share of the fullest month's is taken for missing. */
const THIN_MONTH_SHARE = 0.01;

/**
 * Stops a run whose window lacks a month between months that have rows (a delivery missing a
 * month's files), or holds next to nothing of it (a share of its files): every window feature
 * (sums, means, trends) would be computed over the months that are there, unsaid. Months before
 * the first with rows are history the input does not reach (the features that need it are
 * skipped); a few stray rows of an earlier month (a late record) do not make it the first.
 */
function assertNoMonthMissing(plan: LoadPlan, parts: PartitionLoad[]): void {
  if (plan.mapping.format !== 'long' || parts.some((part) => part.rowsByMonth === undefined)) return;
  const months = windowMonths(plan);
  const rows = new Map(
    months.map((month) => [month, parts.reduce((sum, part) => sum + (part.rowsByMonth?.[month] ?? 0), 0)]),
  );
  const fullest = Math.max(...rows.values());
  const held = (month: string) => (rows.get(month) ?? 0) >= THIN_MONTH_SHARE * fullest;
  const first = months.find(held);
  const gaps = months.filter(
    (month) => first !== undefined && month > first && month < plan.params.month && !held(month),
  );
  if (gaps.length > 0)
    throw new DataQualityError(
      `no or almost no valid usage rows for ${gaps.map((month) => `${month} (${rows.get(month)})`).join(', ')}, ` +
        `inside the run window (${plan.windowStart}..${plan.windowEnd}) between months that hold up to ${fullest}: ` +
        "is the input missing that month's files, or were all its rows quarantined? Every window feature (sums, averages, trends) would be computed without it",
    );
}

/**
 * Adds up the partitions, checks that every row read was loaded or quarantined and that the
 * run has enough good rows, and gathers the partitions' quarantined rows into the run database.
 */
export async function combineLoad(plan: LoadPlan, parts: PartitionLoad[]): Promise<LoadSummary> {
  const started = performance.now();
  const byReason = new Map<string, number>();
  for (const part of parts)
    for (const [reason, rows] of Object.entries(part.quarantineByReason))
      byReason.set(reason, (byReason.get(reason) ?? 0) + rows);
  const sum = (pick: (part: PartitionLoad) => number) => parts.reduce((total, part) => total + pick(part), 0);
  const rowsRead = plan.inputFiles.reduce((total, file) => total + file.rows, 0);
  const rowsLoaded = sum((part) => part.rowsLoaded);
  const rowsQuarantined = sum((part) => part.rowsQuarantined);
  if (parts.length !== plan.partitionDbPaths.length || rowsLoaded + rowsQuarantined !== rowsRead) {
    throw new Error(
      `row counts do not reconcile: read ${rowsRead}, loaded ${rowsLoaded}, quarantined ${rowsQuarantined} in ${parts.length} of ${plan.partitionDbPaths.length} partitions`,
    );
  }
  if (parts.length > 1) await gatherQuarantine(plan.dbPath, plan.partitionDbPaths, plan.userFeatures.length > 0);
  // the stamps served the partitions' checks: later stages neither need nor carry them
  const { mapping, presentColumns, seconds, inputStamps: _stamps, readPaths: _copies, ...rest } = plan;
  const summary: LoadSummary = {
    ...rest,
    rowsRead,
    rowsLoaded,
    rowsQuarantined,
    quarantineByReason: Object.fromEntries([...byReason].sort(([a, x], [b, y]) => y - x || a.localeCompare(b))),
    rowsOutsideWindow: byReason.get(OUTSIDE_WINDOW) ?? 0,
    subscribersInMonth: sum((part) => part.subscribersInMonth),
    rowsOutsideMonthFolder: sum((part) => part.rowsOutsideMonthFolder),
    ...(parts.length === 1 && parts[0]?.usageMonths ? { usageMonths: parts[0].usageMonths } : {}),
    readingHash: readingHash(plan),
    format: mapping.format,
    inputColumns: presentColumns.map(([column]) => column),
    openFeatureSet: mapping.features !== undefined,
    seconds: seconds + Math.max(...parts.map((part) => part.seconds)) + (performance.now() - started) / 1000,
  };
  // when the run stops, its message shows what a number the check could not read looks like
  // (an extra: a failure to find one never hides the stop itself)
  const examples = tooManyBroken(summary)
    ? await unreadValueExamples(plan, Object.keys(summary.quarantineByReason)).catch(() => undefined)
    : undefined;
  assertUsable(summary, examples, mapping.monthFormat);
  assertNoMonthMissing(plan, parts);
  return summary;
}

/**
 * The valid rows' user feature values, apart from the usage rows (the feature SQL never reads
 * them: generated long-format data runs exactly as without them).
 */
async function keepUserFeatureRows(conn: DuckDBConnection, userColumns: string[]): Promise<void> {
  await conn.run(
    `CREATE OR REPLACE TABLE user_feature_rows AS
     SELECT subscriber_id, "month", ${userColumns.map(quoteIdent).join(', ')} FROM usage`,
  );
}

/** Every partition's quarantined rows (and user feature rows) in the run database, in file order. */
async function gatherQuarantine(dbPath: string, partitionDbPaths: string[], userFeatures: boolean): Promise<void> {
  await withConnection(dbPath, async (conn) => {
    if (userFeatures) {
      await setVariable(
        conn,
        'user_feature_files',
        listValue(partitionDbPaths.map((path) => partitionOutput(path, 'user-features'))),
      );
      await conn.run(
        "CREATE OR REPLACE TABLE user_feature_rows AS SELECT * FROM read_parquet(getvariable('user_feature_files'))",
      );
    }
    await setVariable(
      conn,
      'quarantine_files',
      listValue(partitionDbPaths.map((path) => partitionOutput(path, 'quarantine'))),
    );
    await conn.run(
      "CREATE OR REPLACE TABLE quarantine AS SELECT * FROM read_parquet(getvariable('quarantine_files')) ORDER BY source_file, file_row",
    );
  });
}

/**
 * A file a partition hands to the combining step beside its database (DuckDB cannot attach a
 * database by a bound path, and a Parquet file is also what another machine could read).
 */
export function partitionOutput(
  partitionDbPath: string,
  name: 'quarantine' | 'subscriber-features' | 'user-features',
): string {
  return partitionDbPath.replace(/\.duckdb$/, `.${name}.parquet`);
}

/** A text month that is not a date, whichever of the user's columns it came from ("bill_month (month): …"). */
const MONTH_NOT_A_DATE = /(^month|\(month\)): not a valid date$/;

/**
 * Whether the month that could not be read looks like an Excel serial day number: 5 digits
 * between 20000 and 80000 (1954 to 2119), where a month written as a number otherwise has 6
 * (202610).
 */
function monthsLookLikeSerials(examples: ReadonlyMap<string, ExampleValue>): boolean {
  return [...examples].some(([reason, { value }]) => {
    if (!MONTH_NOT_A_DATE.test(reason) || !/^\d{5}(\.\d+)?$/.test(value.trim())) return false;
    const serial = Number(value);
    return serial >= 20_000 && serial < 80_000;
  });
}

/**
 * The rows that break the contract, and their share of the rows in the run window: rows of months
 * outside the window are quarantined with their reason but break no rule (a file holding every
 * month is read as month folders outside the window are skipped).
 */
function contractBreaks(summary: LoadSummary): { outside: number; broken: number; share: number } {
  const outside = summary.quarantineByReason[OUTSIDE_WINDOW] ?? 0;
  const broken = summary.rowsQuarantined - outside;
  return { outside, broken, share: broken / Math.max(summary.rowsRead - outside, 1) };
}

/** Whether more rows break the contract than the run allows (assertUsable then stops it). */
function tooManyBroken(summary: LoadSummary): boolean {
  return summary.rowsRead > 0 && contractBreaks(summary).share > summary.params.maxQuarantineShare;
}

/** The reasons assertUsable lists: the most frequent first, without the rows of months outside the window. */
const TOP_REASONS = 5;

/**
 * Stops a run without enough good rows (also checked when the load's output is reused).
 * `examples`: a value as the input wrote it for reasons "<column>: not a valid double" (or
 * integer), quoted beside the reason with what it says about the file's number format.
 */
export function assertUsable(
  summary: LoadSummary,
  examples: ReadonlyMap<string, ExampleValue> = new Map(),
  /** The mapping's monthFormat, which a month "not a valid date" did not match. */
  monthFormat?: string,
): void {
  if (summary.rowsRead === 0) {
    throw new DataQualityError(
      `the ${summary.inputFiles.length} input file(s) hold no rows (window ${summary.windowStart}..${summary.windowEnd})`,
    );
  }
  const { outside, broken, share } = contractBreaks(summary);
  const topReasons = Object.entries(summary.quarantineByReason)
    .filter(([reason]) => reason !== OUTSIDE_WINDOW)
    .slice(0, TOP_REASONS)
    .map(([reason, rows]) => {
      const example = examples.get(reason);
      // the example says the hint the reason carries (numberFormatHintSql), after the value
      return `  ${rows} x ${example ? `${withoutNumberHint(reason).reason}${exampleNote(example)}` : reason}`;
    })
    .join('\n');
  if (share > summary.params.maxQuarantineShare) {
    // a row whose month cannot be read cannot be placed outside the window: it is counted in it
    const unreadMonths = Object.entries(summary.quarantineByReason)
      .filter(([reason]) => MONTH_NOT_A_DATE.test(reason))
      .reduce((sum, [, rows]) => sum + rows, 0);
    const unplaced = unreadMonths > 0;
    throw new DataQualityError(
      `${broken} of ${summary.rowsRead - outside} rows in the run window${unplaced ? ' or of a month that could not be read' : ''} (${(share * 100).toFixed(1)}%) break the usage contract, ` +
        `more than maxQuarantineShare=${summary.params.maxQuarantineShare}:\n${topReasons}` +
        // how months are read, where unread months are the most of what broke (one odd month
        // beside a column of decimal commas pointed the analyst away from the cause)
        (unreadMonths * 2 < broken
          ? ''
          : monthFormat
            ? `\nMonths are read with the mapping's monthFormat "${monthFormat}", or as dates (2026-10-01) or YYYY-MM: these match none of them (is the format the one the file writes its months in?)`
            : monthsLookLikeSerials(examples)
              ? `\nMonths are read as dates (2026-10-01) or YYYY-MM: these look like Excel's serial day numbers (46296 is 2026-10-01), which the mapping's monthFormat "${EXCEL_MONTH_FORMAT}" reads`
              : '\nMonths are read as dates (2026-10-01) or YYYY-MM: other text (202610, Oct 2026) needs the mapping\'s monthFormat, e.g. "%Y%m"') +
        unitsHint(Object.keys(summary.quarantineByReason)),
    );
  }
  if (summary.subscribersInMonth === 0) {
    const notEnded = notEndedYet(summary.params.month);
    throw new DataQualityError(
      `no valid usage rows for the run month ${summary.params.month} (window ${summary.windowStart}..${summary.windowEnd})` +
        (outside > 0
          ? `; ${outside} row(s) lie in months outside the window: is --month the month the input ends with?`
          : notEnded
            ? `: ${notEnded}`
            : `: has ${summary.params.month}'s data arrived? Once it has, run the month (a schedule's: segflow schedule backfill --from ${summary.params.month} --to ${summary.params.month})`),
    );
  }
}

/** Usage columns read in a unit of their own, and how a column of the smaller unit converts. */
const UNITS: Record<string, { unit: string; from: string; scale: string }> = {
  data_mb: { unit: 'megabytes', from: 'bytes', scale: '9.5367431640625e-7' },
  voice_minutes: { unit: 'minutes', from: 'seconds', scale: '0.016666666666666666' },
};

/**
 * For rows outside a usage column's range (`data_bytes (data_mb): outside [0, 10000000]`): the
 * unit it is read in, and the mapping that converts a column of bytes or seconds.
 */
function unitsHint(reasons: string[]): string {
  const hints = Object.entries(UNITS).flatMap(([column, { unit, from, scale }]) => {
    const reason = reasons.find((r) => r.startsWith(`${column}: outside`) || r.includes(` (${column}): outside`));
    if (!reason) return [];
    const named = reason.includes(` (${column})`) ? reason.slice(0, reason.indexOf(` (${column})`)) : column;
    const source = named.includes(' + ') ? '<your column>' : named; // a sum already: its parts are the user's to name
    return [
      `\n${column} is read in ${unit}: if the column holds ${from}, a sum's scale converts them, e.g. "${column}": { "sum": ["${source}"], "scale": ${scale} }`,
    ];
  });
  return hints.join('');
}

/** A value of a number column the check could not read as a number, as the input file wrote it. */
export interface ExampleValue {
  value: string;
  /** The mapping's decimalSeparator: none for a month's value, which says nothing of the number format. */
  decimalSeparator?: DecimalSeparator;
  /** A yes/no column's value: the contract column, whose words the mapping's `values` can map. */
  booleanColumn?: string;
}

/**
 * `, e.g. '103,03': <what it says about the number format>` (the value cut at 40 characters); for a
 * yes/no column, how the mapping's `values` reads other words.
 */
function exampleNote({ value, decimalSeparator, booleanColumn }: ExampleValue): string {
  const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  const hint =
    booleanColumn !== undefined
      ? `yes/no cells read true/false, 1/0, yes/no or y/n; map the column's own words in the mapping's "values", e.g. "values": { ${JSON.stringify(booleanColumn)}: { "<its word for yes>": true, "<its word for no>": false } }`
      : decimalSeparator === undefined
        ? undefined
        : numberFormatHint(value, decimalSeparator);
  return `, e.g. '${shown}'${hint ? `: ${hint}` : ''}`;
}

/** Quarantined rows per reason whose input values examples are picked from (in file order). */
const EXAMPLE_ROWS = 5;

/**
 * For each of `reasons` that is a number column's "not a valid double" (or integer), a yes/no
 * column's "not a valid boolean" or the month's "not a valid date", a value as
 * the input wrote it: of the reason's first quarantined rows (table quarantine of the run
 * database: file and row), the first whose value says something about the number format (a
 * decimal comma, thousands separators), else the first. Only the rows up to the last of those are
 * read, from their file, so a stopped run pays little for its message. A file that cannot be read
 * (a stored month's input, since gone) gives no example.
 */
async function unreadValueExamples(plan: LoadPlan, reasons: string[]): Promise<Map<string, ExampleValue>> {
  const { mapping } = plan;
  const decimalSeparator = mapping.decimalSeparator ?? '.';
  // the reason buildCheckSql gives a number column read from one input column, and that column
  const sources = new Map<string, string>();
  const booleans = new Map<string, string>();
  for (const column of USAGE_CONTRACT) {
    const source = mapping.columns[column.name] ?? column.name;
    const yesNo = column.type === 'BOOLEAN';
    if ((NUMBER_COLUMNS.has(column.name) || column.name === 'month' || yesNo) && typeof source === 'string') {
      const reason = `${columnLabel(mapping, column.name)}: ${notReadableAs(column.type)}`;
      sources.set(reason, source);
      if (yesNo) booleans.set(reason, column.name);
    }
  }
  const monthReason = `${columnLabel(mapping, 'month')}: ${notReadableAs('DATE')}`;
  // a reason with the hint of its value's number format (numberFormatHintSql) is its column's too
  const sourceOf = (reason: string) => sources.get(withoutNumberHint(reason).reason);
  const wanted = reasons
    .filter((reason) => reason !== OUTSIDE_WINDOW)
    .slice(0, TOP_REASONS)
    .filter((reason) => sourceOf(reason) !== undefined);
  const examples = new Map<string, ExampleValue>();
  if (wanted.length === 0) return examples;
  await withConnection(plan.dbPath, async (conn) => {
    await setVariable(conn, 'example_reasons', listValue(wanted));
    const firstRows = await queryRows<{ reason: string; source_file: string; file_row: bigint | number }>(
      conn,
      `SELECT reason, source_file, file_row FROM quarantine WHERE list_contains(getvariable('example_reasons'), reason)
       QUALIFY row_number() OVER (PARTITION BY reason ORDER BY source_file, file_row) <= ${EXAMPLE_ROWS}
       ORDER BY reason, source_file, file_row`,
    );
    for (const reason of wanted) {
      const rows = firstRows.filter((row) => row.reason === reason);
      const values: string[] = [];
      for (const file of [...new Set(rows.map((row) => row.source_file))]) {
        const fileRows = rows.filter((row) => row.source_file === file).map((row) => Number(row.file_row));
        values.push(
          ...(await valuesAt(
            conn,
            plan.readPaths?.[file] ?? file,
            sourceOf(reason) as string,
            fileRows,
            mappingNullstr(mapping),
          ).catch(() => [])),
        );
      }
      // a month's or a yes/no value says nothing of the number format
      const booleanColumn = booleans.get(reason);
      const notANumber = reason === monthReason || booleanColumn !== undefined;
      const value =
        (notANumber ? undefined : values.find((text) => numberFormatHint(text, decimalSeparator))) ?? values[0];
      if (value !== undefined)
        examples.set(reason, {
          value,
          ...(booleanColumn !== undefined ? { booleanColumn } : {}),
          decimalSeparator: notANumber ? undefined : decimalSeparator,
        });
    }
  });
  return examples;
}

/** Column `column`'s values as text at rows `fileRows` (ascending, 0-based, as the load numbers them) of input file `path`. */
async function valuesAt(
  conn: DuckDBConnection,
  path: string,
  column: string,
  fileRows: number[],
  nullstr: string,
): Promise<string[]> {
  await setVariable(conn, 'example_file', path);
  await setVariable(conn, 'example_rows', listValue(fileRows.map(BigInt)));
  const last = Math.max(...fileRows);
  // a CSV's rows numbered as inputRowsSql numbers them, reading no further than the last wanted
  const rows = isCsvPath(path)
    ? `SELECT row_number() OVER () - 1 AS file_row, value FROM (
         SELECT ${quoteIdent(column)}::VARCHAR AS value FROM ${readerSql(path, "getvariable('example_file')", nullstr)} LIMIT ${last + 1})`
    : `SELECT file_row_number AS file_row, ${quoteIdent(column)}::VARCHAR AS value
       FROM read_parquet(getvariable('example_file'), file_row_number = true, hive_partitioning = false)`;
  const found = await queryRows<{ value: string | null }>(
    conn,
    `SELECT value FROM (${rows}) WHERE list_contains(getvariable('example_rows'), file_row::BIGINT) AND value IS NOT NULL ORDER BY file_row`,
  );
  return found.map((row) => row.value as string);
}

/** The input files read, by name: Parquet, and CSV (a .tsv is a CSV whose separator is a tab: read_csv finds it). */
const INPUT_FILE = /\.(parquet|csv|tsv)$/i;
/**
 * Files of data segflow does not read (another format, compressed, a spreadsheet): in an input
 * folder they are refused rather than left out, which would leave out their rows unseen. Text and
 * JSON files only when they name a month or lie in a month folder (`2026-08.txt`; a README.txt or
 * a mapping.json is no data). Other files, and hidden or `_`-named ones (Spark's `_SUCCESS`,
 * `.crc`), are passed over.
 */
function isUnreadDataFile(path: string): boolean {
  const name = basename(path);
  if (isPassedOverName(name)) return false;
  if (/\.(dat|xlsx?|jsonl|ndjson|orc|avro|feather|arrow|gz|zip|bz2|zst|7z|rar)$/i.test(name)) return true;
  return (
    /\.(txt|json)$/i.test(name) &&
    (monthFolderOf(path) !== undefined || /(^|\D)20\d\d[-_]?(0[1-9]|1[0-2])(\D|$)/.test(name))
  );
}

/**
 * Parquet and CSV files under `input` (a file or a folder, searched recursively, symlinks
 * followed), minus month folders outside the window. A linked file is read as what its own name
 * or its target's says it is; with a data root, no link may lead out of it.
 */
export async function findInputFiles(
  input: string,
  windowStart: string,
  windowEnd: string,
  dataRoot?: string,
): Promise<{ files: string[]; outsideWindow: number }> {
  const root = resolve(input);
  const info = await stat(root).catch((error: NodeJS.ErrnoException) => {
    // a folder on the way that segflow may not enter is no missing input
    if (isPermissionDenied(error))
      throw new InputFileError(
        `cannot reach the input ${root}: permission denied on a folder of its path (segflow runs as ${userInfo().username} here): grant it access`,
      );
    throw new InputFileError(`input not found: ${root}`);
  });
  const single = info.isDirectory() ? undefined : await inputFileName(root);
  if (single === null)
    throw new InputFileError(
      `${root} is neither a .parquet nor a .csv file: segflow reads Parquet, and CSV files named .csv (or .tsv)`,
    );
  const inWindow = (file: string) => {
    const month = monthFolderOf(file);
    return month === undefined || (month >= windowStart && month <= windowEnd);
  };
  const outsideWindowFolder = (folder: string) => !inWindow(join(folder, 'file'));
  const listed =
    single === undefined ? await listInputFiles(root, dataRoot, outsideWindowFolder) : { files: [single], unread: [] };
  const candidates = listed.files;
  const unread = listed.unread.filter(inWindow);
  if (unread.length > 0) {
    const named = unread.slice(0, 3).map((path) => relative(root, path));
    throw new UnreadInputFilesError(
      `${unread.length === 1 ? 'a file' : `${unread.length} files`} under ${root} that segflow cannot read: ` +
        `${named.join(', ')}${unread.length > 3 ? ', …' : ''}. segflow reads Parquet and CSV files (named .csv or ` +
        '.tsv), and leaving them out would leave out their rows: convert them, or move them out of the input folder',
      unread,
    );
  }
  const files: string[] = [];
  let outsideWindow = 0;
  for (const file of candidates)
    if (inWindow(file)) files.push(file);
    else outsideWindow += 1;
  if (files.length === 0) {
    // every file lies in a month folder outside the window: the months there are, to compare with --month
    const held = candidates.flatMap((file) => monthFolderOf(file) ?? []).sort();
    throw new InputFileError(
      candidates.length === 0
        ? `no .parquet or .csv files under ${root}`
        : `none of the ${candidates.length} files under ${root} is in the window ${windowStart}..${windowEnd}` +
            (held.length ? `: its month folders hold ${held[0]}..${held.at(-1)}` : ''),
    );
  }
  // DuckDB's readers expand these even in a bound path: a file named `*.parquet` read every file
  // beside it (hidden ones, and links out of the data root, too) while the run recorded one
  const pattern = files.find((file) => GLOB_CHARACTER.test(file));
  if (pattern !== undefined)
    throw new InputFileError(
      `input file ${pattern}: its path holds ${GLOB_CHARACTER.exec(pattern)?.[0]}, which DuckDB reads as a file pattern (it would read other files as well): rename the file or folder`,
    );
  return { files, outsideWindow };
}

const GLOB_CHARACTER = /[*?[]/;

/** Refuses an input outside the data root, following symlinks so none can lead out of it. */
export async function assertWithin(dataRoot: string, input: string): Promise<void> {
  const [root, target] = await Promise.all([realpath(dataRoot), realpath(resolve(input)).catch(() => resolve(input))]);
  if (target !== root && !target.startsWith(root + sep)) {
    throw new InvalidParamsError(`input ${input} is outside the data root ${dataRoot} (SEGFLOW_DATA_ROOT)`);
  }
}

/**
 * The path an input file is read by: itself when named .parquet or .csv, else (a symlink such as
 * `latest`) its target when that is; null when neither is.
 */
async function inputFileName(path: string): Promise<string | null> {
  if (INPUT_FILE.test(path)) return path;
  const target = await realpath(path);
  return INPUT_FILE.test(target) ? target : null;
}

/**
 * The input files under `dir`, in name order, the real tree first and then the links in it: a link
 * to a folder or file already read adds nothing (each real file is read once, by the path the
 * real tree gives it, so its month folder is its own), and each real folder is walked once, so a
 * link back up cannot loop.
 */
async function listInputFiles(
  dir: string,
  dataRoot?: string,
  /** Whether a folder is a month folder outside the run's window: one it may not open is passed over. */
  outsideWindow: (folder: string) => boolean = () => false,
): Promise<{ files: string[]; unread: string[] }> {
  /** real path -> the path it is read by */
  const found = new Map<string, string>();
  const unread: string[] = [];
  const walked = new Set<string>();
  const links: string[] = [];
  /** null for a folder segflow may not list or enter that lies outside the window (it is not read anyway), else a typed stop. */
  const denied = (folder: string) => (error: NodeJS.ErrnoException) => {
    if (!isPermissionDenied(error)) throw error;
    if (outsideWindow(folder)) return null;
    throw new InputFileError(
      `cannot list the input folder ${folder}: permission denied (segflow runs as ${userInfo().username} here): grant it read access, or move the folder out of the input`,
    );
  };
  const add = async (path: string) => {
    const real = await realpath(path).catch(denied(dirname(path)));
    if (real !== null && !found.has(real)) found.set(real, path);
  };
  const walk = async (folder: string): Promise<void> => {
    const real = await realpath(folder).catch(denied(folder));
    if (real === null || walked.has(real)) return;
    walked.add(real);
    const listed = await readdir(folder, { withFileTypes: true }).catch(denied(folder));
    if (!listed) return;
    const entries = listed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (isPassedOverName(entry.name)) continue;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() && INPUT_FILE.test(entry.name)) await add(path);
      else if (entry.isSymbolicLink()) links.push(path);
      else if (entry.isFile() && isUnreadDataFile(path)) unread.push(path);
    }
  };
  await walk(dir);
  // links found while following links join the end of the list
  for (let i = 0; i < links.length; i++) {
    const path = links[i];
    const target = await stat(path).catch(() => undefined); // a dangling link (or a loop) holds no rows
    if (!target) continue;
    if (dataRoot) await assertWithin(dataRoot, path);
    if (target.isDirectory()) await walk(path);
    else if (target.isFile()) {
      const named = await inputFileName(path);
      if (named !== null) await add(named);
    }
  }
  return { files: [...found.values()].sort(), unread };
}

/**
 * How the input files are read: CSV through a UTF-8 copy (LoadPlan.readPaths), which cells are
 * missing values, and whether months come from the files' month folders.
 */
interface InputReading {
  readPaths: Readonly<Record<string, string>>;
  nullstr: string;
  /** The month column to add from each file's month folder (LoadPlan.monthFromFolders). */
  monthFromFolder?: string;
}

function inputReading(
  mapping: InputMapping,
  readPaths: Readonly<Record<string, string>> = {},
  monthFromFolders = false,
): InputReading {
  return {
    readPaths,
    nullstr: mappingNullstr(mapping),
    ...(monthFromFolders ? { monthFromFolder: monthSourceColumn(mapping) } : {}),
  };
}

/** The input's column the month is read from one-to-one: the mapping's, or `month`. */
function monthSourceColumn(mapping: InputMapping): string {
  return renamedColumn(mapping, 'month') ?? 'month';
}

/** The table function that reads one input file; CSV is read as text, so bad values are quarantined, not guessed. */
function readerSql(path: string, argument: string, nullstr: string): string {
  // a month folder's name (usage_month=2026-10) is not a column of the file: never read as one
  return isCsvPath(path)
    ? `read_csv(${argument}, header = true, all_varchar = true, ${nullstr}, parallel = false, hive_partitioning = false)`
    : `read_parquet(${argument}, hive_partitioning = false)`;
}

/**
 * View `raw_input(file_index, file_row, <contract columns>)` over one partition of the input
 * files, with the mapping applied: the user's columns renamed, their value encodings translated
 * (through the bound table value_encodings), text months parsed, and a snapshot's month set to
 * the run month. A partition holds the subscribers whose raw id lies in its range (or hashes to
 * its index: partitionCondition), so all of a subscriber's rows, duplicates included, meet in one
 * partition.
 */
async function createRawInput(
  conn: DuckDBConnection,
  plan: LoadPlan,
  partition: { index: number; count: number },
  toRead: string[],
): Promise<void> {
  const files = plan.inputFiles.map((file) => file.path);
  const { mapping } = plan;
  const present = new Map(plan.presentColumns);
  const inputRows = await partRowsSql(
    conn,
    toRead.length > 0 ? toRead : files.slice(0, 1),
    files,
    inputReading(plan.mapping, plan.readPaths, plan.monthFromFolders),
    readSourceColumns(plan),
  );
  await conn.run(
    'CREATE OR REPLACE TEMP TABLE value_encodings (column_name VARCHAR, source_value VARCHAR, contract_value VARCHAR)',
  );
  await appendRows(
    conn,
    'value_encodings',
    Object.entries(mapping.values).flatMap(([column, encoding]) =>
      Object.entries(encoding).map(([source, target]) => [column, source, encodedValue(mapping, column, target)]),
    ),
  );
  await setVariable(conn, 'month_format', mapping.monthFormat ?? null);
  await setVariable(conn, 'run_month', firstDay(plan.params.month));
  const idSource = mapping.columns.subscriber_id ?? 'subscriber_id';
  // ids made from row numbers: a row's place in its file decides its partition
  const partitionKey = typeof idSource === 'string' ? quoteIdent(idSource) : 'file_index, file_row';
  // hashed as the checks read it: 13800000001.0 in one month's file is 13800000001's partition
  const hashKey = typeof idSource === 'string' ? idTextSql(partitionKey) : partitionKey;
  const conditions = [
    ...(partition.count === 1
      ? []
      : [await partitionCondition(conn, plan.partitionStarts, partition, partitionKey, hashKey)]),
    // every month stored: the first file gives the columns, and no row is read
    ...(toRead.length === 0 ? ['false'] : []),
  ];
  const inPartition = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  if (typeof idSource === 'object') await bindFileNames(conn, files, plan.params.input);

  const expressions = USAGE_CONTRACT.filter((column) => present.has(column.name)).map((column) => {
    const source = mapping.columns[column.name] ?? column.name;
    const id = quoteIdent(column.name);
    if (column.name === 'month' && mapping.format === 'snapshot' && !mapping.columns.month)
      return `getvariable('run_month')::DATE AS ${id}`;
    if (typeof source === 'object')
      return `${derivedColumnSql(column.name, source, mapping.decimalSeparator)} AS ${id}`;
    if (column.name === 'churn_label' && plan.labels) return `NULL::BOOLEAN AS ${id}`; // from the labels file
    let value = quoteIdent(source);
    if (mapping.values[column.name]) {
      // column names come from the contract (an allow-list); the encodings themselves are bound.
      // The input's column read qualified: one named as value_encodings' (source_value, ...) is still the input's
      value = `input_row.${value}`;
      // a value mapped to null is missing; one the mapping does not name stays as it is
      value = `(SELECT CASE WHEN count(*) = 0 THEN ${value}::VARCHAR ELSE any_value(e.contract_value) END FROM value_encodings e WHERE e.column_name = '${column.name}' AND e.source_value = ${value}::VARCHAR)`;
    }
    if (column.name === 'month' && mapping.monthFormat) value = formattedMonthSql(value, mapping.monthFormat);
    return `${value} AS ${id}`;
  });
  for (const [column, source] of Object.entries(mapping.columns))
    if (typeof source === 'object' && 'sum' in source) await setVariable(conn, `scale_${column}`, source.scale ?? 1);
  const userExpressions = plan.userFeatures.map(
    (feature) => `${userFeatureSql(feature, mapping.decimalSeparator)} AS ${quoteIdent(feature.column)}`,
  );
  await conn.run(
    `CREATE OR REPLACE TEMP VIEW raw_input AS
     SELECT file_index, file_row, ${[...expressions, ...userExpressions].join(', ')}
     FROM (${inputRows}) input_row
     ${inPartition}`,
  );
}

/**
 * The input's columns the load reads (createRawInput): those the contract columns present are read
 * from (renamed, summed, counted from), and the user's features.
 */
function readSourceColumns(plan: LoadPlan): string[] {
  const present = new Set(plan.presentColumns.map(([column]) => column));
  const sources = USAGE_CONTRACT.filter((column) => present.has(column.name)).flatMap((column) => {
    const source = plan.mapping.columns[column.name] ?? column.name;
    if (typeof source === 'string') return [source];
    return 'sum' in source ? source.sum : 'monthsSince' in source ? [source.monthsSince] : [];
  });
  return [...new Set([...sources, ...plan.userFeatures.map((feature) => feature.name)])];
}

/**
 * inputRowsSql over `part` of the plan's `files` (a month folder's), with each of the `read`
 * columns that no file of the part has read as NULL, typed as it is across all the files: as
 * reading every file at once reads it (union_by_name, UNION ALL BY NAME). Files gain columns
 * over the months of an export (a column added in August): the months before hold it as missing.
 */
async function partRowsSql(
  conn: DuckDBConnection,
  part: string[],
  files: string[],
  reading: InputReading,
  read: string[],
): Promise<string> {
  const rows = await inputRowsSql(conn, part, files, reading);
  if (part.length === files.length) return rows;
  const columns = async (sql: string) =>
    new Map(
      (await queryRows<{ column_name: string; column_type: string }>(conn, `DESCRIBE SELECT * FROM (${sql})`)).map(
        (row) => [row.column_name, row.column_type],
      ),
    );
  const have = await columns(rows);
  const lacking = read.filter((column) => !have.has(column));
  if (lacking.length === 0) return rows;
  // the files' types, then the part's reading bound again (inputRowsSql binds the file lists)
  const types = await columns(await inputRowsSql(conn, files, files, reading));
  const nulls = lacking.flatMap((column) => {
    const type = types.get(column);
    if (type === undefined) return [];
    // a type as DuckDB names it; one naming fields that need quotes (a struct's) is read as text
    return [`NULL::${/^[\w (),[\]]+$/.test(type) ? type : 'VARCHAR'} AS ${quoteIdent(column)}`];
  });
  const partRows = await inputRowsSql(conn, part, files, reading);
  return nulls.length === 0 ? partRows : `SELECT *, ${nulls.join(', ')} FROM (${partRows})`;
}

/**
 * SQL that holds for the rows of `partition`: its range of raw ids (NULL ids in the first), which
 * DuckDB checks against each Parquet row group's statistics before reading it, or else its share
 * of the ids' hashes.
 */
async function partitionCondition(
  conn: DuckDBConnection,
  starts: LoadPlan['partitionStarts'],
  partition: { index: number; count: number },
  /** The raw id, whose ranges Parquet statistics can check. */
  key: string,
  /** The id as the checks read it, hashed. */
  hashKey: string,
): Promise<string> {
  if (!starts) {
    await setVariable(conn, 'partition_count', partition.count);
    await setVariable(conn, 'partition_index', partition.index);
    return `hash(${hashKey}) % getvariable('partition_count')::UBIGINT = getvariable('partition_index')::UBIGINT`;
  }
  const from = starts.ids[partition.index - 1];
  const to = starts.ids[partition.index];
  // the type is one RANGE_ID_TYPE allows; the ids themselves are bound
  const bound = (name: string, value: string) =>
    setVariable(conn, name, value).then(() => `getvariable('${name}')::${starts.type}`);
  const range = [
    ...(from === undefined ? [] : [`${key} >= ${await bound('partition_from', from)}`]),
    ...(to === undefined ? [] : [`${key} < ${await bound('partition_to', to)}`]),
  ].join(' AND ');
  return partition.index === 0 ? `(${range} OR ${key} IS NULL)` : range;
}

/** Text that is a number as JSON writes one (0.5, -12, 1e-7): a point is its decimal mark, whatever the input's. */
const JSON_NUMBER_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * The value a contract column takes for a user's value the mapping's `values` encode, as text:
 * with decimalSeparator "," a number for a number column is written with a decimal comma, as the
 * file's own numbers are (the check reads both alike). The number may be given as text too: the
 * mapping is JSON, so "0.5" is the number 0.5 as 0.5 is; text written with the comma ("0,5") is
 * read as the file's numbers are.
 */
function encodedValue(mapping: InputMapping, contractColumn: string, target: unknown): string | null {
  if (target === null) return null;
  const text = String(target);
  const isNumber = typeof target === 'number' || (typeof target === 'string' && JSON_NUMBER_TEXT.test(text));
  return isNumber && mapping.decimalSeparator === ',' && NUMBER_COLUMNS.has(contractColumn)
    ? text.replace('.', ',')
    : text;
}

/**
 * A contract column the mapping derives: a NULL-safe sum of the user's columns (numbers written
 * with `decimalSeparator`) times a bound factor (NULL only when every part is), or an id from the
 * file's name and the row's number.
 */
function derivedColumnSql(
  contractColumn: string,
  source: Exclude<ColumnSource, string>,
  decimalSeparator?: DecimalSeparator,
): string {
  if ('rowNumber' in source) return `getvariable('file_names')[file_index + 1] || '#' || (file_row + 1)`;
  if ('monthsSince' in source) return userText(source.monthsSince);
  const parts = source.sum.map((column) => textNumberSql(quoteIdent(column), decimalSeparator));
  // the variable name comes from the contract (an allow-list); its value is bound
  return `list_sum([${parts.join(', ')}]) * getvariable('scale_${contractColumn}')::DOUBLE`;
}

/** Ids made from row numbers are unique across the input files and the same on every rerun: the file's name and the row's number in it. */
async function bindFileNames(conn: DuckDBConnection, files: string[], input: string): Promise<void> {
  const names = files.map((file) => (files.length === 1 ? basename(file) : relative(resolve(input), file)));
  await setVariable(conn, 'file_names', listValue(names));
}

/**
 * The month of an input row, before the contract check, as the load reads it (createRawInput,
 * then buildCheckSql's conversion): the first day of its month, NULL when it cannot be read; a
 * snapshot's rows are the run month. The mapping's value encodings of months apply first, as in
 * the load (there through table value_encodings; here as a CASE of the mapping's own words,
 * quoted). Binds run_month and month_format.
 */
async function inputMonthSql(
  conn: DuckDBConnection,
  mapping: InputMapping,
  runMonth: string,
  /** The month column's type in the files (presentColumns). */
  monthType?: string,
): Promise<string> {
  await setVariable(conn, 'run_month', firstDay(runMonth));
  await setVariable(conn, 'month_format', mapping.monthFormat ?? null);
  const source = mapping.columns.month ?? 'month';
  if (mapping.format === 'snapshot' && !mapping.columns.month) return "getvariable('run_month')::DATE";
  if (typeof source !== 'string') return 'NULL::DATE';
  let value = quoteIdent(source);
  const encodings = Object.entries(mapping.values.month ?? {});
  if (monthType === INSTANT_TYPE && encodings.length === 0 && !mapping.monthFormat)
    return `date_trunc('month', ${instantDaySql(value)})::DATE`;
  if (encodings.length > 0) {
    const cases = encodings.map(([from, to]) => {
      const target = encodedValue(mapping, 'month', to);
      return `WHEN ${sqlString(from)} THEN ${target === null ? 'NULL' : sqlString(target)}`;
    });
    value = `CASE ${value}::VARCHAR ${cases.join(' ')} ELSE ${value}::VARCHAR END`;
  }
  const month = mapping.monthFormat
    ? formattedTextMonthSql(formattedMonthSql(value, mapping.monthFormat))
    : textMonthSql(value);
  return `date_trunc('month', ${month})::DATE`;
}

/**
 * Whether an input row is one the churn model trains on (SQL): its month (`rowMonth`,
 * inputMonthSql) is the training month, as writeFeatureSettings picks it (domain/month.ts
 * trainingMonth). Binds training_month.
 */
async function trainingRowsSql(
  conn: DuckDBConnection,
  mapping: InputMapping,
  runMonth: string,
  rowMonth: string,
): Promise<string> {
  await setVariable(conn, 'training_month', firstDay(trainingMonth(runMonth, mapping.format)));
  return `(${rowMonth}) = getvariable('training_month')::DATE`;
}

/** Whether the input has a churn label column of its own (the mapping's churn_label, or one named so). */
function hasLabelColumn(mapping: InputMapping, fileColumns: string[]): boolean {
  const source = mapping.columns.churn_label ?? 'churn_label';
  return typeof source === 'string' && fileColumns.includes(source);
}

/**
 * The label the features stage gives monthly usage without one of its own, for the plan's leak
 * check: an input row of the training month is churned when its subscriber has no row in the run
 * month (before the contract check: a close reading, for judging columns). Creates temp table
 * run_month_ids; reads the run_month bound by inputMonthSql.
 */
async function absentNextMonthLabel(
  conn: DuckDBConnection,
  inputRows: string,
  mapping: InputMapping,
  rowMonth: string,
): Promise<UserFeatureLabel> {
  const id = idTextSql(subscriberIdSql(mapping));
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE run_month_ids AS
     SELECT DISTINCT ${id} AS subscriber_id FROM (${inputRows}) WHERE (${rowMonth}) = getvariable('run_month')::DATE`,
  );
  return { sql: `${id} NOT IN (SELECT subscriber_id FROM run_month_ids WHERE subscriber_id IS NOT NULL)` };
}

/** Whether the mapping has "auto" type columns of the input (features "auto", or "*": "auto"). */
function typesAuto(mapping: InputMapping): boolean {
  return mapping.features === 'auto' || mapping.features?.['*'] === 'auto';
}

/** The subscriber id of an input row, before the contract check (a column, or made from the row's place). */
function subscriberIdSql(mapping: InputMapping): string {
  const source = mapping.columns.subscriber_id ?? 'subscriber_id';
  return typeof source === 'string' ? quoteIdent(source) : derivedColumnSql('subscriber_id', source);
}

/**
 * SQL over every row of `files`, all files' columns by name, with `file_index` (the file's number
 * in `numbering`, the plan's files) and `file_row`. Binds the file lists as session variables.
 */
async function inputRowsSql(
  conn: DuckDBConnection,
  files: string[],
  numbering: string[],
  reading: InputReading,
): Promise<string> {
  const parquet = files.filter((file) => !isCsvPath(file));
  const csv = files.filter(isCsvPath);
  const parts: string[] = [];
  // rows carry their file's number in the plan, not its path: a path per row cost ~10% of the load
  const numbers = (subset: string[]) => listValue(subset.map((file) => numbering.indexOf(file)));
  // a partitioned export's month: its folder's, by the file's number (the column name is the mapping's)
  let folderMonth = (_fileIndex: string) => '';
  if (reading.monthFromFolder !== undefined) {
    await setVariable(
      conn,
      'folder_months',
      listValue(numbering.map((file) => (monthFolderOf(file) ? `${monthFolderOf(file)}-01` : null))),
    );
    const column = quoteIdent(reading.monthFromFolder);
    folderMonth = (fileIndex) => `, getvariable('folder_months')[${fileIndex} + 1]::DATE AS ${column}`;
  }
  if (parquet.length > 0) {
    await setVariable(conn, 'parquet_files', listValue(parquet));
    await setVariable(conn, 'parquet_file_numbers', numbers(parquet));
    const fileIndex = "getvariable('parquet_file_numbers')[file_index::BIGINT + 1]";
    parts.push(`SELECT * EXCLUDE (file_row_number), ${fileIndex} AS file_index, file_row_number AS file_row${folderMonth(fileIndex)}
      FROM read_parquet(getvariable('parquet_files'), union_by_name = true, file_row_number = true, hive_partitioning = false)`);
  }
  // one read per CSV file: row_number() over one file's single-threaded scan follows the file's
  // order, where numbering a multi-file read PARTITION BY filename scrambled rows (row-number ids,
  // quarantine rows and which duplicate counts as first depend on it)
  for (const [i, file] of csv.entries()) {
    const variable = numberedVariable('csv_file', i);
    await setVariable(conn, variable, reading.readPaths[file] ?? file);
    const fileIndex = String(numbering.indexOf(file));
    parts.push(`SELECT *, ${fileIndex} AS file_index, row_number() OVER () - 1 AS file_row${folderMonth(fileIndex)}
      FROM ${readerSql(file, `getvariable('${variable}')`, reading.nullstr)}`);
  }
  return parts.join('\nUNION ALL BY NAME\n');
}

/**
 * The mapping at `path` (or a reproduction's copy of it, `readFrom`), parsed, and its bytes kept
 * in the run's folder (mappingRunCopy) for publishing to copy into the snapshot: a mapping edited
 * during the run changes nothing the run read or publishes.
 */
async function readMapping(
  path: string,
  dbPath: string,
  readFrom = path,
): Promise<{ mapping: InputMapping; mappingFile: MappingFile }> {
  const bytes = await readFile(readFrom).catch((error: Error) => {
    throw new InvalidParamsError(`cannot read the mapping file ${path}: ${error.message}`);
  });
  const parsed = parseMapping(bytes.toString('utf8'));
  if (!parsed.ok) throw new InvalidParamsError(`invalid mapping file ${path}:\n${parsed.problems.join('\n')}`);
  const hash = sha256(bytes);
  // written aside and renamed: a retried plan finds a whole copy or none
  await writeFileAtomic(mappingRunCopy(dbPath, hash), bytes);
  return { mapping: parsed.mapping, mappingFile: { path: resolve(path), sha256: hash } };
}

/**
 * The type a column has across files: text as bytes (BLOB) in any file is decoded everywhere;
 * files that disagree otherwise are MIXED, so every value goes through the checked cast.
 */
function unionType(seen: string | undefined, type: string): string {
  if (seen === undefined || seen === type) return type;
  // dates and instants read together as instants (DuckDB's union of the files does so too)
  const times = ['DATE', 'TIMESTAMP', INSTANT_TYPE];
  if ((seen === INSTANT_TYPE || type === INSTANT_TYPE) && times.includes(seen) && times.includes(type))
    return INSTANT_TYPE;
  return seen === 'BLOB' || type === 'BLOB' ? 'BLOB' : 'MIXED';
}

/** Column names and DuckDB types of a Parquet or CSV file. */
async function describeFile(
  conn: DuckDBConnection,
  path: string,
  readFrom: string,
  nullstr: string,
): Promise<Map<string, string>> {
  try {
    const rows = await queryRows<{ column_name: string; column_type: string }>(
      conn,
      `DESCRIBE SELECT * FROM ${readerSql(path, '$path', nullstr)}`,
      { path: readFrom },
    );
    return new Map(rows.map((row) => [row.column_name, row.column_type]));
  } catch (error) {
    throw unreadableFile(path, error);
  }
}

/** DuckDB's refusal to read an input file, as the user's input error naming the file and what DuckDB met. */
function unreadableFile(path: string, error: unknown): InputFileError {
  const kind = isCsvPath(path) ? 'CSV' : 'Parquet';
  return new InputFileError(
    `${basename(path)} is not a readable ${kind} file (${path}): ${csvReadProblem(error as Error)}`,
  );
}

/**
 * UTF-8 copies of the CSV files among `files` (input and labels) when the mapping names another
 * encoding, in the run's folder (every worker of a run sees it): file -> copy. Empty otherwise.
 */
async function utf8Copies(mapping: InputMapping, runFolder: string, files: string[]): Promise<Record<string, string>> {
  const copies: Record<string, string> = {};
  if (mapping.encoding === undefined || isUtf8(mapping.encoding)) return copies;
  const csv = files.filter(isCsvPath);
  for (const [index, file] of csv.entries()) {
    await checkpoint({ stage: `load: reading ${mapping.encoding} as UTF-8`, done: index, total: csv.length });
    const path = await utf8ReadPath(file, mapping.encoding, join(runFolder, 'utf8', `${index}-${basename(file)}`));
    if (path !== file) copies[file] = path;
  }
  return copies;
}
