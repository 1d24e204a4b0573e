import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { CAMPAIGN_MEASUREMENT } from '../domain/campaigns';
import { versionDir, type SnapshotRef, type StoreConfig } from '../store/layout';
import type { SnapshotManifest } from '../store/manifest';
import type { CampaignFollowUp, CampaignFollowUpGroup } from './campaign-metrics';
import { hashAgainstRecorded } from '../store/hashing';
import {
  CAMPAIGN_INTERVAL,
  hasControlGroup,
  prepareHoldOutWeights,
  prepareMeasureStep,
  readDispatchList,
  readGroupRows,
} from './campaigns';
import { queryOne, readSql, runScript, setVariable } from './duckdb';
import { readPreviousManifest } from './segment-history';
import { readManifest } from '../store/snapshots';

/** Why the follow-up gives no kept per 100 contacts (the manifest's `keptPer100`). */
const FOLLOW_UP_KEPT_PER_100 =
  "not given: the follow-up reads no contact log; the month of contact's kept per 100 contacts is in its own campaigns.parquet";

/** The follow-up's file in a snapshot. */
export const FOLLOW_UP_FILE = 'campaigns_followup.parquet';

export interface FollowUpRequest {
  /** This run's month: churn is read in it. */
  month: string;
  /** The snapshot this run's segment ids came from (last month's), or null. */
  previous: SnapshotRef | null;
  /** The store it lives in (the store itself, except when reproducing elsewhere). */
  previousStore: StoreConfig;
  /**
   * `previous` is pinned by a reproduction: one retired since follows up nothing (the
   * reproduction reports it gone). Otherwise a `previous` whose manifest is gone or unreadable
   * stops the run (activities/segment-history.ts readPreviousManifest).
   */
  pinned?: boolean;
  /**
   * The list contacted during `month` (what this run measured, named by --param dispatched or the
   * latest; or the one --param dispatched names when nothing was measured), checked against its
   * sha256: the followed-up list's subscribers on it were contacted again. Left out, `previous`'s
   * own list as published.
   */
  nextList?: SnapshotRef & { sha256?: string };
}

/**
 * A month later: when the snapshot this run's segment ids came from (month M) measured a campaign,
 * measures the same dispatch list again (the one M's manifest names in `dispatchFrom`, read from
 * the store and checked against its recorded sha256) with churn read in this run's month. Leaves
 * table snapshot_campaign_follow_up on `conn` (which holds this month's snapshot_subscribers) when
 * measured. Undefined when M measured no campaign at all (its run had no contact log: no
 * `metrics.campaigns`), `measured: false` with the reason when M's measurement cannot be followed
 * up (M did not measure, the list is gone or changed). Pinned by M's manifest, so a reproduction
 * (whose previous snapshot is pinned) follows up the same list.
 */
export async function followUpCampaigns(
  conn: DuckDBConnection,
  request: FollowUpRequest,
): Promise<CampaignFollowUp | undefined> {
  const { previous, previousStore, month } = request;
  if (!previous) return undefined;
  const manifest = await readPreviousManifest(previousStore, previous, { goneIsNone: request.pinned });
  const first = manifest?.metrics.campaigns;
  if (!manifest || !first) return undefined;
  const firstMeasuredIn: SnapshotRef = { month: previous.month, version: previous.version };
  const name = `${previous.month}/v${previous.version}`;
  const notFollowed = (reason: string, dispatchFrom?: SnapshotRef & { sha256?: string }): CampaignFollowUp => ({
    measured: false,
    reason,
    firstMeasuredIn,
    ...(dispatchFrom ? { dispatchFrom } : {}),
  });
  if (!first.measured) return notFollowed(`${name} measured no campaign (not measured: ${first.reason})`);
  const { month: listMonth, version: listVersion, sha256: recorded } = first.dispatchFrom;
  const dispatchFrom = { month: listMonth, version: listVersion, ...(recorded ? { sha256: recorded } : {}) };
  const list = `${listMonth}/v${listVersion}`;
  if (first.overall.controlSubscribers + (first.overall.controlUnreadable ?? 0) === 0)
    return notFollowed(`${list}'s list, measured by ${name}, holds nobody out (no control group)`, dispatchFrom);
  if (!recorded)
    return notFollowed(
      `${name} recorded no sha256 of ${list}'s dispatch list (published before it was recorded), so the list cannot be checked to be the one it measured`,
      dispatchFrom,
    );
  const listFile = join(versionDir(previousStore, listMonth, listVersion), 'dispatch.parquet');
  const now = await hashAgainstRecorded(listFile, recorded);
  if ('error' in now)
    return notFollowed(
      `${list}'s dispatch list, measured by ${name}, is no longer in the store (retired or removed)`,
      dispatchFrom,
    );
  if (now.changed)
    return notFollowed(`${list}'s dispatch list has changed since ${name} measured it (${now.changed})`, dispatchFrom);
  const ownMonthFile = await ownMonthCampaigns(previousStore, previous, manifest);
  if ('reason' in ownMonthFile) return notFollowed(ownMonthFile.reason, dispatchFrom);

  await readDispatchList(conn, 'follow_up_dispatch', listFile);
  await setVariable(conn, 'own_month_campaigns_file', ownMonthFile.path);
  await conn.run(
    "CREATE OR REPLACE TEMP TABLE own_month_campaigns AS SELECT * FROM read_parquet(getvariable('own_month_campaigns_file'))",
  );
  await prepareMeasureStep(conn, month);
  // weighted as the month of contact was, from what its measurement recorded: unweighted when it
  // was (measured before the weights), so the two months' uplifts side by side compare alike
  const holdOutWeights = await prepareHoldOutWeights(
    conn,
    'follow_up_dispatch',
    first.holdOutWeights?.controlShare ?? undefined,
  );
  await runScript(conn, await readSql(import.meta.url, './campaigns/04_follow_up.sql'));
  const groups = await readGroupRows<CampaignFollowUpGroup>(conn, 'snapshot_campaign_follow_up', ['all', 'action']);
  // the list contacted this month, as its manifest (or this run's measurement) recorded it
  const next = request.nextList ? { month: request.nextList.month, version: request.nextList.version } : previous;
  const nextManifest =
    next === previous ? manifest : await readManifest(previousStore, next.month, next.version).catch(() => undefined);
  const nextSha256 =
    request.nextList?.sha256 ?? nextManifest?.outputs.find((o) => o.file === 'dispatch.parquet')?.sha256;
  const listedAgain = await listedAgainOn(conn, previousStore, next, nextSha256);
  return {
    measured: true,
    dispatchFrom: { month: listMonth, version: listVersion, sha256: recorded },
    firstMeasuredIn,
    ownMonthCampaignsSha256: ownMonthFile.sha256,
    churnMonth: month,
    interval: CAMPAIGN_INTERVAL,
    holdOutWeights,
    minArmSubscribers: CAMPAIGN_MEASUREMENT.minArmSubscribers,
    keptPer100: FOLLOW_UP_KEPT_PER_100,
    ...(listedAgain ? { listedAgain } : {}),
    overall: groups.find((g) => g.dimension === 'all') as CampaignFollowUpGroup,
    byAction: groups.filter((g) => g.dimension === 'action'),
  };
}

/**
 * How many of the followed-up list (table follow_up_dispatch), by arm, are to be contacted again
 * on `snapshot`'s dispatch list (held out there: not counted), read as published (its sha256
 * checked against `recorded`, which the result keeps for a reproduction to check); undefined when
 * it cannot be.
 */
async function listedAgainOn(
  conn: DuckDBConnection,
  store: StoreConfig,
  snapshot: SnapshotRef,
  recorded: string | undefined,
): Promise<{ list: SnapshotRef; sha256: string; control: number; targeted: number } | undefined> {
  const path = join(versionDir(store, snapshot.month, snapshot.version), 'dispatch.parquet');
  if (!recorded) return undefined;
  const now = await hashAgainstRecorded(path, recorded);
  if ('error' in now || now.changed) return undefined;
  await readDispatchList(conn, 'follow_up_next_list', path);
  const held = (await hasControlGroup(conn, versionDir(store, snapshot.month, snapshot.version)))
    ? 'coalesce(control, false)'
    : 'false';
  const counts = await queryOne<{ control: number; targeted: number }>(
    conn,
    `SELECT count(*) FILTER (WHERE f.control) AS control, count(*) FILTER (WHERE NOT f.control) AS targeted
     FROM follow_up_dispatch f
     WHERE f.subscriber_id IN (SELECT subscriber_id FROM follow_up_next_list WHERE NOT ${held})`,
  );
  return { list: { month: snapshot.month, version: snapshot.version }, sha256: recorded, ...counts };
}

/** The measuring snapshot's campaigns.parquet with its sha256, checked against its manifest; or why it cannot be read. */
async function ownMonthCampaigns(
  store: StoreConfig,
  snapshot: SnapshotRef,
  manifest: SnapshotManifest,
): Promise<{ path: string; sha256: string } | { reason: string }> {
  const name = `${snapshot.month}/v${snapshot.version}`;
  const path = join(versionDir(store, snapshot.month, snapshot.version), 'campaigns.parquet');
  const recorded = manifest.outputs.find((o) => o.file === 'campaigns.parquet')?.sha256;
  const now = await hashAgainstRecorded(path, recorded);
  if (!recorded || 'error' in now) return { reason: `${name}'s campaigns.parquet is missing` };
  if (now.changed) return { reason: `${name}'s campaigns.parquet has changed since it was published` };
  return { path, sha256: now.sha256 };
}

/** Every row of the follow-up's table on `conn` (snapshot_campaign_follow_up), for the report. */
export function followUpGroups(conn: DuckDBConnection): Promise<CampaignFollowUpGroup[]> {
  return readGroupRows<CampaignFollowUpGroup>(conn, 'snapshot_campaign_follow_up');
}
