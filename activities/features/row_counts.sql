-- Subscribers to score and to train on, and the churn rate among those trained on.
SELECT count(*) FILTER (WHERE purpose = 'score') AS scoring,
       count(*) FILTER (WHERE purpose = 'train') AS training,
       avg(churned_next_month::INTEGER) FILTER (WHERE purpose = 'train') AS churn_rate
FROM features;
