-- Per grid: the rollup (snapshot_grids) and how many subscribers its dispatch list holds, in
-- the order of dispatch.parquet (by grid).
SELECT g.region, g.grid, g.subscribers, g.mou, g.dou, g.revenue, g.high_risk_subscribers, g.high_value_at_risk,
       coalesce(d.to_contact, 0) AS to_contact
FROM snapshot_grids g
LEFT JOIN (SELECT grid, count(*) AS to_contact FROM snapshot_dispatch GROUP BY grid) d
  ON d.grid IS NOT DISTINCT FROM g.grid
ORDER BY g.grid, g.region;
