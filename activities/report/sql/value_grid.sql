-- Subscribers per value tier x stability cell, with the cell's operation priority.
SELECT
  value_tier,
  CASE WHEN stable THEN 'stable' ELSE 'unstable' END AS stability,
  count(*) AS subscribers,
  min(operation_priority) AS priority
FROM snapshot_subscribers
GROUP BY ALL
ORDER BY priority;
