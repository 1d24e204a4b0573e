import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { SnapshotManifest } from './manifest';
import type { AuditEntry } from './audit-log';
import { hashFile } from './hashing';
import { SnapshotStoreError, UsageError } from '../domain/errors';
import { isMonth } from '../domain/month';
import { auditLogPath, monthDir, versionDir, type RunRef, type StoreConfig } from './layout';

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
  return entries
    .map((name) => /^v(\d+)$/.exec(name)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
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

/**
 * Every version the audit log records with `event` (published, promoted), from each line that
 * parses (a damaged line, which `audit verify` names, must not hide the others). A log that
 * cannot be read stops the caller: a number it might hold must not be given again.
 */
async function versionsInLog(
  store: StoreConfig,
  event: 'run.published' | 'snapshot.promoted',
  month: string,
): Promise<number[]> {
  const path = auditLogPath(store);
  const text = await readFile(path, 'utf8').catch(async (error: NodeJS.ErrnoException) => {
    // no log yet is a new store; a link to a log that is gone is not
    if (
      error.code === 'ENOENT' &&
      !(await lstat(path).then(
        () => true,
        () => false,
      ))
    )
      return '';
    throw new SnapshotStoreError(
      `cannot read the audit log ${path} (${error.code ?? error.message}): the snapshot numbers it records are unknown, so nothing is published until it can be read`,
    );
  });
  return text.split('\n').flatMap((line) => {
    if (!line.includes(`"${event}"`)) return [];
    try {
      const entry = JSON.parse(line) as AuditEntry;
      const version = Number((entry.details as { version?: unknown } | undefined)?.version);
      return entry.event === event && entry.month === month && Number.isInteger(version) ? [version] : [];
    } catch {
      return [];
    }
  });
}

/**
 * The number the next snapshot of `month` gets: past every version present, retired or ever
 * recorded as published in the audit log, so a deleted folder's number is never given again (a
 * rebuilt v1 would pass for the one the log recorded).
 */
export async function nextVersion(store: StoreConfig, month: string): Promise<number> {
  const recorded = await versionsInLog(store, 'run.published', month);
  const used = [...(await listVersions(store, month)), ...(await listRetiredVersions(store, month)), ...recorded];
  return used.reduce((max, v) => Math.max(max, v), 0) + 1;
}

export async function readManifest(store: StoreConfig, month: string, version: number): Promise<SnapshotManifest> {
  return JSON.parse(
    await readFile(join(versionDir(store, month, version), 'manifest.json'), 'utf8'),
  ) as SnapshotManifest;
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
 * The month's versions that may be its latest: published without `--experiment`, or promoted
 * since (`segflow snapshots promote`, recorded in the audit log), in version order.
 */
export async function officialVersions(store: StoreConfig, month: string): Promise<number[]> {
  const promoted = new Set(await versionsInLog(store, 'snapshot.promoted', month));
  const official: number[] = [];
  for (const version of await listVersions(store, month)) {
    const manifest = await readManifest(store, month, version).catch(() => undefined);
    if (promoted.has(version) || (manifest && !manifest.snapshot.experiment)) official.push(version);
  }
  return official;
}

/** The version latest.json names for a month, or undefined before the first publish. */
export async function latestVersion(store: StoreConfig, month: string): Promise<number | undefined> {
  return readFile(join(monthDir(store, month), 'latest.json'), 'utf8').then(
    (text) => (JSON.parse(text) as { version: number }).version,
    () => undefined,
  );
}

/**
 * Points latest.json at a version. Written aside and renamed (write-file-atomic): a reader sees
 * the old file or the new one, never half of one, and a writer that dies leaves no partial file.
 */
export async function writeLatest(store: StoreConfig, month: string, version: number, run: RunRef): Promise<void> {
  const latest = { month, version, path: `v${version}`, run };
  await writeFileAtomic(join(monthDir(store, month), 'latest.json'), JSON.stringify(latest, null, 2) + '\n');
}

export interface SnapshotRef {
  month: string;
  version: number;
}

/** Parses "2026-10" (latest), "2026-10/v2" or "2026-10@2". */
export async function resolveSnapshot(store: StoreConfig, text: string): Promise<SnapshotRef> {
  const match = /^(\d{4}-\d{2})(?:(?:\/v|@v?)(\d+))?$/.exec(text.trim());
  if (!match || !isMonth(match[1]))
    throw new UsageError(`not a snapshot reference: "${text}" (use YYYY-MM, YYYY-MM/vN or YYYY-MM@N)`);
  const month = match[1];
  const versions = await listVersions(store, month);
  if (versions.length === 0) {
    const months = await listMonths(store);
    throw new UsageError(
      `no snapshot published for ${month} (${months.length ? `months with snapshots: ${months.join(', ')}` : `the store ${store.storeDir} has none yet`})`,
    );
  }
  if (match[2]) {
    const version = Number(match[2]);
    if (!versions.includes(version))
      throw new UsageError(`${month} has no version ${version} (versions: ${versions.map((v) => `v${v}`).join(', ')})`);
    return { month, version };
  }
  const version = await latestVersion(store, month);
  if (version === undefined)
    throw new UsageError(
      `${month} has only experiments (${versions.map((v) => `v${v}`).join(', ')}), no latest: name one as ${month}/vN, or make it the latest with segflow snapshots promote ${month}/vN`,
    );
  return { month, version };
}

export async function listMonths(store: StoreConfig): Promise<string[]> {
  const entries = await readdir(join(store.storeDir, 'snapshots')).catch(() => [] as string[]);
  return entries.filter(isMonth).sort();
}

export interface SnapshotListing {
  month: string;
  version: number;
  latest: boolean;
  /** Published with `--experiment` (latest.json did not move to it). */
  experiment: boolean;
  publishedAt: string;
  requestedBy: string;
  workflowId: string;
  paramsHash: string;
  subscribers: number;
  churnRocAuc: number;
  segments: number;
}

export async function listSnapshots(store: StoreConfig, month?: string): Promise<SnapshotListing[]> {
  const listings: SnapshotListing[] = [];
  for (const m of month ? [month] : await listMonths(store)) {
    const latest = (await latestVersion(store, m)) ?? 0;
    for (const version of await listVersions(store, m)) {
      const manifest = await readManifest(store, m, version);
      listings.push({
        month: m,
        version,
        latest: version === latest,
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
