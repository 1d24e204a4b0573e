-- The training month's rows from the run that scored that month (activities/window-cache.ts):
-- the same per-subscriber features, labelled as partition/05_subscriber_features.sql labels
-- them. Without the user's labels a subscriber churned when absent from the run month (unknown
-- when its rows of the run month were all quarantined), and the
-- subscribers present in it are exactly this run's scoring rows. A partition (train_month_share)
-- takes the subscribers whose rows it holds: every one of them has a row in the training month.
-- activities/features.ts adds these rows to subscriber_features.
CREATE OR REPLACE TEMP VIEW reused_training_rows AS
SELECT * REPLACE (
  'train' AS purpose,
  CASE WHEN (SELECT use_user_labels FROM feature_settings) THEN user_churn_label
       WHEN subscriber_id IN (SELECT subscriber_id FROM subscriber_features WHERE purpose = 'score') THEN false
       WHEN subscriber_id IN (SELECT subscriber_id FROM unreadable_in_run_month) THEN NULL
       ELSE true
  END AS churned_next_month)
FROM read_parquet(getvariable('train_month_file'))
WHERE NOT getvariable('train_month_share')
   OR subscriber_id IN (SELECT subscriber_id FROM usage WHERE "month" = (SELECT as_of FROM feature_months WHERE purpose = 'score') - INTERVAL 1 MONTH);
