-- Simulates last month's campaign on a generated sample: the contact log that follows the
-- dispatch list (everyone not held out as control is contacted) and the subscribers the contacts
-- kept. Expects temp tables dispatch (last month's dispatch.parquet), usage_month (this month's
-- usage rows), usage_before (last month's), planted_effects(action, reduction) and
-- campaign_params(seed, month_start); macro u(id, draw, seed). Every draw is a hash of
-- (subscriber, draw id, seed), so the simulation repeats exactly.
-- A natural churner (on the list, no usage this month) who was contacted is kept with
-- probability `reduction` of their action: the contacted arm's churn rate falls to
-- (1 - reduction) x the natural rate, the control arm's stays, so the planted uplift is
-- reduction x the natural churn rate of the action's subscribers.
CREATE OR REPLACE TEMP TABLE campaign AS
SELECT d.subscriber_id, d.control, d.recommended_product AS action, d.channel,
       u.subscriber_id IS NULL AS natural_churn,
       coalesce(e.reduction, 0.0) AS reduction,
       NOT d.control AND u.subscriber_id IS NULL AND u(d.subscriber_id, 60, p.seed) < coalesce(e.reduction, 0.0) AS kept
FROM dispatch d
CROSS JOIN campaign_params p
LEFT JOIN usage_month u USING (subscriber_id)
LEFT JOIN planted_effects e ON e.action = d.recommended_product;

-- The kept subscribers stay on: this month's row repeats last month's, a month older.
CREATE OR REPLACE TEMP TABLE usage_month_after AS
SELECT * FROM usage_month
UNION ALL BY NAME
SELECT b.* REPLACE (
  (b."month" + to_months(1))::DATE AS "month",
  b.tenure_months + 1 AS tenure_months,
  (b.last_recharge_date + to_months(1))::DATE AS last_recharge_date)
FROM usage_before b SEMI JOIN (SELECT subscriber_id FROM campaign WHERE kept) k USING (subscriber_id);

CREATE OR REPLACE TEMP TABLE contacts AS
SELECT c.subscriber_id,
  (p.month_start + to_days(floor(u(c.subscriber_id, 61, p.seed) * 28)::INTEGER))::DATE AS contact_date,
  c.action,
  c.channel,
  CASE WHEN c.kept THEN 'accepted'
       WHEN u(c.subscriber_id, 62, p.seed) < 0.15 THEN 'not reached'
       WHEN u(c.subscriber_id, 63, p.seed) < 0.2 THEN 'accepted'
       ELSE 'declined' END AS outcome
FROM campaign c CROSS JOIN campaign_params p
WHERE NOT c.control;

-- The truth the measurement should find, per action and for the whole list.
CREATE OR REPLACE TEMP TABLE campaign_truth AS
SELECT coalesce(action, 'all on the list') AS action,
  count(*) AS subscribers,
  count(*) FILTER (WHERE control) AS control_subscribers,
  avg(natural_churn::INTEGER) AS natural_churn_rate,
  CASE WHEN action IS NULL THEN NULL ELSE any_value(reduction) END AS planted_reduction,
  -- expected control rate minus expected contacted rate
  sum(reduction * natural_churn::INTEGER) / count(*) AS planted_uplift,
  count(*) FILTER (WHERE kept) AS kept
FROM campaign
GROUP BY ROLLUP (action)
-- the whole list first, then each action
ORDER BY grouping(campaign.action) DESC, campaign.action;
