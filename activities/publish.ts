import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import {
  InputFileError,
  InvalidParamsError,
  isStoreFull,
  isStoreWriteFailure,
  SnapshotStoreError,
} from '../domain/errors';
import type { RunParams } from '../domain/params';
import { CONTACT_MOMENTS, DISPATCH_MAX_PRIORITY, TAG_RULES } from '../domain/actions';
import { OPERATION_GRID, STABLE_SCORE, VALUE_TIER_SHARES } from '../domain/rules';
import { monthDir, versionDir, type RunRef, type SnapshotRef, type StoreConfig } from '../store/layout';
import { addMonths } from '../domain/month';
import { quoteIdent } from '../data/contract';
import { publishedCodeVersion } from './code-version';
import { stageCodeHash } from './stage-code';
import { checkpoint } from './context';
import { appendRows, queryOne, readSql, runScript, setVariable, viewParquet, withConnection } from './duckdb';
import { fileExists } from '../store/files';
import { hashFile, sha256 } from '../store/hashing';
import {
  buildReport,
  renderReport,
  type PreparedReport,
  type ReportedSnapshot,
  type ReportInput,
} from './report/report';
import { campaignsSection, showsWeightedChurn } from './report/sections/campaigns';
import type { CampaignFollowUp, CampaignMetrics, ListFit } from './campaign-metrics';
import { FOLLOW_UP_FILE, followUpCampaigns, followUpGroups } from './campaign-follow-up';
import { hasControlGroup, measureCampaigns, readCampaignGroups } from './campaigns';
import { findDispatchedList } from './contact-log';
import { explainDispatchList, type ReasonsMethod } from './dispatch-reasons';
import { churnFeatureSpecs, derivedChurnFeatures, type FeatureUse } from './churn-features';
import type { UserFeature } from './user-features';
import { labelsRunCopy, mappingRunCopy, snapshotCopyName } from './run-copies';
import { readLatestVersion } from './segment-history';
import { withFileLock } from '../store/file-lock';
import { holdoutFile, viewStageOutputs } from './stage-outputs';
import { signManifest, type Signer } from '../store/signing';
import {
  CONTACTS_MAPPING_FILE,
  MAPPING_FILE,
  type Lineage,
  type OutputFile,
  type SnapshotManifest,
} from '../store/manifest';
import type { EnsembleSummary } from './churn-summary';
import type { StageCacheUse, StoredStages } from '../store/artifacts';
import type { FeatureSummary } from './features';
import type { LoadSummary } from './load';
import {
  describePublished,
  findPublishedByRun,
  latestVersion,
  nextVersion,
  writeLatest,
  type PublishedSnapshot,
} from '../store/snapshots';

export interface PublishRequest extends ReportInput {
  /** Who asked for the run (a user, or schedule:<id>), recorded in the manifest. */
  requestedBy: string;
  /** The stage cache key and what was reused (absent for reproductions). */
  lineage?: Lineage;
  /**
   * An analyst's experiment (`segflow run --experiment`): published and audited like any run, but
   * latest.json stays where it is, so next month's run, campaigns and `YYYY-MM` keep to the latest.
   */
  experiment?: boolean;
}

export interface PublishResult extends PublishedSnapshot {
  /** True when this run had already published (a retried activity): nothing new was written. */
  alreadyPublished: boolean;
  /**
   * With a stage cache, the dispatch list's exact reasons (dispatch-reasons.ts): the subscribers
   * explained here, why stored ones were or were not taken, and what was stored (in the run's
   * `run.published` audit entry).
   */
  reasonsReuse?: { computed: number; reason: string; stored: StoredStages[] };
}

/** The boosted churn model in XGBoost's JSON format (load with xgboost.Booster(model_file=...)). */
export const ENSEMBLE_MODEL_FILE = 'churn_model_xgboost.json';

/**
 * The snapshot tables: views defined by publish/tables/<sql>, computed in this order (later ones
 * read earlier ones), each written to its file and then read from it.
 */
const TABLE_OUTPUTS = [
  { sql: '01_subscribers.sql', table: 'snapshot_subscribers', file: 'subscribers.parquet' },
  { sql: '02_segments.sql', table: 'snapshot_segments', file: 'segments.parquet' },
  { sql: '03_grids.sql', table: 'snapshot_grids', file: 'grids.parquet' },
  { sql: '04_dispatch.sql', table: 'snapshot_dispatch', file: 'dispatch.parquet' },
  { sql: '05_quarantine.sql', table: 'snapshot_quarantine', file: 'quarantine.parquet' },
] as const;

/** The report's campaign section for a run given no contact log, when last month's dispatch list has a control group. */
const NO_CONTACT_LOG =
  "this run was given no contact log. Run the month again with --param contacts=<last month's contact log> (CSV or Parquet: who was contacted, when, through which channel, and the outcome; docs/campaigns.md) to compare the churn of last month's contacted subscribers with their control group's";

/** The report's campaign section for a month with no snapshot of the month before. */
const FIRST_MONTH =
  "there is no snapshot of the month before to measure. Next month's run, given this month's contact log (--param contacts=<file>; docs/campaigns.md), compares the churn of the subscribers contacted from this month's dispatch list with the control group held out of it, and its report shows how subscribers moved between segments";

/** Written when the run measured last month's dispatch list against a contact log. */
const CAMPAIGN_OUTPUTS = [
  { table: 'snapshot_campaigns', file: 'campaigns.parquet' },
  { table: 'snapshot_contacts_quarantine', file: 'contacts_quarantine.parquet' },
] as const;

/**
 * Publishes the run's results as snapshots/<month>/v<N>/: written aside, then renamed into place
 * in one step, so readers never see half a snapshot. A run that already published (this
 * activity retried) gets its existing version back. `latest.json` only moves forward, and not to
 * an experiment.
 */
export async function publishSnapshot(
  store: StoreConfig,
  run: RunRef,
  request: PublishRequest,
  /** Where the previous month's snapshot lives (the store itself, except when reproducing elsewhere). */
  previousStore: StoreConfig = store,
  /** The snapshot the report names in its header and the campaign measurement's recorded list fits (a
   * reproduction passes the original's, so its report matches), and the signer of manifest.json
   * (the worker's SEGFLOW_SIGNING_KEY); a reproduction's copies of the contact log, its mapping and the labels file,
   * read in place of the files at their paths; followUp false to leave out the follow-up of last month's
   * measurement. */
  options: {
    reportAs?: ReportedSnapshot;
    recordedFits?: ListFit[];
    signer?: Signer;
    contactLogCopy?: string;
    contactsMappingCopy?: string;
    labelsCopy?: string;
    /** False: no follow-up of last month's measurement (a reproduction of a snapshot published before it). */
    followUp?: boolean;
    /** The month before's snapshot campaigns read (a reproduction passes the original's); left out: found here. */
    monthBefore?: SnapshotRef | null;
    /** A reproduction: the contact log and its mapping are read as the run read them, without checks younger than it. */
    reproducing?: boolean;
  } = {},
): Promise<PublishResult> {
  const month = request.load.params.month;
  const lock = join(monthDir(store, month), '.lock');
  // under the lock: a worker that died between moving its snapshot into place and latest.json left latest.json behind
  const alreadyPublished = async (existing: PublishedSnapshot): Promise<PublishResult> => {
    if (!existing.experiment) await moveLatestForward(store, month, existing.version, run);
    return { ...existing, alreadyPublished: true };
  };
  const existing = await findPublishedByRun(store, month, run);
  if (existing) return withFileLock(lock, () => alreadyPublished(existing));

  const staging = join(monthDir(store, month), `.staging-${run.runId}`);
  try {
    await rm(staging, { recursive: true, force: true });
    await mkdir(monthDir(store, month), { recursive: true });
    // not recursive: on a read-only file system a recursive mkdir reports ENOENT instead of EROFS
    await mkdir(staging);
    const { outputs, report, campaigns, reasons } = await writeOutputs(store, previousStore, request, staging, options);
    return await withFileLock(lock, async () => {
      // checked again under the lock: a concurrent attempt of this run may have just published
      const raced = await findPublishedByRun(store, month, run);
      if (raced) return alreadyPublished(raced);
      const version = await nextVersion(store, month);
      const publishedAt = new Date().toISOString();
      // the report's header names the version and publish time, known only now
      await writeFile(
        join(staging, 'report.html'),
        renderReport(
          report,
          options.reportAs ?? {
            version,
            publishedAt,
            requestedBy: request.requestedBy,
            ...(request.experiment ? { experiment: true } : {}),
          },
        ),
      );
      outputs.push({ file: 'report.html', ...(await hashFile(join(staging, 'report.html'))) });
      const manifest = buildManifest(run, request, outputs, campaigns, reasons);
      manifest.snapshot = { month, version, publishedAt, ...(request.experiment ? { experiment: true as const } : {}) };
      await writeFile(join(staging, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
      if (options.signer) await signManifest(options.signer, staging);
      await makeReadOnly(staging);
      const target = versionDir(store, month, version);
      await rename(staging, target);
      if (!request.experiment) await moveLatestForward(store, month, version, run);
      const reuse = reasons?.cache;
      return {
        ...(await describePublished(store, month, version)),
        alreadyPublished: false,
        ...(reuse ? { reasonsReuse: { computed: reuse.computed, reason: reuse.reason, stored: reuse.stored } } : {}),
      };
    });
  } catch (error) {
    if (isStoreWriteFailure(error)) {
      const full = isStoreFull(error);
      throw new SnapshotStoreError(
        `cannot write the snapshot for ${month} under ${store.storeDir} (disk full, read-only or not permitted): ${(error as Error).message.split('\n')[0]}. ` +
          'Nothing was published; the previous snapshot and latest.json are unchanged.' +
          // the stage cache lives in the same store, and is what can go
          (full
            ? ' Stored stage outputs share the store: segflow cache list shows them, segflow cache prune frees space.'
            : ''),
      );
    }
    throw error;
  } finally {
    await rm(staging, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * The latest snapshot of `month`, or null before its first; a latest.json that cannot be read is
 * an error (readLatestVersion), not "no snapshot", which would publish "nothing to measure".
 */
async function latestSnapshot(store: StoreConfig, month: string): Promise<SnapshotRef | null> {
  const version = await readLatestVersion(store, month);
  return version === undefined ? null : { month, version };
}

/** Writes every output but report.html, whose header waits for the version; returns the prepared report. */
async function writeOutputs(
  store: StoreConfig,
  previousStore: StoreConfig,
  request: PublishRequest,
  staging: string,
  {
    recordedFits,
    contactLogCopy,
    contactsMappingCopy,
    labelsCopy,
    followUp: followingUp = true,
    monthBefore: pinnedMonthBefore,
    reproducing = false,
  }: {
    recordedFits?: ListFit[];
    contactLogCopy?: string;
    contactsMappingCopy?: string;
    labelsCopy?: string;
    followUp?: boolean;
    monthBefore?: SnapshotRef | null;
    reproducing?: boolean;
  },
): Promise<{
  outputs: OutputFile[];
  report: PreparedReport;
  campaigns: Campaigns;
  reasons: ReasonsMethod | null;
}> {
  const rowCounts = new Map<string, number>();
  const previous = request.cluster.previous;
  // the month before's snapshot whose dispatch list campaigns measure and follow up: the one the
  // segment ids were matched to, or, when it was clustered on other features (a mapping that reads
  // other columns since), that month's latest: the list's subscribers are the same people
  const monthBefore =
    pinnedMonthBefore !== undefined
      ? pinnedMonthBefore
      : (previous ?? (await latestSnapshot(previousStore, addMonths(request.load.params.month, -1))));
  let campaigns: CampaignMetrics | undefined;
  let followUp: CampaignFollowUp | undefined;
  let reasons: ReasonsMethod | null = null;
  const { files, report } = await withConnection(request.load.dbPath, async (conn) => {
    const files: string[] = [];
    const publishTable = async ({ table, file }: { table: string; file: string }, readBack: boolean) => {
      rowCounts.set(file, await writeSnapshotTable(conn, table, join(staging, file), readBack));
      files.push(file);
    };
    await viewStageOutputs(conn, request.load.dbPath, request.cluster.segments);
    await writeRuleTables(conn, request.load.params);
    await setVariable(conn, 'pseudonym_key', pseudonymKey(request.load.params));
    await runScript(conn, await readSql(import.meta.url, './publish/tables/00_macros.sql'));
    if (request.churn.ensemble) {
      await checkpoint({ stage: 'publish: dispatch list reasons' });
      reasons = await explainDispatchList(conn, dirname(request.load.dbPath), store.signer);
    }
    await viewUserFeatureValues(conn, request);
    for (const output of TABLE_OUTPUTS) {
      await checkpoint({ stage: `publish: ${output.file}` });
      await runScript(conn, await readSql(import.meta.url, `./publish/tables/${output.sql}`));
      await publishTable(output, true);
    }
    // the models' holdout, with ids (none from a churn stage of an older worker)
    const holdout = holdoutFile(dirname(request.load.dbPath));
    if (await fileExists(holdout)) {
      await checkpoint({ stage: `publish: ${HOLDOUT_FILE}` });
      await viewParquet(conn, 'churn_holdout', holdout, 'connection');
      await runScript(conn, await readSql(import.meta.url, './publish/holdout.sql'));
      await publishTable({ table: 'snapshot_holdout', file: HOLDOUT_FILE }, false);
    }
    if (previous) {
      await setVariable(
        conn,
        'previous_subscribers',
        join(versionDir(previousStore, previous.month, previous.version), 'subscribers.parquet'),
      );
      await runScript(conn, await readSql(import.meta.url, './publish/migration.sql'));
      await publishTable({ table: 'snapshot_migration', file: 'migration.parquet' }, true);
    }
    await checkpoint({ stage: 'publish: campaigns' });
    campaigns = await measureCampaigns(
      conn,
      {
        params: request.load.params,
        previous: monthBefore,
        previousStore,
        recordedFits,
        workDir: dirname(request.load.dbPath),
        contactsReadFrom: contactLogCopy,
        contactsMappingReadFrom: contactsMappingCopy,
        reproducing,
      },
      store.dataRoot,
    );
    if (campaigns?.measured) for (const output of CAMPAIGN_OUTPUTS) await publishTable(output, false);
    // the list last month's run measured, measured again with churn read this month
    // a list --param dispatched names that was not measured (no control group, say) was still the one contacted
    const named =
      followingUp && request.load.params.dispatched
        ? await findDispatchedList(previousStore, request.load.params)
        : undefined;
    const dispatchedList = named && !('reason' in named) ? named : undefined;
    if (followingUp)
      followUp = await followUpCampaigns(conn, {
        month: request.load.params.month,
        previous: monthBefore,
        previousStore,
        // a reproduction's month before may be retired since: it then follows up nothing, as it did before
        ...(pinnedMonthBefore !== undefined ? { pinned: true } : {}),
        // the list contacted this month: the one measured, else the one --param dispatched names
        ...(campaigns?.measured
          ? { nextList: campaigns.dispatchFrom }
          : dispatchedList
            ? { nextList: dispatchedList }
            : {}),
      });
    if (followUp?.measured) await publishTable({ table: 'snapshot_campaign_follow_up', file: FOLLOW_UP_FILE }, false);
    const followUpReport = followUp
      ? { metrics: followUp, groups: followUp.measured ? await followUpGroups(conn) : [] }
      : undefined;
    await checkpoint({ stage: 'publish: report.html' });
    const campaignsMetrics: CampaignMetrics | null = campaigns
      ? campaigns
      : !monthBefore
        ? // the store's first month: say what next month's run will measure
          { measured: false, reason: FIRST_MONTH }
        : (await hasControlGroup(conn, versionDir(previousStore, monthBefore.month, monthBefore.version)))
          ? // last month has a list to measure: say how, rather than leave the question out
            { measured: false, reason: NO_CONTACT_LOG }
          : null;
    const campaignsData =
      campaignsMetrics || followUpReport
        ? {
            metrics: campaignsMetrics,
            groups: campaignsMetrics?.measured ? await readCampaignGroups(conn) : [],
            followUp: followUpReport,
          }
        : null;
    const campaignsReport = campaignsData
      ? { section: await campaignsSection(campaignsData), weightedChurn: showsWeightedChurn(campaignsData) }
      : null;
    return {
      files,
      report: await buildReport(
        conn,
        request,
        previous !== null,
        campaignsReport,
        reasons,
        // the month before the ids were not matched to: the report says there is no migration, and why
        previous === null ? monthBefore : null,
      ),
    };
  });
  await copyFile(request.churn.modelPath, join(staging, 'churn_model.json'));
  const ensemble = request.churn.ensemble;
  if (ensemble) await copyFile(ensemble.modelPath, join(staging, ENSEMBLE_MODEL_FILE));
  files.push('churn_model.json', ...(ensemble ? [ENSEMBLE_MODEL_FILE] : []));
  if (request.load.mappingFile) {
    // from the run's copy made at load (none from an older worker's load: the file at its path)
    const { path, sha256: read } = request.load.mappingFile;
    await copyRead(
      await runCopyOr(mappingRunCopy(request.load.dbPath, read), path),
      read,
      join(staging, MAPPING_FILE),
      'mapping file',
    );
    files.push(MAPPING_FILE);
  }
  // the log a schedule writes anew at one path each month: its copy lets the snapshot be reproduced
  // after; not in a snapshot of pseudonymised ids, which must hold no raw id
  const params = request.load.params;
  if (campaigns?.measured && params.contacts && !params.pseudonymiseIds) {
    const copy = contactLogFile(params.contacts);
    await copyRead(contactLogCopy ?? params.contacts, campaigns.contacts.sha256, join(staging, copy), 'contact log');
    files.push(copy);
  }
  // the mapping it was read with (no ids in it: kept with pseudonymiseIds too)
  const contactsMapping = campaigns?.measured ? campaigns.contacts.mapping : undefined;
  if (contactsMapping) {
    const target = join(staging, CONTACTS_MAPPING_FILE);
    await copyRead(contactsMappingCopy ?? contactsMapping.file, contactsMapping.sha256, target, 'contact-log mapping');
    files.push(CONTACTS_MAPPING_FILE);
  }
  // the labels file, which an analyst or a schedule may write anew at its path: kept as read too,
  // from the run's copy made at load (none from an older worker's load: the file at its path)
  if (request.load.labels && params.labels && !params.pseudonymiseIds) {
    const { sha256: read } = request.load.labels;
    const source =
      labelsCopy ?? (await runCopyOr(labelsRunCopy(request.load.dbPath, params.labels, read), params.labels));
    const copy = labelsFile(params.labels);
    await copyRead(source, read, join(staging, copy), 'labels file');
    files.push(copy);
  }
  const outputs = await Promise.all(
    files.map(async (file) => ({ file, ...(await hashFile(join(staging, file))), rows: rowCounts.get(file) })),
  );
  // recorded when it is not previousSnapshot, so a reproduction reads the same one
  const unmatched = monthBefore && !previous ? { monthBefore } : {};
  return { outputs, report, campaigns: { measurement: campaigns, followUp, ...unmatched }, reasons };
}

/**
 * Writes `table`'s rows to the Parquet file at `path` and returns how many. With `readBack` the
 * view `table` is then replaced by one reading the file, so what reads it after (later tables,
 * the report) does not compute it again: the subscribers' rows go straight from their query to
 * the file instead of being stored as a table first (docs/benchmark.md, session 12).
 */
async function writeSnapshotTable(
  conn: DuckDBConnection,
  table: string,
  path: string,
  readBack: boolean,
): Promise<number> {
  await setVariable(conn, 'output_path', path);
  // the name is one of TABLE_OUTPUTS, CAMPAIGN_OUTPUTS or snapshot_migration; the path is bound
  const { Count: rows } = await queryOne<{ Count: number }>(
    conn,
    `COPY (FROM ${table}) TO (getvariable('output_path')) (FORMAT parquet, COMPRESSION zstd)`,
  );
  if (readBack) await viewParquet(conn, table, path, 'connection');
  return rows;
}

/**
 * View user_feature_values(row_idx, <feature>, ...): the user's features the models were given,
 * each under the name its rules and reasons use, as subscribers.parquet shows it
 * (ChurnFeatureSpec.shown); no rows where there are none, so the table's join costs nothing then.
 */
async function viewUserFeatureValues(conn: DuckDBConnection, request: PublishRequest): Promise<void> {
  const given = new Set(
    request.churn.features.filter((f) => f.source === 'user' && f.missingOf === undefined).map((f) => f.name),
  );
  const specs =
    given.size > 0
      ? await churnFeatureSpecs(
          conn,
          derivedChurnFeatures(request.features.skippedFeatures.map((s) => s.feature)),
          request.load.userFeatures,
          request.load.openFeatureSet,
        )
      : [];
  const shown = specs.flatMap((spec) =>
    spec.shown !== undefined && given.has(spec.meta.name) ? [`, ${spec.shown} AS ${quoteIdent(spec.meta.name)}`] : [],
  );
  await conn.run(
    `CREATE OR REPLACE TEMP VIEW user_feature_values AS
     SELECT row_idx${shown.join('')} FROM features WHERE purpose = 'score'${shown.length > 0 ? '' : ' AND false'}`,
  );
}

/**
 * The churn features as the manifest lists them, each of the user's columns read with a note
 * (values not numbers taken as missing, say: user-features.ts) with it, as the report shows it.
 */
export function withUserNotes(
  features: FeatureUse[],
  userFeatures: Pick<UserFeature, 'name' | 'note'>[],
): FeatureUse[] {
  return features.map((feature) => {
    const note = feature.source === 'user' ? userFeatures.find((f) => f.name === feature.name)?.note : undefined;
    return note === undefined ? feature : { ...feature, note };
  });
}

/** The snapshot's file of the churn models' holdout (publish/holdout.sql). */
export const HOLDOUT_FILE = 'holdout.parquet';

/** The run's copy of a file made at load (run-copies.ts), or, from an older worker's load, the file at its path. */
async function runCopyOr(runCopy: string, path: string): Promise<string> {
  return (await fileExists(runCopy)) ? runCopy : path;
}

/** Copies a file the run read into the snapshot, as it read it (by its sha256): one changed since stops the publish. */
async function copyRead(path: string, expected: string, target: string, what: string): Promise<void> {
  const bytes = await readFile(path).catch(() => undefined);
  if (!bytes || sha256(bytes) !== expected)
    throw new InputFileError(
      `the ${what} ${path} ${bytes ? 'changed' : 'went missing'} after the run read it (sha256 ${expected.slice(0, 12)}): run again`,
    );
  await writeFile(target, bytes);
}

/** The contact log's copy in a snapshot. */
export function contactLogFile(path: string): string {
  return snapshotCopyName('contact_log', path);
}

/** The labels file's copy in a snapshot. */
export function labelsFile(path: string): string {
  return snapshotCopyName('labels', path);
}

/** The key for pseudonymised ids: only from the worker's environment, never in a payload, log or manifest. */
function pseudonymKey(params: RunParams): string | null {
  if (!params.pseudonymiseIds) return null;
  const key = process.env.SEGFLOW_PSEUDONYM_KEY;
  if (!key || key.length < 16) {
    throw new InvalidParamsError(
      'pseudonymiseIds needs SEGFLOW_PSEUDONYM_KEY (at least 16 characters) in the environment of the worker (of the command itself for segflow snapshots reproduce)',
    );
  }
  return key;
}

async function writeRuleTables(conn: DuckDBConnection, params: RunParams): Promise<void> {
  await conn.run(await readSql(import.meta.url, './publish/operation_grid.sql'));
  await appendRows(
    conn,
    'operation_grid',
    OPERATION_GRID.map((cell) => [cell.valueTier, cell.stable, cell.priority, cell.retentionStyle, cell.channel]),
  );
  await conn.run(await readSql(import.meta.url, './publish/action_settings.sql'), {
    key_share: params.keyCustomerRevenueShare,
    high_share: Math.max(VALUE_TIER_SHARES.high, params.keyCustomerRevenueShare),
    mid_share: Math.max(VALUE_TIER_SHARES.mid, params.keyCustomerRevenueShare),
    high_value_threshold: params.highValueThreshold,
    stable_score: STABLE_SCORE,
    warning_mou_trend: TAG_RULES.warningMouTrend,
    loyal_tenure: TAG_RULES.loyalTenureMonths,
    new_tenure: TAG_RULES.newTenureMonths,
    declining_trend: TAG_RULES.decliningTrend,
    dispatch_max_priority: DISPATCH_MAX_PRIORITY,
    moment_warning: CONTACT_MOMENTS.warning,
    moment_new: CONTACT_MOMENTS.new,
    moment_declining: CONTACT_MOMENTS.declining,
    control_share: params.controlShare,
    dispatch_order: params.dispatchOrder,
  });
}

/** The run's campaign measurement (given a contact log) and the follow-up of last month's (when it measured one). */
interface Campaigns {
  measurement: CampaignMetrics | undefined;
  followUp: CampaignFollowUp | undefined;
  /** The month before's snapshot they read, when not the one the segment ids were matched to. */
  monthBefore?: SnapshotRef;
}

/**
 * The manifest's `code`: the worker's commit and versions, and the stage-code hash its load and
 * feature stages' keys name, as the worker loaded it (the keys check it against the files on
 * disk as they are made: a run whose stage code changed under it stops there, not here).
 */
export function manifestCode(): SnapshotManifest['code'] & { stageCode: string } {
  return { ...publishedCodeVersion(), stageCode: stageCodeHash.loaded };
}

function buildManifest(
  run: RunRef,
  request: PublishRequest,
  outputs: OutputFile[],
  { measurement: campaigns, followUp, monthBefore }: Campaigns,
  reasons: ReasonsMethod | null,
): SnapshotManifest {
  const { load, cluster, churn } = request;
  return {
    snapshot: { month: load.params.month, version: 0, publishedAt: '' },
    run,
    requestedBy: request.requestedBy,
    params: load.params,
    paramsHash: load.paramsHash,
    inputs: load.inputFiles,
    ...(load.labels ? { labels: load.labels } : {}),
    ...(load.mappingFile ? { mapping: load.mappingFile } : {}),
    ...(load.columnMatches ? { columnMatches: load.columnMatches } : {}),
    code: manifestCode(),
    rowCounts: {
      inputRows: load.rowsRead,
      loaded: load.rowsLoaded,
      quarantined: load.rowsQuarantined,
      subscribers: churn.scoredRows,
      trainingRows: churn.trainingRows,
      holdoutRows: churn.holdoutRows,
    },
    quarantineByReason: load.quarantineByReason,
    skippedFeatures: [
      ...request.features.skippedFeatures,
      ...[...(request.load.skippedUserFeatures ?? []), ...(churn.unusedFeatures ?? [])].map(({ feature, reason }) => ({
        feature,
        reason: `user column: ${reason}`,
      })),
    ],
    metrics: {
      churnModel: churn.model,
      churnHoldout: churn.holdout,
      churnModels: {
        tree: { holdout: churn.tree.holdout },
        boosted: churn.ensemble
          ? {
              holdout: churn.ensemble.holdout,
              trees: churn.ensemble.trees,
              featureImportance: churn.ensemble.featureImportance,
              ...(churn.ensemble.trainingSample ? { trainingSample: churn.ensemble.trainingSample } : {}),
            }
          : null,
      },
      churnCalibration: churn.ensemble
        ? {
            ...churn.ensemble.calibration,
            brierUncalibrated: churn.ensemble.brier.uncalibrated,
            brierCalibrated: churn.ensemble.brier.calibrated,
            reliability: churn.ensemble.reliability,
          }
        : null,
      churnReasons: reasons?.method ?? null,
      ...(reasons ? { churnReasonsExact: reasons.exactRows } : {}),
      churnTopRules: churn.topRules,
      featureImportance: churn.featureImportance,
      churnFeatures: withUserNotes(churn.features, load.userFeatures ?? []),
      riskBandCounts: churn.riskBandCounts,
      kmeans: {
        k: cluster.k,
        silhouetteByK: cluster.silhouetteByK,
        sampleSize: cluster.sampleSize,
        iterations: cluster.iterations,
        converged: cluster.converged,
        inertia: cluster.inertia,
        featureNames: cluster.featureNames,
        centroids: cluster.centroids,
      },
      previousSnapshot: cluster.previous,
      ...(monthBefore ? { campaignsMonthBefore: monthBefore } : {}),
      segments: cluster.segments,
      ...(campaigns ? { campaigns } : {}),
      ...(followUp ? { campaignFollowUp: followUp } : {}),
    },
    outputs,
    ...(request.lineage ? { lineage: runLineage(request.lineage, request, reasons) } : {}),
    timings: {
      loadSeconds: load.seconds,
      featuresSeconds: request.features.seconds,
      clusterSeconds: cluster.seconds,
      kmeansSeconds: cluster.kmeansSeconds,
      churnSeconds: churn.seconds,
      treeTrainSeconds: churn.trainSeconds,
      ensembleTrainSeconds: churn.ensemble?.trainSeconds ?? null,
      ensembleScoreSeconds: churn.ensemble?.scoreSeconds ?? null,
    },
  };
}

/** latest.json names the newest published version, and never moves back. */
async function moveLatestForward(store: StoreConfig, month: string, version: number, run: RunRef): Promise<void> {
  if (version <= ((await latestVersion(store, month)) ?? 0)) return;
  await writeLatest(store, month, version, run);
}

async function makeReadOnly(dir: string): Promise<void> {
  for (const name of await readdir(dir)) await chmod(join(dir, name), 0o444);
}

/** The run's lineage with the churn stage's cache keys, and its artifacts when the run reused them. */
function withEnsembleLineage(lineage: Lineage, cache: EnsembleSummary['cache']): Lineage {
  if (!cache) return lineage;
  return { ...lineage, churnKeys: [cache.key, cache.scoredKey], reused: [...lineage.reused, ...cache.reused] };
}

/** The run's lineage: the load-features key, then each later stage's keys and what it took, in stage order. */
function runLineage(base: Lineage, request: PublishRequest, reasons: ReasonsMethod | null): Lineage {
  let lineage = withUsageMonthLineage(base, request.load);
  lineage = withMonthLineage(lineage, request.features);
  lineage = withStageCacheUse(lineage, 'segmentsKey', request.cluster.cache);
  lineage = withStageCacheUse(lineage, 'treeKey', request.churn.treeCache);
  lineage = withEnsembleLineage(lineage, request.churn.ensemble?.cache);
  return withStageCacheUse(lineage, 'reasonsKey', reasons?.cache);
}

/**
 * The run's lineage with a stage's key (the readable tree's, activities/ensemble-cache.ts; the
 * segments', segments-cache.ts; the dispatch list reasons', dispatch-reasons.ts) and, when it took the artifact from an earlier run, that artifact.
 */
function withStageCacheUse(
  lineage: Lineage,
  field: 'treeKey' | 'segmentsKey' | 'reasonsKey',
  cache: StageCacheUse | undefined,
): Lineage {
  if (!cache) return lineage;
  return { ...lineage, [field]: cache.key, reused: [...lineage.reused, ...cache.reused] };
}

/** The run's lineage with the checked usage months it took from earlier runs and their keys (activities/usage-months.ts). */
function withUsageMonthLineage(lineage: Lineage, load: LoadSummary): Lineage {
  const months = load.usageMonths;
  if (!months || Object.keys(months.keys).length === 0) return lineage;
  return {
    ...lineage,
    usageMonthKeys: Object.values(months.keys),
    reused: [...lineage.reused, ...months.reused],
    ...(months.inputChanged ? { inputChanged: months.inputChanged } : {}),
  };
}

/** The run's lineage with the feature months it took from and stored for other runs (activities/window-cache.ts). */
function withMonthLineage(lineage: Lineage, features: FeatureSummary): Lineage {
  const months = features.monthReuse;
  if (!months) return lineage;
  const keys = [months.trainKey, months.scoreKey].filter((key): key is string => key !== null);
  return { ...lineage, featureMonthKeys: keys, reused: [...lineage.reused, ...months.reused] };
}
