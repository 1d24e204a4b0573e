-- Macros shared by the snapshot tables: views in NN_*.sql, computed in file order, each written
-- to its Parquet file by activities/publish.ts and read from that file after (a later table or
-- the report). They need features (run DB), segments, segment_catalog, scores, churn_reasons
-- (activities/stage-outputs.ts) and the rule tables operation_grid and action_settings
-- (activities/publish.ts).
-- Rollups sum DECIMALs: exact, so a rerun writes byte-identical files.
CREATE OR REPLACE TEMP MACRO exact(x) AS x::DECIMAL(18, 6);
-- With a pseudonym key bound, ids are published as keyed hashes: stable across snapshots made
-- with the same key (so diffs still join), meaningless without it.
CREATE OR REPLACE TEMP MACRO published_id(id) AS
  CASE WHEN getvariable('pseudonym_key') IS NULL THEN id ELSE sha256(getvariable('pseudonym_key') || ':' || id) END;
-- A subscriber's value tier by the revenue share ranked above it (features/combined/01_value.sql),
-- from the run's shares (action_settings).
CREATE OR REPLACE TEMP MACRO value_tier(revenue_share_above, key_share, high_share, mid_share) AS
  CASE
    WHEN revenue_share_above < key_share THEN 'key'
    WHEN revenue_share_above < high_share THEN 'high'
    WHEN revenue_share_above < mid_share THEN 'mid'
    ELSE 'low'
  END;
-- Who is on the dispatch list: at churn risk, or urgent by value and stability.
CREATE OR REPLACE TEMP MACRO on_dispatch_list(risk_band, operation_priority, dispatch_max_priority) AS
  risk_band <> 'low' OR operation_priority <= dispatch_max_priority;
