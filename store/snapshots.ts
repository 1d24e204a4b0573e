import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { SnapshotManifest } from './manifest';
import type { AuditEntry } from './audit-log';
import { withFileLock } from './file-lock';
import { recordAudit } from './audit-record';
import type { Signer } from './signing';
import { hashFile } from './hashing';
import { SnapshotIntegrityError, SnapshotStoreError, UsageError } from '../domain/errors';
import { addMonths, isMonth } from '../domain/month';
import {
  auditLogPath,
  monthDir,
  versionDir,
  type RunRef,
  type SnapshotRef,
  type StoreConfig,
  snapshotsDir,
} from './layout';

/** Read access to the snapshot store: months, versions, manifests and the latest pointer. */

/** Where a published snapshot lives, and the hash the audit log records for its manifest. */
export interface PublishedSnapshot {
  month: string;
  version: number;
  path: string;
  manifestPath: string;
  /** sha256 of manifest.json, recorded in the audit log so an edited manifest is detected. */
  manifestSha256: string;
  /** Published with `--experiment`: latest.json did not move to it. */
  experiment?: true;
}

export async function listVersions(store: StoreConfig, month: string): Promise<number[]> {
  const entries = await readdir(monthDir(store, month)).catch(() => [] as string[]);
  return (
    entries
      // only the names segflow writes: 'v01' is not v1 again, nor 'v0' a version
      .map((name) => /^v([1-9]\d*)$/.exec(name)?.[1])
      .filter((v): v is string => v !== undefined)
      .map(Number)
      .sort((a, b) => a - b)
  );
}

/** Versions removed by `segflow snapshots retire`: each leaves v<N>.retired.json, so its number is never reused. */
export async function listRetiredVersions(store: StoreConfig, month: string): Promise<number[]> {
  const entries = await readdir(monthDir(store, month)).catch(() => [] as string[]);
  return entries
    .map((name) => /^v(\d+)\.retired\.json$/.exec(name)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** What the audit log says of its runs that tells whether one may still be publishing (runMayBePublishing, publishingNow). */
export interface RunsLog {
  /** Runs that recorded run.published, run.failed or run.cancelled: they write nothing more. */
  finishedRuns: Set<string>;
  /** Workflows the log has a run.requested of: only a run of one can be publishing (by workflow id: a reset workflow's run id is new). */
  requestedWorkflows: Set<string>;
  /** When each workflow last wrote to the log itself (RUN_OWN_EVENTS), in ms. */
  lastWrote: Map<string, number>;
}

export function emptyRunsLog(): RunsLog {
  return { finishedRuns: new Set(), requestedWorkflows: new Set(), lastWrote: new Map() };
}

/** Takes one entry's part into `runs`: its run's end, its request, or its latest own write. */
export function noteRunEntry(runs: RunsLog, entry: AuditEntry): void {
  if (RUN_OWN_EVENTS.has(entry.event) && entry.run?.workflowId) {
    const at = Date.parse(entry.at);
    if (at > (runs.lastWrote.get(entry.run.workflowId) ?? 0)) runs.lastWrote.set(entry.run.workflowId, at);
  }
  if (FINAL_EVENTS.has(entry.event)) runs.finishedRuns.add(entry.run.runId);
  if (entry.event === 'run.requested') runs.requestedWorkflows.add(entry.run.workflowId);
}

/** The audit log's entries of the month (and the runs' final events), as the store's own commands read them. */
interface MonthLog extends RunsLog {
  /** Versions recorded as published. */
  published: Set<number>;
  /** Each version's last run.published entry (a rebuilt version's folder answers to the last). */
  publishedBy: Map<number, PublishRecord>;
  /** Each version's snapshot.retired entry (the last, when a retire was run again). */
  retired: Map<number, AuditEntry>;
  /** Promotions in log order: the version, the latest before it, and the entry. */
  promotions: { version: number; previous: number | null; entry: AuditEntry }[];
  /** The month's last entry that moved its latest: a promotion, or a publish that was no experiment. */
  lastMovedLatest?: AuditEntry;
}

/** What the audit log records of a version's publishing: its run.published entry. */
export interface PublishRecord {
  seq: number;
  runId: string;
  /** The sha256 of manifest.json as published (absent in entries of a segflow before it was recorded). */
  manifestSha256?: string;
  /** The run.published entry itself. */
  entry: AuditEntry;
}

/**
 * Each version's run.published entries in log order, by "<month>/v<N>" (one, unless the version's
 * folder was removed and its number given again): what `audit verify` and the snapshot commands
 * check a manifest against (manifestEditedSince).
 */
export function publishRecords(entries: Iterable<AuditEntry>): Map<string, PublishRecord[]> {
  const records = new Map<string, PublishRecord[]>();
  for (const entry of entries) {
    const details = (entry.details ?? {}) as { version?: unknown; manifestSha256?: unknown };
    if (entry.event !== 'run.published' || !Number.isInteger(details.version)) continue;
    const ref = `${entry.month}/v${Number(details.version)}`;
    const record = {
      seq: entry.seq,
      runId: entry.run.runId,
      ...(typeof details.manifestSha256 === 'string' ? { manifestSha256: details.manifestSha256 } : {}),
      entry,
    };
    const list = records.get(ref);
    if (list) list.push(record);
    else records.set(ref, [record]);
  }
  return records;
}

/**
 * Whether manifest.json, hashed now as `sha256`, was modified after publishing: its hash is not the
 * one the version's run.published entry recorded (`audit verify`'s "manifest modified after
 * publishing"). False when the entry recorded none.
 */
export function manifestEditedSince(recorded: Pick<PublishRecord, 'manifestSha256'>, sha256: string): boolean {
  return recorded.manifestSha256 !== undefined && recorded.manifestSha256 !== sha256;
}

/**
 * The events a run writes itself, up to its publishing: an operator's entries about it
 * (run.cancel-requested, a retirement or promotion of its snapshot) say nothing of whether it is
 * still going. A run that stopped writing longer ago than the grace is not publishing now.
 */
export const RUN_OWN_EVENTS = new Set([
  'run.requested',
  'run.started',
  'stage.finished',
  'stage.reused',
  'stage.attempt-failed',
]);

/**
 * Whether the run a snapshot's manifest names may still be publishing it: a run of a workflow the
 * log has a run.requested of (by workflow id: a workflow reset in Temporal runs on under a new run
 * id), with no end recorded; never an empty run id (a schedule's events) nor a run the log never
 * saw requested. audit verify and the store's refusal apply it, each with its own grace.
 */
export function runMayBePublishing(
  run: RunRef,
  log: { requestedWorkflows: ReadonlySet<string>; finishedRuns: ReadonlySet<string> },
): boolean {
  return run.runId !== '' && log.requestedWorkflows.has(run.workflowId) && !log.finishedRuns.has(run.runId);
}

/**
 * runMayBePublishing, and its run wrote to the log itself within the grace: the grace runs from
 * the log's own times, not from a manifest's publish time, which whoever made the folder writes
 * (each caller may still cut it short by that). Stamped by the worker, whose clock may run ahead
 * of this one's: an entry ahead counts too.
 */
export function publishingNow(run: RunRef, runs: RunsLog, now = Date.now()): boolean {
  const lastWrote = runs.lastWrote.get(run.workflowId) ?? Number.NaN;
  return runMayBePublishing(run, runs) && Math.abs(now - lastWrote) < PUBLISHING_GRACE_MS;
}

/** Events after which a run writes nothing more to the store. */
export const FINAL_EVENTS = new Set(['run.published', 'run.failed', 'run.cancelled']);

/**
 * How long a snapshot in place may wait for its run's run.published (seconds, unless the worker
 * died in between and a retry records it); past that, an unrecorded folder is no longer "being
 * published" (`audit verify` names it).
 */
export const PUBLISHING_GRACE_MS = 60 * 60 * 1000;

/**
 * The month's entries of the audit log, from each line that parses (a damaged line, which `audit
 * verify` names, must not hide the others). A log that cannot be read stops the caller: a number
 * or a promotion it might hold must not be missed.
 */
async function readMonthLog(store: StoreConfig, month: string): Promise<MonthLog> {
  return monthLogOf(await readStoreLog(store), month);
}

/** The lines readStoreLog parses: those naming an event it reads (the others are skipped unparsed). */
const STORE_LOG_EVENTS = new RegExp(
  `"(${[...RUN_OWN_EVENTS, ...FINAL_EVENTS, 'snapshot.promoted', 'snapshot.retired'].map((event) => event.replace('.', '\\.')).join('|')})"`,
);

/** The audit log's entries the store's commands read, every month's (read once for a listing). */
export interface StoreLog extends RunsLog {
  months: Map<string, Omit<MonthLog, keyof RunsLog>>;
}

function emptyMonthLog(): Omit<MonthLog, keyof RunsLog> {
  return { published: new Set(), publishedBy: new Map(), retired: new Map(), promotions: [] };
}

function monthLogOf(log: StoreLog, month: string): MonthLog {
  return {
    ...(log.months.get(month) ?? emptyMonthLog()),
    finishedRuns: log.finishedRuns,
    requestedWorkflows: log.requestedWorkflows,
    lastWrote: log.lastWrote,
  };
}

/** The audit log's text, '' for a store with no log yet; a log there that cannot be read stops the caller. */
async function readLogText(store: StoreConfig): Promise<string> {
  const path = auditLogPath(store);
  return readFile(path, 'utf8').catch(async (error: NodeJS.ErrnoException) => {
    // no log yet is a new store; a link to a log that is gone is not
    const isLink = await lstat(path).then(
      () => true,
      () => false,
    );
    if (error.code === 'ENOENT' && !isLink) return '';
    throw new SnapshotStoreError(
      `cannot read the audit log ${path} (${error.code ?? error.message}): the snapshot numbers and promotions it records are unknown, so no snapshot is published, promoted or retired until it can be read`,
    );
  });
}

/** A line's entry, or undefined for a line that is none (audit verify names it; it says nothing here). */
function lenientEntry(line: string): AuditEntry | undefined {
  try {
    const entry = JSON.parse(line) as AuditEntry | null;
    return typeof entry === 'object' && entry !== null && typeof entry.run === 'object' && entry.run !== null
      ? entry
      : undefined;
  } catch {
    return undefined;
  }
}

/** readMonthLog's reading, for every month at once. */
export async function readStoreLog(store: StoreConfig): Promise<StoreLog> {
  const entries: AuditEntry[] = [];
  for (const line of (await readLogText(store)).split('\n')) {
    if (!STORE_LOG_EVENTS.test(line)) continue;
    const entry = lenientEntry(line);
    if (entry) entries.push(entry);
  }
  return storeLogOf(entries);
}

/**
 * The audit log's run.published entries alone, as a StoreLog (what manifestAgainstLog reads), found
 * by their event's name in the log's bytes: only those lines are decoded and parsed. On a
 * 100,000-entry log (100 MB) this took 0.1-0.2 s where decoding the whole text took 0.3 s more.
 */
export async function readPublishedLog(store: StoreConfig): Promise<StoreLog> {
  const path = auditLogPath(store);
  const bytes = await readFile(path).catch(async (error: NodeJS.ErrnoException) => {
    // as readLogText: none yet is a new store, anything else stops the caller
    if (error.code === 'ENOENT') return Buffer.from(await readLogText(store));
    throw error;
  });
  const event = Buffer.from('"run.published"');
  const entries: AuditEntry[] = [];
  for (let at = bytes.indexOf(event); at !== -1;) {
    const start = bytes.lastIndexOf(0x0a, at) + 1;
    const end = bytes.indexOf(0x0a, at);
    const entry = lenientEntry(bytes.toString('utf8', start, end === -1 ? bytes.length : end));
    if (entry?.event === 'run.published') entries.push(entry);
    at = end === -1 ? -1 : bytes.indexOf(event, end);
  }
  return storeLogOf(entries);
}

/** What the store's commands read of the log's entries (any entries: those it does not read are passed over). */
export function storeLogOf(entries: Iterable<AuditEntry>): StoreLog {
  const log: StoreLog = { months: new Map(), ...emptyRunsLog() };
  const versioned: AuditEntry[] = [];
  for (const entry of entries) {
    noteRunEntry(log, entry);
    const details = (entry.details ?? {}) as { version?: unknown; previous?: unknown; experiment?: unknown };
    const version = Number(details.version);
    if (!Number.isInteger(version)) continue;
    versioned.push(entry);
    const month = log.months.get(entry.month) ?? emptyMonthLog();
    log.months.set(entry.month, month);
    if (entry.event === 'run.published') {
      month.published.add(version);
      if (details.experiment !== true) month.lastMovedLatest = entry;
    }
    if (entry.event === 'snapshot.retired') month.retired.set(version, entry);
    if (entry.event === 'snapshot.promoted') {
      month.promotions.push({
        version,
        previous: Number.isInteger(details.previous) ? Number(details.previous) : null,
        entry,
      });
      month.lastMovedLatest = entry;
    }
  }
  for (const [ref, records] of publishRecords(versioned)) {
    const [month, version] = ref.split('/v');
    log.months.get(month)?.publishedBy.set(Number(version), records.at(-1)!);
  }
  return log;
}

/**
 * The number the next snapshot of `month` gets: past every version present, retired or ever
 * recorded as published in the audit log, so a deleted folder's number is never given again (a
 * rebuilt v1 would pass for the one the log recorded).
 */
export async function nextVersion(store: StoreConfig, month: string): Promise<number> {
  const recorded = (await readMonthLog(store, month)).published;
  const used = [...(await listVersions(store, month)), ...(await listRetiredVersions(store, month)), ...recorded];
  return used.reduce((max, v) => Math.max(max, v), 0) + 1;
}

export async function readManifest(store: StoreConfig, month: string, version: number): Promise<SnapshotManifest> {
  return JSON.parse(
    await readFile(join(versionDir(store, month, version), 'manifest.json'), 'utf8'),
  ) as SnapshotManifest;
}

/**
 * The manifest of the snapshot a person named: one whose folder holds another snapshot's manifest
 * (a folder rebuilt from a copy of another) is refused, not shown or reproduced as the one named,
 * which would check the other and call it sound (`audit verify` names it among its findings).
 */
export async function readNamedManifest(
  store: StoreConfig,
  ref: { month: string; version: number },
): Promise<SnapshotManifest> {
  const manifest = await readManifest(store, ref.month, ref.version).catch((error: NodeJS.ErrnoException) => {
    throw new SnapshotStoreError(
      `the folder of ${ref.month}/v${ref.version} holds no readable manifest.json (${error.code === 'ENOENT' ? 'it is gone' : error.message}): removed or damaged after publishing ('segflow audit verify' checks the store)`,
    );
  });
  const named = otherSnapshotIn(manifest, ref);
  if (named)
    throw new SnapshotStoreError(
      `the folder of ${ref.month}/v${ref.version} holds the manifest of ${named.month}/v${named.version}: another snapshot was moved or copied into its place ('segflow audit verify' says what the audit log records of both)`,
    );
  return manifest;
}

/**
 * The snapshot a manifest names when it is not `ref`, the one whose folder holds it: another
 * snapshot was moved or copied into that folder. Undefined for `ref`'s own manifest (or one that
 * names no snapshot).
 */
export function otherSnapshotIn(manifest: unknown, ref: SnapshotRef): SnapshotRef | undefined {
  const named = (manifest as Partial<SnapshotManifest> | null)?.snapshot;
  return named && (named.month !== ref.month || named.version !== ref.version)
    ? { month: named.month, version: named.version }
    : undefined;
}

/**
 * What the audit log records of a snapshot's manifest against manifest.json now: the version's
 * run.published entry, the manifest's sha256 now, and whether it was edited after publishing
 * (manifestEditedSince, as `audit verify` finds it). Undefined when the log records no publish of
 * it (no log, a log cut, or a run still recording it: `audit verify` names those).
 */
export async function manifestAgainstLog(
  store: StoreConfig,
  ref: SnapshotRef,
  /** The audit log already read. */
  log?: StoreLog,
): Promise<{ recorded: PublishRecord; sha256: string; edited: boolean } | undefined> {
  const recorded = monthLogOf(log ?? (await readPublishedLog(store)), ref.month).publishedBy.get(ref.version);
  if (!recorded) return undefined;
  const { sha256 } = await hashFile(join(versionDir(store, ref.month, ref.version), 'manifest.json'));
  return { recorded, sha256, edited: manifestEditedSince(recorded, sha256) };
}

/** What the snapshot commands say of a manifest edited after publishing (manifestAgainstLog). */
export function editedManifestText(ref: SnapshotRef, found: { recorded: PublishRecord; sha256: string }): string {
  return `snapshots/${ref.month}/v${ref.version}/manifest.json was edited after publishing: its sha256 ${found.sha256.slice(0, 12)}… is not the ${found.recorded.manifestSha256?.slice(0, 12)}… audit entry seq ${found.recorded.seq} (run.published) recorded`;
}

/**
 * Refuses a snapshot whose manifest.json was edited after publishing (manifestAgainstLog): what a
 * command would read from it (parameters, the files' hashes) is not what was published.
 */
export async function checkManifestAgainstLog(
  store: StoreConfig,
  ref: SnapshotRef,
  log?: StoreLog,
  /** What the command would do with it: "read", "recomputed". */
  done = 'read',
): Promise<PublishRecord | undefined> {
  const found = await manifestAgainstLog(store, ref, log);
  if (found?.edited)
    throw new SnapshotIntegrityError(
      `${editedManifestText(ref, found)}. Nothing is ${done} from it: restore it from a copy of the store; 'segflow audit verify' checks the whole store`,
    );
  return found?.recorded;
}

/**
 * The paths of a snapshot's published files, each checked against the sha256 its manifest records
 * before anyone reads it: a file changed after publishing (or replaced by another snapshot's) would
 * be read as the snapshot's, or fail deep inside DuckDB. A SnapshotIntegrityError names the first
 * file that does not match. Hashes only the files asked for, in parallel.
 */
export async function checkedFiles(
  store: StoreConfig,
  ref: SnapshotRef,
  manifest: Pick<SnapshotManifest, 'outputs'>,
  files: string[],
): Promise<string[]> {
  const folder = versionDir(store, ref.month, ref.version);
  const where = (file: string) => `snapshots/${ref.month}/v${ref.version}/${file}`;
  const advice =
    "nothing is read from it: restore the snapshot's files from a copy of the store ('segflow audit verify' names every file that changed)";
  const found = await Promise.all(
    files.map(async (file) => {
      const recorded = (manifest.outputs ?? []).find((output) => output.file === file);
      if (!recorded) return `${where(file)} is not among the files its manifest lists; ${advice}`;
      const now = await hashFile(join(folder, file)).catch((error: NodeJS.ErrnoException) => error);
      if (now instanceof Error)
        return now.code === 'ENOENT'
          ? `${where(file)} is gone, though its manifest lists it; ${advice}`
          : `${where(file)} cannot be read (${now.code ?? now.message}); ${advice}`;
      return now.sha256 === recorded.sha256
        ? undefined
        : `${where(file)} was changed after publishing: its sha256 ${now.sha256.slice(0, 12)}… is not the ${recorded.sha256.slice(0, 12)}… its manifest records; ${advice}`;
    }),
  );
  const problem = found.find((text) => text !== undefined);
  if (problem) throw new SnapshotIntegrityError(problem);
  return files.map((file) => join(folder, file));
}

/** The version a run published, when it did (a retried publish finds its own snapshot). */
export async function findPublishedByRun(
  store: StoreConfig,
  month: string,
  run: RunRef,
): Promise<PublishedSnapshot | undefined> {
  for (const version of await listVersions(store, month)) {
    const manifest = await readManifest(store, month, version).catch(() => undefined);
    if (manifest && manifest.run.workflowId === run.workflowId && manifest.run.runId === run.runId)
      return describePublished(store, month, version);
  }
  return undefined;
}

export async function describePublished(
  store: StoreConfig,
  month: string,
  version: number,
): Promise<PublishedSnapshot> {
  const path = versionDir(store, month, version);
  const manifestPath = join(path, 'manifest.json');
  const { experiment } = (await readManifest(store, month, version)).snapshot;
  return {
    month,
    version,
    path,
    manifestPath,
    manifestSha256: (await hashFile(manifestPath)).sha256,
    ...(experiment ? { experiment } : {}),
  };
}

/**
 * Which versions promotions leave eligible to become a month's latest again when the latest is
 * retired, replayed promotion by promotion: the store's commands (officialVersions) and `audit
 * verify` (replayLatest) share it. A promotion adopts its version; the latest it moves away from
 * stops being eligible when it is an experiment, or newer than the promoted version (a rollback),
 * until it is promoted again.
 */
export class LatestEligibility {
  private readonly adopted = new Set<number>();
  private readonly movedAwayFrom = new Set<number>();

  promoted(version: number, previous: number | null, isExperiment: (version: number) => boolean): void {
    if (previous !== null && previous !== version && (isExperiment(previous) || version < previous))
      this.movedAwayFrom.add(previous);
    this.movedAwayFrom.delete(version);
    this.adopted.add(version);
  }

  /** Not an experiment (or one adopted), and not moved away from. */
  eligible(version: number, experiment: boolean): boolean {
    return !this.movedAwayFrom.has(version) && (!experiment || this.adopted.has(version));
  }
}

/**
 * The month's versions that may be its latest, in version order: those published without
 * `--experiment` and experiments promoted since, less those a later promotion moved away from
 * (LatestEligibility).
 */
export async function officialVersions(
  store: StoreConfig,
  month: string,
  /** The audit log already read (a listing of many months reads it once). */
  log?: StoreLog,
): Promise<number[]> {
  const present = await listVersions(store, month);
  const experiments = new Set<number>();
  for (const version of present) {
    const manifest = await readManifest(store, month, version).catch(() => undefined);
    if (manifest?.snapshot.experiment) experiments.add(version);
  }
  const eligibility = new LatestEligibility();
  const monthLog = log ? monthLogOf(log, month) : await readMonthLog(store, month);
  for (const { version, previous } of monthLog.promotions)
    eligibility.promoted(version, previous, (v) => experiments.has(v));
  return present.filter((version) => eligibility.eligible(version, experiments.has(version)));
}

/**
 * Versions of the month in place whose run has not recorded its end yet, within an hour of their
 * publish time: their run.published entry is still to come, after latest.json moved.
 */
async function versionsBeingPublished(
  store: StoreConfig,
  month: string,
  runEnded?: (run: RunRef) => Promise<boolean>,
): Promise<number[]> {
  const log = await readMonthLog(store, month);
  const publishing: number[] = [];
  for (const version of await listVersions(store, month)) {
    if (log.published.has(version)) continue;
    const manifest = await readManifest(store, month, version).catch(() => undefined);
    if (!manifest) continue;
    // the manifest can only cut the grace short; a publish time ahead (the worker's clock) counts too
    const age = Math.abs(Date.now() - Date.parse(manifest.snapshot.publishedAt));
    if (publishingNow(manifest.run, log) && age < PUBLISHING_GRACE_MS && !(await runEnded?.(manifest.run)))
      publishing.push(version);
  }
  return publishing;
}

/**
 * An operator's change to a published snapshot (promote, retire), run under the month's lock with
 * its manifest and the manifest's sha256 for the audit entry; a UsageError when the snapshot does
 * not exist. Refused while a version of the month is being published: a run moves latest.json when
 * its snapshot is in place and records run.published just after, and a promotion or retirement
 * between the two would land in the log before that publish and make the log's order disagree
 * with latest.json.
 */
export async function changePublishedSnapshot<T>(
  store: StoreConfig,
  ref: SnapshotRef,
  verb: { present: 'promote' | 'retire'; past: 'promoted' | 'retired' },
  change: (found: { manifest: SnapshotManifest; manifestSha256: string }) => Promise<T>,
  /** Whether a run has ended (asked of Temporal): one that has will never record run.published. */
  runEnded?: (run: RunRef) => Promise<boolean>,
): Promise<T> {
  const { month, version } = ref;
  return withFileLock(join(monthDir(store, month), '.lock'), async () => {
    const manifest = await readManifest(store, month, version).catch(() => undefined);
    if (!manifest) throw new UsageError(`no snapshot ${month}/v${version} to ${verb.present}`);
    const publishing = await versionsBeingPublished(store, month, runEnded);
    if (publishing.length > 0)
      throw new UsageError(
        `${month}/v${publishing.join(', v')} is being published (its run has not recorded run.published yet): nothing can be ${verb.past} in ${month} until it has; try again in a moment (segflow runs list shows the run)`,
      );
    const { sha256 } = await hashFile(join(versionDir(store, month, version), 'manifest.json'));
    return change({ manifest, manifestSha256: sha256 });
  });
}

/** The version latest.json names for a month, or undefined before the first publish. */
export async function latestVersion(store: StoreConfig, month: string): Promise<number | undefined> {
  return readFile(join(monthDir(store, month), 'latest.json'), 'utf8').then(
    (text) => (JSON.parse(text) as { version: number }).version,
    () => undefined,
  );
}

/**
 * What the month's latest snapshot's manifest says (`pick`), with its version; undefined when the
 * month has none, or when this machine cannot read or make sense of latest.json or the manifest:
 * that is for audit verify to name (or the worker's store is not mounted here), not a reason to
 * refuse a run (`run`'s notes, the schedule commands' other-input notes).
 */
export async function fromLatest<T>(
  store: StoreConfig,
  month: string,
  pick: (manifest: SnapshotManifest) => T,
): Promise<{ version: number; value: T | undefined } | undefined> {
  const version = await latestVersion(store, month).catch(() => undefined);
  if (version === undefined) return undefined;
  const value = await readManifest(store, month, version)
    .then(pick)
    .catch(() => undefined);
  return { version, value };
}

/**
 * Points latest.json at a version. Written aside and renamed (write-file-atomic): a reader sees
 * the old file or the new one, never half of one, and a writer that dies leaves no partial file.
 */
export async function writeLatest(store: StoreConfig, month: string, version: number, run: RunRef): Promise<void> {
  const latest = { month, version, path: `v${version}`, run };
  await writeFileAtomic(join(monthDir(store, month), 'latest.json'), JSON.stringify(latest, null, 2) + '\n');
}

/**
 * What the audit log says of a version whose folder is not in the store and that no tombstone
 * says was retired: published, by which run and when (its folder removed, which `audit verify`
 * names), or retired with its tombstone lost since (`snapshots retire` writes it again), or nothing
 * when the log never recorded it. '' when the log cannot be read. Without a version, the month's
 * last one published. Said after a sentence, from "; ".
 */
export async function publishedAndGone(store: StoreConfig, month: string, version?: number): Promise<string> {
  const log = await readStoreLog(store).catch(() => undefined);
  if (!log) return '';
  const { publishedBy, retired } = monthLogOf(log, month);
  const chosen = version ?? Math.max(0, ...publishedBy.keys());
  const published = publishedBy.get(chosen);
  const retirement = retired.get(chosen);
  if (retirement) return `; ${retiredTombstoneGone(month, chosen, retirement)}`;
  return published
    ? `; the audit log records ${month}/v${chosen} published on ${published.entry.at.slice(0, 10)} (audit seq ${published.seq}, run ${published.runId}) and no retirement of it: its folder was removed outside segflow (segflow audit verify)`
    : '';
}

/** What the snapshot commands say of a version the log records as retired whose tombstone is gone. */
function retiredTombstoneGone(month: string, version: number, retirement: AuditEntry): string {
  const reason = (retirement.details as { reason?: unknown } | undefined)?.reason;
  return `the audit log records ${month}/v${version} retired on ${retirement.at.slice(0, 10)} (audit seq ${retirement.seq}${typeof reason === 'string' ? `: ${JSON.stringify(reason)}` : ''}), but its tombstone v${version}.retired.json is gone: segflow snapshots retire ${month}/v${version} --reason <text> writes it again from that entry (segflow audit verify)`;
}

/**
 * The retirement the audit log records of a version whose folder and tombstone are both gone
 * (removed by hand, a month's folder restored from an older copy, a retire cut off before writing
 * it): undefined otherwise.
 */
export async function retiredWithoutTombstone(store: StoreConfig, ref: SnapshotRef): Promise<AuditEntry | undefined> {
  if ((await listVersions(store, ref.month)).includes(ref.version)) return undefined;
  if ((await listRetiredVersions(store, ref.month)).includes(ref.version)) return undefined;
  return (await readMonthLog(store, ref.month)).retired.get(ref.version);
}

/**
 * Writes again the tombstone of a version the audit log records as retired (retiredWithoutTombstone),
 * from that entry: its reason, date and audit seq, as `snapshots retire` wrote it. The retirement
 * goes through the audit log's writer as every retirement does, which finds it recorded and
 * appends nothing (a retirement is recorded once; running retire again finishes its job). Under
 * the month's lock; undefined when there is nothing to restore (any more).
 */
export async function restoreTombstone(
  store: StoreConfig,
  ref: SnapshotRef,
  actor: string,
  signer?: Signer,
): Promise<AuditEntry | undefined> {
  const { month, version } = ref;
  return withFileLock(join(monthDir(store, month), '.lock'), async () => {
    const retired = await retiredWithoutTombstone(store, ref);
    if (!retired) return undefined;
    const entry = await recordAudit(
      store,
      {
        event: 'snapshot.retired',
        run: retired.run,
        month,
        actor,
        subject: retired.subject ?? `${month}/v${version}`,
        details: retired.details ?? { version },
      },
      signer,
    );
    await writeTombstone(store, ref, entry);
    return entry;
  });
}

/**
 * A retired version's tombstone, v<N>.retired.json, from its snapshot.retired entry: its reason,
 * date, audit seq and run. It keeps the number from reuse beside the log (`snapshots retire`
 * writes it, and writes it again when it was lost).
 */
export async function writeTombstone(store: StoreConfig, ref: SnapshotRef, entry: AuditEntry): Promise<void> {
  const { month, version } = ref;
  const reason = (entry.details as { reason?: unknown } | undefined)?.reason;
  const tombstone = {
    month,
    version,
    ...(typeof reason === 'string' ? { reason } : {}),
    retiredAt: entry.at,
    auditSeq: entry.seq,
    run: entry.run,
  };
  await writeFileAtomic(
    join(monthDir(store, month), `v${version}.retired.json`),
    JSON.stringify(tombstone, null, 2) + '\n',
  );
}

/** Parses "2026-10" (latest), "2026-10/v2" or "2026-10@2". */
export async function resolveSnapshot(store: StoreConfig, text: string): Promise<SnapshotRef> {
  const match = /^(\d{4}-\d{2})(?:(?:\/v|@v?)(\d+))?$/.exec(text.trim());
  if (!match || !isMonth(match[1]))
    throw new UsageError(`not a snapshot reference: "${text}" (use YYYY-MM, YYYY-MM/vN or YYYY-MM@N)`);
  const month = match[1];
  const versions = await listVersions(store, month);
  // a retired version is gone from the store but not from its history: say so, with the reason
  if (match[2] && !versions.includes(Number(match[2]))) {
    const retired = await retirement(store, month, Number(match[2]));
    if (retired)
      throw new UsageError(
        `${month}/v${Number(match[2])} was retired${retired.retiredAt ? ` on ${retired.retiredAt.slice(0, 10)}` : ''} (${retired.auditSeq === undefined ? 'its tombstone names no audit entry: segflow audit verify' : `audit seq ${retired.auditSeq}`}${retired.reason === undefined ? '' : `: "${retired.reason}"`}): its files are gone${versions.length ? ` (versions: ${versions.map((v) => `v${v}`).join(', ')})` : ''}`,
      );
  }
  if (versions.length === 0) {
    // a month whose versions were all retired keeps its folder (their tombstones): not one with snapshots
    const months = [];
    for (const candidate of await listMonths(store))
      if ((await listVersions(store, candidate)).length > 0) months.push(candidate);
    const retired = await listRetiredVersions(store, month);
    if (retired.length > 0)
      throw new UsageError(
        `${month} has no snapshot left: ${retired.map((v) => `v${v}`).join(', ')} ${retired.length === 1 ? 'was' : 'were'} retired (segflow snapshots show ${month}/v${retired[retired.length - 1]} says when and why)${months.length ? `; months with snapshots: ${months.join(', ')}` : ''}`,
      );
    throw new UsageError(
      `no snapshot published for ${month} (${months.length ? `months with snapshots: ${months.join(', ')}` : `the store ${store.storeDir} has none yet`})${await publishedAndGone(store, month, match[2] ? Number(match[2]) : undefined)}`,
    );
  }
  if (match[2]) {
    const version = Number(match[2]);
    if (!versions.includes(version))
      throw new UsageError(
        `${month} has no version ${version} (versions: ${versions.map((v) => `v${v}`).join(', ')})${await publishedAndGone(store, month, version)}`,
      );
    return { month, version };
  }
  const version = await latestVersion(store, month);
  if (version === undefined) {
    const listed = versions.map((v) => `v${v}`).join(', ');
    if ((await officialVersions(store, month)).length === 0)
      throw new UsageError(
        `${month} has only experiments (${listed}), no latest: name one as ${month}/vN, or make it the latest with segflow snapshots promote ${month}/vN`,
      );
    throw new UsageError(
      `${month}'s latest.json is missing or unreadable although ${listed} are published: name a version as ${month}/vN, and run segflow audit verify`,
    );
  }
  return { month, version };
}

/** The tombstone `snapshots retire` left for a version, if it did. */
async function retirement(
  store: StoreConfig,
  month: string,
  version: number,
): Promise<{ reason?: string; retiredAt?: string; auditSeq?: number } | undefined> {
  const text = await readFile(join(monthDir(store, month), `v${version}.retired.json`), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  let tombstone: { reason?: unknown; retiredAt?: unknown; auditSeq?: unknown } = {};
  try {
    tombstone = JSON.parse(text) as typeof tombstone;
  } catch {
    // an unreadable tombstone still says the version was retired; audit verify names the rest
  }
  return {
    ...(typeof tombstone.reason === 'string' ? { reason: tombstone.reason } : {}),
    ...(typeof tombstone.retiredAt === 'string' ? { retiredAt: tombstone.retiredAt } : {}),
    ...(typeof tombstone.auditSeq === 'number' ? { auditSeq: tombstone.auditSeq } : {}),
  };
}

export async function listMonths(store: StoreConfig): Promise<string[]> {
  const entries = await readdir(snapshotsDir(store)).catch(() => [] as string[]);
  return entries.filter(isMonth).sort();
}

export interface SnapshotListing {
  month: string;
  version: number;
  latest: boolean;
  /** Published with `--experiment` (latest.json did not move to it). */
  experiment: boolean;
  /** May be the month's latest: not an experiment, or an experiment promoted and not rolled back since. */
  official: boolean;
  publishedAt: string;
  requestedBy: string;
  workflowId: string;
  paramsHash: string;
  subscribers: number;
  churnRocAuc: number;
  segments: number;
  /** Its folder holds no readable manifest.json (removed or damaged by hand): listed, not read. */
  damaged?: true;
  /** Its folder holds another snapshot's manifest ("<month>/v<N>"): moved or copied into its place. */
  holds?: string;
  /** The audit log records it published (this entry) and not retired, but its folder is gone. */
  missing?: { auditSeq: number; runId: string; publishedOn: string };
}

/** A listing's row for a version without a manifest of its own to read: every figure unknown. */
function unreadRow(place: Pick<SnapshotListing, 'month' | 'version' | 'latest' | 'official'>): SnapshotListing {
  return {
    ...place,
    experiment: false,
    publishedAt: '',
    requestedBy: '',
    workflowId: '',
    paramsHash: '',
    subscribers: Number.NaN,
    churnRocAuc: Number.NaN,
    segments: Number.NaN,
  };
}

export async function listSnapshots(store: StoreConfig, month?: string): Promise<SnapshotListing[]> {
  const listings: SnapshotListing[] = [];
  const log = await readStoreLog(store);
  // a month whose folder was removed whole is listed too, from what the log recorded of it
  const logMonths = [...log.months].filter(([m, months]) => isMonth(m) && months.published.size > 0).map(([m]) => m);
  for (const m of month ? [month] : [...new Set([...(await listMonths(store)), ...logMonths])].sort()) {
    const latest = (await latestVersion(store, m)) ?? 0;
    const official = new Set(await officialVersions(store, m, log));
    const { publishedBy, retired } = monthLogOf(log, m);
    const present = await listVersions(store, m);
    // published and not retired, its folder gone: listed, so a removal outside segflow shows
    const gone = [...publishedBy.keys()].filter((v) => !present.includes(v) && !retired.has(v));
    for (const version of [...present, ...gone].sort((a, b) => a - b)) {
      const place = { month: m, version, latest: version === latest, official: official.has(version) };
      const recorded = publishedBy.get(version);
      if (!present.includes(version) && recorded) {
        const missing = { auditSeq: recorded.seq, runId: recorded.runId, publishedOn: recorded.entry.at.slice(0, 10) };
        listings.push({ ...unreadRow(place), missing });
        continue;
      }
      const manifest = await readManifest(store, m, version).catch(() => undefined);
      // one damaged folder must not hide the others: listed as such, for `audit verify` to tell
      if (!manifest) {
        listings.push({ ...unreadRow(place), damaged: true });
        continue;
      }
      const other = otherSnapshotIn(manifest, { month: m, version });
      if (other) {
        listings.push({ ...unreadRow(place), holds: `${other.month}/v${other.version}` });
        continue;
      }
      listings.push({
        ...place,
        experiment: manifest.snapshot.experiment === true,
        publishedAt: manifest.snapshot.publishedAt,
        requestedBy: manifest.requestedBy,
        workflowId: manifest.run.workflowId,
        paramsHash: manifest.paramsHash,
        subscribers: manifest.rowCounts.subscribers,
        churnRocAuc: manifest.metrics.churnHoldout.rocAuc,
        segments: manifest.metrics.segments.length,
      });
    }
  }
  return listings;
}

/**
 * The promotion that made a version its month's latest, when the last entry that moved the month's
 * latest is a promotion of it (`snapshots promote`: an experiment adopted, or a rollback); undefined
 * when a run's publish made it the latest, or it is not the latest.
 */
export function promotedToLatest(
  log: StoreLog,
  ref: SnapshotRef,
): { entry: AuditEntry; previous: number | null } | undefined {
  const month = monthLogOf(log, ref.month);
  const promotion = month.promotions.findLast((p) => p.entry === month.lastMovedLatest);
  return promotion?.version === ref.version ? promotion : undefined;
}

/** Whether the store has an audit log: without one, a listing of nothing may be another folder's. */
export async function hasAuditLog(store: StoreConfig): Promise<boolean> {
  return lstat(auditLogPath(store)).then(
    () => true,
    () => false,
  );
}

/**
 * The snapshots of the month after next whose campaign follow-up read a version of `month`'s
 * dispatch list (metrics.campaignFollowUp.dispatchFrom: the list the next month measured, followed
 * up a month later): each with that version. Their follow-up cannot be reproduced without it.
 */
export async function followedUpFrom(store: StoreConfig, month: string): Promise<{ snapshot: string; on: number }[]> {
  return (await manifestsOf(store, addMonths(month, 2))).flatMap(({ snapshot, manifest }) => {
    const list = manifest.metrics.campaignFollowUp?.dispatchFrom;
    return list?.month === month ? [{ snapshot, on: list.version }] : [];
  });
}

/** Each version of `month` with its manifest, named `YYYY-MM/vN`; a folder without a readable one is passed over. */
async function manifestsOf(
  store: StoreConfig,
  month: string,
): Promise<{ snapshot: string; manifest: SnapshotManifest }[]> {
  const found: { snapshot: string; manifest: SnapshotManifest }[] = [];
  for (const version of await listVersions(store, month)) {
    const manifest = await readManifest(store, month, version).catch(() => undefined);
    if (manifest) found.push({ snapshot: `${month}/v${version}`, manifest });
  }
  return found;
}

/**
 * The next month's snapshots built on a version of `month`: each with the version its segment ids
 * were matched to, and whether its campaign measurement used that version's dispatch list too.
 */
export async function nextMonthBuiltOn(
  store: StoreConfig,
  month: string,
): Promise<{ snapshot: string; on: number; measuredOn: boolean }[]> {
  return (await manifestsOf(store, addMonths(month, 1))).flatMap(({ snapshot, manifest: { metrics } }) => {
    const pinned = metrics.previousSnapshot;
    if (pinned?.month !== month) return [];
    const list = metrics.campaigns?.measured ? metrics.campaigns.dispatchFrom : undefined;
    return [{ snapshot, on: pinned.version, measuredOn: list?.month === month && list.version === pinned.version }];
  });
}
