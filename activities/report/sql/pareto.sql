-- The revenue pyramid: share of revenue held by the top share of subscribers (ranked by ARPU),
-- about 100 points, and the top fifth's own (the headline's "top 20%": every 100th rank falls
-- on it only when the count is a multiple of 100). Exact DECIMAL running sums, so a rerun draws the same curve. Subscribers of
-- equal ARPU need no tie-break: whichever of them comes first, the top `rank` hold the same sum.
WITH ranked AS (
  SELECT
    row_number() OVER (ORDER BY arpu DESC) AS rank,
    count(*) OVER () AS n,
    sum(arpu::DECIMAL(18, 6)) OVER (ORDER BY arpu DESC ROWS UNBOUNDED PRECEDING) AS running,
    sum(arpu::DECIMAL(18, 6)) OVER () AS total
  FROM snapshot_subscribers
)
SELECT rank / n AS subscriber_share, (running / total)::DOUBLE AS revenue_share
FROM ranked
WHERE rank % greatest(n // 100, 1) = 0 OR rank = n OR rank = ceil(n * 0.2)
ORDER BY rank;
