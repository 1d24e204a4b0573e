/**
 * The stage cache's artifacts, whatever the stage: cache/<stage>/<key>/ holds an artifact.json
 * and files, read-only, each with its sha256. Looked up only while every file matches its hash;
 * written aside and renamed into place. A worker with a signing key signs artifact.json (in
 * artifact.sig) and takes only artifacts signed with its key: a hash check catches a damaged file,
 * not someone who rewrote a file and its recorded hash, whose work a signed snapshot would carry. The stages' own keys and contents are in their modules
 * (stage-cache.ts, window-cache.ts, usage-months.ts, ensemble-cache.ts, segments-cache.ts).
 */
import { createPublicKey, randomUUID } from 'node:crypto';
import { chmod, mkdir, rename, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isStoreWriteFailure } from '../domain/errors';
import { assertCodeUnchanged } from './code-identity';
import { checkpoint, warnInWorkerLog } from './context';
import { hashFile } from '../store/hashing';
import { writeExactJson } from '../store/exact-json';
import { cacheDir, cacheStageDir, type StoreConfig } from '../store/layout';
import { ARTIFACT_SIGNATURE_FILE, checkFileSignature, signFileInto, type Signer } from '../store/signing';
import { readArtifact, removeArtifactDir, STAGE_CACHE_FORMAT, type StageArtifact } from '../store/stage-cache';
import type { ReusedArtifact, StoredStages } from '../store/artifacts';

/**
 * The artifact in `dir` after checking every file against its hash (and, for a worker with a
 * signing key, artifact.json against its signature), or why it cannot be used: there is none, it
 * is not signed with the worker's key, or a file is damaged (then the run computes again and
 * stores over it).
 */
export async function verifiedArtifact(
  dir: string,
  signer?: Signer,
): Promise<{ artifact: StageArtifact; signedBy?: string } | { missing: string }> {
  const artifact = await readArtifact(dir);
  if (!artifact) return { missing: 'no stored output for this key' };
  await checkpoint({ stage: 'reuse: checking stored output' });
  if (signer) {
    const signature = await checkFileSignature(
      createPublicKey(signer.privateKey),
      join(dir, 'artifact.json'),
      join(dir, ARTIFACT_SIGNATURE_FILE),
    );
    if (signature.status === 'missing')
      return {
        missing: `stored output is not signed (stored by a worker without SEGFLOW_SIGNING_KEY, or before segflow signed the stage cache), and this worker takes only what its key ${signer.keyId} signed: computing again`,
      };
    if (signature.status === 'invalid')
      return {
        missing: `stored output's signature does not verify with this worker's key ${signer.keyId} (signed by key ${signature.keyId}, or artifact.json rewritten after signing): computing again`,
      };
  }
  for (const file of artifact.files) {
    const actual = await hashFile(join(dir, file.file)).catch(() => undefined);
    if (actual?.sha256 !== file.sha256)
      return { missing: `stored ${file.file} does not match its hash: computing again` };
  }
  // last use, for `segflow cache prune --older-than`
  const now = new Date();
  await utimes(dir, now, now).catch(() => undefined);
  return { artifact, ...(signer ? { signedBy: signer.keyId } : {}) };
}

/** How the manifest names a stored artifact a run used instead of running `stages` (`signedBy`: the key its signature was checked with). */
export function reusedArtifact(artifact: StageArtifact, stages: string[], signedBy?: string): ReusedArtifact {
  return {
    stage: artifact.stage,
    stages,
    key: artifact.key,
    files: artifact.files,
    producedBy: artifact.producedBy,
    producedAt: artifact.createdAt,
    ...(signedBy ? { signedBy } : {}),
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
  const found = await verifiedArtifact(dir, store.signer);
  if ('missing' in found) return found;
  return { dir, artifact: reusedArtifact(found.artifact, stages, found.signedBy) };
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
  about: Pick<StageArtifact, 'stage' | 'key' | 'producedBy' | 'month'> & { code: string },
  extra: Pick<StageArtifact, 'load' | 'features'>,
  writeFiles: (staging: string) => Promise<StageArtifact['files']>,
): Promise<StoredStages> {
  // what the files hold came from the code the key names only if no source file changed meanwhile
  assertCodeUnchanged();
  try {
    return await writeArtifactDir(store, about, extra, writeFiles);
  } catch (error) {
    if (!isStoreWriteFailure(error)) throw error;
    const path = cacheDir(store, about.stage, about.key);
    const message = (error as Error).message;
    // the run goes on; the next run with this key computes the stage again, and the store may be filling up
    warnInWorkerLog(`stage cache: ${about.stage} not stored for later runs: ${message}`, { path, month: about.month });
    return { stored: false, path, bytes: 0, error: message };
  }
}

async function writeArtifactDir(
  store: StoreConfig,
  about: Pick<StageArtifact, 'stage' | 'key' | 'producedBy' | 'month'> & { code: string },
  extra: Pick<StageArtifact, 'load' | 'features'>,
  writeFiles: (staging: string) => Promise<StageArtifact['files']>,
): Promise<StoredStages> {
  const target = cacheDir(store, about.stage, about.key);
  // one this worker would not take (unsigned, another key's) makes way for a signed one
  const existing = await verifiedArtifact(target, store.signer);
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
    const signed = store.signer ? [ARTIFACT_SIGNATURE_FILE] : [];
    if (store.signer)
      await signFileInto(store.signer, join(staging, 'artifact.json'), join(staging, ARTIFACT_SIGNATURE_FILE));
    for (const name of ['artifact.json', ...signed, ...files.map((f) => f.file)])
      await chmod(join(staging, name), 0o444);
    await chmod(staging, 0o555);
    // a damaged artifact under the key (it failed its hash or signature check) makes way for this one
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

/** Writes `value` as exact JSON to `file` in an artifact's staging folder: its entry in artifact.json (`rows`: the rows it stands for). */
export async function stagedJson(
  staging: string,
  file: string,
  value: unknown,
  rows: number,
): Promise<StageArtifact['files'][number]> {
  await writeExactJson(join(staging, file), value);
  return { file, rows, ...(await hashFile(join(staging, file))) };
}
