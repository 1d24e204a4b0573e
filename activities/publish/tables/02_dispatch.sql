-- Per grid, the subscribers to contact, most urgent first: at churn risk, or high value and
-- unstable (seed 004: grid managers work from this list). dispatchOrder 'revenueAtRisk' ranks by
-- churn probability x ARPU instead of operation priority. Reasons in words for the agent.
CREATE OR REPLACE TEMP TABLE snapshot_dispatch AS
SELECT
  s.region,
  s.grid,
  row_number() OVER (
    PARTITION BY s.grid
    ORDER BY CASE WHEN a.dispatch_order = 'revenueAtRisk' THEN 0 ELSE s.operation_priority END,
             CASE WHEN a.dispatch_order = 'revenueAtRisk' THEN s.revenue_at_risk END DESC,
             s.churn_score DESC, s.subscriber_id
  ) AS contact_rank,
  s.subscriber_id, s.segment_name, s.operation_priority, s.churn_score, s.risk_band, s.revenue_at_risk,
  s.reason_words AS churn_reasons, s.tags,
  s.retention_style, s.recommended_product, s.channel, s.contact_moment
FROM snapshot_subscribers s CROSS JOIN action_settings a
WHERE s.risk_band <> 'low' OR s.operation_priority <= a.dispatch_max_priority
ORDER BY s.grid, contact_rank;
