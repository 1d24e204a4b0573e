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
