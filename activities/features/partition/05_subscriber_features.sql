-- One row per (feature month, subscriber) of this bucket of the partition: everything that
-- depends on the subscriber's own rows (activities/features.ts gathers the buckets). Value
-- tiers and grades rank subscribers against each other, so they are computed once all
-- partitions are combined (combined/*.sql).
-- churned_next_month (training rows only): the user's churn label when the input has one,
-- else active in the feature month and absent the month after; unknown (NULL, not trained on)
-- when its rows of the month after were all quarantined (../unreadable_in_run_month.sql).
-- A view: activities/features.ts keeps one pass's rows as a table and writes each of several
-- passes' rows straight to a Parquet file (at 10M, storing a pass's 2M rows as a table and then
-- copying the table to its file took ~1 s a pass longer), then runs ../bucket_written.sql.
CREATE OR REPLACE TEMP VIEW bucket_features AS
SELECT
  f.purpose,
  u.*,
  st.* EXCLUDE (as_of, subscriber_id),
  CASE WHEN f.purpose <> 'train' THEN NULL
       WHEN (SELECT use_user_labels FROM feature_settings) THEN u.user_churn_label
       WHEN next_month.subscriber_id IS NOT NULL THEN false
       WHEN u.subscriber_id IN (SELECT subscriber_id FROM unreadable_in_run_month) THEN NULL
       ELSE true
  END AS churned_next_month
FROM usage_and_trend_features u
JOIN feature_months f USING (as_of)
JOIN stability_features st USING (as_of, subscriber_id)
-- usage holds no duplicate (subscriber, month) rows, so this join adds none
LEFT JOIN (
  SELECT subscriber_id, ("month" - to_months(1))::DATE AS as_of
  FROM usage
  WHERE "month" IN (SELECT as_of + to_months(1) FROM feature_months WHERE purpose = 'train')
    AND in_feature_bucket(subscriber_id)
) next_month USING (as_of, subscriber_id);
