import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { commandUser, recordAudit } from '../store/audit-record';
import { UsageError } from '../domain/errors';
import type { AuditEntry } from '../store/audit-log';
import { monthDir, versionDir, type StoreConfig } from '../store/layout';
import type { Signer } from '../store/signing';
import {
  changePublishedSnapshot,
  followedUpFrom,
  latestVersion,
  listVersions,
  nextMonthBuiltOn,
  officialVersions,
  readManifest,
  writeLatest,
  writeTombstone,
} from '../store/snapshots';
import type { RunRef, SnapshotRef } from '../store/layout';

export interface RetireResult {
  entry: AuditEntry;
  /** The version latest.json names afterwards, or null when no version that may be the latest is left. */
  latest: number | null;
  /** The month's versions left (experiments among them). */
  left: number[];
  /** The next month's snapshots built on the retired one (their segment ids, campaign measurement). */
  builtOn: string[];
  /** The snapshots of the month after next whose campaign follow-up read the retired one's dispatch list. */
  followedUpBy: string[];
}

/**
 * What `snapshots retire` says of the next month's snapshots built on the retired one: published,
 * they stay so, and how to rebuild them: on the month's latest, or, when the month has no latest
 * left (no version, or only experiments), after the month is published (or an experiment
 * promoted) again: their month rerun before that builds on no snapshot at all.
 */
export function builtOnNote(month: string, result: Pick<RetireResult, 'builtOn' | 'latest' | 'left'>): string {
  if (result.builtOn.length === 0) return '';
  const head = `note: built on it: ${result.builtOn.join(', ')} (segment ids, migration and any campaign measurement); published, they stay so, but cannot be reproduced as published`;
  if (result.latest !== null) return `${head}: rerun their month to build on the month's latest`;
  const first =
    result.left.length > 0
      ? `${month} has no latest left, only experiments (${result.left.map((v) => `v${v}`).join(', ')}): promote one ('segflow snapshots promote ${month}/vN --reason …') or rerun ${month} first`
      : `${month} has no version left: rerun ${month} first`;
  return `${head}. ${first}, then rerun their month to build on it; rerun before that, their month builds on no snapshot (new segment ids, no migration, no campaign measurement)`;
}

/**
 * Removes a published snapshot on purpose (storage limits, a deletion request): first a
 * `snapshot.retired` audit entry with the reason, then the folder, then, when it was the latest,
 * latest.json moves to the newest eligible version left (officialVersions). A v<N>.retired.json
 * tombstone keeps the number from being reused. Running it again after a crash finishes the job
 * without a second entry.
 */
export async function retireSnapshot(
  store: StoreConfig,
  ref: SnapshotRef,
  /** runEnded: whether a run has ended (Temporal), so a snapshot its run left unrecorded does not block this for the grace's hour. */
  request: { reason: string; actor: string; runEnded?: (run: RunRef) => Promise<boolean> },
  signer?: Signer,
): Promise<RetireResult> {
  const reason = request.reason.trim();
  if (reason === '') throw new UsageError('--reason must say why the snapshot is retired');
  const { month, version } = ref;
  const verb = { present: 'retire', past: 'retired' } as const;
  return changePublishedSnapshot(
    store,
    ref,
    verb,
    async ({ manifest, manifestSha256 }) => {
      const entry = await recordAudit(
        store,
        {
          event: 'snapshot.retired',
          run: manifest.run,
          month,
          actor: request.actor,
          subject: `${month}/v${version}`,
          // the name given is whatever the caller typed: who ran the command, as the machine knows them, beside it
          details: { version, reason, manifestSha256, ...commandUser() },
        },
        signer,
      );
      await writeTombstone(store, { month, version }, entry);
      await rm(versionDir(store, month, version), { recursive: true, force: true });
      return {
        entry,
        latest: await pointLatestAtNewest(store, month),
        left: await listVersions(store, month),
        builtOn: (await nextMonthBuiltOn(store, month))
          .filter((built) => built.on === version)
          .map((built) => built.snapshot),
        followedUpBy: (await followedUpFrom(store, month))
          .filter((followed) => followed.on === version)
          .map((followed) => followed.snapshot),
      };
    },
    request.runEnded,
  );
}

/**
 * After a retirement latest.json may name a version that is gone: it moves back to the newest
 * official one left (audit verify replays the same rule from the log).
 */
async function pointLatestAtNewest(store: StoreConfig, month: string): Promise<number | null> {
  const official = await officialVersions(store, month);
  const latest = await latestVersion(store, month);
  if (latest !== undefined && official.includes(latest)) return latest;
  const newest = official.at(-1);
  if (newest === undefined) {
    await rm(join(monthDir(store, month), 'latest.json'), { force: true });
    return null;
  }
  await writeLatest(store, month, newest, (await readManifest(store, month, newest)).run);
  return newest;
}
