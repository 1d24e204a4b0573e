-- The churn models' holdout (view churn_holdout, written by the churn stage): the training
-- month's subscribers held out of training, whether each left in the run month, the score the
-- manifest's holdout metrics were measured on (the calibrated ensemble's, or the readable tree's
-- when it scores) and the readable tree's, so those metrics can be computed again from the
-- snapshot. A held-out row is numbered by its place among the training rows, which the churn
-- stage reads in row_idx order (activities/churn.ts readTrainingSet).
CREATE OR REPLACE TEMP VIEW snapshot_holdout AS
WITH training AS (
  SELECT subscriber_id, (row_number() OVER (ORDER BY row_idx) - 1)::INTEGER AS training_row
  FROM features
  WHERE purpose = 'train' AND churned_next_month IS NOT NULL
)
SELECT published_id(t.subscriber_id) AS subscriber_id, h.churned, h.churn_score, h.tree_score
FROM churn_holdout h
JOIN training t USING (training_row)
ORDER BY h.training_row;
