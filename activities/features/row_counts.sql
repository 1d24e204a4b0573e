-- Subscribers to score and to train on, those of them whose outcome is unknown (every run-month
-- row quarantined, or no user label), and the churn rate among those trained on.
SELECT count(*) FILTER (WHERE purpose = 'score') AS scoring,
       count(*) FILTER (WHERE purpose = 'train') AS training,
       count(*) FILTER (WHERE purpose = 'train' AND churned_next_month IS NULL) AS unknown_outcome,
       avg(churned_next_month::INTEGER) FILTER (WHERE purpose = 'train') AS churn_rate
FROM features;
