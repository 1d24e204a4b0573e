-- One row per (purpose, subscriber) across every partition. row_idx (from value_features) orders
-- subscribers within a purpose so model code can address rows by position.
CREATE OR REPLACE TABLE features AS
SELECT
  s.purpose,
  v.row_idx,
  s.* EXCLUDE (purpose, churned_next_month),
  v.* EXCLUDE (purpose, as_of, subscriber_id, row_idx),
  s.churned_next_month
FROM all_subscriber_features s
JOIN value_features v USING (purpose, as_of, subscriber_id);
