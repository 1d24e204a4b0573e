-- A month later: the dispatch list measured last month (follow_up_dispatch, checked against the
-- sha256 that measurement recorded) measured again with churn read in this run's month: churned =
-- on the list and not active this month (not in snapshot_subscribers), unreadable subscribers in
-- neither arm. Same arms (the list's control flag, intent to treat), groups and rules as the
-- measurement itself (00_measure_macros.sql); no contact log, so no contact counts and no kept per
-- 100 contacts. Each group carries the uplift measured in the month of contact
-- (own_month_*, from last month's campaigns.parquet, table own_month_campaigns) beside it.
CREATE OR REPLACE TEMP TABLE follow_up_subscribers AS
SELECT l.*, false AS contacted, false AS accepted, false AS outcome_known
FROM campaign_list_subscribers('follow_up_dispatch') l;

CREATE OR REPLACE TEMP TABLE snapshot_campaign_follow_up AS
SELECT
  g.dimension, g."group",
  g.control_subscribers, g.control_churned, g.control_churn_rate,
  g.targeted_subscribers, g.targeted_churned, g.targeted_churn_rate,
  g.absolute_uplift, g.relative_uplift, g.uplift_low, g.uplift_high, g.significant, g.too_small,
  g.control_unreadable, g.targeted_unreadable,
  o.control_churn_rate AS own_month_control_churn_rate,
  o.targeted_churn_rate AS own_month_targeted_churn_rate,
  o.absolute_uplift AS own_month_absolute_uplift,
  o.uplift_low AS own_month_uplift_low,
  o.uplift_high AS own_month_uplift_high,
  o.significant AS own_month_significant,
  o.too_small AS own_month_too_small,
  g.interval_level
FROM campaign_groups('follow_up_subscribers') g
LEFT JOIN own_month_campaigns o ON o.dimension = g.dimension AND o."group" IS NOT DISTINCT FROM g."group"
ORDER BY list_position(getvariable('dimensions'), g.dimension), g."group";
