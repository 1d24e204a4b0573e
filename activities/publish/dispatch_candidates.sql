-- The scored rows the dispatch list will hold (tables/04_dispatch.sql's rule, on the columns
-- tables/01_subscribers.sql gives it), known before the subscribers' table is written: their
-- churn reasons are explained exactly (activities/dispatch-reasons.ts). A table: read three times.
CREATE OR REPLACE TEMP TABLE dispatch_candidates AS
SELECT f.row_idx
FROM features f
-- the joins of 01_subscribers.sql: only a subscriber the table will hold
JOIN segments s USING (row_idx)
JOIN segment_catalog USING (segment_id)
JOIN scores sc USING (row_idx)
CROSS JOIN action_settings a
JOIN operation_grid g
  ON g.value_tier = value_tier(f.revenue_share_above, a.key_share, a.high_share, a.mid_share)
 AND g.stable = (f.stability_score >= a.stable_score)
WHERE f.purpose = 'score' AND on_dispatch_list(sc.risk_band, g.priority, a.dispatch_max_priority);
