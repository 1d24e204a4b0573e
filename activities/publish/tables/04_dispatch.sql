-- Per grid (of its region: grid codes may repeat across regions, and a region's subscribers
-- without a grid are a list of their own), the subscribers to contact, most urgent first: at churn risk, or high value and
-- unstable (grid managers work from this list). dispatchOrder 'revenueAtRisk' ranks by
-- churn probability x ARPU instead of operation priority. Reasons in words for the agent.
-- control = true: held out, do not contact; next month's run compares their churn with the
-- contacted (activities/campaigns/00_measure_macros.sql, which weights each subscriber by its
-- chance of its arm: the floor below raises a small stratum's). Held out: every subscriber whose draw, a hash of
-- one text of month and subscriber id, falls below controlShare, so a rerun with other model
-- parameters keeps the same subscribers in control wherever they stay on the list; and in a grid x
-- priority stratum big enough for one but where nobody drew that low, the lowest draw, so every
-- grid manager keeps a control group. One text, not hash('control', month, id): DuckDB combines a
-- multi-argument hash as a month's constant against hash(id), so two months' groups were the same
-- subscribers or none of them; one text's hash draws each month apart.
CREATE OR REPLACE TEMP VIEW snapshot_dispatch AS
WITH listed AS (
  SELECT s.*, hash('control:' || s."month" || ':' || s.subscriber_id)::DOUBLE / 18446744073709551616.0 AS control_draw
  FROM snapshot_subscribers s CROSS JOIN action_settings a
  WHERE on_dispatch_list(s.risk_band, s.operation_priority, a.dispatch_max_priority)
), stratified AS (
  SELECT l.*,
    min(control_draw) OVER (PARTITION BY region, grid, operation_priority) AS stratum_min_draw,
    count(*) OVER (PARTITION BY region, grid, operation_priority) AS stratum_size
  FROM listed l
)
SELECT
  s.region,
  s.grid,
  row_number() OVER (
    PARTITION BY s.region, s.grid
    ORDER BY CASE WHEN a.dispatch_order = 'revenueAtRisk' THEN 0 ELSE s.operation_priority END,
             CASE WHEN a.dispatch_order = 'revenueAtRisk' THEN s.revenue_at_risk END DESC,
             s.churn_score DESC, s.subscriber_id
  ) AS contact_rank,
  s.subscriber_id, s.segment_name, s.operation_priority, s.churn_score, s.risk_band, s.revenue_at_risk,
  s.reason_words AS churn_reasons, s.tags,
  s.retention_style, s.recommended_product, s.channel, s.contact_moment,
  s.control_draw < a.control_share
    OR (s.control_draw = s.stratum_min_draw AND s.stratum_size * a.control_share >= 1) AS control
FROM stratified s CROSS JOIN action_settings a
ORDER BY s.region, s.grid, contact_rank;
