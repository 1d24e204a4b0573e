import { join } from 'node:path';
import { listValue, type DuckDBConnection } from '@duckdb/node-api';
import { CONTACT_QUARANTINE_REASONS } from '../data/contacts-contract';
import {
  CAMPAIGN_DIMENSIONS,
  CAMPAIGN_MEASUREMENT,
  CONTACT_CHANNELS,
  CONTACT_OUTCOMES,
  type CampaignDimension,
} from '../domain/campaigns';
import { RECOMMENDED_PRODUCTS } from '../domain/actions';
import { closestName } from '../domain/closest-name';
import { count } from '../domain/decimals';
import { InputFileError, SnapshotIntegrityError } from '../domain/errors';
import { addMonths, firstDay } from '../domain/month';
import type { RunParams } from '../domain/params';
import { hashAgainstRecorded, hashFile } from '../store/hashing';
import { versionDir, type StoreConfig } from '../store/layout';
import { listVersions, readManifest } from '../store/snapshots';
import type { SnapshotRef } from '../store/layout';
import { queryOne, queryRows, readSql, runScript, setVariable, withConnection } from './duckdb';
import type { CampaignGroup, CampaignMetrics, HoldOutWeights, ListFit, UnknownChannel } from './campaign-metrics';
import { findDispatchedList, MAPPING_DOCS, readContactsMapping, viewRawContacts } from './contact-log';
import { findUnreadableInRunMonth } from './features';
import { assertWithin } from './load';
import { dateSql } from './load-sql';
import { readPreviousManifest } from './segment-history';

/**
 * Each run of spaces and '_' as one space: a channel as the log's text is compared, whatever the
 * spacing it was typed with (normalised-text.sql's normalised_text does the same in SQL, and also
 * trims and lower-cases).
 */
function singleSpaced(text: string): string {
  return text.replace(/[_\s]+/g, ' ');
}

/** A channel's single channels, lower case: split at 'and', ',', '+', '&' and '/'. */
function channelParts(channel: string): string[] {
  return singleSpaced(channel.toLowerCase())
    .split(/\s+and\s+|\s*[,+&/]\s*/)
    .map((part) => part.trim())
    .filter(Boolean);
}

/** The logged channels (with their rows) that are not channels segflow uses, each with the closest known one. */
function unknownChannels(
  logged: { channel: string; rows: number }[],
  listChannels: readonly string[] = [],
): UnknownChannel[] {
  const names = [...CONTACT_CHANNELS, ...listChannels];
  const known = new Set(names.flatMap(channelParts));
  const candidates = [...new Set([...names.map((n) => singleSpaced(n).trim()), ...known])];
  return logged
    .filter(({ channel }) => !channelParts(channel).every((part) => known.has(part)))
    .map(({ channel, rows }) => {
      const suggestion = closestName(singleSpaced(channel).trim(), candidates);
      return { channel, rows, ...(suggestion ? { suggestion } : {}) };
    });
}

/** How many of a log's unknown channels a warning names; the manifest's contacts.unknownChannels keeps every one. */
const CHANNELS_NAMED = 3;

/** Contact-log rows naming another action than the list's, by logged and listed action. */
type ActionDiffers = {
  logged_action: string;
  listed_action: string;
  rows: number;
  /** The logged action is another product segflow recommends: another offer, not other words. */
  segflow_product: boolean;
};

/**
 * The warnings of a log whose rows name another action than the list's, or channels segflow does
 * not use (one line for all of them), e.g. "7 rows: channel 'outbund call' is not a known channel
 * (did you mean 'outbound call'?); …". The measurement is by the list's action and channel either
 * way. A logged action that is another of segflow's products was another offer, which no mapping
 * makes the list's; the warnings of words segflow does not know name the mapping's field for them.
 */
function loggedValuesWarnings(actionDiffers: ActionDiffers[], channels: UnknownChannel[]): string[] {
  const warnings: string[] = [];
  const otherOffers = actionDiffers.filter((d) => d.segflow_product);
  const otherWords = actionDiffers.filter((d) => !d.segflow_product);
  const differing = (pairs: ActionDiffers[]) => {
    const rows = pairs.reduce((sum, d) => sum + d.rows, 0);
    const named = pairs
      .slice(0, 3)
      .map((d) => `${count(d.rows)} x '${d.logged_action}' where the list recommends '${d.listed_action}'`);
    const rowsName = `${count(rows)} contact-log ${rows === 1 ? 'row names' : 'rows name'}`;
    const itIs = rows === 1 ? 'it is' : 'they are';
    const measured = `${itIs} measured under the list's action (intent to treat)`;
    return { rowsName, pairs: `(${named.join('; ')}${pairs.length > 3 ? '; …' : ''})`, measured };
  };
  if (otherOffers.length > 0) {
    const { rowsName, pairs, measured } = differing(otherOffers);
    warnings.push(
      `${rowsName} another of segflow's products than the list recommends to the subscriber ` +
        `${pairs}: another offer than the list's was made (or the teams worked from another ` +
        `version of the list: --param dispatched names it); ${measured}, so the list's ` +
        "action's uplift includes what the other offer did, and the other product's does not",
    );
  }
  if (otherWords.length > 0) {
    const { rowsName, pairs, measured } = differing(otherWords);
    warnings.push(
      `${rowsName} another action than the list recommends to the subscriber ${pairs}: ` +
        `${measured}; a log that writes the list's actions in words of its own maps them in ` +
        `the contact-log mapping's "actions" (${MAPPING_DOCS})`,
    );
  }
  if (channels.length > 0) {
    const rows = channels.reduce((sum, c) => sum + c.rows, 0);
    const rowCount = (n: number) => `${count(n)} ${n === 1 ? 'row' : 'rows'}`;
    const guess = (c: UnknownChannel) => (c.suggestion ? `did you mean '${c.suggestion}'?` : undefined);
    const remedy = `the channel breakdown is by the list's channel; map the log's own words to segflow's channels in the contact-log mapping's "channels" (${MAPPING_DOCS})`;
    const [only] = channels;
    if (channels.length === 1)
      warnings.push(
        `${rowCount(rows)}: channel '${only.channel}' is not a known channel${only.suggestion ? ` (${guess(only)})` : ''}; ${remedy}`,
      );
    else {
      const named = channels
        .slice(0, CHANNELS_NAMED)
        .map((c) => `'${c.channel}' (${[rowCount(c.rows), guess(c)].filter(Boolean).join('; ')})`);
      const more = channels.length - CHANNELS_NAMED;
      warnings.push(
        `${count(rows)} contact-log rows name ${channels.length} channels segflow does not use: ${named.join(', ')}${more > 0 ? ` … and ${more} more` : ''}; ${remedy}`,
      );
    }
  }
  return warnings;
}

/**
 * The error rate of the intervals: the whole list's is a 95% interval (CAMPAIGN_MEASUREMENT.z), and
 * the groups of each breakdown share one (Bonferroni: each at 1 - CAMPAIGN_ALPHA / the breakdown's
 * groups read), so that with no effect some group of a breakdown reads significant in about 5% of
 * campaigns (00_measure_macros.sql). Read one by one at 95%, some action did in a sixth of generated
 * campaigns without effect (docs/campaigns.md, "Reading many groups").
 */
export const CAMPAIGN_ALPHA = 0.05;

/** How a measurement's intervals are computed: the manifest's `interval`, printed by `campaigns show` and the report. */
export const CAMPAIGN_INTERVAL = `${CAMPAIGN_MEASUREMENT.interval} for the whole list; for the groups of each breakdown, simultaneous 95% intervals over those large enough to read (Bonferroni: each at 1 - 0.05 / their number, interval_level in the parquet file), so that with no effect some group of a breakdown reads significant in about one campaign in twenty, not one in five`;

/** Every warning of a measurement, from `warnings` or, in an older manifest, `warning`. */
export function campaignWarnings(metrics: CampaignMetrics | undefined): string[] {
  if (!metrics?.measured) return [];
  return metrics.warnings ?? (metrics.warning ? [metrics.warning] : []);
}

export interface CampaignRequest {
  params: RunParams;
  /**
   * Last month's snapshot (the one this run's segment ids came from), or null: its dispatch list
   * is measured unless `params.dispatched` names another version. A reproduction passes the
   * version the original matched to, so the list chosen by default is the same again.
   */
  previous: SnapshotRef | null;
  /** The store it lives in. */
  previousStore: StoreConfig;
  /**
   * The fits the original measurement recorded (a reproduction's): a version of the measured
   * month retired since can no longer be read, so its fit is taken from here.
   */
  recordedFits?: ListFit[];
  /** Where a contact log in another encoding than UTF-8 is copied as UTF-8 (the run's folder). */
  workDir: string;
  /** Where to read the contact log, when not at `params.contacts` (a reproduction's copy from the snapshot). */
  contactsReadFrom?: string;
  /** Where to read the contact-log mapping, when not at `params.contactsMapping` (a reproduction's copy). */
  contactsMappingReadFrom?: string;
  /** A reproduction: the log and its mapping read as the run read them, without checks younger than it. */
  reproducing?: boolean;
}

/**
 * A snapshot's dispatch list's control group: 'none' when the list has no control column
 * (published before control groups), 'empty' when nobody on it was held out (published with
 * controlShare=0), 'held out' when there is one, against which a contact log can be measured.
 */
async function controlGroupOf(conn: DuckDBConnection, snapshotDir: string): Promise<'none' | 'empty' | 'held out'> {
  await setVariable(conn, 'dispatch_file', join(snapshotDir, 'dispatch.parquet'));
  const columns = await queryRows<{ column_name: string }>(
    conn,
    "DESCRIBE SELECT * FROM read_parquet(getvariable('dispatch_file'))",
  ).catch(() => []);
  if (!columns.some((c) => c.column_name === 'control')) return 'none';
  const held = await queryOne<{ held: number }>(
    conn,
    "SELECT count(*) FILTER (WHERE control) AS held FROM read_parquet(getvariable('dispatch_file'))",
  );
  return held.held > 0 ? 'held out' : 'empty';
}

/**
 * Whether a snapshot's dispatch list holds a control group (at least one subscriber held out),
 * against which a contact log can be measured.
 */
export async function hasControlGroup(conn: DuckDBConnection, snapshotDir: string): Promise<boolean> {
  return (await controlGroupOf(conn, snapshotDir)) === 'held out';
}

/**
 * Why a list that holds nobody out cannot be measured, e.g. "2026-10/v1's list was published with
 * controlShare=0 (no control group); a later month's run with a controlShare above 0 can be
 * measured" (its manifest's controlShare, when it can be read).
 */
async function emptyControlGroupReason(store: StoreConfig, list: SnapshotRef): Promise<string> {
  const name = `${list.month}/v${list.version}`;
  const share = await readManifest(store, list.month, list.version)
    .then((manifest) => manifest.params.controlShare)
    .catch(() => undefined);
  if (share === 0)
    return `${name}'s list was published with controlShare=0 (no control group); a later month's run with a controlShare above 0 can be measured`;
  return `${name}'s list holds nobody out (no control group${share === undefined ? '' : `, though published with controlShare=${share}: too small a list for one`}); a later month's list with a control group can be measured`;
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
  const { params, previousStore } = request;
  if (!params.contacts) return undefined;
  const chosen = await chooseDispatchList(params, request.previous, previousStore);
  if ('reason' in chosen) return { measured: false, reason: chosen.reason };
  const previous: SnapshotRef = { month: chosen.month, version: chosen.version };
  const listFolder = versionDir(previousStore, previous.month, previous.version);
  const dispatchFile = join(listFolder, 'dispatch.parquet');
  const listName = `${previous.month}/v${previous.version}`;
  // the list as published: its manifest's sha256 of dispatch.parquet (the follow-up a month later
  // checks the same file against the sha256 this measurement records)
  const listManifest = await readPreviousManifest(previousStore, previous);
  const published = listManifest?.outputs.find((output) => output.file === 'dispatch.parquet')?.sha256;
  const hashed = await hashAgainstRecorded(dispatchFile, published);
  if ('error' in hashed)
    throw new InputFileError(`cannot read the dispatch list of ${listName}: ${hashed.error.message.split('\n')[0]}`);
  if (hashed.changed)
    throw new SnapshotIntegrityError(
      `the dispatch list of ${listName}, ${dispatchFile}, has changed since it was published (${hashed.changed}, by its manifest): measured, it would credit or blame the campaign by subscribers who were not on the list or in its control group as published. Nothing was published. 'segflow audit verify' names the changed file; put the published file back (from a backup) and run again`,
    );
  const dispatchSha256 = hashed.sha256;
  const controlGroup = await controlGroupOf(conn, listFolder);
  if (controlGroup === 'none')
    return {
      measured: false,
      reason: `the dispatch list of ${previous.month} v${previous.version} has no control group (published before control groups)`,
    };
  if (controlGroup === 'empty')
    return { measured: false, reason: await emptyControlGroupReason(previousStore, previous) };
  await readDispatchList(conn, 'previous_dispatch', dispatchFile);
  const holdOutWeights = await prepareHoldOutWeights(conn, 'previous_dispatch', listManifest?.params?.controlShare);

  const file = params.contacts;
  const readFrom = request.contactsReadFrom ?? file;
  if (dataRoot && !request.contactsReadFrom) await assertWithin(dataRoot, file);
  const { sha256 } = await hashFile(readFrom).catch((error: Error) => {
    throw new InputFileError(`cannot read the contact log ${readFrom}: ${error.message}`);
  });
  const mappingPath = params.contactsMapping;
  if (dataRoot && mappingPath && !request.contactsMappingReadFrom) await assertWithin(dataRoot, mappingPath);
  const mapping = mappingPath
    ? await readContactsMapping(mappingPath, request.contactsMappingReadFrom ?? mappingPath, {
        asRecorded: request.reproducing,
      })
    : undefined;
  await viewRawContacts(conn, readFrom, {
    encoding: params.contactsEncoding,
    workDir: request.workDir,
    mapping: mapping?.mapping,
    asRecorded: request.reproducing,
  });
  await setVariable(conn, 'contacts_file', file);
  await setVariable(conn, 'month_start', firstDay(params.month));
  await setVariable(conn, 'month_end', lastDay(params.month));
  await setVariable(conn, 'contact_outcomes', listValue([...CONTACT_OUTCOMES]));
  await setVariable(conn, 'reason_missing_id', CONTACT_QUARANTINE_REASONS.missingId);
  await setVariable(conn, 'reason_bad_date', CONTACT_QUARANTINE_REASONS.badDate);
  await setVariable(conn, 'reason_outside_month', CONTACT_QUARANTINE_REASONS.outsideMonth);
  await setVariable(conn, 'reason_unknown_subscriber', CONTACT_QUARANTINE_REASONS.unknownSubscriber);
  // a mapping's dateFormat is the one way its days are read: a day it does not match is quarantined
  const dateFormat = mapping?.mapping.dateFormat;
  if (dateFormat !== undefined) await setVariable(conn, 'contact_date_format', dateFormat);
  await conn.run(
    `CREATE OR REPLACE TEMP MACRO contact_day(t) AS ${dateFormat !== undefined ? "try_strptime(trim(t), getvariable('contact_date_format'))::DATE" : `coalesce(${dateSql('t')}, TRY_CAST(t AS TIMESTAMP)::DATE)`}`,
  );
  // the mapping's words for outcomes, channels and actions, as typed (01_contacts.sql folds them as it folds the log's)
  await conn.run(
    'CREATE OR REPLACE TEMP TABLE contact_mapped_words (contract_column VARCHAR, word VARCHAR, segflow_word VARCHAR)',
  );
  const mappedWords = { outcome: 'outcomes', channel: 'channels', action: 'actions' } as const;
  for (const [column, field] of Object.entries(mappedWords))
    for (const [word, segflowWord] of Object.entries(mapping?.mapping[field] ?? {}))
      await conn.run('INSERT INTO contact_mapped_words VALUES ($column, $word, $segflowWord)', {
        column,
        word,
        segflowWord,
      });
  await runScript(conn, await readSql(import.meta.url, './campaigns/normalised-text.sql'));
  await runScript(conn, await readSql(import.meta.url, './campaigns/01_contacts.sql'));
  const counts = await queryOne<{ rows: number; quarantined: number }>(
    conn,
    'SELECT count(*) AS rows, count(*) FILTER (WHERE reason IS NOT NULL) AS quarantined FROM checked_contacts',
  );
  const reasons = await queryRows<{ reason: string; rows: number }>(
    conn,
    'SELECT reason, count(*) AS rows FROM snapshot_contacts_quarantine GROUP BY reason ORDER BY rows DESC, reason',
  );
  const quarantineByReason = Object.fromEntries(reasons.map((r) => [r.reason, r.rows]));
  const loaded = counts.rows - counts.quarantined;
  const unreadOutcomes = await queryRows<{ outcome: string; rows: number }>(
    conn,
    // one value whatever its case and spacing ('No answer', 'no answer'), as typed first
    `SELECT any_value(outcome_unread ORDER BY file_row) AS outcome, count(*) AS rows FROM checked_contacts
     WHERE reason IS NULL AND outcome_unread IS NOT NULL GROUP BY normalised_text(outcome_unread) ORDER BY rows DESC, outcome`,
  );
  const logWarning = contactLogWarning(params.month, { rows: counts.rows, loaded, quarantineByReason }, dateFormat);
  // a log that is mostly the wrong file says nothing of how many were kept per contact
  await setVariable(conn, 'kept_per_contact_readable', logWarning === undefined);
  await setVariable(conn, 'min_logged_subscribers', CAMPAIGN_MEASUREMENT.minLoggedSubscribers);
  await prepareMeasureStep(conn, params.month);
  await runScript(conn, await readSql(import.meta.url, './campaigns/02_measure.sql'));
  await setVariable(conn, 'recommended_products', listValue(Object.values(RECOMMENDED_PRODUCTS)));
  await runScript(conn, await readSql(import.meta.url, './campaigns/03_log_checks.sql'));
  const actionDiffers = await queryRows<ActionDiffers>(conn, 'SELECT * FROM contact_action_differs');
  const listChannels = await queryRows<{ channel: string }>(
    conn,
    'SELECT DISTINCT channel FROM previous_dispatch WHERE channel IS NOT NULL ORDER BY channel',
  );
  const channels = unknownChannels(
    await queryRows<{ channel: string; rows: number }>(conn, 'SELECT * FROM contact_channels'),
    listChannels.map((c) => c.channel),
  );

  const groups = await readCampaignGroups(conn, ['all', 'action']);
  const overall = groups.find((g) => g.dimension === 'all') as CampaignGroup;
  const fits = chosen.chosenBy === 'latest' ? await listFits(conn, previousStore, previous, request.recordedFits) : [];
  const warnings = [
    logWarning ?? partialLogWarning(overall),
    dispatchedListWarning(previous, fits),
    unreadOutcomesWarning(unreadOutcomes),
    contactedControlsWarning(overall),
    ...loggedValuesWarnings(actionDiffers, channels),
  ].filter((w): w is string => w !== undefined);
  const outcomesUnread = unreadOutcomes.reduce((sum, o) => sum + o.rows, 0);
  return {
    measured: true,
    dispatchFrom: { ...previous, sha256: dispatchSha256, chosenBy: chosen.chosenBy },
    contacts: {
      file,
      sha256,
      ...(mapping && mappingPath ? { mapping: { file: mappingPath, sha256: mapping.sha256 } } : {}),
      rows: counts.rows,
      loaded,
      quarantined: counts.quarantined,
      quarantineByReason,
      contactedControls: overall.contactedControls,
      ...(outcomesUnread > 0 ? { outcomesUnread } : {}),
      actionDiffers: actionDiffers.reduce((sum, d) => sum + d.rows, 0),
      unknownChannels: channels,
    },
    ...(warnings.length ? { warnings } : {}),
    ...(fits.length ? { listFits: fits } : {}),
    interval: CAMPAIGN_INTERVAL,
    holdOutWeights,
    minArmSubscribers: CAMPAIGN_MEASUREMENT.minArmSubscribers,
    minLoggedSubscribers: CAMPAIGN_MEASUREMENT.minLoggedSubscribers,
    ...(logWarning ? { keptPer100Withheld: KEPT_PER_100_WITHHELD } : {}),
    overall,
    byAction: groups.filter((g) => g.dimension === 'action'),
  };
}

/**
 * A dispatch list's dispatch.parquet as table `table` on `conn` (a list without regions or
 * priorities, a hand-made one, gets empty such columns: its grids are the grids of one region,
 * each one control stratum).
 */
export async function readDispatchList(conn: DuckDBConnection, table: string, file: string): Promise<void> {
  await setVariable(conn, 'dispatch_list_file', file);
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE ${table} AS SELECT * FROM read_parquet(getvariable('dispatch_list_file'))`,
  );
  const columns = await queryRows<{ column_name: string }>(conn, `DESCRIBE ${table}`);
  if (!columns.some((c) => c.column_name === 'region'))
    await conn.run(`ALTER TABLE ${table} ADD COLUMN region VARCHAR`);
  if (!columns.some((c) => c.column_name === 'operation_priority'))
    await conn.run(`ALTER TABLE ${table} ADD COLUMN operation_priority INTEGER`);
}

/**
 * Sets what the measure step needs to weight the subscribers of the dispatch list in table `list`
 * (campaign_list_subscribers, 00_measure_macros.sql): session variables control_share and
 * control_strata_by_grid. A list ranked per grid, region by region mixed (its contact_rank runs
 * past a region's subscribers of the grid), was drawn per grid too: session 35 moved both to
 * (region, grid) at once.
 */
export async function prepareHoldOutWeights(
  conn: DuckDBConnection,
  list: string,
  controlShare: number | undefined,
): Promise<HoldOutWeights> {
  const columns = await queryRows<{ column_name: string }>(conn, `DESCRIBE ${list}`);
  const { byGrid } = columns.some((c) => c.column_name === 'contact_rank')
    ? await queryOne<{ byGrid: boolean }>(
        conn,
        `SELECT coalesce(bool_or(ranks > listed), false) AS "byGrid"
         FROM (SELECT max(contact_rank) AS ranks, count(*) AS listed FROM ${list} GROUP BY region, grid)`,
      )
    : { byGrid: false };
  await setVariable(conn, 'control_share', controlShare ?? null);
  await setVariable(conn, 'control_strata_by_grid', byGrid);
  return {
    controlShare: controlShare ?? null,
    strata: byGrid ? 'grid, operation priority' : 'region, grid, operation priority',
  };
}

/**
 * What the measure step (campaigns/00_measure_macros.sql) needs on `conn`, which holds this
 * month's snapshot_subscribers: its settings, table unreadable_in_run_month of `month` and the
 * macros campaign_list_subscribers and campaign_groups.
 */
export async function prepareMeasureStep(conn: DuckDBConnection, month: string): Promise<void> {
  await setVariable(conn, 'z', CAMPAIGN_MEASUREMENT.z);
  await setVariable(conn, 'alpha', CAMPAIGN_ALPHA);
  await setVariable(conn, 'min_arm_subscribers', CAMPAIGN_MEASUREMENT.minArmSubscribers);
  await setVariable(conn, 'dimensions', listValue([...CAMPAIGN_DIMENSIONS]));
  await setVariable(conn, 'run_month', month);
  await findUnreadableInRunMonth(conn);
  await runScript(conn, await readSql(import.meta.url, './campaigns/00_measure_macros.sql'));
}

/**
 * The list to measure: the one `params.dispatched` names, or else `previous` (the version this
 * run's segment ids were matched to, the latest of last month when the run started). A reason
 * instead when there is none.
 */
async function chooseDispatchList(
  params: RunParams,
  previous: SnapshotRef | null,
  store: StoreConfig,
): Promise<(SnapshotRef & { chosenBy: 'dispatched' | 'latest' }) | { reason: string }> {
  const lastMonth = addMonths(params.month, -1);
  const named = await findDispatchedList(store, params);
  if (named) return 'reason' in named ? named : { ...named, chosenBy: 'dispatched' };
  if (!previous || previous.month !== lastMonth)
    return { reason: `no snapshot of ${lastMonth} to measure its dispatch list` };
  return { ...previous, chosenBy: 'latest' };
}

/**
 * The contact log (checked_contacts on `conn`) against the dispatch list of every version of the
 * measured month up to the measured one (later versions did not exist when the run started:
 * leaving them out keeps a reproduction's report the same). A version in `recorded` that is no
 * longer in the store (retired since) keeps its recorded fit, for the same reason. Empty when the
 * month has one version.
 */
async function listFits(
  conn: DuckDBConnection,
  store: StoreConfig,
  measured: SnapshotRef,
  recorded: ListFit[] = [],
): Promise<ListFit[]> {
  const versions = (await listVersions(store, measured.month)).filter((v) => v <= measured.version);
  if (!versions.includes(measured.version)) versions.push(measured.version);
  const gone = recorded.filter((fit) => !versions.includes(fit.version));
  if (versions.length + gone.length < 2) return [];
  const fits: ListFit[] = [...gone];
  for (const version of versions) {
    const file = join(versionDir(store, measured.month, version), 'dispatch.parquet');
    await setVariable(conn, 'fit_dispatch_file', file);
    const sha256 = await hashFile(file).then(
      (hashed) => hashed.sha256,
      () => undefined,
    );
    const fit = await queryOne<Omit<ListFit, 'version' | 'sha256'>>(
      conn,
      `SELECT count(*) AS rows,
              count(d.subscriber_id) AS "onList",
              count(c.action) AS "withAction",
              count(*) FILTER (WHERE normalised_text(c.action) = normalised_text(d.recommended_product)) AS "actionMatches"
       FROM (SELECT * FROM checked_contacts WHERE reason IS NULL OR reason = getvariable('reason_unknown_subscriber')) c
       LEFT JOIN (SELECT DISTINCT subscriber_id, recommended_product FROM read_parquet(getvariable('fit_dispatch_file'))) d
         USING (subscriber_id)`,
    ).catch(() => undefined); // a version whose list cannot be read (retired as it was read) is left out
    if (fit) fits.push({ version, ...fit, ...(sha256 ? { sha256 } : {}) });
  }
  return fits.sort((a, b) => a.version - b.version);
}

/**
 * The warning of a measurement whose list was chosen by default (no `dispatched`) in a month with
 * more than one version: which version was measured, the others, how well the log fits each, and
 * the parameter that names another. Undefined when the month has one version, or when every other
 * version's dispatch list is the measured one byte for byte (the same sha256: a rerun that changed
 * nothing on the list), which is no ambiguity.
 */
export function dispatchedListWarning(measured: SnapshotRef, allFits: ListFit[]): string | undefined {
  const own = allFits.find((f) => f.version === measured.version);
  const fits = allFits.filter(
    (f) => f.version === measured.version || !own?.sha256 || !f.sha256 || f.sha256 !== own.sha256,
  );
  if (fits.length < 2) return undefined;
  const score = (f: ListFit) => (f.withAction > 0 ? f.actionMatches : f.onList);
  const best = fits.reduce((a, b) => (score(b) > score(a) ? b : a), own ?? fits[0]);
  const others = fits.filter((f) => f.version !== measured.version).map((f) => `v${f.version}`);
  const same = allFits.filter((f) => !fits.includes(f)).map((f) => `v${f.version}`);
  const byAction = fits.some((f) => f.withAction > 0);
  const list = `${measured.month}/v${measured.version}`;
  const reference = own ?? fits[0];
  const detail = fits.map((f) => `v${f.version} ${count(score(f))}`).join(', ');
  // the rows checked against each list: those used here and those whose subscriber is not on the measured list
  const checked =
    reference.rows > reference.onList
      ? `; the rows checked are the ${count(reference.rows)} with an id and a date in the month: the ${count(reference.onList)} used here and ${count(reference.rows - reference.onList)} whose subscriber is not on ${list}'s list`
      : '';
  const measure = byAction
    ? `log rows naming the action the list recommends, of the ${count(reference.withAction)} with an action: ${detail}${checked}`
    : `log rows whose subscriber is on the list, of the ${count(reference.rows)} with an id and a date in the month: ${detail}`;
  const identical = same.length ? ` (${same.join(', ')}: the same dispatch list, byte for byte)` : '';
  const head = `measured against the dispatch list of ${list}, the latest version when this run started${identical}; ${measured.month} also has ${others.join(', ')}`;
  if (best.version !== measured.version)
    return `${head}, and the contact log fits ${measured.month}/v${best.version} better (${measure}): if v${best.version} was the list dispatched, run again with --param dispatched=${measured.month}/v${best.version}`;
  const tied = fits
    .filter((f) => f.version !== measured.version && score(f) === score(best))
    .map((f) => `v${f.version}`);
  const fit = tied.length ? `as well as ${tied.join(', ')}` : 'best';
  return `${head}; the contact log fits ${list}, the one measured, ${fit} (${measure}); --param dispatched=${measured.month}/vN names the list that was dispatched`;
}

/** Below this share of usable rows a contact log is most likely the wrong file: the measurement warns. */
const CONTACT_LOG_MIN_USED_SHARE = 0.5;

/**
 * The warning stored with a measurement whose contact log is mostly (or wholly) unusable, e.g.
 * "0 of 144 contact-log rows were used (141 x contact_date: outside the run month 2026-11; 3 x
 * …): is this the log of the contacts made in 2026-11?"; undefined for a log that is mostly usable.
 */
function contactLogWarning(
  month: string,
  contacts: { rows: number; loaded: number; quarantineByReason: Record<string, number> },
  /** The contact-log mapping's dateFormat, which a day "not a valid date" did not match. */
  dateFormat?: string,
): string | undefined {
  const { rows, loaded, quarantineByReason } = contacts;
  if (rows > 0 && loaded >= rows * CONTACT_LOG_MIN_USED_SHARE) return undefined;
  const wrongFile = `is this the log of the contacts made in ${month}?`;
  if (rows === 0) return `the contact log has no rows: ${wrongFile}`;
  const sorted = Object.entries(quarantineByReason).sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  const reasons = sorted.map(
    ([reason, n]) => `${count(n)} x ${reason}${reason === CONTACT_QUARANTINE_REASONS.outsideMonth ? ` ${month}` : ''}`,
  );
  const commonest = sorted[0]?.[0] ?? '';
  const question =
    commonest === CONTACT_QUARANTINE_REASONS.badDate && dateFormat !== undefined
      ? `do the days match the contact-log mapping's dateFormat "${dateFormat}"? (contact_date_text in contacts_quarantine.parquet shows each as typed)`
      : MOSTLY_QUARANTINED_QUESTIONS[commonest];
  return `${count(loaded)} of ${count(rows)} contact-log rows were used (${reasons.join('; ')}): ${question ?? wrongFile}`;
}

/** What to ask of a log whose rows were mostly quarantined for one reason, by that reason (else: is it the month's log?). */
const MOSTLY_QUARANTINED_QUESTIONS: Record<string, string> = {
  [CONTACT_QUARANTINE_REASONS.badDate]:
    'write contact_date as a day with the year first (2026-06-05, 2026/6/5, 2026年6月5日): a day written 05/06/2026 could be May or June, and is not read unless a contact-log mapping (contactsMapping) gives its dateFormat, e.g. "%d/%m/%Y" (contact_date_text in contacts_quarantine.parquet shows each as typed)',
  [CONTACT_QUARANTINE_REASONS.missingId]: 'is subscriber_id filled in, and is it the column holding the ids?',
  [CONTACT_QUARANTINE_REASONS.unknownSubscriber]:
    "are these ids written as the dispatch list writes them, and is it the log of that list's contacts?",
};

/** Above this share of the control group found in the contact log, the measurement warns that the control group was contacted. */
const CONTACTED_CONTROLS_WARN_SHARE = 0.1;

/**
 * The warning of a log that records a contact for more than CONTACTED_CONTROLS_WARN_SHARE of the
 * control group: they stay in the control arm (intent to treat), so the uplift measures the list
 * against a control group that was partly contacted too. Undefined below that share.
 */
function contactedControlsWarning(overall: CampaignGroup): string | undefined {
  const { contactedControls: contacted, controlSubscribers: held } = overall;
  if (held === 0 || contacted <= held * CONTACTED_CONTROLS_WARN_SHARE) return undefined;
  return `the contact log records a contact for ${count(contacted)} of the ${count(held)} subscribers held out (${Math.round((100 * contacted) / held)}%): they stay in the control group (intent to treat), so the uplift compares the list with a control group that was partly contacted too, and says less than the contacts did (or more, had a contact driven some away); tell the teams to leave out the subscribers the list marks control`;
}

/**
 * The warning of a log whose rows used give outcomes that are none of CONTACT_OUTCOMES, e.g. "93
 * contact-log rows give an outcome that is none of accepted, declined, not reached ('no answer' x
 * 93): ...". Such rows are contacts whose outcome is unknown. Undefined when there are none.
 */
function unreadOutcomesWarning(unread: { outcome: string; rows: number }[]): string | undefined {
  const rows = unread.reduce((sum, o) => sum + o.rows, 0);
  if (rows === 0) return undefined;
  const values = unread.slice(0, 3).map((o) => `'${o.outcome}' x ${count(o.rows)}`);
  return `${count(rows)} contact-log ${rows === 1 ? 'row gives an outcome' : 'rows give outcomes'} that ${rows === 1 ? 'is' : 'are'} none of ${CONTACT_OUTCOMES.join(', ')} (${values.join(', ')}${unread.length > 3 ? ', …' : ''}): counted as contacts whose outcome is unknown (acceptance is of the outcomes known); write one of those three words, map the log's words onto them in a contact-log mapping's outcomes (contactsMapping), or leave the outcome empty`;
}

/** Why kept per 100 contacts is given for no group of a measurement whose log is mostly unusable. */
const KEPT_PER_100_WITHHELD =
  'the contact log is mostly unusable (see the warning), so the share of the list it records as contacted says nothing';

/**
 * The warning of a log that records a contact for fewer than CAMPAIGN_MEASUREMENT.minLoggedShare
 * of the list's targeted subscribers, e.g. "the contact log records a contact for 281 of the 1,225
 * targeted subscribers (23%): ...". Such a log may be part of the month's contacts (one team's
 * file), and kept per 100 contacts, which divides the list's uplift by the share logged, is then
 * too large in size, whatever its sign. Undefined for a log that covers most of the list.
 */
function partialLogWarning(overall: CampaignGroup): string | undefined {
  const { contactedSubscribers: logged, targetedSubscribers: targeted } = overall;
  if (targeted === 0 || logged >= targeted * CAMPAIGN_MEASUREMENT.minLoggedShare) return undefined;
  return `the contact log records a contact for ${count(logged)} of the ${count(targeted)} targeted subscribers (${Math.round((100 * logged) / targeted)}%): if the teams contacted more than it records (one team's file, say), kept per 100 contacts is too large in size (too many kept, or too many lost), as it divides the list's uplift by the share logged: give every team's contacts in one file`;
}

/** The tables of campaign groups: the measurement's, the follow-up's, and a published file's rows. */
export type CampaignGroupTable = 'snapshot_campaigns' | 'snapshot_campaign_follow_up' | 'published_campaign_groups';

/**
 * Rows of a table of campaign groups on `conn` (the measurement's snapshot_campaigns, the
 * follow-up's snapshot_campaign_follow_up, or a published file: readPublishedGroups) in its order,
 * camel-cased; only those of `dimensions` when given.
 */
export async function readGroupRows<T extends { dimension: string }>(
  conn: DuckDBConnection,
  table: CampaignGroupTable,
  dimensions?: readonly string[],
): Promise<T[]> {
  const rows = dimensions
    ? await queryRows<Record<string, unknown>>(
        conn,
        `SELECT * FROM ${table} WHERE list_contains($dimensions, dimension)`,
        { dimensions: listValue([...dimensions]) },
      )
    : await queryRows<Record<string, unknown>>(conn, `SELECT * FROM ${table}`);
  return rows.map(
    (row) =>
      Object.fromEntries(
        Object.entries(row).map(([key, value]) => [
          key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()),
          value,
        ]),
      ) as unknown as T,
  );
}

/**
 * Every row of a published snapshot's file of campaign groups (campaigns.parquet,
 * campaigns_followup.parquet), as readGroupRows gives them (for `segflow campaigns show`).
 */
export async function readPublishedGroups<T extends { dimension: string }>(
  snapshotPath: string,
  file: string,
): Promise<T[]> {
  return withConnection(':memory:', async (conn) => {
    await setVariable(conn, 'campaign_groups_file', join(snapshotPath, file));
    await conn.run(
      "CREATE TEMP TABLE published_campaign_groups AS SELECT * FROM read_parquet(getvariable('campaign_groups_file'))",
    );
    return readGroupRows<T>(conn, 'published_campaign_groups');
  });
}

/** Rows of snapshot_campaigns (the measurement's groups) in its order, camel-cased. */
export function readCampaignGroups(
  conn: DuckDBConnection,
  dimensions: readonly CampaignDimension[] = CAMPAIGN_DIMENSIONS,
): Promise<CampaignGroup[]> {
  return readGroupRows<CampaignGroup>(conn, 'snapshot_campaigns', dimensions);
}

function lastDay(month: string): string {
  const [year, monthNo] = month.split('-').map(Number);
  const day = new Date(Date.UTC(year, monthNo, 0)).getUTCDate();
  return `${month}-${String(day).padStart(2, '0')}`;
}
