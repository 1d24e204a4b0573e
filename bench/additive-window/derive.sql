-- window.sql's aggregates (what the features stage computes today) from the state: the same values, column for column.
CREATE OR REPLACE VIEW derived_aggregates AS
SELECT
  as_of, subscriber_id,
  active_months::DOUBLE AS active_months,
  from_units(spend_sum / active_months) AS arpu,
  from_units(voice_sum / active_months) AS mou,
  from_units(data_sum / active_months) AS dou,
  coalesce(sms_sum / nullif(sms_n, 0), 0)::DOUBLE AS sms,
  from_units(spend_sum) AS monetary,
  recharges_sum::DOUBLE AS frequency,
  from_units(recharge_amount_sum) AS recharge_amount,
  coalesce(
    date_diff('day', list_max(list_transform(recharge_dates, r -> r.date)), last_day(as_of)),
    date_diff('day', as_of - to_months((SELECT history_months FROM feature_settings) - 1), last_day(as_of))
  )::DOUBLE AS recency_days,
  coalesce(delay_sum / nullif(delay_n, 0), 0)::DOUBLE AS payment_delay_avg,
  complaints_recent_sum::DOUBLE AS complaints_recent,
  (months_mask & (months_mask + 1)) <> 0 AS returned_after_gap,
  churn_label_now AS user_churn_label,
  from_units(spend_now) AS spend_current,
  from_units(voice_now) AS mou_current,
  from_units(data_now) AS dou_current,
  from_units(voice_recent_sum / nullif(bit_count(months_mask & 7), 0)) AS mou_recent,
  from_units(voice_before_sum / nullif(bit_count(months_mask & 56), 0)) AS mou_before,
  from_units(data_recent_sum / nullif(bit_count(months_mask & 7), 0)) AS dou_recent,
  from_units(data_before_sum / nullif(bit_count(months_mask & 56), 0)) AS dou_before,
  from_units(spend_recent_sum / nullif(bit_count(months_mask & 7), 0)) AS spend_recent,
  from_units(spend_before_sum / nullif(bit_count(months_mask & 56), 0)) AS spend_before,
  coalesce(recharges_recent_sum / nullif(recharges_recent_n, 0), 0) AS recharges_recent,
  coalesce(recharges_before_sum / nullif(recharges_before_n, 0), 0) AS recharges_before,
  (-ago_sum)::DOUBLE AS sx,
  ago_sq_sum::DOUBLE AS sxx,
  from_units(neg_ago_spend_sum) AS sxy,
  spend_sq_sum::HUGEINT::DOUBLE / 1e8 AS syy,
  from_units(voice_sum) AS sm,
  voice_sq_sum::HUGEINT::DOUBLE / 1e8 AS smm
FROM window_state
WHERE months_mask & 1 = 1;
