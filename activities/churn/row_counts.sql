-- Subscribers to train on (with a known outcome), to score, and the churners among them.
SELECT count(*) FILTER (WHERE purpose = 'train' AND churned_next_month IS NOT NULL) AS train,
       count(*) FILTER (WHERE purpose = 'score') AS score,
       count(*) FILTER (WHERE churned_next_month) AS churners
FROM features;
