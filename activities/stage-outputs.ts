/**
 * What the clustering and churn stages leave for publishing. Both read the run database without
 * writing it, so the two can run at the same time, on one worker or two
 * (workflows/monthly-segmentation.ts); each leaves its rows as Parquet in the run folder, and
 * publishing (and tests) read them through views that last as long as their connection.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { SegmentAction } from '../domain/actions';
import { quoteIdent } from '../data/contract';
import { appendRows, queryOne, viewParquet } from './duckdb';
import type { BoostedModel } from './ml/boosted-model';
import type { FeatureMeta } from './ml/feature-matrix';
import type { StageCacheAccess } from '../store/artifacts';
import type { Signer } from '../store/signing';
import { fileExists } from '../store/files';

/** The churn stage's tables publishing reads: one Parquet file each. */
export const SCORED_TABLES = ['scores', 'churn_reasons'] as const;

/**
 * What the churn-scores artifact of the stage cache holds besides its evaluation: the scored
 * tables and the ensemble's calibrated scores of the holdout (`ensemble_holdout(training_row,
 * churn_score)`), from which the run's holdout table is built.
 */
export const STORED_SCORED_TABLES = [...SCORED_TABLES, 'ensemble_holdout'] as const;

/** The run folder's Parquet file of a scored table. */
export function scoredTableFile(runDir: string, table: (typeof STORED_SCORED_TABLES)[number]): string {
  return join(runDir, `${table}.parquet`);
}

/**
 * The churn models' holdout, `holdout(training_row, churned, churn_score, tree_score)`, written
 * by the churn stage (absent when it ran on an older worker): publishing gives it subscriber ids.
 */
export function holdoutFile(runDir: string): string {
  return join(runDir, 'holdout.parquet');
}

/** What explaining a scored subscriber again needs: the scoring model and how its features are read. */
export interface EnsembleExplainer {
  model: BoostedModel;
  /** Per model feature, its name and SQL over the features table (churn-features.ts). */
  expressions: [name: string, sql: string][];
  /** The session variables the SQL reads: each categorical feature's levels. */
  variables: Record<string, string[]>;
  meta: FeatureMeta[];
  /** Reasons kept per subscriber. */
  reasons: number;
  /** With a stage cache: where the list's reasons are stored for the scores' key (dispatch-reasons.ts). */
  cache?: ExplainerCache;
}

/** The stage cache as the churn stage had it, and the key of its scores. */
export interface ExplainerCache {
  access: StageCacheAccess;
  scoredKey: string;
  month: string;
}

const EXPLAINER_FILE = 'churn-ensemble-explainer.json';

/**
 * Written by the churn stage beside the run's database whenever the ensemble scores; publishing
 * reads it (dispatch-reasons.ts). Without the worker's signing key: a key never leaves the worker.
 */
export async function writeExplainer(runDir: string, explainer: EnsembleExplainer): Promise<void> {
  await writeFile(
    join(runDir, EXPLAINER_FILE),
    JSON.stringify(explainer, (name, value: unknown) => (name === 'signer' ? undefined : value)),
  );
}

/**
 * The churn stage's explainer, or null when it left none (a stage of an older version); its stage
 * cache with the signing key of the worker reading it (StoreConfig.signer), which may publish
 * where another worker scored.
 */
export async function readExplainer(runDir: string, signer?: Signer): Promise<EnsembleExplainer | null> {
  try {
    const explainer = JSON.parse(await readFile(join(runDir, EXPLAINER_FILE), 'utf8')) as EnsembleExplainer;
    const { cache } = explainer;
    return cache && signer
      ? { ...explainer, cache: { ...cache, access: { ...cache.access, store: { ...cache.access.store, signer } } } }
      : explainer;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** The clustering stage's `segments(row_idx, segment_id, distance)`. */
export function segmentsFile(runDir: string): string {
  return join(runDir, 'segments.parquet');
}

/**
 * Makes `conn` (on the run database at `dbPath`) read the stages' outputs as `segments`,
 * `scores` and `churn_reasons`, and the segments' names and actions (from the clustering
 * summary) as `segment_catalog`; `features` without the value labels publishing sets.
 */
export async function viewStageOutputs(
  conn: DuckDBConnection,
  dbPath: string,
  segments: readonly (SegmentAction & { segmentId: number; name: string })[],
): Promise<void> {
  const runDir = dirname(dbPath);
  // a run whose clustering ran before this version (an upgrade mid-run) has the table instead
  if (await fileExists(segmentsFile(runDir))) await viewParquet(conn, 'segments', segmentsFile(runDir), 'connection');
  for (const table of SCORED_TABLES) await viewParquet(conn, table, scoredTableFile(runDir, table), 'connection');
  await hideStoredValueLabels(conn);
  await conn.run(
    'CREATE OR REPLACE TEMP TABLE segment_catalog (segment_id INTEGER, segment_name VARCHAR, recommended_product VARCHAR, segment_channel VARCHAR, contact_moment VARCHAR)',
  );
  await appendRows(
    conn,
    'segment_catalog',
    segments.map((profile) => [
      profile.segmentId,
      profile.name,
      profile.recommendedProduct,
      profile.channel,
      profile.contactMoment,
    ]),
  );
}

/**
 * Features an earlier version computed (a worker upgraded mid-run) hold the value tier and the
 * high-value flag, which publishing now sets itself from the same parameters: a temporary view
 * of the same name hides them, so publishing reads the columns a run of this version has.
 */
async function hideStoredValueLabels(conn: DuckDBConnection): Promise<void> {
  const { database, labels } = await queryOne<{ database: string; labels: number }>(
    conn,
    `SELECT current_database() AS database,
            (SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main'
               AND table_name = 'features' AND column_name IN ('value_tier', 'high_value'))::INTEGER AS labels`,
  );
  if (labels === 0) return;
  await conn.run(
    `CREATE OR REPLACE TEMP VIEW features AS SELECT * EXCLUDE (value_tier, high_value) FROM ${quoteIdent(database)}.main.features`,
  );
}
