-- Every per-subscriber aggregate the usage and trend features need, in one pass over the
-- window (two passes cost twice the hashing of ~10M rows at 1M subscribers). Keeps only
-- subscribers active in the feature month (months_ago = 0).
CREATE OR REPLACE TEMP TABLE window_aggregates AS
SELECT
  as_of,
  subscriber_id,
  -- RFM and average monthly usage: ARPU (spend), MOU (minutes), DOU (data MB), SMS, recharges
  count(*)::DOUBLE AS active_months,
  -- an amount's average as its exact sum over its count: avg() on top of the sums below, the
  -- same doubles, cost ~0.9 s more at 1M
  from_units(sum(spend) / count(spend)) AS arpu,
  from_units(sum(voice_minutes) / count(voice_minutes)) AS mou,
  from_units(sum(data_mb) / count(data_mb)) AS dou,
  coalesce(avg(sms_count), 0)::DOUBLE AS sms,
  from_units(sum(spend)) AS monetary,
  coalesce(sum(recharge_count), 0)::DOUBLE AS frequency,
  coalesce(from_units(sum(recharge_amount)), 0) AS recharge_amount,
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
  from_units(max(spend) FILTER (WHERE months_ago = 0)) AS spend_current,
  from_units(max(voice_minutes) FILTER (WHERE months_ago = 0)) AS mou_current,
  from_units(max(data_mb) FILTER (WHERE months_ago = 0)) AS dou_current,
  -- trend inputs: the last 3 months against the 3 before
  from_units(avg(voice_minutes) FILTER (WHERE months_ago < 3)) AS mou_recent,
  from_units(avg(voice_minutes) FILTER (WHERE months_ago BETWEEN 3 AND 5)) AS mou_before,
  from_units(avg(data_mb) FILTER (WHERE months_ago < 3)) AS dou_recent,
  from_units(avg(data_mb) FILTER (WHERE months_ago BETWEEN 3 AND 5)) AS dou_before,
  from_units(avg(spend) FILTER (WHERE months_ago < 3)) AS spend_recent,
  from_units(avg(spend) FILTER (WHERE months_ago BETWEEN 3 AND 5)) AS spend_before,
  coalesce(avg(recharge_count) FILTER (WHERE months_ago < 3), 0) AS recharges_recent,
  coalesce(avg(recharge_count) FILTER (WHERE months_ago BETWEEN 3 AND 5), 0) AS recharges_before,
  -- slope and spread inputs, as exact sums (not regr_slope / stddev_pop, whose parallel
  -- floating-point state makes reruns differ in the last bits); squares of units pass 2^53, so
  -- they are BIGINT or HUGEINT products (units_squared: activities/features.ts), summed as HUGEINT
  sum(-months_ago)::DOUBLE AS sx,
  sum(months_ago * months_ago)::DOUBLE AS sxx,
  from_units(sum(-months_ago * spend)) AS sxy,
  sum(units_squared(spend))::DOUBLE / 1e8 AS syy,
  from_units(sum(voice_minutes)) AS sm,
  sum(units_squared(voice_minutes))::DOUBLE / 1e8 AS smm
FROM feature_window
GROUP BY as_of, subscriber_id
HAVING bool_or(months_ago = 0);
