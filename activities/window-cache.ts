/**
 * Reuse across months. A month's per-subscriber features (window aggregates, trends, stability:
 * everything before subscribers are ranked against each other) depend only on the usage rows of
 * that month's window. The run for month M scores M and trains on M-1; the run for M+1 trains on
 * M. So the run for M stores its scoring month's rows, and the run for M+1 takes them as its
 * training rows instead of aggregating that window again: half the feature SQL of a scheduled
 * run. Content-addressed like the stage cache (docs/reuse.md), and only where that is exact:
 * every input file lies in a month folder and every valid row in its own month's folder, so a
 * month's rows come from that month's files alone and validate the same in both runs.
 */
import { listValue, type DuckDBConnection } from '@duckdb/node-api';
import { join } from 'node:path';
import { addMonths } from '../domain/month';
import { SCORE_COMPONENTS, scoreSupport } from '../domain/rules';
import type { ReusedArtifact, StoredStages } from '../store/artifacts';
import { canonicalJson, hashFile, sha256 } from '../store/hashing';
import type { RunRef, StoreConfig } from '../store/layout';
import { STAGE_CACHE_FORMAT, type StageArtifact } from '../store/stage-cache';
import { linkOrCopy } from '../store/files';
import { checkpoint } from './context';
import { queryOne, queryRows, setVariable } from './duckdb';
import { monthFolderOf, type LoadSummary } from './load';
import { lookUpArtifact, storeArtifact } from './artifact-store';
import { stageCodeHash } from './stage-code';

/** cache/feature-month/<key>/: one month's per-subscriber features. */
export const FEATURE_MONTH_STAGE = 'feature-month';
const FEATURES_FILE = 'subscriber-features.parquet';

/** What the features activity needs to look up and store months (the worker's store, the run, --no-reuse). */
export interface FeatureMonthCache {
  store: StoreConfig;
  run: RunRef;
  allowed: boolean;
  load: Pick<
    LoadSummary,
    'format' | 'inputFiles' | 'rowsOutsideMonthFolder' | 'readingHash' | 'params' | 'inputColumns'
  >;
}

/** What the features stage did with stored months, for the audit log and the manifest. */
export interface FeatureMonthReuse {
  /** Keys of the training and the scoring month's rows (null: not eligible, see reason). */
  trainKey: string | null;
  scoreKey: string | null;
  /** The training month's stored rows, when the run used them. */
  reused: ReusedArtifact[];
  reason: string;
  /** The scoring month's rows stored for next month's run (null: not eligible). */
  stored: StoredStages | null;
}

/**
 * The key of month `asOf`'s per-subscriber features, or why they cannot be shared between runs:
 * the files of the months in its window (path and sha256), how rows are read (mapping, column
 * types, labels, input root), the window length, and the load and feature code.
 */
export function featureMonthKey(
  load: FeatureMonthCache['load'],
  asOf: string,
  code = stageCodeHash(),
): { key: string } | { ineligible: string } {
  if (load.format !== 'long') return { ineligible: 'a one-row-per-subscriber input has a single month' };
  const outside = load.inputFiles.filter((file) => monthFolderOf(file.path) === undefined);
  if (outside.length > 0)
    return { ineligible: `${outside.length} input file(s) are not in month folders (month=YYYY-MM/)` };
  if (load.rowsOutsideMonthFolder !== 0)
    return { ineligible: `${load.rowsOutsideMonthFolder} valid row(s) are not in their month's folder` };
  const first = addMonths(asOf, -(load.params.historyMonths - 1));
  const files = load.inputFiles
    .filter((file) => {
      const month = monthFolderOf(file.path) as string;
      return month >= first && month <= asOf;
    })
    .map((file) => ({ path: file.path, sha256: file.sha256 }));
  const absentScoreColumns = [
    ...new Set(
      (Object.keys(SCORE_COMPONENTS) as (keyof typeof SCORE_COMPONENTS)[]).flatMap((score) =>
        scoreSupport(score, load.inputColumns).absent.map((c) => c.column),
      ),
    ),
  ].sort();
  const key = sha256(
    canonicalJson({
      format: STAGE_CACHE_FORMAT,
      stage: FEATURE_MONTH_STAGE,
      asOf,
      historyMonths: load.params.historyMonths,
      files,
      reading: load.readingHash,
      // the stability score and star grade are taken over the components the whole input has
      // columns for (domain/rules.ts SCORE_COMPONENTS), which a later month's files may add
      ...(absentScoreColumns.length > 0 ? { absentScoreColumns } : {}),
      code,
    }),
  );
  return { key };
}

export interface TrainingMonth {
  key: string | null;
  /** The stored rows' files and manifest entry, when the run may use them. */
  found: { files: string[]; artifact: ReusedArtifact } | null;
  reason: string;
}

/** The training month's stored rows (the month before the run month), when allowed, eligible and intact. */
export async function findTrainingMonth(cache: FeatureMonthCache): Promise<TrainingMonth> {
  const month = addMonths(cache.load.params.month, -1);
  const keyed = featureMonthKey(cache.load, month);
  if ('ineligible' in keyed) return { key: null, found: null, reason: keyed.ineligible };
  const found = await lookUpArtifact(cache.store, FEATURE_MONTH_STAGE, keyed.key, cache.allowed, [`features ${month}`]);
  if ('missing' in found)
    return {
      key: keyed.key,
      found: null,
      reason: cache.allowed ? `${month}: ${found.missing.replace('this key', 'its window')}` : found.missing,
    };
  return {
    key: keyed.key,
    found: {
      files: found.artifact.files.map(({ file }) => join(found.dir, file)),
      artifact: found.artifact,
    },
    reason: `${month}'s features taken from the run that scored it: its window's files, mapping and code are unchanged`,
  };
}

/**
 * Stores the scoring month's rows for next month's run, when eligible: those of `table` (on
 * `conn`) with purpose 'score', or `files` that hold them and no other rows (linked, not copied:
 * the features stage writes them and removes its own names after). A store that cannot be
 * written is reported in the result (storeArtifact), not thrown.
 */
export async function storeScoringMonth(
  cache: FeatureMonthCache,
  conn: DuckDBConnection,
  source: { table: string } | { files: string[] },
): Promise<{ key: string | null; stored: StoredStages | null }> {
  const keyed = featureMonthKey(cache.load, cache.load.params.month);
  if ('ineligible' in keyed) return { key: null, stored: null };
  const stored = await storeArtifact(
    cache.store,
    {
      stage: FEATURE_MONTH_STAGE,
      key: keyed.key,
      producedBy: cache.run,
      month: cache.load.params.month,
      code: stageCodeHash(),
    },
    {},
    async (staging) => {
      await checkpoint({ stage: 'features: storing this month for next month' });
      if ('files' in source) return linkFiles(conn, source.files, staging);
      const path = join(staging, FEATURES_FILE);
      await setVariable(conn, 'feature_month_file', path);
      // the table name is one of the stage's own (never input). Rows in no set order (sorting took
      // ~0.25 s at 1M): the reader treats them as a set, and the key, not these bytes, names them.
      const { Count: rows } = await queryOne<{ Count: number }>(
        conn,
        `COPY (SELECT * FROM ${source.table} WHERE purpose = 'score') TO (getvariable('feature_month_file')) (FORMAT parquet)`,
      );
      return [{ file: FEATURES_FILE, rows, ...(await hashFile(path)) }];
    },
  );
  return { key: keyed.key, stored };
}

/** Links `files` into `staging` as subscriber-features-00.parquet, -01, ..., with their rows and hashes. */
async function linkFiles(conn: DuckDBConnection, files: string[], staging: string): Promise<StageArtifact['files']> {
  await setVariable(conn, 'feature_month_files', listValue(files));
  const counts = await queryRows<{ file_name: string; rows: bigint | number }>(
    conn,
    "SELECT file_name, num_rows AS rows FROM parquet_file_metadata(getvariable('feature_month_files'))",
  );
  const rowsOf = new Map(counts.map(({ file_name: name, rows }) => [name, Number(rows)]));
  const linked: StageArtifact['files'] = [];
  for (const [index, path] of files.entries()) {
    const file = `subscriber-features-${String(index).padStart(2, '0')}.parquet`;
    await linkOrCopy(path, join(staging, file));
    linked.push({ file, rows: rowsOf.get(path) ?? 0, ...(await hashFile(path)) });
  }
  return linked;
}
