/**
 * Exact reasons for the subscribers on the dispatch list. The churn stage gives every scored
 * subscriber reasons by path contributions (compiled-model.ts: one walk per tree, linear in its
 * depth), which can name a feature whose exact SHAP value lowers the risk, most often for a
 * low-risk subscriber. The subscribers a grid manager reads reasons for, the dispatch
 * list (a few percent of them), get exact TreeSHAP values (ml/tree-shap.ts) instead, at
 * publishing, where the list is known: it depends on value tiers the churn stage does not set.
 */
import { join } from 'node:path';
import { listValue, type DuckDBConnection } from '@duckdb/node-api';
import { reasonTable, writeReasons } from './churn-reasons';
import { fillNumericGaps } from './churn-features';
import { checkpoint } from './context';
import { queryOne, readSql, runScript, setVariable, viewParquet } from './duckdb';
import { rowMajorValues } from './ml/compiled-model';
import { readColumns } from './ml/columns';
import { SHAP_MAX_DEPTH, ShapWalk, shapTables, shapTablesFit } from './ml/tree-shap';
import { readExplainer, scoredTableFile } from './stage-outputs';

const DISPATCH_REASONS_FILE = 'dispatch_reasons.parquet';

/** How the published reasons were found (the manifest's `churnReasons`). */
export interface ReasonsMethod {
  method: string;
  /** Subscribers whose reasons are exact SHAP values: those on the dispatch list. */
  exactRows: number;
  /** Why none are, when none are. */
  notExact?: string;
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
export async function explainDispatchList(conn: DuckDBConnection, runDir: string): Promise<ReasonsMethod> {
  const explainer = await readExplainer(runDir);
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
  // the categorical features' codes, as the churn stage read them
  for (const [variable, values] of Object.entries(variables)) await setVariable(conn, variable, listValue(values));
  const from = `FROM features f SEMI JOIN dispatch_candidates c USING (row_idx) WHERE f.purpose = 'score' ORDER BY f.row_idx`;
  // one read: the rows' numbers, then the model's features
  const read = await readColumns(conn, [['row_idx', 'row_idx'], ...expressions], from, rows);
  const rowIdx = Int32Array.from(read.columns[0]);
  const current = { names: read.names.slice(1), columns: read.columns.slice(1), rows };
  fillNumericGaps(current.columns, meta);
  const walk = new ShapWalk(shapTables(model), rowMajorValues(current.columns), reasons);
  for (let done = 0; done < rows; done += BLOCK) {
    await checkpoint({ stage: 'publish: dispatch list reasons', rowsDone: done, rowsTotal: rows });
    walk.keepLargest(done, Math.min(rows, done + BLOCK));
  }
  const table = reasonTable(walk.largest(), current, meta, rowIdx);
  await viewParquet(conn, 'path_reasons', scoredTableFile(runDir, 'churn_reasons'), 'connection');
  await writeReasons(conn, table, join(runDir, DISPATCH_REASONS_FILE), 'dispatch_reasons');
  await conn.run(
    `CREATE OR REPLACE TEMP VIEW churn_reasons AS
     SELECT * FROM dispatch_reasons
     UNION ALL
     SELECT p.* FROM path_reasons p ANTI JOIN dispatch_candidates c USING (row_idx)`,
  );
  return {
    method:
      'exact TreeSHAP (path-dependent) for the subscribers on the dispatch list, path contributions (Saabas) for the rest; log-odds, top 3 positive',
    exactRows: rows,
  };
}
