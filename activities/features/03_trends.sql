-- Churn warning signals: the last 3 months against the 3 before (a ratio below 1 is a fall),
-- the spend slope relative to its level, and volatility. With no earlier usage a ratio is 1.
CREATE OR REPLACE TEMP TABLE trend_features AS
WITH halves AS (
  SELECT
    as_of,
    subscriber_id,
    avg(voice_minutes) FILTER (WHERE months_ago < 3) AS mou_recent,
    avg(voice_minutes) FILTER (WHERE months_ago BETWEEN 3 AND 5) AS mou_before,
    avg(data_mb) FILTER (WHERE months_ago < 3) AS dou_recent,
    avg(data_mb) FILTER (WHERE months_ago BETWEEN 3 AND 5) AS dou_before,
    avg(spend) FILTER (WHERE months_ago < 3) AS spend_recent,
    avg(spend) FILTER (WHERE months_ago BETWEEN 3 AND 5) AS spend_before,
    coalesce(avg(recharge_count) FILTER (WHERE months_ago < 3), 0) AS recharges_recent,
    coalesce(avg(recharge_count) FILTER (WHERE months_ago BETWEEN 3 AND 5), 0) AS recharges_before,
    regr_slope(spend, -months_ago) AS spend_slope,
    avg(spend) AS spend_avg,
    stddev_pop(spend) AS spend_sd,
    stddev_pop(voice_minutes) AS mou_sd,
    avg(voice_minutes) AS mou_avg
  FROM feature_window
  GROUP BY as_of, subscriber_id
  HAVING bool_or(months_ago = 0)
)
SELECT
  as_of,
  subscriber_id,
  coalesce((mou_recent + 1) / (mou_before + 1), 1.0) AS mou_trend,
  coalesce((dou_recent + 1) / (dou_before + 1), 1.0) AS dou_trend,
  coalesce((spend_recent + 1) / (spend_before + 1), 1.0) AS spend_trend,
  CASE WHEN mou_before IS NULL THEN 1.0 ELSE (recharges_recent + 0.5) / (recharges_before + 0.5) END AS recharge_trend,
  coalesce(spend_slope / nullif(spend_avg, 0), 0.0) AS spend_slope_rel,
  coalesce(spend_sd / nullif(spend_avg, 0), 0.0) AS spend_volatility,
  coalesce(mou_sd / nullif(mou_avg, 0), 0.0) AS mou_volatility
FROM halves;
