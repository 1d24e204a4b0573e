-- Per grid: the rollup (snapshot_grids) and its dispatch list: the subscribers to contact and
-- those held out as the control group (not to be contacted), in the order of dispatch.parquet
-- (by region and grid: a grid is a grid of its region).
SELECT g.region, g.grid, g.subscribers, g.mou, g.dou, g.revenue, g.high_risk_subscribers, g.high_value_at_risk,
       coalesce(d.to_contact, 0) AS to_contact, coalesce(d.held_out, 0) AS held_out
FROM snapshot_grids g
LEFT JOIN (
  SELECT region, grid, count(*) FILTER (WHERE NOT control) AS to_contact, count(*) FILTER (WHERE control) AS held_out
  FROM snapshot_dispatch GROUP BY region, grid
) d ON d.region IS NOT DISTINCT FROM g.region AND d.grid IS NOT DISTINCT FROM g.grid
ORDER BY g.region, g.grid;
