-- What the features stage's window SQL (activities/features/partition/01_window.sql, run after
-- this) needs, for one feature month (getvariable('as_of')) over the checked month files in
-- getvariable('files'): the settings it reads, one bucket of subscribers, and the squares of
-- amounts (activities/features.ts defines both macros per run).
CREATE OR REPLACE TEMP MACRO in_feature_bucket(id) AS true;
CREATE OR REPLACE TEMP MACRO units_squared(x) AS x::HUGEINT * x::HUGEINT;
CREATE OR REPLACE TABLE feature_settings AS SELECT 6 AS history_months;
CREATE OR REPLACE TABLE feature_months AS SELECT getvariable('as_of')::DATE AS as_of, 'score' AS purpose;
CREATE OR REPLACE VIEW usage AS SELECT * FROM read_parquet(getvariable('files'));
