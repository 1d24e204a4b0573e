/**
 * Looking up what a stage after the features stored (the segments, the readable tree, the
 * trained ensemble): allowed unless the run is cold, and taken only while every stored file
 * matches its hash (stage-cache.ts verifiedArtifact).
 */
import type { ReusedArtifact } from '../store/artifacts';
import { cacheDir, type StoreConfig } from '../store/layout';
import { reusedArtifact, verifiedArtifact } from './stage-cache';

export const REUSE_TURNED_OFF = 'reuse turned off for this run (--no-reuse)';

/** The folder of `stage`'s artifact under `key` and the artifact as the run's lineage names it, or why not. */
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
