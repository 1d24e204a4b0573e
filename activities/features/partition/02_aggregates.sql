-- Every per-subscriber aggregate the usage and trend features need, in one pass over the
-- window (two passes cost twice the hashing of ~10M rows at 1M subscribers). Keeps only
-- subscribers active in the feature month (months_ago = 0).
CREATE OR REPLACE TEMP TABLE window_aggregates AS
SELECT
  as_of,
  subscriber_id,
  -- RFM and average monthly usage: ARPU (spend), MOU (minutes), DOU (data MB), SMS, recharges
  count(*)::DOUBLE AS active_months,
  avg(spend)::DOUBLE AS arpu,
  avg(voice_minutes)::DOUBLE AS mou,
  avg(data_mb)::DOUBLE AS dou,
  coalesce(avg(sms_count), 0)::DOUBLE AS sms,
  sum(spend)::DOUBLE AS monetary,
  coalesce(sum(recharge_count), 0)::DOUBLE AS frequency,
  coalesce(sum(recharge_amount), 0)::DOUBLE AS recharge_amount,
  -- recency: days from the last recharge to the end of the as-of month; no recharge in the
  -- window counts as the whole window
  coalesce(
    date_diff('day', max(last_recharge_date), last_day(as_of)),
    date_diff('day', as_of - to_months((SELECT history_months FROM feature_settings) - 1), last_day(as_of))
  )::DOUBLE AS recency_days,
  coalesce(avg(payment_delay_days), 0)::DOUBLE AS payment_delay_avg,
  coalesce(sum(complaints) FILTER (WHERE months_ago < 3), 0)::DOUBLE AS complaints_recent,
  -- back on the network after at least one month away inside the window (won-back)
  count(*) < max(months_ago) + 1 AS returned_after_gap,
  bool_or(churn_label) FILTER (WHERE months_ago = 0) AS user_churn_label,
  max(spend) FILTER (WHERE months_ago = 0)::DOUBLE AS spend_current,
  max(voice_minutes) FILTER (WHERE months_ago = 0)::DOUBLE AS mou_current,
  max(data_mb) FILTER (WHERE months_ago = 0)::DOUBLE AS dou_current,
  -- trend inputs: the last 3 months against the 3 before
  avg(voice_minutes) FILTER (WHERE months_ago < 3)::DOUBLE AS mou_recent,
  avg(voice_minutes) FILTER (WHERE months_ago BETWEEN 3 AND 5)::DOUBLE AS mou_before,
  avg(data_mb) FILTER (WHERE months_ago < 3)::DOUBLE AS dou_recent,
  avg(data_mb) FILTER (WHERE months_ago BETWEEN 3 AND 5)::DOUBLE AS dou_before,
  avg(spend) FILTER (WHERE months_ago < 3)::DOUBLE AS spend_recent,
  avg(spend) FILTER (WHERE months_ago BETWEEN 3 AND 5)::DOUBLE AS spend_before,
  coalesce(avg(recharge_count) FILTER (WHERE months_ago < 3), 0) AS recharges_recent,
  coalesce(avg(recharge_count) FILTER (WHERE months_ago BETWEEN 3 AND 5), 0) AS recharges_before,
  -- slope and spread inputs, as exact DECIMAL sums (not regr_slope / stddev_pop, whose parallel
  -- floating-point state makes reruns differ in the last bits)
  sum(-months_ago)::DOUBLE AS sx,
  sum(months_ago * months_ago)::DOUBLE AS sxx,
  sum(-months_ago * spend)::DOUBLE AS sxy,
  sum(spend::DECIMAL(38, 4) * spend)::DOUBLE AS syy,
  sum(voice_minutes)::DOUBLE AS sm,
  sum(voice_minutes::DECIMAL(38, 4) * voice_minutes)::DOUBLE AS smm
FROM feature_window
GROUP BY as_of, subscriber_id
HAVING bool_or(months_ago = 0);
