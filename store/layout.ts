import { dirname, join, resolve, sep } from 'node:path';
import { isMonth } from '../domain/month';
import { SnapshotStoreError } from '../domain/errors';
import type { Signer } from './signing';

/**
 * Where segflow keeps things. The store holds what outlives a run (snapshots, audit log); the
 * work folder holds each run's scratch DuckDB database, removed after a successful publish.
 */
export interface StoreConfig {
  /** snapshots/<month>/v<N>/, snapshots/<month>/latest.json, audit/audit.jsonl, cache/<stage>/<key>/ */
  storeDir: string;
  /** runs/<workflow id>__<run id>/work.duckdb */
  workDir: string;
  /** When set, run inputs must lie inside this folder (SEGFLOW_DATA_ROOT). */
  dataRoot?: string;
  /**
   * The worker's signing key (SEGFLOW_SIGNING_KEY): it signs the stage outputs it stores, and a run
   * takes only stored outputs signed with it (activities/artifact-store.ts). Never leaves the worker.
   */
  signer?: Signer;
}

/** Identifies one workflow execution; every idempotent side effect is keyed by it. */
export interface RunRef {
  workflowId: string;
  runId: string;
}

/** A published snapshot: its month and version. */
export interface SnapshotRef {
  month: string;
  version: number;
}

/** The folder of every month's snapshots. */
export function snapshotsDir(store: StoreConfig): string {
  return join(store.storeDir, 'snapshots');
}

export function monthDir(store: StoreConfig, month: string): string {
  if (!isMonth(month)) throw new SnapshotStoreError(`not a month (YYYY-MM): ${JSON.stringify(month)}`);
  return join(snapshotsDir(store), month);
}

export function versionDir(store: StoreConfig, month: string, version: number): string {
  if (!Number.isInteger(version) || version < 1) throw new SnapshotStoreError(`not a snapshot version: ${version}`);
  return join(monthDir(store, month), `v${version}`);
}

export function auditLogPath(store: StoreConfig): string {
  return join(store.storeDir, 'audit', 'audit.jsonl');
}

/** Reusable stage outputs: cache/<stage>/<key>/, read-only, each with its artifact.json. */
export function cacheStageDir(store: StoreConfig, stage: string): string {
  return join(store.storeDir, 'cache', safeSegment(stage));
}

export function cacheDir(store: StoreConfig, stage: string, key: string): string {
  if (!/^[0-9a-f]{64}$/.test(key)) throw new SnapshotStoreError(`not a cache key: ${JSON.stringify(key)}`);
  return join(cacheStageDir(store, stage), key);
}

export function runDir(store: StoreConfig, run: RunRef): string {
  return within(
    store.workDir,
    join(store.workDir, 'runs', `${safeSegment(run.workflowId)}__${safeSegment(run.runId)}`),
  );
}

/** The features file beside a run database (dbPath): the database's view `features` reads it. */
export function featuresFile(dbPath: string): string {
  return join(dirname(dbPath), FEATURES_FILE);
}

export const FEATURES_FILE = 'features.parquet';

/** One month's valid usage rows beside a run or partition database (dbPath): its view `usage` reads them. */
export function usageMonthFile(dbPath: string, month: string): string {
  return dbPath.replace(/\.duckdb$/, '') + `.usage-${month}.parquet`;
}

/** A workflow id made safe to use as one folder name. */
function safeSegment(value: string): string {
  const safe = value.replace(/[^A-Za-z0-9._-]/g, '_');
  if (safe === '' || safe === '.' || safe === '..')
    throw new SnapshotStoreError(`unusable name for a folder: ${JSON.stringify(value)}`);
  return safe;
}

/** Whether `path` resolves to `root` or inside it (as written: links are not followed). */
export function isWithin(root: string, path: string): boolean {
  const base = resolve(root);
  const full = resolve(path);
  return full === base || full.startsWith(base + sep);
}

/** Refuses a path that resolves outside `root`. */
export function within(root: string, path: string): string {
  if (!isWithin(root, path)) throw new SnapshotStoreError(`path escapes ${resolve(root)}: ${path}`);
  return resolve(path);
}
