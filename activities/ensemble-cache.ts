/**
 * Reuse of the trained churn ensemble, content-addressed by what training reads: the training
 * rows' feature values and labels, the rows it fits (the holdout split), the boosting options and
 * the code that trains (activities/ml). An analyst rerun that changes only k or the readable
 * tree's depth trains the same ensemble, so it takes the stored one (a few hundred KB) instead of
 * training again; scoring, reasons and the holdout metrics are computed as always, from this run's
 * rows. The model is the same either way, so the published bytes are too: every number in it is
 * a finite float32 (no -0: boosting.ts writes zeros as +0), which JSON writes back exactly.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isStoreWriteFailure } from '../domain/errors';
import { canonicalJson, hashFile } from '../store/hashing';
import { cacheDir, type RunRef, type StoreConfig } from '../store/layout';
import type { ReusedArtifact } from '../store/manifest';
import { STAGE_CACHE_FORMAT } from '../store/stage-cache';
import type { EnsembleTask, TrainedEnsemble } from './ml/ensemble';
import { storeArtifact, verifiedArtifact, type StoredStages } from './stage-cache';

export const ENSEMBLE_STAGE = 'churn-ensemble';
const ENSEMBLE_FILE = 'ensemble.json';
const ML_DIR = new URL('./ml/', import.meta.url);

let cachedCodeHash: string | undefined;

/** sha256 over the training code (every module in activities/ml) and the JavaScript engine's version. */
function ensembleCodeHash(): string {
  if (cachedCodeHash) return cachedCodeHash;
  const hash = createHash('sha256');
  for (const name of readdirSync(ML_DIR).sort()) hash.update(`${name}\n`).update(readFileSync(new URL(name, ML_DIR)));
  hash.update(`v8 ${process.versions.v8}`);
  cachedCodeHash = hash.digest('hex');
  return cachedCodeHash;
}

/** The key of a training task: its rows' bytes, options (not the thread count: same model) and code. */
export function ensembleKey(task: EnsembleTask): string {
  const { threads: _threads, ...options } = task.options;
  const hash = createHash('sha256').update(
    canonicalJson({
      format: STAGE_CACHE_FORMAT,
      stage: ENSEMBLE_STAGE,
      options,
      code: ensembleCodeHash(),
      shape: { columns: task.columns.length, rows: task.labels.length, trainRows: task.trainRows.length },
    }),
  );
  for (const array of [...task.columns, task.labels, task.trainRows])
    hash.update(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  return hash.digest('hex');
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
  if (!allowed) return { key, trained: null, artifact: null, reason: 'reuse turned off for this run (--no-reuse)' };
  const dir = cacheDir(store, ENSEMBLE_STAGE, key);
  const found = await verifiedArtifact(dir);
  if ('missing' in found) return { key, trained: null, artifact: null, reason: found.missing };
  const { artifact } = found;
  const trained = JSON.parse(await readFile(join(dir, ENSEMBLE_FILE), 'utf8')) as TrainedEnsemble;
  return {
    key,
    trained,
    artifact: {
      stage: ENSEMBLE_STAGE,
      stages: ['churn'],
      key,
      files: artifact.files,
      producedBy: artifact.producedBy,
      producedAt: artifact.createdAt,
    },
    reason: 'training rows, boosting options and training code unchanged',
  };
}

/** Stores a trained ensemble under its key; a store that cannot be written only costs later runs time. */
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
  try {
    return await storeArtifact(store, { stage: ENSEMBLE_STAGE, key, producedBy: run, month }, {}, async (staging) => {
      await writeFile(join(staging, ENSEMBLE_FILE), JSON.stringify(stored) + '\n');
      return [{ file: ENSEMBLE_FILE, rows: trainingRows, ...(await hashFile(join(staging, ENSEMBLE_FILE))) }];
    });
  } catch (error) {
    if (!isStoreWriteFailure(error)) throw error;
    return { stored: false, path: cacheDir(store, ENSEMBLE_STAGE, key), bytes: 0, error: (error as Error).message };
  }
}
