-- Churn warning signals: the last 3 months against the 3 before (a ratio below 1 is a fall),
-- the spend slope relative to its level, and volatility. With no earlier usage a ratio is 1.
-- Slope and spread come from exact DECIMAL sums (not regr_slope / stddev_pop, whose parallel
-- floating-point state makes reruns differ in the last bits).
CREATE OR REPLACE TEMP TABLE trend_features AS
WITH halves AS (
  SELECT
    as_of,
    subscriber_id,
    avg(voice_minutes) FILTER (WHERE months_ago < 3)::DOUBLE AS mou_recent,
    avg(voice_minutes) FILTER (WHERE months_ago BETWEEN 3 AND 5)::DOUBLE AS mou_before,
    avg(data_mb) FILTER (WHERE months_ago < 3)::DOUBLE AS dou_recent,
    avg(data_mb) FILTER (WHERE months_ago BETWEEN 3 AND 5)::DOUBLE AS dou_before,
    avg(spend) FILTER (WHERE months_ago < 3)::DOUBLE AS spend_recent,
    avg(spend) FILTER (WHERE months_ago BETWEEN 3 AND 5)::DOUBLE AS spend_before,
    coalesce(avg(recharge_count) FILTER (WHERE months_ago < 3), 0) AS recharges_recent,
    coalesce(avg(recharge_count) FILTER (WHERE months_ago BETWEEN 3 AND 5), 0) AS recharges_before,
    count(*)::DOUBLE AS n,
    sum(-months_ago)::DOUBLE AS sx,
    sum(months_ago * months_ago)::DOUBLE AS sxx,
    sum(spend)::DOUBLE AS sy,
    sum(-months_ago * spend)::DOUBLE AS sxy,
    sum(spend::DECIMAL(38, 4) * spend)::DOUBLE AS syy,
    sum(voice_minutes)::DOUBLE AS sm,
    sum(voice_minutes::DECIMAL(38, 4) * voice_minutes)::DOUBLE AS smm
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
  -- least-squares slope of spend per month, relative to the average spend
  coalesce(((n * sxy - sx * sy) / nullif(n * sxx - sx * sx, 0)) / nullif(sy / n, 0), 0.0) AS spend_slope_rel,
  -- coefficient of variation: population standard deviation / mean
  coalesce(sqrt(greatest(syy / n - (sy / n) ** 2, 0)) / nullif(sy / n, 0), 0.0) AS spend_volatility,
  coalesce(sqrt(greatest(smm / n - (sm / n) ** 2, 0)) / nullif(sm / n, 0), 0.0) AS mou_volatility
FROM halves;
