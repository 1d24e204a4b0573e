import { join } from 'node:path';
import { listValue, type DuckDBConnection } from '@duckdb/node-api';
import { CONTACT_QUARANTINE_REASONS } from '../data/contacts-contract';
import {
  CAMPAIGN_DIMENSIONS,
  CAMPAIGN_MEASUREMENT,
  CONTACT_OUTCOMES,
  type CampaignDimension,
} from '../domain/campaigns';
import { InputFileError } from '../domain/errors';
import { addMonths, firstDay } from '../domain/month';
import type { RunParams } from '../domain/params';
import { hashFile } from '../store/hashing';
import { versionDir, type StoreConfig } from '../store/layout';
import type { SnapshotRef } from '../store/snapshots';
import { queryOne, queryRows, readSql, runScript, setVariable, withConnection } from './duckdb';
import { viewRawContacts } from './contact-log';
import { assertWithin } from './load';

/** One row of campaigns.parquet: a group of last month's dispatch list, control against contacted. */
export interface CampaignGroup {
  dimension: string;
  group: string | null;
  controlSubscribers: number;
  controlChurned: number;
  controlChurnRate: number | null;
  targetedSubscribers: number;
  targetedChurned: number;
  targetedChurnRate: number | null;
  /** Control churn rate minus contacted churn rate: positive when the contacts kept subscribers. */
  absoluteUplift: number | null;
  relativeUplift: number | null;
  upliftLow: number | null;
  upliftHigh: number | null;
  /** The interval excludes 0 and both arms are big enough. */
  significant: boolean;
  tooSmall: boolean;
  keptPer100Contacts: number | null;
  contactedSubscribers: number;
  acceptedSubscribers: number;
  acceptanceRate: number | null;
  contactedControls: number;
}

/** What the manifest records of a run's campaign measurement (`metrics.campaigns`). */
export type CampaignMetrics =
  | {
      measured: true;
      /** The snapshot whose dispatch list (and control group) was measured. */
      dispatchFrom: SnapshotRef;
      contacts: {
        file: string;
        sha256: string;
        rows: number;
        loaded: number;
        quarantined: number;
        quarantineByReason: Record<string, number>;
        /** Control subscribers found in the contact log: they stay in control (intent to treat), but dilute it. */
        contactedControls: number;
      };
      /**
       * Set when fewer than half of the log's rows could be used (CONTACT_LOG_MIN_USED_SHARE): the
       * intent-to-treat arms come from the list, not the log, so the measurement stands, but such
       * a log is most likely the wrong file (last month's, another list's).
       */
      warning?: string;
      interval: string;
      minArmSubscribers: number;
      overall: CampaignGroup;
      byAction: CampaignGroup[];
    }
  | { measured: false; reason: string };

export interface CampaignRequest {
  params: RunParams;
  /** Last month's snapshot (the one this run's segment ids came from), or null. */
  previous: SnapshotRef | null;
  /** The store it lives in. */
  previousStore: StoreConfig;
}

/**
 * Reads the contact log (`params.contacts`) against its contract and measures last month's
 * dispatch list: leaves tables snapshot_campaigns and snapshot_contacts_quarantine on `conn`
 * (which already holds this month's snapshot_subscribers). Returns undefined without a contact
 * log, and `measured: false` with the reason when there is no list with a control group to measure.
 */
export async function measureCampaigns(
  conn: DuckDBConnection,
  request: CampaignRequest,
  dataRoot?: string,
): Promise<CampaignMetrics | undefined> {
  const { params, previous, previousStore } = request;
  if (!params.contacts) return undefined;
  if (!previous || previous.month !== addMonths(params.month, -1))
    return { measured: false, reason: `no snapshot of ${addMonths(params.month, -1)} to measure its dispatch list` };
  const dispatchFile = join(versionDir(previousStore, previous.month, previous.version), 'dispatch.parquet');
  await setVariable(conn, 'previous_dispatch_file', dispatchFile);
  await conn.run(
    "CREATE OR REPLACE TEMP TABLE previous_dispatch AS SELECT * FROM read_parquet(getvariable('previous_dispatch_file'))",
  );
  const columns = await queryRows<{ column_name: string }>(conn, 'DESCRIBE previous_dispatch');
  if (!columns.some((c) => c.column_name === 'control'))
    return {
      measured: false,
      reason: `the dispatch list of ${previous.month} v${previous.version} has no control group (published before control groups)`,
    };

  if (dataRoot) await assertWithin(dataRoot, params.contacts);
  const file = params.contacts;
  const { sha256 } = await hashFile(file).catch((error: Error) => {
    throw new InputFileError(`cannot read the contact log ${file}: ${error.message}`);
  });
  await viewRawContacts(conn, file);
  await setVariable(conn, 'contacts_file', file);
  await setVariable(conn, 'month_start', firstDay(params.month));
  await setVariable(conn, 'month_end', lastDay(params.month));
  await setVariable(conn, 'contact_outcomes', listValue([...CONTACT_OUTCOMES]));
  await setVariable(conn, 'reason_missing_id', CONTACT_QUARANTINE_REASONS.missingId);
  await setVariable(conn, 'reason_bad_date', CONTACT_QUARANTINE_REASONS.badDate);
  await setVariable(conn, 'reason_outside_month', CONTACT_QUARANTINE_REASONS.outsideMonth);
  await setVariable(conn, 'reason_unknown_outcome', CONTACT_QUARANTINE_REASONS.unknownOutcome);
  await setVariable(conn, 'reason_unknown_subscriber', CONTACT_QUARANTINE_REASONS.unknownSubscriber);
  await setVariable(conn, 'z', CAMPAIGN_MEASUREMENT.z);
  await setVariable(conn, 'min_arm_subscribers', CAMPAIGN_MEASUREMENT.minArmSubscribers);
  await setVariable(conn, 'dimensions', listValue([...CAMPAIGN_DIMENSIONS]));
  await runScript(conn, await readSql(import.meta.url, './campaigns/01_contacts.sql'));
  await runScript(conn, await readSql(import.meta.url, './campaigns/02_measure.sql'));

  const counts = await queryOne<{ rows: number; quarantined: number }>(
    conn,
    'SELECT count(*) AS rows, count(*) FILTER (WHERE reason IS NOT NULL) AS quarantined FROM checked_contacts',
  );
  const reasons = await queryRows<{ reason: string; rows: number }>(
    conn,
    'SELECT reason, count(*) AS rows FROM snapshot_contacts_quarantine GROUP BY reason ORDER BY rows DESC, reason',
  );
  const groups = await readCampaignGroups(conn, ['all', 'action']);
  const quarantineByReason = Object.fromEntries(reasons.map((r) => [r.reason, r.rows]));
  const loaded = counts.rows - counts.quarantined;
  const warning = contactLogWarning(params.month, { rows: counts.rows, loaded, quarantineByReason });
  return {
    measured: true,
    dispatchFrom: previous,
    contacts: {
      file,
      sha256,
      rows: counts.rows,
      loaded,
      quarantined: counts.quarantined,
      quarantineByReason,
      contactedControls: groups.find((g) => g.dimension === 'all')?.contactedControls ?? 0,
    },
    ...(warning ? { warning } : {}),
    interval: CAMPAIGN_MEASUREMENT.interval,
    minArmSubscribers: CAMPAIGN_MEASUREMENT.minArmSubscribers,
    overall: groups.find((g) => g.dimension === 'all') as CampaignGroup,
    byAction: groups.filter((g) => g.dimension === 'action'),
  };
}

/** Below this share of usable rows a contact log is most likely the wrong file: the measurement warns. */
export const CONTACT_LOG_MIN_USED_SHARE = 0.5;

/**
 * The warning stored with a measurement whose contact log is mostly (or wholly) unusable, e.g.
 * "0 of 144 contact-log rows were used (141 x contact_date: outside the run month 2026-11; 3 x
 * …): is this the log of the contacts made in 2026-11?"; undefined for a log that is mostly usable.
 */
export function contactLogWarning(
  month: string,
  contacts: { rows: number; loaded: number; quarantineByReason: Record<string, number> },
): string | undefined {
  const { rows, loaded, quarantineByReason } = contacts;
  if (rows > 0 && loaded >= rows * CONTACT_LOG_MIN_USED_SHARE) return undefined;
  const question = `is this the log of the contacts made in ${month}?`;
  if (rows === 0) return `the contact log has no rows: ${question}`;
  const reasons = Object.entries(quarantineByReason)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([reason, n]) => `${n} x ${reason}${reason === CONTACT_QUARANTINE_REASONS.outsideMonth ? ` ${month}` : ''}`);
  return `${loaded} of ${rows} contact-log rows were used (${reasons.join('; ')}): ${question}`;
}

/** Rows of snapshot_campaigns (or a campaigns.parquet read into that name) in its order, camel-cased. */
export async function readCampaignGroups(
  conn: DuckDBConnection,
  dimensions: readonly CampaignDimension[] = CAMPAIGN_DIMENSIONS,
): Promise<CampaignGroup[]> {
  const rows = await queryRows<Record<string, unknown>>(
    conn,
    'SELECT * FROM snapshot_campaigns WHERE list_contains($dimensions, dimension)',
    { dimensions: listValue([...dimensions]) },
  );
  return rows.map(
    (row) =>
      Object.fromEntries(
        Object.entries(row).map(([key, value]) => [
          key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()),
          value,
        ]),
      ) as unknown as CampaignGroup,
  );
}

/** Every row of a published snapshot's campaigns.parquet (for `segflow campaigns show`). */
export async function readPublishedCampaigns(snapshotPath: string): Promise<CampaignGroup[]> {
  return withConnection(':memory:', async (conn) => {
    await setVariable(conn, 'campaigns_file', join(snapshotPath, 'campaigns.parquet'));
    await conn.run("CREATE TEMP TABLE snapshot_campaigns AS SELECT * FROM read_parquet(getvariable('campaigns_file'))");
    return readCampaignGroups(conn);
  });
}

function lastDay(month: string): string {
  const [year, monthNo] = month.split('-').map(Number);
  const day = new Date(Date.UTC(year, monthNo, 0)).getUTCDate();
  return `${month}-${String(day).padStart(2, '0')}`;
}
