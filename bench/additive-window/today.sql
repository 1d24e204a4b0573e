-- The window aggregation as the features stage runs it (activities/features/partition/02_aggregates.sql).
CREATE OR REPLACE TABLE window_aggregates AS
SELECT
  as_of, subscriber_id,
  count(*)::DOUBLE AS active_months,
  from_units(avg(spend)) AS arpu,
  from_units(avg(voice_minutes)) AS mou,
  from_units(avg(data_mb)) AS dou,
  coalesce(avg(sms_count), 0)::DOUBLE AS sms,
  from_units(sum(spend)) AS monetary,
  coalesce(sum(recharge_count), 0)::DOUBLE AS frequency,
  coalesce(from_units(sum(recharge_amount)), 0) AS recharge_amount,
  coalesce(
    date_diff('day', max(last_recharge_date), last_day(as_of)),
    date_diff('day', as_of - to_months((SELECT history_months FROM feature_settings) - 1), last_day(as_of))
  )::DOUBLE AS recency_days,
  coalesce(avg(payment_delay_days), 0)::DOUBLE AS payment_delay_avg,
  coalesce(sum(complaints) FILTER (WHERE months_ago < 3), 0)::DOUBLE AS complaints_recent,
  count(*) < max(months_ago) + 1 AS returned_after_gap,
  bool_or(churn_label) FILTER (WHERE months_ago = 0) AS user_churn_label,
  from_units(max(spend) FILTER (WHERE months_ago = 0)) AS spend_current,
  from_units(max(voice_minutes) FILTER (WHERE months_ago = 0)) AS mou_current,
  from_units(max(data_mb) FILTER (WHERE months_ago = 0)) AS dou_current,
  from_units(avg(voice_minutes) FILTER (WHERE months_ago < 3)) AS mou_recent,
  from_units(avg(voice_minutes) FILTER (WHERE months_ago BETWEEN 3 AND 5)) AS mou_before,
  from_units(avg(data_mb) FILTER (WHERE months_ago < 3)) AS dou_recent,
  from_units(avg(data_mb) FILTER (WHERE months_ago BETWEEN 3 AND 5)) AS dou_before,
  from_units(avg(spend) FILTER (WHERE months_ago < 3)) AS spend_recent,
  from_units(avg(spend) FILTER (WHERE months_ago BETWEEN 3 AND 5)) AS spend_before,
  coalesce(avg(recharge_count) FILTER (WHERE months_ago < 3), 0) AS recharges_recent,
  coalesce(avg(recharge_count) FILTER (WHERE months_ago BETWEEN 3 AND 5), 0) AS recharges_before,
  sum(-months_ago)::DOUBLE AS sx,
  sum(months_ago * months_ago)::DOUBLE AS sxx,
  from_units(sum(-months_ago * spend)) AS sxy,
  sum(spend::HUGEINT * spend::HUGEINT)::DOUBLE / 1e8 AS syy,
  from_units(sum(voice_minutes)) AS sm,
  sum(voice_minutes::HUGEINT * voice_minutes::HUGEINT)::DOUBLE / 1e8 AS smm
FROM feature_window
GROUP BY as_of, subscriber_id
HAVING bool_or(months_ago = 0);
