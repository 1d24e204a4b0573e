-- Usage features are the aggregates as they are. Churn warning signals: the last 3 months
-- against the 3 before (a ratio below 1 is a fall), the spend slope relative to its level, and
-- volatility. With no earlier usage a ratio is 1. One view over one scan of the aggregates (as
-- two views joined back together, the join cost ~0.3 s at 1M).
CREATE OR REPLACE TEMP VIEW usage_and_trend_features AS
SELECT
  as_of, subscriber_id, active_months, arpu, mou, dou, sms, monetary, frequency, recharge_amount, recency_days,
  payment_delay_avg, complaints_recent, returned_after_gap, user_churn_label, spend_current, mou_current, dou_current,
  coalesce((mou_recent + 1) / (mou_before + 1), 1.0) AS mou_trend,
  coalesce((dou_recent + 1) / (dou_before + 1), 1.0) AS dou_trend,
  coalesce((spend_recent + 1) / (spend_before + 1), 1.0) AS spend_trend,
  CASE WHEN mou_before IS NULL THEN 1.0 ELSE (recharges_recent + 0.5) / (recharges_before + 0.5) END AS recharge_trend,
  -- least-squares slope of spend per month, relative to the average spend
  coalesce(((active_months * sxy - sx * monetary) / nullif(active_months * sxx - sx * sx, 0)) / nullif(monetary / active_months, 0), 0.0) AS spend_slope_rel,
  -- coefficient of variation: population standard deviation / mean
  coalesce(sqrt(greatest(syy / active_months - (monetary / active_months) ** 2, 0)) / nullif(monetary / active_months, 0), 0.0) AS spend_volatility,
  coalesce(sqrt(greatest(smm / active_months - (sm / active_months) ** 2, 0)) / nullif(sm / active_months, 0), 0.0) AS mou_volatility
FROM window_aggregates;
