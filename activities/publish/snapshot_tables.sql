-- The tables a snapshot publishes. Needs features, segments, segment_names, scores (run DB)
-- and operation_grid(value_tier, stable, priority, retention_style), stable_threshold(score).
-- Rollups sum DECIMALs: exact, so a rerun writes byte-identical files.
CREATE OR REPLACE TEMP MACRO exact(x) AS x::DECIMAL(18, 6);
-- With a pseudonym key bound, ids are published as keyed hashes: stable across snapshots made
-- with the same key (so diffs still join), meaningless without it.
CREATE OR REPLACE TEMP MACRO published_id(id) AS
  CASE WHEN getvariable('pseudonym_key') IS NULL THEN id ELSE sha256(getvariable('pseudonym_key') || ':' || id) END;

-- One row per subscriber active in the run month: segment, churn score, value, stability, action.
CREATE OR REPLACE TEMP TABLE snapshot_subscribers AS
SELECT
  published_id(f.subscriber_id) AS subscriber_id,
  strftime(f.as_of, '%Y-%m') AS "month",
  s.segment_id,
  n.segment_name,
  round(sc.churn_score, 6) AS churn_score,
  sc.risk_band,
  f.value_tier,
  f.high_value,
  f.star_grade,
  f.stability_score,
  f.stability_score >= t.score AS stable,
  g.priority AS operation_priority,
  g.retention_style,
  f.arpu, f.mou, f.dou, f.sms, f.monetary, f.frequency, f.recency_days,
  f.payment_delay_avg, f.complaints_recent,
  f.mou_trend, f.dou_trend, f.spend_trend, f.recharge_trend,
  f.tenure_months, f.contract_months_left, f.sticky_services, f.call_circle, f.premium_number,
  f.plan, f.region, f.grid
FROM (SELECT * FROM features WHERE purpose = 'score') f
JOIN segments s USING (row_idx)
JOIN segment_names n USING (segment_id)
JOIN scores sc USING (row_idx)
CROSS JOIN stable_threshold t
JOIN operation_grid g ON g.value_tier = f.value_tier AND g.stable = (f.stability_score >= t.score)
ORDER BY f.subscriber_id;

-- Rows that broke the input contract, with where they came from and why.
CREATE OR REPLACE TEMP TABLE snapshot_quarantine AS
SELECT source_file, file_row, published_id(subscriber_id) AS subscriber_id, "month", reason
FROM quarantine
ORDER BY source_file, file_row;

-- Segment profiles.
CREATE OR REPLACE TEMP TABLE snapshot_segments AS
SELECT
  segment_id,
  any_value(segment_name) AS segment_name,
  count(*) AS subscribers,
  count(*) / sum(count(*)) OVER () AS subscriber_share,
  (sum(exact(arpu)) / sum(sum(exact(arpu))) OVER ())::DOUBLE AS revenue_share,
  avg(exact(arpu))::DOUBLE AS arpu, avg(exact(mou))::DOUBLE AS mou, avg(exact(dou))::DOUBLE AS dou,
  avg(exact(sms))::DOUBLE AS sms, avg(exact(mou_trend))::DOUBLE AS mou_trend,
  avg(tenure_months)::DOUBLE AS tenure_months, avg(exact(stability_score))::DOUBLE AS stability_score,
  avg(exact(churn_score))::DOUBLE AS mean_churn_score,
  count(*) FILTER (WHERE risk_band = 'high') AS high_risk_subscribers,
  count(*) FILTER (WHERE high_value) AS high_value_subscribers
FROM snapshot_subscribers
GROUP BY segment_id
ORDER BY segment_id;

-- Per-grid rollup for grid managers (seed 004).
CREATE OR REPLACE TEMP TABLE snapshot_grids AS
SELECT
  region,
  grid,
  count(*) AS subscribers,
  sum(exact(mou))::DOUBLE AS mou,
  sum(exact(dou))::DOUBLE AS dou,
  sum(exact(arpu))::DOUBLE AS revenue,
  count(*) FILTER (WHERE risk_band = 'high') AS high_risk_subscribers,
  count(*) FILTER (WHERE risk_band = 'high' AND value_tier IN ('key', 'high')) AS high_value_at_risk
FROM snapshot_subscribers
GROUP BY region, grid
ORDER BY region, grid;
