-- One row per (purpose, subscriber) across every partition. row_idx (from value_features) orders
-- subscribers within a purpose so model code can address rows by position. activities/features.ts
-- writes these rows (with the features the input cannot support blanked and the user's own
-- features joined) to features.parquet beside the run database, read by the view `features`.
CREATE OR REPLACE TEMP VIEW feature_rows AS
SELECT
  s.purpose,
  v.row_idx,
  s.* EXCLUDE (purpose, churned_next_month),
  v.* EXCLUDE (purpose, as_of, subscriber_id, row_idx),
  s.churned_next_month
FROM all_subscriber_features s
JOIN value_features v USING (purpose, as_of, subscriber_id);
