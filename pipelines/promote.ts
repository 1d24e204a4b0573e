import { commandUser, recordAudit } from '../store/audit-record';
import { UsageError } from '../domain/errors';
import type { AuditEntry } from '../store/audit-log';
import type { StoreConfig } from '../store/layout';
import type { Signer } from '../store/signing';
import { changePublishedSnapshot, latestVersion, nextMonthBuiltOn, writeLatest } from '../store/snapshots';
import type { RunRef, SnapshotRef } from '../store/layout';

export interface PromoteResult {
  /** The `snapshot.promoted` entry, or null when the version already was the latest. */
  entry: AuditEntry | null;
  /** The version latest.json named before. */
  previous: number | null;
  /**
   * Snapshots of the month after that matched their segment ids (and measured campaigns) against
   * another version of this month: published, they stay as they are; the next run uses this one.
   */
  builtOnOther: string[];
}

/**
 * Makes a published version the month's latest on purpose: an analyst's experiment adopted, or a
 * rollback to an earlier version. First a `snapshot.promoted` audit entry with the reason, then
 * latest.json; a later run of the month moves latest.json forward again as usual. Each promotion
 * is its own entry (a rollback to v1 twice is two): a crash between the entry and latest.json is
 * mended by running it again, which `audit verify` replays alike. Refused while a version of the
 * month is being published (its run moved latest.json and has yet to record it).
 */
export async function promoteSnapshot(
  store: StoreConfig,
  ref: SnapshotRef,
  /** runEnded: whether a run has ended (Temporal), so a snapshot its run left unrecorded does not block this for the grace's hour. */
  request: { reason: string; actor: string; runEnded?: (run: RunRef) => Promise<boolean> },
  signer?: Signer,
): Promise<PromoteResult> {
  const reason = request.reason.trim();
  if (reason === '') throw new UsageError('--reason must say why this version becomes the latest');
  const { month, version } = ref;
  const verb = { present: 'promote', past: 'promoted' } as const;
  return changePublishedSnapshot(
    store,
    ref,
    verb,
    async ({ manifest, manifestSha256 }) => {
      const previous = (await latestVersion(store, month)) ?? null;
      if (previous === version) return { entry: null, previous, builtOnOther: [] };
      const at = new Date().toISOString();
      const entry = await recordAudit(
        store,
        {
          event: 'snapshot.promoted',
          run: manifest.run,
          month,
          actor: request.actor,
          // the log keeps one entry per run, event and subject: each promotion names its own moment
          subject: `${month}/v${version} at ${at}`,
          // the name given is whatever the caller typed: who ran the command, as the machine knows them, beside it
          details: { version, previous, reason, manifestSha256, ...commandUser() },
        },
        signer,
      );
      await writeLatest(store, month, version, manifest.run);
      return { entry, previous, builtOnOther: await builtOnOtherVersions(store, { month, version }) };
    },
    request.runEnded,
  );
}

/** The next month's snapshots whose previous snapshot is another version of `ref.month`. */
async function builtOnOtherVersions(store: StoreConfig, ref: SnapshotRef): Promise<string[]> {
  return (await nextMonthBuiltOn(store, ref.month))
    .filter((built) => built.on !== ref.version)
    .map(
      (built) =>
        `${built.snapshot} (segment ids${built.measuredOn ? ' and campaign measurement' : ''} on ${ref.month}/v${built.on})`,
    );
}
