-- The state as of getvariable('as_of') from the state a month earlier (the Parquet file
-- getvariable('previous_state')) and the rows of the months that enter or move: the new month
-- (months_ago 0), M-3 (from the last three months to the three before), M-6 (out of those) and
-- M-h (out of the window). Needs history_months >= 6.
CREATE OR REPLACE TABLE window_state AS
WITH months AS (
  SELECT getvariable('as_of')::DATE AS as_of, (SELECT history_months FROM feature_settings) AS h
),
moved AS (
  SELECT subscriber_id,
         date_diff('month', "month", (SELECT as_of FROM months)) AS months_ago,
         to_units(voice_minutes) AS voice_minutes, to_units(data_mb) AS data_mb, to_units(spend) AS spend,
         to_units(recharge_amount) AS recharge_amount, sms_count, recharge_count, payment_delay_days, complaints,
         last_recharge_date, churn_label
  FROM usage
  WHERE "month" IN (SELECT (as_of - to_months(k))::DATE FROM months, (SELECT unnest([0, 3, 6]) AS k UNION SELECT h FROM months))
),
now AS (SELECT * FROM moved WHERE months_ago = 0),
m3 AS (SELECT * FROM moved WHERE months_ago = 3),
m6 AS (SELECT * FROM moved WHERE months_ago = 6),
gone AS (SELECT * FROM moved WHERE months_ago = (SELECT h FROM months))
SELECT
  mo.as_of,
  coalesce(p.subscriber_id, n.subscriber_id) AS subscriber_id,
  ((coalesce(p.months_mask, 0) << 1) & ((1::UBIGINT << mo.h::UBIGINT) - 1)) | (n.subscriber_id IS NOT NULL)::UBIGINT AS months_mask,
  (coalesce(p.active_months, 0) - (g.subscriber_id IS NOT NULL)::INTEGER + (n.subscriber_id IS NOT NULL)::INTEGER)::INTEGER AS active_months,
  -- every remaining row is a month older: ago + 1
  (coalesce(p.ago_sum, 0) - (g.subscriber_id IS NOT NULL)::INTEGER * (mo.h - 1)
    + coalesce(p.active_months, 0) - (g.subscriber_id IS NOT NULL)::INTEGER)::BIGINT AS ago_sum,
  (coalesce(p.ago_sq_sum, 0) - (g.subscriber_id IS NOT NULL)::INTEGER * (mo.h - 1) ** 2
    + 2 * (coalesce(p.ago_sum, 0) - (g.subscriber_id IS NOT NULL)::INTEGER * (mo.h - 1))
    + coalesce(p.active_months, 0) - (g.subscriber_id IS NOT NULL)::INTEGER)::BIGINT AS ago_sq_sum,
  coalesce(p.spend_sum, 0) - coalesce(g.spend, 0) + coalesce(n.spend, 0) AS spend_sum,
  coalesce(p.voice_sum, 0) - coalesce(g.voice_minutes, 0) + coalesce(n.voice_minutes, 0) AS voice_sum,
  coalesce(p.data_sum, 0) - coalesce(g.data_mb, 0) + coalesce(n.data_mb, 0) AS data_sum,
  coalesce(p.neg_ago_spend_sum, 0) + (mo.h - 1) * coalesce(g.spend, 0)
    - (coalesce(p.spend_sum, 0) - coalesce(g.spend, 0)) AS neg_ago_spend_sum,
  (coalesce(p.spend_sq_sum::HUGEINT, 0) - coalesce(g.spend::HUGEINT * g.spend::HUGEINT, 0) + coalesce(n.spend::HUGEINT * n.spend::HUGEINT, 0))::DECIMAL(38, 0) AS spend_sq_sum,
  (coalesce(p.voice_sq_sum::HUGEINT, 0) - coalesce(g.voice_minutes::HUGEINT * g.voice_minutes::HUGEINT, 0) + coalesce(n.voice_minutes::HUGEINT * n.voice_minutes::HUGEINT, 0))::DECIMAL(38, 0) AS voice_sq_sum,
  (coalesce(p.sms_sum, 0) - coalesce(g.sms_count, 0) + coalesce(n.sms_count, 0))::BIGINT AS sms_sum,
  (coalesce(p.sms_n, 0) - (g.sms_count IS NOT NULL)::INTEGER + (n.sms_count IS NOT NULL)::INTEGER)::INTEGER AS sms_n,
  (coalesce(p.recharges_sum, 0) - coalesce(g.recharge_count, 0) + coalesce(n.recharge_count, 0))::BIGINT AS recharges_sum,
  coalesce(p.recharge_amount_sum, 0) - coalesce(g.recharge_amount, 0) + coalesce(n.recharge_amount, 0) AS recharge_amount_sum,
  (coalesce(p.delay_sum, 0) - coalesce(g.payment_delay_days, 0) + coalesce(n.payment_delay_days, 0))::BIGINT AS delay_sum,
  (coalesce(p.delay_n, 0) - (g.payment_delay_days IS NOT NULL)::INTEGER + (n.payment_delay_days IS NOT NULL)::INTEGER)::INTEGER AS delay_n,
  (coalesce(p.complaints_recent_sum, 0) - coalesce(m3.complaints, 0) + coalesce(n.complaints, 0))::BIGINT AS complaints_recent_sum,
  coalesce(p.voice_recent_sum, 0) - coalesce(m3.voice_minutes, 0) + coalesce(n.voice_minutes, 0) AS voice_recent_sum,
  coalesce(p.voice_before_sum, 0) - coalesce(m6.voice_minutes, 0) + coalesce(m3.voice_minutes, 0) AS voice_before_sum,
  coalesce(p.data_recent_sum, 0) - coalesce(m3.data_mb, 0) + coalesce(n.data_mb, 0) AS data_recent_sum,
  coalesce(p.data_before_sum, 0) - coalesce(m6.data_mb, 0) + coalesce(m3.data_mb, 0) AS data_before_sum,
  coalesce(p.spend_recent_sum, 0) - coalesce(m3.spend, 0) + coalesce(n.spend, 0) AS spend_recent_sum,
  coalesce(p.spend_before_sum, 0) - coalesce(m6.spend, 0) + coalesce(m3.spend, 0) AS spend_before_sum,
  (coalesce(p.recharges_recent_sum, 0) - coalesce(m3.recharge_count, 0) + coalesce(n.recharge_count, 0))::BIGINT AS recharges_recent_sum,
  (coalesce(p.recharges_recent_n, 0) - (m3.recharge_count IS NOT NULL)::INTEGER + (n.recharge_count IS NOT NULL)::INTEGER)::INTEGER AS recharges_recent_n,
  (coalesce(p.recharges_before_sum, 0) - coalesce(m6.recharge_count, 0) + coalesce(m3.recharge_count, 0))::BIGINT AS recharges_before_sum,
  (coalesce(p.recharges_before_n, 0) - (m6.recharge_count IS NOT NULL)::INTEGER + (m3.recharge_count IS NOT NULL)::INTEGER)::INTEGER AS recharges_before_n,
  n.spend AS spend_now,
  n.voice_minutes AS voice_now,
  n.data_mb AS data_now,
  n.churn_label AS churn_label_now,
  CASE WHEN n.last_recharge_date IS NULL THEN [] ELSE [{'months_ago': 0, 'date': n.last_recharge_date}] END
    || list_transform(list_filter(coalesce(p.recharge_dates, []), r -> r.months_ago < mo.h - 1),
                      r -> {'months_ago': r.months_ago + 1, 'date': r.date}) AS recharge_dates
FROM read_parquet(getvariable('previous_state')) p
FULL JOIN now n USING (subscriber_id)
LEFT JOIN m3 USING (subscriber_id)
LEFT JOIN m6 USING (subscriber_id)
LEFT JOIN gone g USING (subscriber_id)
CROSS JOIN months mo
WHERE coalesce(p.active_months, 0) - (g.subscriber_id IS NOT NULL)::INTEGER + (n.subscriber_id IS NOT NULL)::INTEGER > 0;
