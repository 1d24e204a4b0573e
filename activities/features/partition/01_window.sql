-- The usage rows each feature month looks back over (a view, read by one aggregation pass and
-- the stability snapshot below). Amounts (voice_minutes, data_mb, spend, recharge_amount) are in
-- units of 1/10,000, as whole-number DOUBLEs: every sum of them stays far below 2^53, so it is
-- exact and the same whatever order the threads add in (a parallel sum of arbitrary DOUBLEs
-- depends on thread timing, and snapshots must be byte-identical when rerun). DECIMAL gave the
-- same guarantee at 1.5x the aggregation time.
-- Needs usage (one partition's valid rows), feature_months(as_of DATE, purpose VARCHAR) and
-- feature_settings(history_months, ...), and the macros units_squared(x) and in_feature_bucket(id)
-- (activities/features.ts): one bucket of subscribers, a range of ids, at a time, so the
-- aggregation below fits in memory.
CREATE OR REPLACE TEMP MACRO to_units(amount) AS round(amount * 10000);
CREATE OR REPLACE TEMP MACRO from_units(units) AS units / 10000;

CREATE OR REPLACE TEMP VIEW feature_window AS
SELECT w.as_of, w.months_ago,
       u.* REPLACE (to_units(u.voice_minutes) AS voice_minutes, to_units(u.data_mb) AS data_mb,
                    to_units(u.spend) AS spend, to_units(u.recharge_amount) AS recharge_amount)
FROM usage u
-- each (feature month, month in its window) pair listed, so rows meet them on an equal month
-- (a hash join; the BETWEEN it replaces was a range join, ~0.35 s slower at 1M)
JOIN (
  SELECT f.as_of, m.months_ago, (f.as_of - to_months(m.months_ago::INTEGER))::DATE AS "month"
  FROM (SELECT DISTINCT as_of FROM feature_months) f, range((SELECT history_months FROM feature_settings)) m(months_ago)
) w ON u."month" = w."month"
WHERE in_feature_bucket(u.subscriber_id);
