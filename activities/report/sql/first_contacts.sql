-- The first $per_grid subscribers to contact of each grid's dispatch list, in dispatch.parquet's
-- order: the held-out control group is left out (not to be contacted), so its ranks are skipped.
SELECT region, grid, contact_rank, subscriber_id, segment_name, operation_priority, churn_score, risk_band, churn_reasons, tags,
       retention_style, recommended_product, channel, contact_moment
FROM snapshot_dispatch
WHERE NOT control
QUALIFY row_number() OVER (PARTITION BY region, grid ORDER BY contact_rank) <= $per_grid
ORDER BY region, grid, contact_rank;
