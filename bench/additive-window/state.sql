-- The window as additive per-subscriber state: sums, counts, sums of squares and of
-- months_ago x spend in the exact integer units of the feature SQL, a bit per month present, and
-- the recharge dates with their place in the window (a maximum does not subtract). Sums of
-- squares pass 2^53: DECIMAL(38, 0), which Parquet stores exactly (a HUGEINT column it stores as
-- DOUBLE). Every
-- subscriber with a row in the window, present in the feature month or not.
CREATE OR REPLACE TABLE window_state AS
SELECT
  as_of, subscriber_id,
  bit_or(1::UBIGINT << months_ago::UBIGINT) AS months_mask,
  count(*)::INTEGER AS active_months,
  sum(months_ago)::BIGINT AS ago_sum,
  sum(months_ago * months_ago)::BIGINT AS ago_sq_sum,
  sum(spend) AS spend_sum,
  sum(voice_minutes) AS voice_sum,
  sum(data_mb) AS data_sum,
  sum(-months_ago * spend) AS neg_ago_spend_sum,
  sum(spend::HUGEINT * spend::HUGEINT)::DECIMAL(38, 0) AS spend_sq_sum,
  sum(voice_minutes::HUGEINT * voice_minutes::HUGEINT)::DECIMAL(38, 0) AS voice_sq_sum,
  coalesce(sum(sms_count), 0)::BIGINT AS sms_sum,
  count(sms_count)::INTEGER AS sms_n,
  coalesce(sum(recharge_count), 0)::BIGINT AS recharges_sum,
  coalesce(sum(recharge_amount), 0) AS recharge_amount_sum,
  coalesce(sum(payment_delay_days), 0)::BIGINT AS delay_sum,
  count(payment_delay_days)::INTEGER AS delay_n,
  coalesce(sum(complaints) FILTER (WHERE months_ago < 3), 0)::BIGINT AS complaints_recent_sum,
  coalesce(sum(voice_minutes) FILTER (WHERE months_ago < 3), 0) AS voice_recent_sum,
  coalesce(sum(voice_minutes) FILTER (WHERE months_ago BETWEEN 3 AND 5), 0) AS voice_before_sum,
  coalesce(sum(data_mb) FILTER (WHERE months_ago < 3), 0) AS data_recent_sum,
  coalesce(sum(data_mb) FILTER (WHERE months_ago BETWEEN 3 AND 5), 0) AS data_before_sum,
  coalesce(sum(spend) FILTER (WHERE months_ago < 3), 0) AS spend_recent_sum,
  coalesce(sum(spend) FILTER (WHERE months_ago BETWEEN 3 AND 5), 0) AS spend_before_sum,
  coalesce(sum(recharge_count) FILTER (WHERE months_ago < 3), 0)::BIGINT AS recharges_recent_sum,
  count(recharge_count) FILTER (WHERE months_ago < 3)::INTEGER AS recharges_recent_n,
  coalesce(sum(recharge_count) FILTER (WHERE months_ago BETWEEN 3 AND 5), 0)::BIGINT AS recharges_before_sum,
  count(recharge_count) FILTER (WHERE months_ago BETWEEN 3 AND 5)::INTEGER AS recharges_before_n,
  max(spend) FILTER (WHERE months_ago = 0) AS spend_now,
  max(voice_minutes) FILTER (WHERE months_ago = 0) AS voice_now,
  max(data_mb) FILTER (WHERE months_ago = 0) AS data_now,
  bool_or(churn_label) FILTER (WHERE months_ago = 0) AS churn_label_now,
  coalesce(list({'months_ago': months_ago::INTEGER, 'date': last_recharge_date}) FILTER (WHERE last_recharge_date IS NOT NULL), []) AS recharge_dates
FROM feature_window
GROUP BY as_of, subscriber_id;
