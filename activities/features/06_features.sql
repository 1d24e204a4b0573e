-- One row per (feature month, subscriber). row_idx orders subscribers within a feature month
-- so model code can address rows by position. churned_next_month: active in the feature month,
-- absent the month after (known only when that month is in the data).
CREATE OR REPLACE TABLE features AS
SELECT
  f.purpose,
  (row_number() OVER (PARTITION BY u.as_of ORDER BY u.subscriber_id) - 1)::INTEGER AS row_idx,
  u.*,
  t.* EXCLUDE (as_of, subscriber_id),
  st.* EXCLUDE (as_of, subscriber_id),
  v.* EXCLUDE (as_of, subscriber_id),
  CASE WHEN f.purpose = 'train'
       THEN NOT EXISTS (SELECT 1 FROM usage n WHERE n.subscriber_id = u.subscriber_id AND n."month" = u.as_of + to_months(1))
  END AS churned_next_month
FROM usage_features u
JOIN feature_months f USING (as_of)
JOIN trend_features t USING (as_of, subscriber_id)
JOIN stability_features st USING (as_of, subscriber_id)
JOIN value_features v USING (as_of, subscriber_id);
