/**
 * Checked months kept across runs (issue 17, item 2). The run for month M reads and checks the
 * usage of its whole window (eight months by default); the run for M+1 reads seven of the same
 * months again. So the load stores each month's checked rows (its valid rows and its quarantined
 * rows, as the load wrote them) under a key of that month's input files, and a later run whose
 * window holds the month takes them instead of reading the month's files: it reads and checks
 * only files whose month is new or whose content changed. Content-addressed like the stage cache
 * (docs/reuse.md), and only where that is exact: every input file lies in a month folder and
 * every row of it (valid or not) is of that month, so a month's rows, its duplicates and its
 * contract checks come from its own files alone, whatever the window.
 */
import { join, relative } from 'node:path';
import { listValue } from '@duckdb/node-api';
import { addMonths } from '../domain/month';
import { canonicalJson, hashFile, sha256 } from '../store/hashing';
import { cacheDir, usageMonthFile, type RunRef, type StoreConfig } from '../store/layout';
import { latestVersion, readManifest } from '../store/snapshots';
import type { ReusedArtifact } from '../store/artifacts';
import { linkOrCopy } from '../store/files';
import { checkpoint } from './context';
import { queryOne, queryRows, setVariable, withConnection } from './duckdb';
import {
  loadPartition,
  monthFolderOf,
  readingHash,
  type LoadPlan,
  type PartitionLoad,
  type StoredUsageMonth,
} from './load';
import { REUSE_TURNED_OFF, reusedArtifact, storeArtifact, verifiedArtifact } from './artifact-store';
import { stageCodeHash } from './stage-code';
import { STAGE_CACHE_FORMAT } from '../store/stage-cache';

/** cache/usage-month/<key>/: one month's checked rows. */
export const USAGE_MONTH_STAGE = 'usage-month';
const ROWS_FILE = 'usage.parquet';
const QUARANTINE_FILE = 'quarantine.parquet';

/** What the load needs to look up and store months: the worker's store, the run, and whether reuse is allowed (--no-reuse). */
export interface UsageMonthCache {
  store: StoreConfig;
  run: RunRef;
  allowed: boolean;
}

/**
 * The key of each window month that has input files, or why the plan's months cannot be shared:
 * the month's files (path and sha256), how rows are read (mapping, column types, labels, input
 * root, the user's feature columns), and the load code. Not the window: a month's rows pass the
 * same checks in every window that holds it (rows of another month are ruled out after the load).
 */
export function usageMonthKeys(
  plan: LoadPlan,
  code = stageCodeHash(),
): { keys: Map<string, string> } | { ineligible: string } {
  if (plan.partitionDbPaths.length > 1)
    return { ineligible: 'a partitioned run reads every month (each partition its share of the subscribers)' };
  if (plan.mapping.format !== 'long') return { ineligible: 'a one-row-per-subscriber input has a single month' };
  const outside = plan.inputFiles.filter((file) => monthFolderOf(file.path) === undefined);
  if (outside.length > 0)
    return { ineligible: `${outside.length} input file(s) are not in month folders (month=YYYY-MM/)` };
  const reading = readingHash(plan);
  const keys = new Map<string, string>();
  for (let month = plan.windowStart; month <= plan.windowEnd; month = addMonths(month, 1)) {
    const files = plan.inputFiles
      .filter((file) => monthFolderOf(file.path) === month)
      .map((file) => ({ path: file.path, sha256: file.sha256 }));
    if (files.length === 0) continue;
    keys.set(
      month,
      sha256(
        canonicalJson({
          format: STAGE_CACHE_FORMAT,
          stage: USAGE_MONTH_STAGE,
          month,
          files,
          reading,
          userFeatures: plan.userFeatures,
          code,
        }),
      ),
    );
  }
  return { keys };
}

/**
 * Loads the plan's single partition, taking every window month stored under its key (intact)
 * instead of reading its files, then stores the months it read for later runs. If a file it read
 * holds rows of another month, the stored months might miss a duplicate or a check against those
 * rows: it loads every month from its files instead, and stores none.
 */
export async function loadReusingMonths(cache: UsageMonthCache, plan: LoadPlan, index: number): Promise<PartitionLoad> {
  const keyed = usageMonthKeys(plan);
  if ('ineligible' in keyed) {
    const part = await loadPartition(plan, index);
    return { ...part, usageMonths: { keys: {}, reused: [], stored: [], reason: keyed.ineligible } };
  }
  const found = cache.allowed ? await findStoredMonths(cache.store, keyed.keys) : [];
  let part = await loadPartition(
    plan,
    index,
    found.map((month) => month.stored),
  );
  let reason = cache.allowed
    ? found.length > 0
      ? `${found.map((month) => month.stored.month).join(', ')} taken from earlier runs: their files, mapping and load code are unchanged`
      : 'no window month stored under its key'
    : REUSE_TURNED_OFF;
  // an earlier month read again where last month's snapshot read it too: its files changed since
  const changed = cache.allowed
    ? await changedSinceLastMonth(
        cache.store,
        plan,
        [...keyed.keys.keys()].filter((month) => !found.some((taken) => taken.stored.month === month)),
      )
    : null;
  let reused = found;
  if (found.length > 0 && part.foldersWithOtherMonths.length > 0) {
    part = await loadPartition(plan, index);
    reused = [];
    reason = `month folder(s) ${part.foldersWithOtherMonths.join(', ')} hold rows of another month: every month read from its files`;
  }
  if (changed) reason = `${reason}; ${changed}`;
  // a folder holding another month's rows touches that month too (which copy of a duplicate is
  // kept, for one): with any such folder no month is stored
  const taken = new Set(reused.map((month) => month.stored.month));
  const toStore = part.foldersWithOtherMonths.length > 0 ? [] : [...keyed.keys].filter(([month]) => !taken.has(month));
  const stored = await storeMonths(cache, plan, part, toStore);
  return {
    ...part,
    usageMonths: {
      keys: Object.fromEntries(keyed.keys),
      reused: reused.map((month) => month.artifact),
      stored,
      reason,
      ...(changed ? { inputChanged: changed } : {}),
    },
  };
}

/**
 * Which of `months` (read from their files) the previous month's latest snapshot read with other
 * files: a file changed, added or gone since. A scheduled run reads only its new month; an earlier
 * one read again means the input changed under the snapshots built on it, which can then no
 * longer be reproduced from it (`snapshots reproduce` names the file). Null when none did.
 */
export async function changedSinceLastMonth(
  store: StoreConfig,
  plan: LoadPlan,
  months: string[],
): Promise<string | null> {
  const lastMonth = addMonths(plan.windowEnd, -1);
  const version = await latestVersion(store, lastMonth);
  if (version === undefined) return null;
  const manifest = await readManifest(store, lastMonth, version).catch(() => null);
  // another input folder (an analyst's own extract) is no change of this one
  if (!manifest || manifest.params?.input !== plan.params.input) return null;
  const before = new Map(manifest.inputs.map((file) => [file.path, file.sha256]));
  const name = (path: string) => relative(join(path, '..', '..'), path);
  const notes: string[] = [];
  for (const month of months) {
    const earlier = manifest.inputs.filter((file) => monthFolderOf(file.path) === month).map((file) => file.path);
    if (earlier.length === 0) continue; // not in last month's window (the run month)
    const now = plan.inputFiles.filter((file) => monthFolderOf(file.path) === month);
    const differs = [
      ...now
        .filter((file) => before.has(file.path) && before.get(file.path) !== file.sha256)
        .map((f) => `${name(f.path)} changed`),
      ...now.filter((file) => !before.has(file.path)).map((file) => `${name(file.path)} is new`),
      ...earlier.filter((path) => !now.some((file) => file.path === path)).map((path) => `${name(path)} is gone`),
    ];
    if (differs.length > 0) notes.push(`${month}: ${differs.join(', ')}`);
  }
  return notes.length > 0
    ? `input changed since ${lastMonth}/v${version} read it (${notes.join('; ')}): those months were read again, and snapshots built on the earlier files can no longer be reproduced from the input`
    : null;
}

async function findStoredMonths(
  store: StoreConfig,
  keys: Map<string, string>,
): Promise<{ stored: StoredUsageMonth; artifact: ReusedArtifact }[]> {
  const found: { stored: StoredUsageMonth; artifact: ReusedArtifact }[] = [];
  for (const [month, key] of keys) {
    const dir = cacheDir(store, USAGE_MONTH_STAGE, key);
    const verified = await verifiedArtifact(dir, store.signer);
    if ('missing' in verified || !verified.artifact.load) continue;
    const { load } = verified.artifact;
    found.push({
      stored: {
        month,
        rowsFile: join(dir, ROWS_FILE),
        quarantineFile: join(dir, QUARANTINE_FILE),
        rowsLoaded: load.rowsLoaded,
        rowsQuarantined: load.rowsQuarantined,
        quarantineByReason: load.quarantineByReason,
      },
      artifact: reusedArtifact(verified.artifact, [`load ${month}`], verified.signedBy),
    });
  }
  return found;
}

/**
 * Stores each of `months`' checked rows from the loaded database: its usage file (a link) and
 * its files' quarantined rows, with the counts. Returns the months stored now (not those the
 * store held already, nor those it could not write: the run goes on without them).
 */
async function storeMonths(
  cache: UsageMonthCache,
  plan: LoadPlan,
  { dbPath, copiedMonths = [] }: PartitionLoad,
  months: [month: string, key: string][],
): Promise<string[]> {
  if (months.length === 0) return [];
  return withConnection(dbPath, async (conn) => {
    const stored: string[] = [];
    for (const [month, key] of months) {
      const inputs = plan.inputFiles.filter((file) => monthFolderOf(file.path) === month);
      const files = inputs.map((file) => file.path);
      // a copied month's file is its one input file, whose sha256 the plan has (and the copy was checked against)
      const copiedFrom = copiedMonths.includes(month) && inputs.length === 1 ? inputs[0] : null;
      const rowsFile = usageMonthFile(dbPath, month);
      await setVariable(conn, 'month_files', listValue(files));
      await setVariable(conn, 'month_rows_file', rowsFile);
      const { rows } = await queryOne<{ rows: number }>(
        conn,
        "SELECT count(*) AS rows FROM read_parquet(getvariable('month_rows_file'))",
      );
      const reasons = await queryRows<{ reason: string; rows: number }>(
        conn,
        "SELECT reason, count(*) AS rows FROM quarantine WHERE list_contains(getvariable('month_files'), source_file) GROUP BY reason ORDER BY reason",
      );
      const quarantined = reasons.reduce((sum, reason) => sum + reason.rows, 0);
      const result = await storeArtifact(
        cache.store,
        { stage: USAGE_MONTH_STAGE, key, producedBy: cache.run, month, code: stageCodeHash() },
        {
          load: {
            rowsRead: rows + quarantined,
            rowsLoaded: rows,
            rowsQuarantined: quarantined,
            quarantineByReason: Object.fromEntries(reasons.map((reason) => [reason.reason, reason.rows])),
            subscribersInMonth: rows,
            rowsOutsideMonthFolder: 0,
          },
        },
        async (staging) => {
          await checkpoint({ stage: `load: storing ${month}'s checked rows for later runs` });
          await linkOrCopy(rowsFile, join(staging, ROWS_FILE));
          await setVariable(conn, 'month_quarantine_file', join(staging, QUARANTINE_FILE));
          await conn.run(
            `COPY (SELECT * FROM quarantine WHERE list_contains(getvariable('month_files'), source_file) ORDER BY source_file, file_row)
             TO (getvariable('month_quarantine_file')) (FORMAT parquet)`,
          );
          return [
            {
              file: ROWS_FILE,
              rows,
              ...(copiedFrom
                ? { sha256: copiedFrom.sha256, bytes: copiedFrom.bytes }
                : await hashFile(join(staging, ROWS_FILE))),
            },
            { file: QUARANTINE_FILE, rows: quarantined, ...(await hashFile(join(staging, QUARANTINE_FILE))) },
          ];
        },
      );
      if (result.stored) stored.push(month);
    }
    return stored;
  });
}
