-- One row per subscriber active in the run month: segment, churn score, value, stability,
-- tags and the action (CPCT: product, channel, moment) with its priority. Revenue at risk is
-- churn probability x ARPU; churn_reasons the features that raised the score most (churn.ts).
-- The value tier (by the revenue share ranked above the subscriber, features/combined/01_value.sql)
-- and the high-value flag are set here from the run's parameters: they label subscribers and feed
-- no model, so a run that changes only them reuses the stored features (stage-cache.ts).
CREATE OR REPLACE TEMP VIEW snapshot_subscribers AS
WITH scored AS (
  SELECT f.*,
         value_tier(f.revenue_share_above, a.key_share, a.high_share, a.mid_share) AS value_tier,
         f.arpu >= a.high_value_threshold AS high_value,
         s.segment_id, c.segment_name, c.recommended_product, c.contact_moment AS segment_moment,
         sc.churn_score, sc.risk_band, f.stability_score >= a.stable_score AS stable,
         coalesce(r.churn_reasons, []) AS churn_reasons, coalesce(r.reason_words, []) AS reason_words
  FROM (SELECT * FROM features WHERE purpose = 'score') f
  JOIN segments s USING (row_idx)
  JOIN segment_catalog c USING (segment_id)
  JOIN scores sc USING (row_idx)
  LEFT JOIN churn_reasons r USING (row_idx)
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
  round(t.churn_score * t.arpu, 4) AS revenue_at_risk,
  t.churn_reasons,
  t.reason_words,
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
  -- every feature the models read, so each churn reason names a column of this table
  t.arpu, t.mou, t.dou, t.sms, t.monetary, t.frequency, t.recharge_amount, t.recency_days,
  t.payment_delay_avg, t.complaints_recent,
  t.mou_trend, t.dou_trend, t.spend_trend, t.recharge_trend, t.spend_slope_rel, t.spend_volatility, t.mou_volatility,
  t.tenure_months, t.contract_months_left, t.sticky_services, t.call_circle, t.premium_number,
  t.plan, t.region, t.grid,
  -- and the user's own features the models read, under the names rules and reasons give them
  -- (publish.ts viewUserFeatureValues; domain/snapshot-columns.ts lists the columns above)
  u.* EXCLUDE (row_idx)
FROM tagged t
CROSS JOIN action_settings a
JOIN operation_grid g ON g.value_tier = t.value_tier AND g.stable = t.stable
LEFT JOIN user_feature_values u ON u.row_idx = t.row_idx
-- id order: row_idx numbers the scored subscribers in id order (features/combined/01_value.sql),
-- and an integer key sorts faster than the id text
ORDER BY t.row_idx;
