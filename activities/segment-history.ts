import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SnapshotIntegrityError, StoreReadError } from '../domain/errors';
import { addMonths } from '../domain/month';
import { monthDir, versionDir, type SnapshotRef, type StoreConfig } from '../store/layout';
import type { SnapshotManifest } from '../store/manifest';
import { officialVersions, otherSnapshotIn } from '../store/snapshots';

/** Last month's segmentation, which this month's segment ids are matched against. */
export interface PreviousSegmentation {
  month: string;
  version: number;
  featureNames: string[];
  centroids: { segmentId: number; values: number[] }[];
}

/**
 * The latest snapshot of the month before `month` (or the given version of it, when a
 * snapshot is reproduced), or null when there is none or it was clustered on other features.
 * A month before whose latest.json names a version that is missing or unreadable stops the run
 * (readPreviousManifest): read as "no previous month", the run would publish new segment ids,
 * no migration and no campaign measurement without a word. A reproduction's pinned version that
 * is gone (retired since) is null: the reproduction says so (previousSnapshotGone).
 */
export async function findPreviousSegmentation(
  store: StoreConfig,
  month: string,
  pinned?: { month: string; version: number },
): Promise<PreviousSegmentation | null> {
  const previousMonth = pinned?.month ?? addMonths(month, -1);
  const version = pinned?.version ?? (await readLatestVersion(store, previousMonth));
  if (version === undefined) return null;
  const manifest = await readPreviousManifest(store, { month: previousMonth, version }, { goneIsNone: !!pinned });
  const kmeans = manifest?.metrics.kmeans;
  if (!kmeans?.centroids || !kmeans.featureNames) return null;
  return { month: previousMonth, version, featureNames: kmeans.featureNames, centroids: kmeans.centroids };
}

/** Node's errno code of an error, or ''. */
const errno = (error: unknown): string => (error as NodeJS.ErrnoException).code ?? '';

/** A file or folder that is not there (the path, or a folder on it, is gone). */
const isGone = (error: unknown): boolean => ['ENOENT', 'ENOTDIR'].includes(errno(error));

/** The first line of an error's message. */
const firstLine = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split('\n')[0];

/**
 * The version a month's latest.json names, or undefined when the month has none (no snapshot
 * published, or none official: a latest.json missing beside an official version stops the run). Unlike store/snapshots.ts latestVersion, which reads any failure
 * as "none", a latest.json that is there but cannot be read is an error: retryable (StoreReadError)
 * for an I/O failure, not (SnapshotIntegrityError) for a file that is not a latest.json.
 */
export async function readLatestVersion(store: StoreConfig, month: string): Promise<number | undefined> {
  const file = join(monthDir(store, month), 'latest.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (isGone(error)) {
      // gone although the month has a snapshot that may be its latest: deleted or lost, not "none"
      const official = await officialVersions(store, month);
      if (official.length === 0) return undefined;
      throw new SnapshotIntegrityError(
        `${month}'s latest.json ${file} is missing although ${official.map((v) => `v${v}`).join(', ')} ${official.length === 1 ? 'is' : 'are'} published: it names the snapshot this run builds on (segment ids, migration, campaigns). Nothing was published. 'segflow audit verify' says which version the audit log makes the latest; 'segflow snapshots promote ${month}/vN --reason …' writes it again`,
      );
    }
    throw new StoreReadError(
      `cannot read ${month}'s latest.json ${file} (${firstLine(error)}): it names the snapshot this run builds on. Retried, as a storage glitch may pass; if it persists, check the store's disk and permissions, and 'segflow audit verify'`,
    );
  }
  let version: unknown;
  try {
    version = (JSON.parse(text) as { version?: unknown } | null)?.version;
  } catch {
    version = undefined;
  }
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1)
    throw new SnapshotIntegrityError(
      `${month}'s latest.json ${file} names no version (damaged or edited by hand): nothing was published. 'segflow audit verify' says which version the audit log makes the latest; 'segflow snapshots promote ${month}/vN --reason …' writes it again`,
    );
  return version;
}

/**
 * The manifest of a published snapshot a run builds on (the month before's latest, a dispatch list
 * it measures or follows up). A snapshot that is recorded as there (latest.json or the measuring
 * manifest names it) but whose folder or manifest.json is gone, or whose manifest is not its own,
 * stops the run (SnapshotIntegrityError, not retried); another read failure (EACCES, EIO) is
 * retried (StoreReadError). With `goneIsNone`, a snapshot that is gone is undefined instead: a
 * reproduction's pinned one, retired since, which the reproduction reports.
 */
export async function readPreviousManifest(
  store: StoreConfig,
  ref: SnapshotRef,
  { goneIsNone = false }: { goneIsNone?: boolean } = {},
): Promise<SnapshotManifest | undefined> {
  const name = `${ref.month}/v${ref.version}`;
  const file = join(versionDir(store, ref.month, ref.version), 'manifest.json');
  const restore = `Nothing was published. 'segflow audit verify' says what the store and its audit log record of ${name}; restore its folder (from a backup) and run again`;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (isGone(error)) {
      if (goneIsNone) return undefined;
      throw new SnapshotIntegrityError(
        `${name} is recorded as published (the snapshot this run builds on: segment ids, migration, campaigns), but its manifest ${file} is gone (${errno(error)}): its folder was removed, moved or not mounted. ${restore}`,
      );
    }
    throw new StoreReadError(
      `cannot read ${name}'s manifest ${file} (${firstLine(error)}), the snapshot this run builds on (segment ids, migration, campaigns). Retried, as a storage glitch may pass; if it persists, check the store's disk and permissions, and 'segflow audit verify'`,
    );
  }
  let manifest: SnapshotManifest;
  try {
    manifest = JSON.parse(text) as SnapshotManifest;
  } catch (error) {
    throw new SnapshotIntegrityError(
      `${name}'s manifest ${file} is not valid JSON (${firstLine(error)}): damaged after publishing. ${restore}`,
    );
  }
  const named = otherSnapshotIn(manifest, ref);
  if (!manifest || typeof manifest !== 'object' || named)
    throw new SnapshotIntegrityError(
      `${name}'s folder holds ${named ? `the manifest of ${named.month}/v${named.version}` : 'no snapshot manifest'} (${file}): another snapshot was moved or copied into its place. ${restore}`,
    );
  return manifest;
}
