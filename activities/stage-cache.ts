/**
 * Reuse of the load and feature stages' output (the run database as those stages leave it, and
 * the features file its view `features` reads), content-addressed: the key covers every input
 * file's path and sha256, the mapping, the parameters the load and feature SQL read, and the code
 * of those stages. A run whose key is stored copies the database file back and links the
 * features file after checking their hashes, instead of reading and aggregating the usage
 * again. The database as a file, because decoding its tables from Parquet took as long as
 * computing them (docs/reuse.md).
 */
import { randomUUID } from 'node:crypto';
import { constants, readFileSync, readdirSync } from 'node:fs';
import { chmod, copyFile, mkdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isStoreWriteFailure } from '../domain/errors';
import { assertCodeUnchanged, pinCodeHash } from './code-identity';
import { lockedVersions } from './code-version';
import { queryOne, viewParquet, withConnection } from './duckdb';
import type { FeatureSummary } from './features';
import { assertUsable, readingHash, type LoadPlan, type LoadSummary } from './load';
import { OUTSIDE_WINDOW } from './load-sql';
import { checkpoint } from './context';
import { canonicalJson, hashFile, sha256 } from '../store/hashing';
import { cacheDir, cacheStageDir, FEATURES_FILE, featuresFile, type RunRef, type StoreConfig } from '../store/layout';
import { linkOrCopy } from '../store/files';
import { readArtifact, removeArtifactDir, STAGE_CACHE_FORMAT, type StageArtifact } from '../store/stage-cache';
import type { ReusedArtifact } from '../store/artifacts';

/** The one cached stage output: what load and features leave in the run database. */
export const LOAD_FEATURES_STAGE = 'load-features';

/** The artifact's database: the run database after the feature stage (closed, so checkpointed); beside it FEATURES_FILE. */
const DATABASE_FILE = 'run.duckdb';

const ROOT = new URL('../', import.meta.url);

/**
 * The source files whose content decides the load and feature output: these modules, the static
 * imports among them that shape rows (a test checks the list against the import graph), and
 * every SQL file they run. Audit, context and store code do not change the rows.
 */
export const STAGE_CODE_FILES = [
  'activities/load.ts',
  'activities/load-sql.ts',
  'activities/labels.ts',
  'activities/user-features.ts',
  'activities/features.ts',
  'activities/duckdb.ts',
  'activities/stage-cache.ts',
  'activities/window-cache.ts',
  'activities/usage-months.ts',
  'data/contract.ts',
  'domain/mapping.ts',
  'domain/month.ts',
  'domain/params.ts',
  'domain/partitions.ts',
  'domain/rules.ts',
];
const STAGE_SQL_DIRS = [
  'activities/load',
  'activities/features',
  'activities/features/partition',
  'activities/features/combined',
];

/** The stage code and SQL files (relative to the project root), and the lock file that pins DuckDB. */
function stageCodeFiles(): string[] {
  return [
    ...STAGE_CODE_FILES,
    ...STAGE_SQL_DIRS.flatMap((dir) =>
      readdirSync(new URL(`${dir}/`, ROOT))
        .filter((name) => name.endsWith('.sql'))
        .sort()
        .map((name) => `${dir}/${name}`),
    ),
  ];
}

/** sha256 over the stage code, its SQL and the DuckDB version that runs it. */
function hashStageCode(): string {
  const parts = stageCodeFiles().map((file) => `${file}\n${sha256(readFileSync(new URL(file, ROOT), 'utf8'))}`);
  parts.push(`duckdb ${lockedVersions(['@duckdb/node-api'])['@duckdb/node-api']}`);
  return sha256(parts.join('\n'));
}

/** The load and feature stages' code hash as the worker loaded it (code-identity.ts). */
export const stageCodeHash = pinCodeHash(
  "the load and feature stages' code and SQL",
  () => [...stageCodeFiles(), 'package-lock.json'].map((file) => fileURLToPath(new URL(file, ROOT))),
  hashStageCode,
);

/**
 * What the key is made of. Parameters are only those the load and feature stages read: the month
 * and history window. k, tree depth, leaf size, seeds and sample sizes change only the models
 * after it, and the key-customer share and high-value threshold only the value labels that
 * publishing sets (publish/tables/01_subscribers.sql), so they share the stored output.
 * maxQuarantineShare only decides whether the run may go on: it is checked again on every reuse.
 */
export function stageKeyInputs(plan: LoadPlan, codeHash = stageCodeHash()) {
  return {
    format: STAGE_CACHE_FORMAT,
    inputs: plan.inputFiles.map((file) => ({ path: file.path, sha256: file.sha256 })),
    // the mapping, the columns' input types, the labels file (it feeds the churn label) and the input root
    reading: readingHash(plan),
    params: { month: plan.params.month, historyMonths: plan.params.historyMonths },
    code: codeHash,
  };
}

export function stageKey(plan: LoadPlan): string {
  return sha256(canonicalJson(stageKeyInputs(plan)));
}

/**
 * The artifact in `dir` after checking every file against its hash, or why it cannot be used:
 * there is none, or a file is damaged (then the run computes again and stores over it).
 */
export async function verifiedArtifact(dir: string): Promise<{ artifact: StageArtifact } | { missing: string }> {
  const artifact = await readArtifact(dir);
  if (!artifact) return { missing: 'no stored output for this key' };
  await checkpoint({ stage: 'reuse: checking stored output' });
  for (const file of artifact.files) {
    const actual = await hashFile(join(dir, file.file)).catch(() => undefined);
    if (actual?.sha256 !== file.sha256)
      return { missing: `stored ${file.file} does not match its hash: computing again` };
  }
  // last use, for `segflow cache prune --older-than`
  const now = new Date();
  await utimes(dir, now, now).catch(() => undefined);
  return { artifact };
}

/** How the manifest names a stored artifact a run used instead of running `stages`. */
export function reusedArtifact(artifact: StageArtifact, stages: string[]): ReusedArtifact {
  return {
    stage: artifact.stage,
    stages,
    key: artifact.key,
    files: artifact.files,
    producedBy: artifact.producedBy,
    producedAt: artifact.createdAt,
  };
}

/** Why a run took nothing stored: `--no-reuse`. */
export const REUSE_TURNED_OFF = 'reuse turned off for this run (--no-reuse)';

/**
 * The folder of `stage`'s artifact under `key` and the artifact as the run's lineage names it, or
 * why not: allowed unless the run is cold, and taken only while every stored file matches its hash.
 */
export async function lookUpArtifact(
  store: StoreConfig,
  stage: string,
  key: string,
  allowed: boolean,
  /** The run stages it stands for. */
  stages: string[],
): Promise<{ dir: string; artifact: ReusedArtifact } | { missing: string }> {
  if (!allowed) return { missing: REUSE_TURNED_OFF };
  const dir = cacheDir(store, stage, key);
  const found = await verifiedArtifact(dir);
  if ('missing' in found) return found;
  return { dir, artifact: reusedArtifact(found.artifact, stages) };
}

export interface StageReuse {
  key: string;
  /** The stored output, copied into the run database; null when the run computes it. */
  reused: { load: LoadSummary; features: FeatureSummary; artifact: ReusedArtifact } | null;
  /** Why the stored output was or was not used, for the audit log. */
  reason: string;
}

/**
 * Looks the plan's key up in the store and, when an intact artifact is there and `allowed`,
 * copies its tables into the run database. A damaged artifact (hash mismatch) is not used.
 */
export async function reuseStages(store: StoreConfig, plan: LoadPlan, allowed: boolean): Promise<StageReuse> {
  const started = performance.now();
  const key = stageKey(plan);
  if (!allowed) return { key, reused: null, reason: REUSE_TURNED_OFF };
  const dir = cacheDir(store, LOAD_FEATURES_STAGE, key);
  const found = await verifiedArtifact(dir);
  if ('missing' in found) return { key, reused: null, reason: found.missing };
  const { artifact } = found;
  if (!artifact.load || !artifact.features) return { key, reused: null, reason: 'no stored output for this key' };
  await checkpoint({ stage: 'reuse: copying the stored database' });
  await mkdir(join(plan.dbPath, '..'), { recursive: true });
  // a retried attempt may have left a database (and its write-ahead log) behind
  await rm(`${plan.dbPath}.wal`, { force: true });
  // a copy-on-write clone where the file system has them (btrfs, XFS, APFS): no bytes copied
  await copyFile(join(dir, DATABASE_FILE), plan.dbPath, constants.COPYFILE_FICLONE);
  // the stored copy is read-only; the run writes to its own
  await chmod(plan.dbPath, 0o644);
  // the features file is only read: a link, and the view pointed at this run's path
  await linkOrCopy(join(dir, FEATURES_FILE), featuresFile(plan.dbPath));
  await withConnection(plan.dbPath, async (conn) => {
    await viewParquet(conn, 'features', featuresFile(plan.dbPath));
    // the usage rows stayed with the run that loaded them (its month files); nothing after the
    // features reads them
    await conn.run('DROP VIEW IF EXISTS usage');
  });
  const { mapping, presentColumns, seconds, inputStamps: _stamps, ...rest } = plan;
  const load: LoadSummary = {
    ...rest,
    ...artifact.load,
    rowsOutsideWindow: artifact.load.quarantineByReason[OUTSIDE_WINDOW] ?? 0,
    readingHash: readingHash(plan),
    partitionDbPaths: [plan.dbPath],
    format: mapping.format,
    inputColumns: presentColumns.map(([column]) => column),
    openFeatureSet: mapping.features !== undefined,
    seconds,
  };
  assertUsable(load);
  const features: FeatureSummary = { ...artifact.features, seconds: (performance.now() - started) / 1000 };
  return {
    key,
    reused: {
      load,
      features,
      artifact: reusedArtifact(artifact, ['load', 'features']),
    },
    reason: 'inputs, mapping, feature parameters and stage code unchanged',
  };
}

export interface StoredStages {
  stored: boolean;
  path: string;
  bytes: number;
  /** Why nothing was stored (the store could not be written): the run goes on without it. */
  error?: string;
}

/**
 * Stores the run database (features, quarantine and what else load left) under `key`, read-only, with its hash:
 * written aside and renamed into place (storeArtifact). A store that cannot be written (full,
 * read-only) is reported, not a reason to fail the run.
 */
export async function storeStages(
  store: StoreConfig,
  run: RunRef,
  key: string,
  load: LoadSummary,
  features: FeatureSummary,
): Promise<StoredStages> {
  return storeArtifact(
    store,
    { stage: LOAD_FEATURES_STAGE, key, producedBy: run, month: load.params.month },
    {
      load: {
        rowsRead: load.rowsRead,
        rowsLoaded: load.rowsLoaded,
        rowsQuarantined: load.rowsQuarantined,
        quarantineByReason: load.quarantineByReason,
        subscribersInMonth: load.subscribersInMonth,
        rowsOutsideMonthFolder: load.rowsOutsideMonthFolder,
      },
      features: {
        skippedFeatures: features.skippedFeatures,
        scoringRows: features.scoringRows,
        trainingRows: features.trainingRows,
        trainingChurnRate: features.trainingChurnRate,
      },
    },
    async (staging) => {
      await checkpoint({ stage: 'features: storing for reuse' });
      const { rows } = await withConnection(load.dbPath, async (conn) => {
        await conn.run('CHECKPOINT');
        return queryOne<{ rows: number }>(conn, 'SELECT count(*) AS rows FROM features');
      });
      await copyFile(load.dbPath, join(staging, DATABASE_FILE));
      await linkOrCopy(featuresFile(load.dbPath), join(staging, FEATURES_FILE));
      return Promise.all(
        [DATABASE_FILE, FEATURES_FILE].map(async (file) => ({ file, rows, ...(await hashFile(join(staging, file))) })),
      );
    },
  );
}

/**
 * Writes an artifact under cache/<stage>/<key>/, read-only, with its files' hashes: written
 * aside and renamed into place, so a reader sees a whole artifact or none. A key that is stored
 * already and intact is kept (same key, same content); a damaged one is replaced. Storing only
 * saves later runs time, so a store that cannot be written (full, read-only) is reported in the
 * result, not thrown.
 */
export async function storeArtifact(
  store: StoreConfig,
  about: Pick<StageArtifact, 'stage' | 'key' | 'producedBy' | 'month'>,
  extra: Pick<StageArtifact, 'load' | 'features'>,
  writeFiles: (staging: string) => Promise<StageArtifact['files']>,
): Promise<StoredStages> {
  // what the files hold came from the code the key names only if no source file changed meanwhile
  assertCodeUnchanged();
  try {
    return await writeArtifactDir(store, about, extra, writeFiles);
  } catch (error) {
    if (!isStoreWriteFailure(error)) throw error;
    return { stored: false, path: cacheDir(store, about.stage, about.key), bytes: 0, error: (error as Error).message };
  }
}

async function writeArtifactDir(
  store: StoreConfig,
  about: Pick<StageArtifact, 'stage' | 'key' | 'producedBy' | 'month'>,
  extra: Pick<StageArtifact, 'load' | 'features'>,
  writeFiles: (staging: string) => Promise<StageArtifact['files']>,
): Promise<StoredStages> {
  const target = cacheDir(store, about.stage, about.key);
  const existing = await verifiedArtifact(target);
  if ('artifact' in existing)
    return { stored: false, path: target, bytes: existing.artifact.files.reduce((sum, f) => sum + f.bytes, 0) };
  const staging = join(cacheStageDir(store, about.stage), `.staging-${randomUUID()}`);
  await mkdir(staging, { recursive: true });
  try {
    const files = await writeFiles(staging);
    const artifact: StageArtifact = {
      format: STAGE_CACHE_FORMAT,
      ...about,
      createdAt: new Date().toISOString(),
      files,
      ...extra,
    };
    await writeFile(join(staging, 'artifact.json'), JSON.stringify(artifact, null, 2) + '\n');
    for (const name of ['artifact.json', ...files.map((f) => f.file)]) await chmod(join(staging, name), 0o444);
    await chmod(staging, 0o555);
    // a damaged artifact under the key (it failed its hash check) makes way for this one
    if (await stat(target).catch(() => undefined)) await removeArtifactDir(target);
    try {
      await rename(staging, target);
    } catch (error) {
      // another run stored the same key first: same key, same content
      if (await readArtifact(target)) return { stored: false, path: target, bytes: 0 };
      throw error;
    }
    return { stored: true, path: target, bytes: files.reduce((sum, f) => sum + f.bytes, 0) };
  } finally {
    await removeArtifactDir(staging).catch(() => undefined);
  }
}
