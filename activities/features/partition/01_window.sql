-- The usage rows each feature month looks back over (a view, read by one aggregation pass and
-- the stability snapshot below). Amounts become DECIMAL so sums are exact: a parallel sum of
-- DOUBLEs depends on thread timing, and snapshots must be byte-identical when rerun.
-- Needs usage (one partition's valid rows), feature_months(as_of DATE, purpose VARCHAR) and
-- feature_settings(history_months, ...). Reads one bucket of subscribers at a time (session
-- variables feature_buckets / feature_bucket), so the aggregation below fits in memory.
CREATE OR REPLACE TEMP MACRO in_feature_bucket(id) AS
  getvariable('feature_buckets') = 1
  OR hash(id) % getvariable('feature_buckets')::UBIGINT = getvariable('feature_bucket')::UBIGINT;

CREATE OR REPLACE TEMP VIEW feature_window AS
SELECT f.as_of, date_diff('month', u."month", f.as_of) AS months_ago,
       u.* REPLACE (u.voice_minutes::DECIMAL(18, 4) AS voice_minutes, u.data_mb::DECIMAL(18, 4) AS data_mb,
                    u.spend::DECIMAL(18, 4) AS spend, u.recharge_amount::DECIMAL(18, 4) AS recharge_amount)
FROM usage u
JOIN (SELECT DISTINCT as_of FROM feature_months) f
  ON u."month" BETWEEN f.as_of - to_months((SELECT history_months FROM feature_settings) - 1) AND f.as_of
WHERE in_feature_bucket(u.subscriber_id);
