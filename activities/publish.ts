import { chmod, copyFile, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { InvalidParamsError, SnapshotStoreError } from '../domain/errors';
import type { RunParams } from '../domain/params';
import { CONTACT_MOMENTS, DISPATCH_MAX_PRIORITY, TAG_RULES } from '../domain/actions';
import { OPERATION_GRID, STABLE_SCORE } from '../domain/rules';
import { monthDir, versionDir, type RunRef, type StoreConfig } from '../store/layout';
import { codeVersion } from './code-version';
import { checkpoint } from './context';
import { queryOne, readSql, runScript, runSqlFiles, setVariable, withConnection } from './duckdb';
import { hashFile } from '../store/hashing';
import { buildReport, type ReportInput } from './report/report';
import { withFileLock } from '../store/file-lock';
import type { OutputFile, SnapshotManifest } from '../store/manifest';
import {
  describePublished,
  findPublishedByRun,
  latestVersion,
  listVersions,
  type PublishedSnapshot,
} from '../store/snapshots';

export interface PublishRequest extends ReportInput {
  /** Who asked for the run (a user, or schedule:<id>), recorded in the manifest. */
  requestedBy: string;
}

export interface PublishResult extends PublishedSnapshot {
  /** True when this run had already published (a retried activity): nothing new was written. */
  alreadyPublished: boolean;
}

const TABLE_OUTPUTS = [
  { table: 'snapshot_subscribers', file: 'subscribers.parquet' },
  { table: 'snapshot_segments', file: 'segments.parquet' },
  { table: 'snapshot_grids', file: 'grids.parquet' },
  { table: 'snapshot_dispatch', file: 'dispatch.parquet' },
  { table: 'snapshot_quarantine', file: 'quarantine.parquet' },
] as const;

/**
 * Publishes the run's results as snapshots/<month>/v<N>/: written aside, then renamed into place
 * in one step, so readers never see half a snapshot. A run that already published (this
 * activity retried) gets its existing version back. `latest.json` only moves forward.
 */
export async function publishSnapshot(
  store: StoreConfig,
  run: RunRef,
  request: PublishRequest,
  /** Where the previous month's snapshot lives (the store itself, except when reproducing elsewhere). */
  previousStore: StoreConfig = store,
): Promise<PublishResult> {
  const month = request.load.params.month;
  const existing = await findPublishedByRun(store, month, run);
  if (existing) return { ...existing, alreadyPublished: true };

  const staging = join(monthDir(store, month), `.staging-${run.runId}`);
  try {
    await rm(staging, { recursive: true, force: true });
    await mkdir(monthDir(store, month), { recursive: true });
    // not recursive: on a read-only file system a recursive mkdir reports ENOENT instead of EROFS
    await mkdir(staging);
    const outputs = await writeOutputs(previousStore, request, staging);
    const manifest = buildManifest(run, request, outputs);
    return await withFileLock(join(monthDir(store, month), '.lock'), async () => {
      // checked again under the lock: a concurrent attempt of this run may have just published
      const raced = await findPublishedByRun(store, month, run);
      if (raced) return { ...raced, alreadyPublished: true };
      const version = (await listVersions(store, month)).reduce((max, v) => Math.max(max, v), 0) + 1;
      manifest.snapshot = { month, version, publishedAt: new Date().toISOString() };
      await writeFile(join(staging, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
      await makeReadOnly(staging);
      const target = versionDir(store, month, version);
      await rename(staging, target);
      await moveLatestForward(store, month, version, run);
      return { ...(await describePublished(store, month, version)), alreadyPublished: false };
    });
  } catch (error) {
    if (isStoreWriteFailure(error)) {
      throw new SnapshotStoreError(
        `cannot write the snapshot for ${month} under ${store.storeDir} (disk full, read-only or not permitted): ${(error as Error).message.split('\n')[0]}. ` +
          'Nothing was published; the previous snapshot and latest.json are unchanged.',
      );
    }
    throw error;
  } finally {
    await rm(staging, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Errors that retrying cannot fix until an operator frees space or fixes permissions. */
function isStoreWriteFailure(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const message = error instanceof Error ? error.message : '';
  return (
    ['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM'].includes(code) ||
    /No space left|Read-only file system|Permission denied|quota exceeded/i.test(message)
  );
}

async function writeOutputs(
  previousStore: StoreConfig,
  request: PublishRequest,
  staging: string,
): Promise<OutputFile[]> {
  const rowCounts = new Map<string, number>();
  const previous = request.cluster.previous;
  const tables = [...TABLE_OUTPUTS, ...(previous ? [{ table: 'snapshot_migration', file: 'migration.parquet' }] : [])];
  await withConnection(request.load.dbPath, async (conn) => {
    await writeRuleTables(conn);
    await setVariable(conn, 'pseudonym_key', pseudonymKey(request.load.params));
    await runSqlFiles(conn, new URL('./publish/tables/', import.meta.url));
    if (previous) {
      await setVariable(
        conn,
        'previous_subscribers',
        join(versionDir(previousStore, previous.month, previous.version), 'subscribers.parquet'),
      );
      await runScript(conn, await readSql(import.meta.url, './publish/migration.sql'));
    }
    for (const { table, file } of tables) {
      await checkpoint({ stage: `publish: ${file}` });
      // the table name comes from TABLE_OUTPUTS; the path is bound
      await setVariable(conn, 'output_path', join(staging, file));
      await conn.run(
        `COPY (SELECT * FROM ${table}) TO (getvariable('output_path')) (FORMAT parquet, COMPRESSION zstd)`,
      );
      rowCounts.set(file, (await queryOne<{ rows: number }>(conn, `SELECT count(*) AS rows FROM ${table}`)).rows);
    }
    await checkpoint({ stage: 'publish: report.html' });
    await writeFile(join(staging, 'report.html'), await buildReport(conn, request, previous !== null));
  });
  await copyFile(request.churn.modelPath, join(staging, 'churn_model.json'));
  const files = [...tables.map((o) => o.file), 'churn_model.json', 'report.html'];
  return Promise.all(
    files.map(async (file) => ({ file, ...(await hashFile(join(staging, file))), rows: rowCounts.get(file) })),
  );
}

/** The key for pseudonymised ids: only from the worker's environment, never in a payload, log or manifest. */
function pseudonymKey(params: RunParams): string | null {
  if (!params.pseudonymiseIds) return null;
  const key = process.env.SEGFLOW_PSEUDONYM_KEY;
  if (!key || key.length < 16) {
    throw new InvalidParamsError(
      'pseudonymiseIds needs SEGFLOW_PSEUDONYM_KEY (at least 16 characters) in the worker environment',
    );
  }
  return key;
}

async function writeRuleTables(conn: DuckDBConnection): Promise<void> {
  await conn.run(
    'CREATE OR REPLACE TEMP TABLE operation_grid (value_tier VARCHAR, stable BOOLEAN, priority INTEGER, retention_style VARCHAR, channel VARCHAR)',
  );
  for (const cell of OPERATION_GRID) {
    await conn.run('INSERT INTO operation_grid VALUES ($tier, $stable, $priority, $style, $channel)', {
      tier: cell.valueTier,
      stable: cell.stable,
      priority: cell.priority,
      style: cell.retentionStyle,
      channel: cell.channel,
    });
  }
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE action_settings AS SELECT
       $stable_score::DOUBLE AS stable_score, $warning_mou_trend::DOUBLE AS warning_mou_trend,
       $loyal_tenure::DOUBLE AS loyal_tenure, $new_tenure::DOUBLE AS new_tenure, $declining_trend::DOUBLE AS declining_trend,
       $dispatch_max_priority::INTEGER AS dispatch_max_priority, $moment_warning AS moment_warning,
       $moment_new AS moment_new, $moment_declining AS moment_declining`,
    {
      stable_score: STABLE_SCORE,
      warning_mou_trend: TAG_RULES.warningMouTrend,
      loyal_tenure: TAG_RULES.loyalTenureMonths,
      new_tenure: TAG_RULES.newTenureMonths,
      declining_trend: TAG_RULES.decliningTrend,
      dispatch_max_priority: DISPATCH_MAX_PRIORITY,
      moment_warning: CONTACT_MOMENTS.warning,
      moment_new: CONTACT_MOMENTS.new,
      moment_declining: CONTACT_MOMENTS.declining,
    },
  );
}

function buildManifest(run: RunRef, request: PublishRequest, outputs: OutputFile[]): SnapshotManifest {
  const { load, cluster, churn } = request;
  return {
    snapshot: { month: load.params.month, version: 0, publishedAt: '' },
    run,
    requestedBy: request.requestedBy,
    params: load.params,
    paramsHash: load.paramsHash,
    inputs: load.inputFiles,
    ...(load.labels ? { labels: load.labels } : {}),
    code: codeVersion(),
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
      ...(request.load.skippedUserFeatures ?? []).map(({ feature, reason }) => ({
        feature,
        reason: `user column: ${reason}`,
      })),
    ],
    metrics: {
      churnHoldout: churn.holdout,
      churnTopRules: churn.topRules,
      featureImportance: churn.featureImportance,
      churnFeatures: churn.features,
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
      segments: cluster.segments,
    },
    outputs,
    timings: {
      loadSeconds: load.seconds,
      featuresSeconds: request.features.seconds,
      clusterSeconds: cluster.seconds,
      kmeansSeconds: cluster.kmeansSeconds,
      churnSeconds: churn.seconds,
      treeTrainSeconds: churn.trainSeconds,
    },
  };
}

/** latest.json names the newest published version; written aside and renamed, never moved back. */
async function moveLatestForward(store: StoreConfig, month: string, version: number, run: RunRef): Promise<void> {
  if (version <= ((await latestVersion(store, month)) ?? 0)) return;
  const latestPath = join(monthDir(store, month), 'latest.json');
  const temporary = `${latestPath}.${run.runId}.tmp`;
  await writeFile(temporary, JSON.stringify({ month, version, path: `v${version}`, run }, null, 2) + '\n');
  await rename(temporary, latestPath);
}

async function makeReadOnly(dir: string): Promise<void> {
  for (const name of await readdir(dir)) await chmod(join(dir, name), 0o444);
}
