import { readdir } from 'node:fs/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import { addMonths, firstDay } from '../domain/month';
import type { RunParams } from '../domain/params';
import { STABILITY_WEIGHTS, VALUE_TIER_SHARES } from '../domain/rules';
import { checkpoint } from './context';
import { queryOne, readSql, runScript, withConnection } from './duckdb';

export interface FeatureSummary {
  /** Subscribers scored this month (feature month = run month). */
  scoringRows: number;
  /** Subscribers with a known next-month outcome (feature month = run month - 1). */
  trainingRows: number;
  trainingChurnRate: number;
  seconds: number;
}

/** The feature SQL files, run in name order; each creates one table (dbt style). */
const FEATURE_SQL_DIR = new URL('./features/', import.meta.url);

/**
 * Computes the features table in the run database for two feature months: the run month
 * (to score) and the month before it (to train on, labelled by whether the subscriber was gone
 * the month after).
 */
export async function computeFeatures(dbPath: string, params: RunParams): Promise<FeatureSummary> {
  const started = performance.now();
  return withConnection(dbPath, async (conn) => {
    await writeFeatureSettings(conn, params);
    const files = (await readdir(FEATURE_SQL_DIR)).filter((name) => name.endsWith('.sql')).sort();
    for (const [index, file] of files.entries()) {
      await checkpoint({ stage: `features: ${file}`, done: index, total: files.length });
      await runScript(conn, await readSql(FEATURE_SQL_DIR.href, file));
    }
    await conn.run('DROP VIEW feature_window');
    const counts = await queryOne<{ scoring: number; training: number; churn_rate: number | null }>(
      conn,
      `SELECT count(*) FILTER (WHERE purpose = 'score') AS scoring,
              count(*) FILTER (WHERE purpose = 'train') AS training,
              avg(churned_next_month::INTEGER) FILTER (WHERE purpose = 'train') AS churn_rate
       FROM features`,
    );
    return {
      scoringRows: counts.scoring,
      trainingRows: counts.training,
      trainingChurnRate: counts.churn_rate ?? 0,
      seconds: (performance.now() - started) / 1000,
    };
  });
}

/** Feature months and rule settings as one-row tables, every value bound, never spliced. */
export async function writeFeatureSettings(conn: DuckDBConnection, params: RunParams): Promise<void> {
  await conn.run(
    `CREATE OR REPLACE TABLE feature_months AS
     SELECT * FROM (VALUES ($score_month::DATE, 'score'), ($train_month::DATE, 'train')) AS t(as_of, purpose)`,
    { score_month: firstDay(params.month), train_month: firstDay(addMonths(params.month, -1)) },
  );
  const w = STABILITY_WEIGHTS;
  await conn.run(
    `CREATE OR REPLACE TABLE feature_settings AS SELECT
       $history_months::INTEGER AS history_months,
       $key_share::DOUBLE AS key_share, $high_share::DOUBLE AS high_share, $mid_share::DOUBLE AS mid_share,
       $high_value_threshold::DOUBLE AS high_value_threshold,
       $tenure_cap_months::DOUBLE AS tenure_cap_months, $w_tenure::DOUBLE AS w_tenure,
       $w_contract::DOUBLE AS w_contract, $w_broadband::DOUBLE AS w_broadband,
       $w_family_bundle::DOUBLE AS w_family_bundle, $call_circle_cap::DOUBLE AS call_circle_cap,
       $w_call_circle::DOUBLE AS w_call_circle, $w_premium_number::DOUBLE AS w_premium_number`,
    {
      history_months: params.historyMonths,
      key_share: params.keyCustomerRevenueShare,
      high_share: Math.max(VALUE_TIER_SHARES.high, params.keyCustomerRevenueShare),
      mid_share: Math.max(VALUE_TIER_SHARES.mid, params.keyCustomerRevenueShare),
      high_value_threshold: params.highValueThreshold,
      tenure_cap_months: w.tenureCapMonths,
      w_tenure: w.tenure,
      w_contract: w.activeContract,
      w_broadband: w.broadband,
      w_family_bundle: w.familyBundle,
      call_circle_cap: w.callCircleCap,
      w_call_circle: w.callCircle,
      w_premium_number: w.premiumNumber,
    },
  );
}
