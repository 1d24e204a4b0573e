/**
 * Reuse of the churn stage's work, content-addressed, in three artifacts:
 *
 * - the trained ensemble (stage churn-ensemble), keyed by what training reads: the training rows'
 *   feature values and labels, the rows it fits (the holdout split), the boosting options and the
 *   code that trains (activities/ml). Every number in it is a finite float32 (no -0: boosting.ts
 *   writes zeros as +0), which JSON writes back exactly, so the model is the same either way.
 * - what scoring with it wrote (stage churn-scores): the scores, churn_reasons and ensemble_holdout Parquet files
 *   (linked, not copied, between the run folder and the store where they share a file system) and the
 *   holdout evaluation, keyed by the ensemble's key, this month's rows' feature values and the
 *   code that scores, words the reasons and bands the scores.
 * - the readable tree (stage churn-tree) and its holdout evaluation, keyed by the same training
 *   rows' bytes, the rows it fits and holds out, its depth and leaf size, and the code that trains
 *   and measures it (the scoring code's files: activities/ml and churn.ts among them).
 *
 * An analyst rerun that changes only k or the readable tree's depth takes the first two instead
 * of training and scoring again; one that changes only k or the value labels takes all three.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalJson, hashFile, sha256 } from '../store/hashing';
import type { RunRef, StoreConfig } from '../store/layout';
import type { ReusedArtifact, StageCacheAccess, StoredStages } from '../store/artifacts';
import { STAGE_CACHE_FORMAT, storedArtifacts } from '../store/stage-cache';
import type { EnsembleTask, TrainedEnsemble } from './ml/ensemble';
import type { DuckDBConnection } from '@duckdb/node-api';
import { viewParquet } from './duckdb';
import { STORED_SCORED_TABLES, scoredTableFile } from './stage-outputs';
import type { FeatureMeta } from './ml/feature-matrix';
import { linkOrCopy } from '../store/files';
import { readExactJson } from '../store/exact-json';
import { lockedVersions } from './code-version';
import { pinCodeHash, sqlFilesUnder } from './code-identity';
import { mlCodeFiles, mlCodeHash } from './ml/code-hash';
import { lookUpArtifact, stagedJson, storeArtifact } from './artifact-store';

export const ENSEMBLE_STAGE = 'churn-ensemble';
export const SCORES_STAGE = 'churn-scores';
export const TREE_STAGE = 'churn-tree';
const ENSEMBLE_FILE = 'ensemble.json';
const TREE_FILE = 'tree.json';
const ROOT = new URL('../', import.meta.url);
/**
 * Beside activities/ml: what turns the ensemble's outputs into the scores and churn_reasons tables
 * (a test checks the list against the churn stage's import graph), with every SQL file under
 * activities/churn/ (scoringCodeFiles).
 */
export const SCORING_CODE_FILES = [
  'activities/churn.ts',
  'domain/churn-features.ts',
  'activities/churn-reasons.ts',
  'activities/churn-features.ts',
  'activities/ml/columns.ts',
  'activities/duckdb.ts',
  'activities/stage-outputs.ts',
  'data/contract.ts',
  'domain/encoding.ts',
  'domain/feature-words.ts',
  'domain/month.ts',
  'domain/params.ts',
  'domain/rules.ts',
  'domain/snapshot-columns.ts',
];
const EVALUATION_FILE = 'evaluation.json';

/** The model code's hash as the worker loaded it (ml/code-hash.ts, code-identity.ts). */
export const ensembleCodeHash = pinCodeHash("the churn models' code (activities/ml)", mlCodeFiles, mlCodeHash);

/**
 * The sha256 of training rows' values and labels: the bulk of both models' keys (~190 MB at 1M
 * rows), hashed once when the tree and the ensemble train on the same rows.
 */
export function rowsDigest(columns: readonly Float64Array[], labels: Uint8Array): string {
  const hash = createHash('sha256');
  for (const array of [...columns, labels])
    hash.update(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  return hash.digest('hex');
}

/** The key of a training task: its rows' bytes (`rows`, their digest), options (not the thread count: same model) and code. */
export function ensembleKey(task: EnsembleTask, rows = rowsDigest(task.columns, task.labels)): string {
  const { threads: _threads, ...options } = task.options;
  const hash = createHash('sha256').update(
    canonicalJson({
      format: STAGE_CACHE_FORMAT,
      stage: ENSEMBLE_STAGE,
      options,
      code: ensembleCodeHash(),
      shape: { columns: task.columns.length, rows: task.labels.length, trainRows: task.trainRows.length },
      rows,
    }),
  );
  hash.update(new Uint8Array(task.trainRows.buffer, task.trainRows.byteOffset, task.trainRows.byteLength));
  return hash.digest('hex');
}

/** What the readable tree trains on and how: its key covers all of it. */
export interface TreeTask {
  /** The training rows' feature values (gaps filled), every row: the split picks the tree's and the holdout's. */
  columns: readonly Float64Array[];
  labels: Uint8Array;
  trainRows: Uint32Array;
  holdoutRows: Uint32Array;
  options: { maxDepth: number; minLeafSize: number };
  /** Which features are categorical (their splits are sets of codes), and their names. */
  features: readonly FeatureMeta[];
}

/** The key of the readable tree's training and holdout evaluation: its rows' bytes (`rows`, their digest), the split, options and code. */
export function treeKey(task: TreeTask, rows = rowsDigest(task.columns, task.labels)): string {
  const hash = createHash('sha256').update(
    canonicalJson({
      format: STAGE_CACHE_FORMAT,
      stage: TREE_STAGE,
      options: task.options,
      features: task.features,
      // churn.ts bins, trains and measures it with activities/ml
      code: scoringCodeHash(),
      shape: {
        columns: task.columns.length,
        rows: task.labels.length,
        trainRows: task.trainRows.length,
        holdoutRows: task.holdoutRows.length,
      },
      rows,
    }),
  );
  for (const array of [task.trainRows, task.holdoutRows])
    hash.update(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  return hash.digest('hex');
}

/** The readable tree as stored: the model (ml-cart's JSON) and what the holdout said of it. */
export interface StoredTree<Model, Evaluation> {
  model: Model;
  evaluation: Evaluation;
}

/** The stored tree for `key` when reuse is allowed and its file matches its hash (null), and why. */
export async function findTree<Model, Evaluation>(
  access: StageCacheAccess,
  key: string,
): Promise<{ tree: StoredTree<Model, Evaluation> | null; artifact: ReusedArtifact | null; reason: string }> {
  const found = await lookUpArtifact(access.store, TREE_STAGE, key, access.allowed, ['churn']);
  if ('missing' in found) return { tree: null, artifact: null, reason: found.missing };
  return {
    tree: await readExactJson<StoredTree<Model, Evaluation>>(join(found.dir, TREE_FILE)),
    artifact: found.artifact,
    reason: 'training rows, holdout split, tree depth, leaf size and code unchanged',
  };
}

/** Stores the readable tree and its holdout evaluation under `key`. */
export async function storeTree<Model, Evaluation>(
  access: StageCacheAccess,
  key: string,
  month: string,
  tree: StoredTree<Model, Evaluation>,
  trainingRows: number,
): Promise<StoredStages> {
  return storeArtifact(
    access.store,
    { stage: TREE_STAGE, key, producedBy: access.run, month, code: scoringCodeHash() },
    {},
    async (staging) => [await stagedJson(staging, TREE_FILE, tree, trainingRows)],
  );
}

/** SCORING_CODE_FILES and every SQL file the churn stage runs (activities/churn/, any subfolder). */
function scoringCodeFiles(): string[] {
  return [...SCORING_CODE_FILES, ...sqlFilesUnder(ROOT, ['activities/churn'])];
}

/** sha256 over the training code, the code that scores, and the DuckDB version that reads the rows. */
function hashScoringCode(): string {
  const hash = createHash('sha256')
    .update(mlCodeHash())
    // from the lock file itself: codeVersion() would also run git as this module loads
    .update(`\nduckdb ${lockedVersions(['@duckdb/node-api'])['@duckdb/node-api']}`);
  for (const file of scoringCodeFiles()) hash.update(`\n${file}\n`).update(readFileSync(new URL(file, ROOT)));
  return hash.digest('hex');
}

export const scoringCodeHash = pinCodeHash(
  'the churn scoring code',
  () => [
    ...mlCodeFiles(),
    ...[...scoringCodeFiles(), 'package-lock.json'].map((file) => fileURLToPath(new URL(file, ROOT))),
  ],
  hashScoringCode,
);

/** What scoring reads: this month's rows of the run's features table, through these column expressions. */
export interface ScoringRows {
  /**
   * What fixes the features table's rows (the churn stage reads nothing else): `stage:<key>`, the
   * load-features key that computed or restored it (stage-cache.ts), or, for a run without one,
   * `file:<sha256>` of its features.parquet (whose row order differs between computed runs).
   */
  features: string;
  /** The columns read (name, SQL expression over the features table), in order. */
  expressions: [name: string, sql: string][];
  rows: number;
}

/**
 * The key of scoring this month's rows (`scoring`, read and gap-filled by churn.ts) with the
 * ensemble of `ensembleKey`. What fixed the features table stands for the rows' values, so a run
 * that finds its scores stored does not read them. The features' metadata is in it: the reasons name
 * categories by their labels, which a mapping can change while the codes stay the same.
 */
export function scoredOutputKey(
  ensembleKey: string,
  scoring: ScoringRows,
  meta: readonly FeatureMeta[],
  reasons: number,
): string {
  return sha256(
    canonicalJson({
      format: STAGE_CACHE_FORMAT,
      stage: SCORES_STAGE,
      ensembleKey,
      reasons,
      features: meta,
      scoring,
      // what the artifact holds: one stored before the holdout's scores were kept does not match
      tables: STORED_SCORED_TABLES,
      code: scoringCodeHash(),
    }),
  );
}

/** What scoring leaves besides its tables: the holdout evaluation and the band counts. */
export interface ScoredOutput<Evaluation> {
  evaluation: Evaluation;
  riskBandCounts: Record<string, number>;
  scoredRows: number;
}

/**
 * Links the stored scores, churn_reasons and ensemble_holdout files of `key` into the run folder `runDir` (a copy
 * across file systems) and points the connection's views at them, when the files match their hashes;
 * returns what scoring reported, or why not.
 */
export async function restoreScoredOutput<Evaluation>(
  conn: DuckDBConnection,
  store: StoreConfig,
  key: string,
  runDir: string,
): Promise<{ output: ScoredOutput<Evaluation>; artifact: ReusedArtifact } | { missing: string }> {
  // the caller asks only when reuse is allowed
  const found = await lookUpArtifact(store, SCORES_STAGE, key, true, ['churn']);
  if ('missing' in found) return found;
  for (const table of STORED_SCORED_TABLES) {
    const file = scoredTableFile(runDir, table);
    await linkOrCopy(join(found.dir, `${table}.parquet`), file);
    await viewParquet(conn, table, file, 'connection');
  }
  const output = await readExactJson<ScoredOutput<Evaluation>>(join(found.dir, EVALUATION_FILE));
  return { output, artifact: found.artifact };
}

/** Stores the run's scores, churn_reasons and ensemble_holdout files (in `runDir`) and `output` under `key`. */
export async function storeScoredOutput<Evaluation>(
  store: StoreConfig,
  run: RunRef,
  key: string,
  month: string,
  output: ScoredOutput<Evaluation>,
  runDir: string,
): Promise<StoredStages> {
  return storeArtifact(
    store,
    { stage: SCORES_STAGE, key, producedBy: run, month, code: scoringCodeHash() },
    {},
    async (staging) => {
      const files = [];
      for (const table of STORED_SCORED_TABLES) {
        const file = `${table}.parquet`;
        await linkOrCopy(scoredTableFile(runDir, table), join(staging, file));
        files.push({ file, rows: output.scoredRows, ...(await hashFile(join(staging, file))) });
      }
      files.push(await stagedJson(staging, EVALUATION_FILE, output, output.scoredRows));
      return files;
    },
  );
}

export interface EnsembleReuse {
  key: string;
  /** The stored ensemble, or null when this run trains it. */
  trained: TrainedEnsemble | null;
  artifact: ReusedArtifact | null;
  /** Why it was or was not reused. */
  reason: string;
}

/** The stored ensemble for `key` when reuse is allowed and its file matches its hash. */
export async function findEnsemble(store: StoreConfig, key: string, allowed: boolean): Promise<EnsembleReuse> {
  const found = await lookUpArtifact(store, ENSEMBLE_STAGE, key, allowed, ['churn']);
  if ('missing' in found) return { key, trained: null, artifact: null, reason: found.missing };
  return {
    key,
    trained: await readExactJson<TrainedEnsemble>(join(found.dir, ENSEMBLE_FILE)),
    artifact: found.artifact,
    reason: 'training rows, boosting options and training code unchanged',
  };
}

/** Whether the store holds an ensemble that a run of `month` trained (whatever its key). */
export async function holdsEnsembleFor(store: StoreConfig, month: string): Promise<boolean> {
  return (await storedArtifacts(store, ENSEMBLE_STAGE)).some(({ artifact }) => artifact.month === month);
}

/** Stores a trained ensemble under its key (a store that cannot be written is reported, not thrown). */
export async function storeEnsemble(
  store: StoreConfig,
  run: RunRef,
  key: string,
  month: string,
  trained: TrainedEnsemble,
  trainingRows: number,
): Promise<StoredStages> {
  const stored: TrainedEnsemble = {
    model: trained.model,
    uncalibrated: trained.uncalibrated,
    calibration: trained.calibration,
    bestRound: trained.bestRound,
    trainSeconds: trained.trainSeconds,
  };
  return storeArtifact(
    store,
    { stage: ENSEMBLE_STAGE, key, producedBy: run, month, code: ensembleCodeHash() },
    {},
    async (staging) => [await stagedJson(staging, ENSEMBLE_FILE, stored, trainingRows)],
  );
}
