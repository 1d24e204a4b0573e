-- Did last month's contacts keep subscribers? For last month's dispatch list (previous_dispatch,
-- with its control flag), churn in the run month of the contacted arm (control = false: intent
-- to treat, whether or not the call got through) against the held-out control arm, overall and
-- by action, segment, channel, contact moment and grid, with what the contact log
-- (checked_contacts, rows used: reason NULL) records of each subscriber. The measure step and its
-- rules are the macros of 00_measure_macros.sql.
CREATE OR REPLACE TEMP TABLE campaign_subscribers AS
WITH contacted AS (
  SELECT subscriber_id, count(*) AS contacts,
         bool_or(outcome = 'accepted') AS accepted,
         bool_or(outcome IS NOT NULL) AS outcome_known
  FROM checked_contacts WHERE reason IS NULL
  GROUP BY subscriber_id
)
SELECT l.*,
       c.subscriber_id IS NOT NULL AS contacted,
       coalesce(c.accepted, false) AS accepted,
       coalesce(c.outcome_known, false) AS outcome_known
FROM campaign_list_subscribers('previous_dispatch') l
LEFT JOIN contacted c USING (subscriber_id);

CREATE OR REPLACE TEMP TABLE snapshot_campaigns AS
FROM campaign_groups('campaign_subscribers')
ORDER BY list_position(getvariable('dimensions'), dimension), "group";
