-- One row per (purpose, subscriber). row_idx orders subscribers within a purpose so model
-- code can address rows by position. churned_next_month (training rows only): the user's churn
-- label when the input has one, else active in the feature month and absent the month after.
CREATE OR REPLACE TABLE features AS
SELECT
  f.purpose,
  (row_number() OVER (PARTITION BY f.purpose ORDER BY u.subscriber_id) - 1)::INTEGER AS row_idx,
  u.*,
  t.* EXCLUDE (as_of, subscriber_id),
  st.* EXCLUDE (as_of, subscriber_id),
  v.* EXCLUDE (as_of, subscriber_id),
  CASE WHEN f.purpose <> 'train' THEN NULL
       WHEN (SELECT use_user_labels FROM feature_settings) THEN u.user_churn_label
       ELSE NOT EXISTS (SELECT 1 FROM usage n WHERE n.subscriber_id = u.subscriber_id AND n."month" = u.as_of + to_months(1))
  END AS churned_next_month
FROM usage_features u
JOIN feature_months f USING (as_of)
JOIN trend_features t USING (as_of, subscriber_id)
JOIN stability_features st USING (as_of, subscriber_id)
JOIN value_features v USING (as_of, subscriber_id);
