-- The features' window as activities/features/partition/01_window.sql builds it, for one
-- feature month (getvariable('as_of')) over the usage files in getvariable('files').
SET threads = 2;
CREATE OR REPLACE MACRO to_units(amount) AS round(amount * 10000);
CREATE OR REPLACE MACRO from_units(units) AS units / 10000;
CREATE OR REPLACE TABLE feature_settings AS SELECT 6 AS history_months;
CREATE OR REPLACE TABLE feature_months AS SELECT getvariable('as_of')::DATE AS as_of, 'score' AS purpose;
CREATE OR REPLACE VIEW usage AS SELECT * FROM read_parquet(getvariable('files'));
CREATE OR REPLACE VIEW feature_window AS
SELECT w.as_of, w.months_ago,
       u.* REPLACE (to_units(u.voice_minutes) AS voice_minutes, to_units(u.data_mb) AS data_mb,
                    to_units(u.spend) AS spend, to_units(u.recharge_amount) AS recharge_amount)
FROM usage u
JOIN (
  SELECT f.as_of, m.months_ago, (f.as_of - to_months(m.months_ago::INTEGER))::DATE AS "month"
  FROM (SELECT DISTINCT as_of FROM feature_months) f, range((SELECT history_months FROM feature_settings)) m(months_ago)
) w ON u."month" = w."month";
