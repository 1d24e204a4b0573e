-- One row per (feature month, subscriber) of this bucket of the partition: everything that
-- depends on the subscriber's own rows (activities/features.ts gathers the buckets). Value
-- tiers and grades rank subscribers against each other, so they are computed once all
-- partitions are combined (combined/*.sql).
-- churned_next_month (training rows only): the user's churn label when the input has one,
-- else active in the feature month and absent the month after.
CREATE OR REPLACE TEMP TABLE bucket_features AS
SELECT
  f.purpose,
  u.*,
  st.* EXCLUDE (as_of, subscriber_id),
  CASE WHEN f.purpose <> 'train' THEN NULL
       WHEN (SELECT use_user_labels FROM feature_settings) THEN u.user_churn_label
       ELSE next_month.subscriber_id IS NULL
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

-- The pass's aggregates are in bucket_features now: dropped here, they no longer hold DuckDB's
-- memory while the next pass aggregates (CREATE OR REPLACE drops the old table only once the new
-- one is built) or while the combined features are ranked and written.
DROP VIEW usage_and_trend_features;
DROP TABLE stability_features;
DROP TABLE window_aggregates;
