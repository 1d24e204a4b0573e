-- The first $per_grid subscribers of each grid's dispatch list, in dispatch.parquet's order.
SELECT grid, contact_rank, subscriber_id, segment_name, operation_priority, churn_score, risk_band, tags,
       retention_style, recommended_product, channel, contact_moment
FROM snapshot_dispatch
WHERE contact_rank <= $per_grid
ORDER BY grid, contact_rank;
