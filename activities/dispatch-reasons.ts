/**
 * Exact reasons for the subscribers on the dispatch list. The churn stage gives every scored
 * subscriber reasons by path contributions (compiled-model.ts: one walk per tree, linear in its
 * depth), which can name a feature whose exact SHAP value lowers the risk, most often for a
 * low-risk subscriber. The subscribers a grid manager reads reasons for, the dispatch
 * list (a few percent of them), get exact TreeSHAP values (ml/tree-shap.ts) instead, at
 * publishing, where the list is known: it depends on value tiers the churn stage does not set.
 *
 * An analyst's rerun scored by the same stored ensemble (ensemble-cache.ts) takes the reasons a
 * run before it found for its list's subscribers from the stage cache (stage dispatch-reasons,
 * keyed by the scores' key and this code) and explains only the subscribers new on its list:
 * each subscriber's values depend on its own features and the model alone. Those it explains are
 * stored as the next link of the key's chain (artifacts are never replaced), so a rerun that
 * returns to a list explained before walks nobody.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listValue, type DuckDBConnection } from '@duckdb/node-api';
import type { ReusedArtifact, StageCacheAccess, StageCacheUse } from '../store/artifacts';
import { linkOrCopy } from '../store/files';
import { canonicalJson, hashFile, sha256 } from '../store/hashing';
import { STAGE_CACHE_FORMAT } from '../store/stage-cache';
import type { Signer } from '../store/signing';
import { lookUpArtifact, storeArtifact } from './artifact-store';
import { pinCodeHash } from './code-identity';
import { scoringCodeHash } from './ensemble-cache';
import { mlCodeFiles } from './ml/code-hash';
import { largestByColumn, reasonTable, writeReasons, type RowReasons } from './churn-reasons';
import { fillNumericGaps, reasonSlots } from './churn-features';
import { checkpoint } from './context';
import { queryOne, readSql, runScript, setVariable, viewParquet } from './duckdb';
import { rowMajorValues } from './ml/compiled-model';
import type { BoostedModel } from './ml/boosted-model';
import { readColumns, type ColumnSet } from './ml/columns';
import type { FeatureMeta } from './ml/feature-matrix';
import { SHAP_MAX_DEPTH, ShapWalk, shapTables, shapTablesFit } from './ml/tree-shap';
import { readExplainer, scoredTableFile, type ExplainerCache } from './stage-outputs';

const DISPATCH_REASONS_FILE = 'dispatch_reasons.parquet';
/**
 * Every subscriber whose reasons are stored, by row_idx: a subscriber with no positive
 * contribution has no row of reasons, yet needs no walk again.
 */
const EXPLAINED_ROWS_FILE = 'explained_rows.parquet';
/** The stored reasons this run took from the stage cache (a file per link), and those it explained itself. */
const storedReasonsFile = (link: number) => `dispatch_reasons_stored_${link}.parquet`;
const storedRowsFile = (link: number) => `explained_rows_stored_${link}.parquet`;
const NEW_REASONS_FILE = 'dispatch_reasons_new.parquet';
/**
 * Links of one scores' stored reasons a run takes at the most: the first list's, then one for
 * each later list with subscribers new on it. A run that finds them all explains its new
 * subscribers without storing them.
 */
const MAX_REASONS_LINKS = 8;
export const REASONS_STAGE = 'dispatch-reasons';
const REASONS_CODE = 'activities/dispatch-reasons.ts';
const ROOT = new URL('../', import.meta.url);

/** This module's code and the scoring code's (which words and tables the reasons): the stored reasons' code. */
export const reasonsCodeHash = pinCodeHash(
  'the dispatch list reasons code',
  () => [...mlCodeFiles(), fileURLToPath(new URL(REASONS_CODE, ROOT))],
  () => sha256(`${scoringCodeHash()}\n${REASONS_CODE}\n${sha256(readFileSync(new URL(REASONS_CODE, ROOT)))}`),
);

/** The key of the dispatch list reasons of the scores stored under `scoredKey` (ensemble-cache.ts): the chain's first link. */
function reasonsKey(scoredKey: string): string {
  return sha256(
    canonicalJson({ format: STAGE_CACHE_FORMAT, stage: REASONS_STAGE, scoredKey, code: reasonsCodeHash() }),
  );
}

/** The key of the link after the one stored under `key`: the subscribers a later list added. */
export function nextReasonsKey(key: string): string {
  return sha256(
    canonicalJson({ format: STAGE_CACHE_FORMAT, stage: REASONS_STAGE, after: key, code: reasonsCodeHash() }),
  );
}

/** How the published reasons were found (the manifest's `churnReasons`). */
export interface ReasonsMethod {
  method: string;
  /** Subscribers whose reasons are exact SHAP values: those on the dispatch list. */
  exactRows: number;
  /** Why none are, when none are. */
  notExact?: string;
  /** With a stage cache: the stored reasons taken (for all but `computed` of the exactRows), or stored. */
  cache?: StageCacheUse & { computed: number };
}

const PATH_ONLY = 'path contributions (Saabas), log-odds, top 3 positive';
const pathOnly = (notExact: string): ReasonsMethod => ({
  method: `${PATH_ONLY} (${notExact})`,
  exactRows: 0,
  notExact,
});

/** Rows explained between heartbeats. */
const BLOCK = 4_096;

/**
 * Replaces the connection's `churn_reasons` view by one where the dispatch list's subscribers
 * (view `dispatch_candidates`, publish/dispatch_candidates.sql) have exact SHAP reasons. Needs
 * the publishing views (features, segments, scores, churn_reasons, action_settings,
 * operation_grid) and the macros of publish/tables/00_macros.sql.
 */
export async function explainDispatchList(
  conn: DuckDBConnection,
  runDir: string,
  /** The publishing worker's signing key (StoreConfig.signer): the stored reasons it takes and stores are signed with it. */
  signer?: Signer,
): Promise<ReasonsMethod> {
  const explainer = await readExplainer(runDir, signer);
  // a churn stage of a version before exact reasons (a worker upgraded mid-run) left none
  if (!explainer) return pathOnly('scored before exact reasons were built');
  const { model, expressions, variables, meta, reasons } = explainer;
  if (expressions.length !== model.featureCount)
    throw new Error(
      `the churn stage's explainer reads ${expressions.length} features for a model of ${model.featureCount}`,
    );
  if (!shapTablesFit(model))
    return pathOnly(`boostDepth above ${SHAP_MAX_DEPTH}, deeper than exact SHAP tables are built for`);
  await runScript(conn, await readSql(import.meta.url, './publish/dispatch_candidates.sql'));
  const { rows } = await queryOne<{ rows: number }>(conn, 'SELECT count(*)::INTEGER AS rows FROM dispatch_candidates');
  const cache = explainer.cache ? await storedReasons(conn, runDir, explainer.cache) : null;
  // the list's subscribers whose reasons no earlier run stored
  const taken = (cache?.found.length ?? 0) > 0;
  const unexplained = taken ? 'ANTI JOIN stored_rows s USING (row_idx)' : '';
  const rowsToExplain = `FROM features f SEMI JOIN dispatch_candidates c USING (row_idx) ${unexplained} WHERE f.purpose = 'score'`;
  const { computed } = await queryOne<{ computed: number }>(
    conn,
    `SELECT count(*)::INTEGER AS computed ${rowsToExplain}`,
  );
  const from = `${rowsToExplain} ORDER BY f.row_idx`;
  // the categorical features' codes, as the churn stage read them
  for (const [variable, values] of Object.entries(variables)) await setVariable(conn, variable, listValue(values));
  // without stored reasons the file is written even for an empty list: the view reads it
  if (computed > 0 || !taken) {
    // one read: the rows' numbers, then the model's features
    const read = await readColumns(conn, [['row_idx', 'row_idx'], ...expressions], from, computed);
    const rowIdx = Int32Array.from(read.columns[0]);
    const current = { names: read.names.slice(1), columns: read.columns.slice(1), rows: computed };
    const gaps = fillNumericGaps(current.columns, meta);
    const table = reasonTable(await shapReasons(model, current, meta, reasons), current, meta, rowIdx, gaps);
    if (taken) await writeReasons(conn, table, join(runDir, NEW_REASONS_FILE), 'new_reasons');
    else await writeReasons(conn, table, join(runDir, DISPATCH_REASONS_FILE), 'dispatch_reasons');
  }
  if (taken) {
    // the stored rows of this list's subscribers, with those explained here
    await conn.run(
      `CREATE OR REPLACE TEMP VIEW dispatch_reasons AS
       SELECT s.* FROM stored_reasons s SEMI JOIN dispatch_candidates c USING (row_idx)
       ${computed > 0 ? 'UNION ALL FROM new_reasons' : ''}`,
    );
  }
  await viewParquet(conn, 'path_reasons', scoredTableFile(runDir, 'churn_reasons'), 'connection');
  await conn.run(
    `CREATE OR REPLACE TEMP VIEW churn_reasons AS
     SELECT * FROM dispatch_reasons
     UNION ALL
     SELECT p.* FROM path_reasons p ANTI JOIN dispatch_candidates c USING (row_idx)`,
  );
  const cacheUse = cache && (await storeReasons(conn, cache, runDir, rows, computed));
  return {
    method:
      'exact TreeSHAP (path-dependent) for the subscribers on the dispatch list, path contributions (Saabas) for the rest; log-odds, top 3 positive',
    exactRows: rows,
    ...(cacheUse ? { cache: cacheUse } : {}),
  };
}

/**
 * Each row's `reasons` largest positive exact SHAP values. Where a feature has a missing
 * indicator, every feature's value is read and the two are summed before the pick
 * (largestByColumn): the pair's reason is their sum, and it ranks by it, whether or not either
 * member alone would have been picked. Otherwise the kernel keeps the largest as it walks.
 */
async function shapReasons(
  model: BoostedModel,
  current: ColumnSet,
  meta: readonly FeatureMeta[],
  reasons: number,
): Promise<RowReasons> {
  const { rows } = current;
  const progress = (done: number) =>
    checkpoint({ stage: 'publish: dispatch list reasons', rowsDone: done, rowsTotal: rows });
  if (!meta.some((feature) => feature.missingOf !== undefined)) {
    const walk = new ShapWalk(shapTables(model), rowMajorValues(current.columns), reasonSlots(meta, reasons));
    for (let done = 0; done < rows; done += BLOCK) {
      await progress(done);
      walk.keepLargest(done, Math.min(rows, done + BLOCK));
    }
    return walk.largest();
  }
  const walk = new ShapWalk(shapTables(model), rowMajorValues(current.columns));
  const features = new Int16Array(rows * reasons).fill(-1);
  const contributions = new Float64Array(rows * reasons);
  for (let done = 0; done < rows; done += BLOCK) {
    await progress(done);
    const block = largestByColumn(walk.values(done, Math.min(rows, done + BLOCK)), current.names, meta, reasons);
    features.set(block.features, done * reasons);
    contributions.set(block.contributions, done * reasons);
  }
  return { features, contributions, k: reasons };
}

/**
 * What looking the stored reasons up found: the chain's links taken in order (with them, the
 * connection's views `stored_reasons` and `stored_rows` read them all), and the key this run's
 * subscribers would be stored under (the first link's, or the one after the last taken).
 */
interface ReasonsLookup {
  access: StageCacheAccess;
  month: string;
  key: string;
  found: ReusedArtifact[];
  /** The key of the last link taken. */
  lastKey?: string;
  reason: string;
}

async function storedReasons(
  conn: DuckDBConnection,
  runDir: string,
  { access, scoredKey, month }: ExplainerCache,
): Promise<ReasonsLookup> {
  const found: ReusedArtifact[] = [];
  let key = reasonsKey(scoredKey);
  let lastKey: string | undefined;
  let reason = 'the scores and this code unchanged';
  for (let link = 0; link < MAX_REASONS_LINKS; link++) {
    const stored = await lookUpArtifact(access.store, REASONS_STAGE, key, access.allowed, ['publish']);
    if ('missing' in stored) {
      if (link === 0) reason = stored.missing;
      break;
    }
    // links in the run folder, read there: a prune of the stage cache after this takes nothing from under them
    try {
      await linkOrCopy(join(stored.dir, DISPATCH_REASONS_FILE), join(runDir, storedReasonsFile(link)));
      await linkOrCopy(join(stored.dir, EXPLAINED_ROWS_FILE), join(runDir, storedRowsFile(link)));
    } catch (error) {
      // pruned between its check and the links: the links before it are taken, the rest explained here
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      if (link === 0) reason = 'stored reasons removed as they were taken: explaining again';
      break;
    }
    found.push(stored.artifact);
    lastKey = key;
    key = nextReasonsKey(key);
  }
  if (found.length > 0) {
    for (let link = 0; link < found.length; link++) {
      await viewParquet(conn, `stored_reasons_${link}`, join(runDir, storedReasonsFile(link)), 'connection');
      await viewParquet(conn, `stored_rows_${link}`, join(runDir, storedRowsFile(link)), 'connection');
    }
    // links stored apart can overlap (one stored again after a prune took it, beside a later one
    // made without it): a subscriber's reasons are the same in each, and are taken once
    const all = (view: string) =>
      found.map((_, link) => `SELECT *, ${link} AS link FROM ${view}_${link}`).join(' UNION ALL ');
    await conn.run(
      `CREATE OR REPLACE TEMP VIEW stored_reasons AS SELECT * EXCLUDE (link) FROM (${all('stored_reasons')})
       QUALIFY row_number() OVER (PARTITION BY row_idx ORDER BY link) = 1`,
    );
    await conn.run(`CREATE OR REPLACE TEMP VIEW stored_rows AS SELECT DISTINCT row_idx FROM (${all('stored_rows')})`);
  }
  return { access, month, key, found, ...(lastKey ? { lastKey } : {}), reason };
}

/**
 * Stores the subscribers this run explained for later runs: the whole list as the chain's first
 * link when none was stored, else those new on the list as the next link. Says what was taken and stored.
 */
async function storeReasons(
  conn: DuckDBConnection,
  lookup: ReasonsLookup,
  runDir: string,
  rows: number,
  computed: number,
): Promise<StageCacheUse & { computed: number }> {
  const { access, month, key, found, lastKey } = lookup;
  const taken = { computed, reused: found };
  if (found.length > 0 && computed === 0) return { ...taken, key: lastKey ?? key, reason: lookup.reason, stored: [] };
  const explainedHere = `${lookup.reason}; ${computed} subscribers new on the list explained here`;
  if (found.length >= MAX_REASONS_LINKS)
    return {
      ...taken,
      key: lastKey ?? key,
      reason: `${explainedHere}, not stored (${MAX_REASONS_LINKS} lists' reasons stored already)`,
      stored: [],
    };
  // an empty first list would make every later rerun explain its whole list
  if (rows === 0) return { ...taken, key, reason: `${lookup.reason}; an empty list is not stored`, stored: [] };
  // the first link holds the whole list; a later one those new on it
  const [reasonsFile, reasonsView, newRows] =
    found.length === 0
      ? [DISPATCH_REASONS_FILE, 'dispatch_reasons', 'SELECT row_idx FROM dispatch_candidates']
      : [
          NEW_REASONS_FILE,
          'new_reasons',
          'SELECT row_idx FROM dispatch_candidates ANTI JOIN stored_rows USING (row_idx)',
        ];
  const stored = await storeArtifact(
    access.store,
    { stage: REASONS_STAGE, key, producedBy: access.run, month, code: reasonsCodeHash() },
    {},
    async (staging) => {
      await linkOrCopy(join(runDir, reasonsFile), join(staging, DISPATCH_REASONS_FILE));
      await setVariable(conn, 'explained_rows_path', join(staging, EXPLAINED_ROWS_FILE));
      // COPY says how many rows it wrote (as writeSnapshotTable reads it): no second pass to count them
      const { Count: explained } = await queryOne<{ Count: number }>(
        conn,
        `COPY (${newRows} ORDER BY row_idx) TO (getvariable('explained_rows_path')) (FORMAT parquet)`,
      );
      const { rows: reasonRows } = await queryOne<{ rows: number }>(
        conn,
        `SELECT count(*)::INTEGER AS rows FROM ${reasonsView}`,
      );
      return [
        { file: DISPATCH_REASONS_FILE, rows: reasonRows, ...(await hashFile(join(staging, DISPATCH_REASONS_FILE))) },
        { file: EXPLAINED_ROWS_FILE, rows: explained, ...(await hashFile(join(staging, EXPLAINED_ROWS_FILE))) },
      ];
    },
  );
  const reason =
    found.length === 0
      ? lookup.reason
      : stored.stored
        ? `${explainedHere} and stored`
        : `${explainedHere}, not stored (${stored.error ?? 'that link was stored already'})`;
  return { ...taken, key, reason, stored: [stored] };
}
