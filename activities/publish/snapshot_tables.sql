-- The tables a snapshot publishes. Needs features, segments, segment_catalog, scores (run DB)
-- and the rule tables operation_grid and action_settings (activities/publish.ts).
-- Rollups sum DECIMALs: exact, so a rerun writes byte-identical files.
CREATE OR REPLACE TEMP MACRO exact(x) AS x::DECIMAL(18, 6);
-- With a pseudonym key bound, ids are published as keyed hashes: stable across snapshots made
-- with the same key (so diffs still join), meaningless without it.
CREATE OR REPLACE TEMP MACRO published_id(id) AS
  CASE WHEN getvariable('pseudonym_key') IS NULL THEN id ELSE sha256(getvariable('pseudonym_key') || ':' || id) END;

-- One row per subscriber active in the run month: segment, churn score, value, stability,
-- tags and the action (CPCT: product, channel, moment) with its priority.
CREATE OR REPLACE TEMP TABLE snapshot_subscribers AS
WITH scored AS (
  SELECT f.*, s.segment_id, c.segment_name, c.recommended_product, c.contact_moment AS segment_moment,
         sc.churn_score, sc.risk_band, f.stability_score >= a.stable_score AS stable
  FROM (SELECT * FROM features WHERE purpose = 'score') f
  JOIN segments s USING (row_idx)
  JOIN segment_catalog c USING (segment_id)
  JOIN scores sc USING (row_idx)
  CROSS JOIN action_settings a
), tagged AS (
  SELECT x.*,
    list_filter([
      CASE WHEN x.value_tier = 'key' OR x.high_value THEN 'VIP' END,
      CASE WHEN x.risk_band IN ('high', 'elevated') OR x.mou_trend < a.warning_mou_trend THEN 'warning' END,
      CASE WHEN x.tenure_months >= a.loyal_tenure AND x.stable AND x.risk_band = 'low' THEN 'loyal' END,
      CASE WHEN x.tenure_months < a.new_tenure THEN 'new' END,
      CASE WHEN x.returned_after_gap THEN 'won-back' END,
      CASE WHEN least(x.spend_trend, x.mou_trend) < a.declining_trend THEN 'declining' END
    ], tag -> tag IS NOT NULL) AS tags
  FROM scored x CROSS JOIN action_settings a
)
SELECT
  published_id(t.subscriber_id) AS subscriber_id,
  strftime(t.as_of, '%Y-%m') AS "month",
  t.segment_id,
  t.segment_name,
  round(t.churn_score, 6) AS churn_score,
  t.risk_band,
  t.value_tier,
  t.high_value,
  t.star_grade,
  t.stability_score,
  t.stable,
  t.tags,
  g.priority AS operation_priority,
  g.retention_style,
  t.recommended_product,
  g.channel,
  CASE
    WHEN list_contains(t.tags, 'warning') THEN a.moment_warning
    WHEN list_contains(t.tags, 'new') THEN a.moment_new
    WHEN list_contains(t.tags, 'declining') THEN a.moment_declining
    ELSE t.segment_moment
  END AS contact_moment,
  t.arpu, t.mou, t.dou, t.sms, t.monetary, t.frequency, t.recency_days,
  t.payment_delay_avg, t.complaints_recent,
  t.mou_trend, t.dou_trend, t.spend_trend, t.recharge_trend,
  t.tenure_months, t.contract_months_left, t.sticky_services, t.call_circle, t.premium_number,
  t.plan, t.region, t.grid
FROM tagged t
CROSS JOIN action_settings a
JOIN operation_grid g ON g.value_tier = t.value_tier AND g.stable = t.stable
ORDER BY t.subscriber_id;

-- Per grid, the subscribers to contact, most urgent first: at churn risk, or high value and
-- unstable (seed 004: grid managers work from this list).
CREATE OR REPLACE TEMP TABLE snapshot_dispatch AS
SELECT
  s.region,
  s.grid,
  row_number() OVER (PARTITION BY s.grid ORDER BY s.operation_priority, s.churn_score DESC, s.subscriber_id) AS contact_rank,
  s.subscriber_id, s.segment_name, s.operation_priority, s.churn_score, s.risk_band, s.tags,
  s.retention_style, s.recommended_product, s.channel, s.contact_moment
FROM snapshot_subscribers s CROSS JOIN action_settings a
WHERE s.risk_band <> 'low' OR s.operation_priority <= a.dispatch_max_priority
ORDER BY s.grid, contact_rank;

-- Rows that broke the input contract, with where they came from and why.
CREATE OR REPLACE TEMP TABLE snapshot_quarantine AS
SELECT source_file, file_row, published_id(subscriber_id) AS subscriber_id, "month", reason
FROM quarantine
ORDER BY source_file, file_row;

-- Segment profiles and each segment's action (CPCT).
CREATE OR REPLACE TEMP TABLE snapshot_segments AS
WITH profile AS (
  SELECT
    segment_id,
    count(*) AS subscribers,
    count(*) / sum(count(*)) OVER () AS subscriber_share,
    (sum(exact(arpu)) / sum(sum(exact(arpu))) OVER ())::DOUBLE AS revenue_share,
    avg(exact(arpu))::DOUBLE AS arpu, avg(exact(mou))::DOUBLE AS mou, avg(exact(dou))::DOUBLE AS dou,
    avg(exact(sms))::DOUBLE AS sms, avg(exact(mou_trend))::DOUBLE AS mou_trend,
    avg(tenure_months)::DOUBLE AS tenure_months, avg(exact(stability_score))::DOUBLE AS stability_score,
    avg(exact(churn_score))::DOUBLE AS mean_churn_score,
    count(*) FILTER (WHERE list_contains(tags, 'warning')) AS warning_subscribers,
    count(*) FILTER (WHERE risk_band = 'high') AS high_risk_subscribers,
    count(*) FILTER (WHERE high_value) AS high_value_subscribers
  FROM snapshot_subscribers
  GROUP BY segment_id
)
SELECT p.segment_id, c.segment_name, p.* EXCLUDE (segment_id),
       c.recommended_product, c.segment_channel AS channel, c.contact_moment
FROM profile p JOIN segment_catalog c USING (segment_id)
ORDER BY p.segment_id;

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
