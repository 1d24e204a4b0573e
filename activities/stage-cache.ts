/**
 * Reuse of the load and feature stages' output (the run database as those stages leave it, and
 * the features file its view `features` reads), content-addressed: the key covers every input
 * file's path and sha256, the mapping, the parameters the load and feature SQL read, and the code
 * of those stages. A run whose key is stored copies the database file back and links the
 * features file after checking their hashes, instead of reading and aggregating the usage
 * again. The database as a file, because decoding its tables from Parquet took as long as
 * computing them (docs/reuse.md).
 */
import { constants } from 'node:fs';
import { chmod, copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { reusedArtifact, storeArtifact, verifiedArtifact, REUSE_TURNED_OFF } from './artifact-store';
import { queryOne, viewParquet, withConnection } from './duckdb';
import { assertRunMonthHeld, type FeatureSummary } from './features';
import { assertUsable, readingHash, type LoadPlan, type LoadSummary } from './load';
import { OUTSIDE_WINDOW } from './load-sql';
import { checkpoint } from './context';
import { stageCodeHash } from './stage-code';
import { canonicalJson, hashFile, sha256 } from '../store/hashing';
import { cacheDir, FEATURES_FILE, featuresFile, type RunRef, type StoreConfig } from '../store/layout';
import { linkOrCopy } from '../store/files';
import { STAGE_CACHE_FORMAT } from '../store/stage-cache';
import type { ReusedArtifact, StoredStages } from '../store/artifacts';

/** The one cached stage output: what load and features leave in the run database. */
export const LOAD_FEATURES_STAGE = 'load-features';

/** The artifact's database: the run database after the feature stage (closed, so checkpointed); beside it FEATURES_FILE. */
const DATABASE_FILE = 'run.duckdb';

/**
 * What the key is made of. Parameters are only those the load and feature stages read: the month
 * and history window. k, tree depth, leaf size, seeds and sample sizes change only the models
 * after it, and the key-customer share and high-value threshold only the value labels that
 * publishing sets (publish/tables/01_subscribers.sql), so they share the stored output.
 * maxQuarantineShare and minRunMonthShare only decide whether the run may go on: they are checked
 * again on every reuse.
 */
function stageKeyInputs(plan: LoadPlan, codeHash = stageCodeHash()) {
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
  const found = await verifiedArtifact(dir, store.signer);
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
  const { mapping, presentColumns, seconds, inputStamps: _stamps, readPaths: _copies, ...rest } = plan;
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
  assertRunMonthHeld(features, plan.params, load);
  return {
    key,
    reused: {
      load,
      features,
      artifact: reusedArtifact(artifact, ['load', 'features'], found.signedBy),
    },
    reason: 'inputs, mapping, feature parameters and stage code unchanged',
  };
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
    { stage: LOAD_FEATURES_STAGE, key, producedBy: run, month: load.params.month, code: stageCodeHash() },
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
        ...(features.trainingUnknownOutcome !== undefined
          ? { trainingUnknownOutcome: features.trainingUnknownOutcome }
          : {}),
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
