-- A pass's rows are kept (a table or a file: activities/features.ts): its aggregates are dropped
-- here, so they no longer hold DuckDB's memory while the next pass aggregates or while the
-- combined features are ranked and written.
DROP VIEW bucket_features;
DROP VIEW usage_and_trend_features;
DROP TABLE stability_features;
DROP TABLE window_aggregates;
