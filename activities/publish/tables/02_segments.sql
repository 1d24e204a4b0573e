-- Segment profiles and each segment's action (CPCT).
CREATE OR REPLACE TEMP VIEW snapshot_segments AS
WITH profile AS (
  SELECT
    segment_id,
    count(*) AS subscribers,
    count(*) / sum(count(*)) OVER () AS subscriber_share,
    (sum(exact(arpu)) / sum(sum(exact(arpu))) OVER ())::DOUBLE AS revenue_share,
    avg(exact(arpu))::DOUBLE AS arpu, avg(exact(mou))::DOUBLE AS mou, avg(exact(dou))::DOUBLE AS dou,
    avg(exact(sms))::DOUBLE AS sms, avg(exact(mou_trend))::DOUBLE AS mou_trend,
    avg(tenure_months)::DOUBLE AS tenure_months, avg(exact(stability_score))::DOUBLE AS stability_score,
    avg(exact(churn_score))::DOUBLE AS mean_churn_score,
    sum(exact(revenue_at_risk))::DOUBLE AS revenue_at_risk,
    count(*) FILTER (WHERE list_contains(tags, 'warning')) AS warning_subscribers,
    count(*) FILTER (WHERE risk_band = 'high') AS high_risk_subscribers,
    count(*) FILTER (WHERE high_value) AS high_value_subscribers
  FROM snapshot_subscribers
  GROUP BY segment_id
)
SELECT p.segment_id, c.segment_name, p.* EXCLUDE (segment_id),
       c.recommended_product, c.segment_channel AS channel, c.contact_moment
FROM profile p JOIN segment_catalog c USING (segment_id)
ORDER BY p.segment_id;
