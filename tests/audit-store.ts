import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { recordAudit } from '../store/audit-record';
import { sha256 } from '../store/hashing';
import { monthDir, versionDir, type StoreConfig } from '../store/layout';
import { ARTIFACT_SIGNATURE_FILE, signFileInto, signManifest, signerOf, type Signer } from '../store/signing';
import { STAGE_CACHE_FORMAT, type StageArtifact } from '../store/stage-cache';
import { REPO_ROOT } from '../worker/config';
import { storeIn, tempDir } from './helpers';

/** Stores for audit tests: published snapshots as publishSnapshot leaves them, without running the pipeline. */

export const AUDIT_MONTH = '2026-06';

export function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { signer: signerOf(privateKey), publicKey, privateKey };
}

/**
 * Snapshot `version` with one output file and a manifest, latest.json on it (not for an
 * experiment: `run --experiment`), and its run's audit entries.
 */
export async function publishFake(
  store: StoreConfig,
  version: number,
  signer?: Signer,
  runId = `run-${version}`,
  options: { experiment?: boolean; publishedAt?: string; params?: Record<string, unknown> } = {},
): Promise<void> {
  const run = { workflowId: `wf-${runId}`, runId };
  const dir = versionDir(store, AUDIT_MONTH, version);
  await mkdir(dir, { recursive: true });
  const content = `rows of v${version} by ${runId}`;
  await writeFile(join(dir, 'subscribers.parquet'), content);
  const manifest = {
    snapshot: {
      month: AUDIT_MONTH,
      version,
      publishedAt: options.publishedAt ?? '2026-07-01T00:00:00Z',
      ...(options.experiment ? { experiment: true } : {}),
    },
    run,
    ...(options.params ? { params: options.params } : {}),
    outputs: [{ file: 'subscribers.parquet', sha256: sha256(content), bytes: content.length }],
  };
  const manifestText = JSON.stringify(manifest, null, 2) + '\n';
  await writeFile(join(dir, 'manifest.json'), manifestText);
  if (signer) await signManifest(signer, dir);
  if (!options.experiment)
    await writeFile(join(monthDir(store, AUDIT_MONTH), 'latest.json'), JSON.stringify({ month: AUDIT_MONTH, version }));
  const details = {
    month: AUDIT_MONTH,
    version,
    manifestSha256: sha256(manifestText),
    ...(options.experiment ? { experiment: true } : {}),
  };
  for (const event of ['run.requested', 'stage.finished', 'run.published'] as const)
    await recordAudit(store, { event, run, month: AUDIT_MONTH, actor: 'ana', details }, signer);
}

/** A store with versions 1..count of AUDIT_MONTH: three audit entries each. */
export async function storeWithVersions(count: number, signer?: Signer): Promise<StoreConfig> {
  const store = storeIn(await tempDir());
  for (let version = 1; version <= count; version++) await publishFake(store, version, signer);
  return store;
}

/** The CLI run on `store`, with Temporal unreachable (a port nothing listens on) unless `env` says otherwise: exit code, stdout and stderr. */
export function segflowOnStore(store: StoreConfig, env: Record<string, string> = {}) {
  return (...args: string[]) =>
    promisify(execFile)(join(REPO_ROOT, 'bin', 'segflow'), args, {
      env: {
        ...process.env,
        SEGFLOW_STORE: store.storeDir,
        SEGFLOW_WORK: store.workDir,
        TEMPORAL_ADDRESS: '127.0.0.1:1',
        ...env,
      },
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({
        code: error.code,
        stdout: error.stdout,
        stderr: error.stderr,
      }),
    );
}

/**
 * A stage-cache artifact of AUDIT_MONTH as a run of workflow `wf-<runId>` stored it (artifact.json
 * alone, no files), signed with `signWith`; returns its folder.
 */
export async function storeFakeArtifact(
  store: StoreConfig,
  {
    stage = 'segments',
    key,
    runId,
    createdAt = '2026-01-01T00:00:00.000Z',
  }: {
    stage?: string;
    key: string;
    runId: string;
    createdAt?: string;
  },
  signWith?: Signer,
): Promise<string> {
  return writeArtifactJson(
    store,
    {
      format: STAGE_CACHE_FORMAT,
      stage,
      key,
      createdAt,
      producedBy: { workflowId: `wf-${runId}`, runId },
      month: AUDIT_MONTH,
      files: [],
    },
    signWith,
  );
}

/** `artifact` written as its stage-cache folder's artifact.json (no files), signed with `signWith`; returns the folder. */
export async function writeArtifactJson(
  store: StoreConfig,
  artifact: StageArtifact,
  signWith?: Signer,
): Promise<string> {
  const dir = join(store.storeDir, 'cache', artifact.stage, artifact.key);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'artifact.json'), JSON.stringify(artifact));
  if (signWith) await signFileInto(signWith, join(dir, 'artifact.json'), join(dir, ARTIFACT_SIGNATURE_FILE));
  return dir;
}
