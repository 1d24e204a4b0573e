import { chmod, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { commandUser, recordAudit } from './audit-record';
import { AuditLogFullError, SnapshotStoreError } from '../domain/errors';
import { parseAuditLine, readAuditText, type AuditEntry } from './audit-log';
import { cacheStageDir, type RunRef, type StoreConfig } from './layout';
import { ARTIFACT_SIGNATURE_FILE, type Signer } from './signing';
import { lineageKeys } from './manifest';
import {
  emptyRunsLog,
  latestVersion,
  listMonths,
  listRetiredVersions,
  listVersions,
  noteRunEntry,
  publishingNow,
  readManifest,
  runMayBePublishing,
} from './snapshots';
import { workflowsRunning, type RunningWorkflows } from './running-markers';

/**
 * The stage cache's layout and space management: cache/<stage>/<key>/ holds read-only files (the
 * load-features stage: the run database; churn-ensemble: the trained ensemble; churn-scores:
 * the scores and reasons it wrote; churn-tree: the readable tree; segments: the clustering's
 * segments file and summary; dispatch-reasons: the dispatch list's exact reasons) and
 * artifact.json (their hashes, the run that produced them), signed in artifact.sig by a worker
 * with a signing key. The activities that store and reuse artifacts are in
 * activities/artifact-store.ts and the stages' cache modules.
 */

/** Bumped when the artifact's content or meaning changes: old keys then simply stop matching. */
export const STAGE_CACHE_FORMAT = 2;

interface StageArtifactFile {
  file: string;
  sha256: string;
  bytes: number;
  /** Rows of the features table it holds. */
  rows: number;
}

/** cache/<stage>/<key>/artifact.json */
export interface StageArtifact {
  format: number;
  stage: string;
  key: string;
  createdAt: string;
  producedBy: RunRef;
  month: string;
  /** The hash of the code its key names (stored since session 40): `cache list` marks older code's. */
  code?: string;
  files: StageArtifactFile[];
  /** The load stage's counts, which the run reports and checks again on reuse (load-features only). */
  load?: {
    rowsRead: number;
    rowsLoaded: number;
    rowsQuarantined: number;
    quarantineByReason: Record<string, number>;
    subscribersInMonth: number;
    rowsOutsideMonthFolder: number;
  };
  features?: {
    skippedFeatures: { feature: string; reason: string }[];
    scoringRows: number;
    trainingRows: number;
    trainingChurnRate: number;
  };
}

/** The artifact in `dir`, or undefined when there is none (or it is from another format). */
export async function readArtifact(dir: string): Promise<StageArtifact | undefined> {
  const text = await readFile(join(dir, 'artifact.json'), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const artifact = JSON.parse(text) as StageArtifact;
    return artifact.format === STAGE_CACHE_FORMAT ? artifact : undefined;
  } catch {
    return undefined;
  }
}

export interface CachedArtifact {
  stage: string;
  key: string;
  path: string;
  month: string;
  bytes: number;
  createdAt: string;
  /** When a run last reused it (its folder's modification time), or when it was stored. */
  lastUsedAt: string;
  producedBy: RunRef;
  /** Published snapshots whose manifest names it, as "<month>/v<N>": prune keeps these. */
  usedBy: string[];
  /** The same snapshots, in the same order, each with what it is in its month. */
  snapshots: SnapshotPointing[];
  /** The hash of the code that stored it; absent in artifacts stored before segflow recorded it. */
  code?: string;
  /** The id of the key that signed it (the storing worker's SEGFLOW_SIGNING_KEY), as its artifact.sig names it: not checked here. */
  signedBy?: string;
}

/** A snapshot whose manifest names an artifact, and what it is in its month. */
export interface SnapshotPointing {
  snapshot: string;
  /** The version latest.json names: what a plain `snapshots show <month>` shows. */
  latest: boolean;
  /** Published with `--experiment` (latest.json did not move to it). */
  experiment: boolean;
  /** Its tombstone is written and its folder not yet removed: a retirement cut short. */
  retired: boolean;
}

/**
 * Whose code stored each artifact, against `current` (each stage's code hash in this segflow,
 * activities/cache-code.ts): `current`; `older`, other code no run has used since this code's
 * artifacts were last used (superseded: an upgrade's leftovers); `other`, other code still in use
 * as recently (a worker of another version, or this command run from another checkout); `unknown`,
 * stored before the code was recorded.
 */
export type CodeStatus = 'current' | 'older' | 'other' | 'unknown';

export function codeStatuses(artifacts: readonly CachedArtifact[], current: Record<string, string>): CodeStatus[] {
  const isCurrent = (a: CachedArtifact) => a.code !== undefined && a.code === current[a.stage];
  const newestCurrentUse = artifacts
    .filter(isCurrent)
    .reduce((newest, a) => (a.lastUsedAt > newest ? a.lastUsedAt : newest), '');
  return artifacts.map((a) => {
    if (a.code === undefined || current[a.stage] === undefined) return 'unknown';
    if (isCurrent(a)) return 'current';
    return a.lastUsedAt < newestCurrentUse ? 'older' : 'other';
  });
}

/** The stored artifacts of `stage`, by key: not those being written, nor those of another format. */
export async function storedArtifacts(
  store: StoreConfig,
  stage: string,
): Promise<{ key: string; path: string; artifact: StageArtifact }[]> {
  // cache/.running/ holds the markers of attempts running now (running-markers.ts)
  if (stage.startsWith('.')) return [];
  const stageDir = cacheStageDir(store, stage);
  const found = [];
  for (const key of (await readdir(stageDir).catch(() => [] as string[])).sort()) {
    if (key.startsWith('.')) continue; // an artifact being written
    const path = join(stageDir, key);
    const artifact = await readArtifact(path);
    if (artifact) found.push({ key, path, artifact });
  }
  return found;
}

/** Every stored artifact, newest use first. */
export async function listCache(store: StoreConfig): Promise<CachedArtifact[]> {
  const root = join(store.storeDir, 'cache');
  const stages = await readdir(root).catch(() => [] as string[]);
  const usedBy = await artifactsInPublishedSnapshots(store);
  const listed: CachedArtifact[] = [];
  for (const stage of stages.sort()) {
    for (const { key, path, artifact } of await storedArtifacts(store, stage)) {
      const info = await stat(path);
      const signedBy = (await readFile(join(path, ARTIFACT_SIGNATURE_FILE), 'utf8').catch(() => ''))
        .trim()
        .split(' ')[0];
      listed.push({
        stage,
        key,
        path,
        month: artifact.month,
        bytes: artifact.files.reduce((sum, file) => sum + file.bytes, 0),
        createdAt: artifact.createdAt,
        lastUsedAt: info.mtime.toISOString(),
        producedBy: artifact.producedBy,
        usedBy: (usedBy.get(key) ?? []).map((pointing) => pointing.snapshot),
        snapshots: usedBy.get(key) ?? [],
        ...(artifact.code ? { code: artifact.code } : {}),
        ...(signedBy ? { signedBy } : {}),
      });
    }
  }
  return listed.sort((a, b) => b.lastUsedAt.localeCompare(a.lastUsedAt) || a.key.localeCompare(b.key));
}

/**
 * Cache keys each published snapshot's manifest points at (its reused artifact, or the one its
 * own run stored). A retired snapshot's folder is gone, so it protects nothing any more.
 */
async function artifactsInPublishedSnapshots(store: StoreConfig): Promise<Map<string, SnapshotPointing[]>> {
  const usedBy = new Map<string, SnapshotPointing[]>();
  for (const month of await listMonths(store)) {
    const latest = await latestVersion(store, month).catch(() => undefined);
    const retired = await listRetiredVersions(store, month);
    for (const version of await listVersions(store, month)) {
      const manifest = await readManifest(store, month, version).catch(() => undefined);
      const lineage = manifest?.lineage;
      if (!lineage) continue;
      const keys = new Set([...lineageKeys(lineage), ...lineage.reused.map((artifact) => artifact.key)]);
      const pointing: SnapshotPointing = {
        snapshot: `${month}/v${version}`,
        latest: version === latest,
        experiment: manifest.snapshot?.experiment === true,
        retired: retired.includes(version),
      };
      for (const key of keys) usedBy.set(key, [...(usedBy.get(key) ?? []), pointing]);
    }
  }
  return usedBy;
}

export interface PruneRequest {
  /** Remove artifacts not used for longer than this many milliseconds. */
  olderThanMs?: number;
  /** Then remove the least recently used until the unprotected ones fit in this many bytes. */
  maxBytes?: number;
  /** Remove artifacts of superseded code (`older` in codeStatuses, against each stage's code hash now). */
  olderCode?: Record<string, string>;
  /** Only report what would be removed. */
  dryRun?: boolean;
  now?: Date;
  /** Signs the `cache.pruned` entry (SEGFLOW_SIGNING_KEY where the command runs). */
  signer?: Signer;
}

/**
 * A run the audit log has requested and not seen end, with a stage attempt running (its marker
 * fresh) or its last entry within the hour.
 */
export interface RunInFlight {
  run: RunRef;
  month: string;
  requestedAt: string;
}

/** An artifact kept for a run in flight: stored by it, or used (taken from the cache) since it was requested. */
export type HeldArtifact = CachedArtifact & {
  heldFor: RunRef;
  because: 'stored by it' | 'used since it was requested';
};

export interface PruneResult {
  removed: CachedArtifact[];
  kept: CachedArtifact[];
  /** Artifacts prune would have removed but a published snapshot points at. */
  protectedArtifacts: CachedArtifact[];
  /** Artifacts prune would have removed but a run not ended yet stored or used: its manifest will name them. */
  heldForRuns: HeldArtifact[];
  /** The runs in flight by the audit log, read after the cache was listed. */
  runsInFlight: RunInFlight[];
  bytesFreed: number;
  /** With a size limit: the bytes kept, and of them those published snapshots pin (more than the limit when they alone exceed it). */
  keptBytes: number;
  pinnedBytes: number;
  /** The `cache.pruned` audit entry's seq: null for a dry run, or when nothing was removed. */
  auditSeq: number | null;
}

/**
 * The runs the audit log has requested and not seen end (run.published, run.failed, run.cancelled)
 * that are still going: a stage attempt of theirs is running (`running`, by workflow id: its marker
 * is fresh, running-markers.ts), however long it has written nothing, or their last entry of their
 * own is within the hour, the rule `audit verify` keeps for RUN WITHOUT AN END, which covers the
 * wait between two stages. A run that never records an end (terminated in Temporal, its worker
 * killed, or its end cut from the log) holds nothing once both have passed. Lines that are no entry
 * are passed over (verify names them).
 */
function runsInFlight(
  text: string,
  now: number,
  running: RunningWorkflows,
): { inFlight: RunInFlight[]; holds: (run: RunRef) => boolean } {
  const entries: AuditEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const parsed = parseAuditLine(line);
    if ('entry' in parsed) entries.push(parsed.entry);
  }
  const runs = emptyRunsLog();
  for (const entry of entries) noteRunEntry(runs, entry);
  const holds = (run: RunRef) =>
    publishingNow(run, runs, now) || (running.has(run.workflowId) && runMayBePublishing(run, runs));
  const inFlight = entries
    .filter((entry) => entry.event === 'run.requested' && holds(entry.run))
    .map((entry) => ({ run: entry.run, month: entry.month, requestedAt: entry.at }));
  return { inFlight, holds };
}

/**
 * Removes stored artifacts by age, code and/or total size, never one a snapshot folder's manifest
 * points at, nor one a run in flight stored or used since it was requested (its manifest will
 * point at it). What it removes is first recorded in the audit log (`cache.pruned`: who, what was
 * asked, each artifact with the run that stored it), so `audit verify` still sees what a removed
 * artifact witnessed (STORED BY A RUN THE LOG DOES NOT RECORD). A log too full to take the entry
 * (the disk prune is freeing) gets it right after the removal.
 */
export async function pruneCache(store: StoreConfig, request: PruneRequest): Promise<PruneResult> {
  const now = (request.now ?? new Date()).getTime();
  const artifacts = await listCache(store);
  // read after the listing: a listed artifact's run recorded run.requested before storing it
  const running = await workflowsRunning(store, now, !request.dryRun);
  const { inFlight, holds } = runsInFlight(await readAuditText(store), now, running);
  const heldForRuns = new Map<CachedArtifact, HeldArtifact>();
  for (const artifact of artifacts) {
    if (artifact.usedBy.length > 0) continue;
    // a reuse refreshes the folder's time (artifact-store.ts): used since a run in flight was requested
    const user = inFlight.find((run) => artifact.lastUsedAt >= run.requestedAt);
    if (holds(artifact.producedBy))
      heldForRuns.set(artifact, { ...artifact, heldFor: artifact.producedBy, because: 'stored by it' });
    else if (user)
      heldForRuns.set(artifact, { ...artifact, heldFor: user.run, because: 'used since it was requested' });
  }
  const kept = (artifact: CachedArtifact) => artifact.usedBy.length > 0 || heldForRuns.has(artifact);
  const remove = new Set<CachedArtifact>();
  const { olderCode } = request;
  if (olderCode) {
    const statuses = codeStatuses(artifacts, olderCode);
    artifacts.forEach((artifact, i) => statuses[i] === 'older' && remove.add(artifact));
  }
  if (request.olderThanMs !== undefined) {
    for (const artifact of artifacts)
      if (now - Date.parse(artifact.lastUsedAt) > request.olderThanMs) remove.add(artifact);
  }
  if (request.maxBytes !== undefined) {
    // least recently used go first; protected and held ones count toward the total but stay
    let total = artifacts.filter((a) => !remove.has(a)).reduce((sum, a) => sum + a.bytes, 0);
    for (const artifact of [...artifacts].reverse()) {
      if (total <= request.maxBytes) break;
      if (remove.has(artifact) || kept(artifact)) continue;
      remove.add(artifact);
      total -= artifact.bytes;
    }
  }
  const protectedArtifacts = [...remove].filter((artifact) => artifact.usedBy.length > 0);
  const held = [...remove].filter((artifact) => artifact.usedBy.length === 0 && heldForRuns.has(artifact));
  const removed = [...remove].filter((artifact) => !kept(artifact));
  let auditSeq: number | null = null;
  if (!request.dryRun && removed.length > 0) {
    const record = () =>
      recordPrune(
        store,
        request,
        removed,
        held.map((a) => heldForRuns.get(a)!),
      );
    const removeAll = async () => {
      for (const artifact of removed) await removeArtifactDir(artifact.path);
    };
    try {
      auditSeq = (await record()).seq;
      await removeAll();
    } catch (error) {
      if (!(error instanceof AuditLogFullError)) throw error;
      // the disk is full, which is what prune is for: the entry goes in once there is room for it
      await removeAll();
      auditSeq = await record().then(
        (entry) => entry.seq,
        (again: unknown) => {
          throw new SnapshotStoreError(
            `cache prune removed ${removed.length} stored artifact(s) to free space, but the audit log still cannot take its cache.pruned entry (${(again as Error).message.split('\n')[0]}): the removal is not recorded. They were: ${removed.map((a) => `cache/${a.stage}/${a.key} (stored by run ${a.producedBy.workflowId} (${a.producedBy.runId}))`).join(', ')}`,
          );
        },
      );
    }
  }
  const keptList = artifacts.filter((artifact) => !removed.includes(artifact));
  const bytesOf = (list: CachedArtifact[]) => list.reduce((sum, artifact) => sum + artifact.bytes, 0);
  return {
    removed,
    kept: keptList,
    protectedArtifacts,
    heldForRuns: held.map((artifact) => heldForRuns.get(artifact)!),
    runsInFlight: inFlight,
    bytesFreed: bytesOf(removed),
    keptBytes: bytesOf(keptList),
    pinnedBytes: bytesOf(keptList.filter((artifact) => artifact.usedBy.length > 0)),
    auditSeq,
  };
}

/** The run `cache.pruned` entries are recorded under: none (a schedule event's run names its schedule). */
export const CACHE_PRUNE_RUN: RunRef = { workflowId: 'cache', runId: '' };

/** An artifact as a `cache.pruned` entry lists it. */
export interface PrunedArtifact {
  stage: string;
  key: string;
  month: string;
  bytes: number;
  createdAt: string;
  lastUsedAt: string;
  producedBy: RunRef;
}

const pruned = (artifact: CachedArtifact): PrunedArtifact => ({
  stage: artifact.stage,
  key: artifact.key,
  month: artifact.month,
  bytes: artifact.bytes,
  createdAt: artifact.createdAt,
  lastUsedAt: artifact.lastUsedAt,
  producedBy: artifact.producedBy,
});

/** The `cache.pruned` entry: the OS user (and host) who pruned, what was asked, what goes and what runs in flight kept. */
async function recordPrune(
  store: StoreConfig,
  request: PruneRequest,
  removed: CachedArtifact[],
  held: HeldArtifact[],
): Promise<AuditEntry> {
  const { osUser, host } = commandUser();
  const at = new Date().toISOString();
  return recordAudit(
    store,
    {
      event: 'cache.pruned',
      run: CACHE_PRUNE_RUN,
      month: '',
      actor: osUser,
      // the log keeps one entry per run, event and subject: each prune names its own moment
      subject: `at ${at}`,
      details: {
        host,
        asked: {
          ...(request.olderThanMs !== undefined ? { olderThanMs: request.olderThanMs } : {}),
          ...(request.maxBytes !== undefined ? { maxBytes: request.maxBytes } : {}),
          ...(request.olderCode ? { olderCode: true } : {}),
        },
        removed: removed.map(pruned),
        bytesFreed: removed.reduce((sum, artifact) => sum + artifact.bytes, 0),
        keptForRuns: held.map((artifact) => ({ ...pruned(artifact), heldFor: artifact.heldFor })),
      },
    },
    request.signer,
  );
}

/** Removes a read-only artifact folder (its mode must allow it first). */
export async function removeArtifactDir(dir: string): Promise<void> {
  await chmod(dir, 0o755).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}
