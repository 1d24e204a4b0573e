-- Per-grid rollup for grid managers.
CREATE OR REPLACE TEMP VIEW snapshot_grids AS
SELECT
  region,
  grid,
  count(*) AS subscribers,
  sum(exact(mou))::DOUBLE AS mou,
  sum(exact(dou))::DOUBLE AS dou,
  sum(exact(arpu))::DOUBLE AS revenue,
  sum(exact(revenue_at_risk))::DOUBLE AS revenue_at_risk,
  count(*) FILTER (WHERE risk_band = 'high') AS high_risk_subscribers,
  count(*) FILTER (WHERE risk_band = 'high' AND value_tier IN ('key', 'high')) AS high_value_at_risk
FROM snapshot_subscribers
GROUP BY region, grid
ORDER BY region, grid;
