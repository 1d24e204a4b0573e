-- The share of revenue held by everyone ranked above a subscriber by ARPU (Pareto), from which
-- publishing sets the value tier with the run's key-customer share (publish/tables/01_subscribers.sql:
-- the tier and the high-value flag are labels, so changing them reuses the stored features); star
-- grade (1-5) from spend, recharge frequency, tenure, payment and complaints (weights bound in
-- feature_settings); row_idx numbers subscribers within a purpose in id order.
-- Reads all_subscriber_features: every partition's subscriber_features (activities/features.ts).
-- Only the scoring rows are ranked and graded: the value tier and star grade label this month's
-- subscribers when publishing and feed no model, so the training rows get their row_idx alone
-- (revenue_share_above and star_grade NULL).
-- Percent ranks of the grade inputs come from counting each distinct value once, not from
-- sorting every subscriber per column (4 sorts cost ~1 s at 1M; ARPU's two sorts ~30 s at 10M,
-- where its distinct values are ~7% of the rows). Equal to percent_rank(): values below /
-- (rows - 1), a NULL value last.
CREATE OR REPLACE TEMP MACRO rank_share(below, rows) AS CASE WHEN rows > 1 THEN below::DOUBLE / (rows - 1)::DOUBLE ELSE 0 END;
CREATE OR REPLACE TEMP MACRO value_ranks(input) AS TABLE
  SELECT purpose, v, count(*) AS subscribers,
    rank_share(sum(count(*)) OVER (PARTITION BY purpose ORDER BY v) - count(*), sum(count(*)) OVER (PARTITION BY purpose)) AS share
  FROM (SELECT purpose, COLUMNS(input) AS v FROM all_subscriber_features WHERE purpose = 'score')
  GROUP BY purpose, v;

-- The revenue above a subscriber, from the distinct ARPU values too: the revenue of every higher
-- value plus, among equal values, that of the subscribers with a lower id (the running sum's
-- tiebreak), in the same exact DECIMAL units, so the shares are the same doubles. A NULL ARPU
-- adds nothing, as in a running sum.
CREATE OR REPLACE TEMP TABLE value_features AS
WITH spend_ranks AS (
  SELECT
    purpose,
    v AS arpu,
    share AS spend_rank,
    coalesce(sum(subscribers * v::DECIMAL(18, 6)) OVER (PARTITION BY purpose ORDER BY v DESC
                               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS revenue_above_value,
    sum(subscribers * v::DECIMAL(18, 6)) OVER (PARTITION BY purpose) AS revenue_total
  FROM value_ranks('arpu')
),
ranked AS (
  SELECT
    u.purpose,
    u.as_of,
    u.subscriber_id,
    u.arpu,
    -- the row order models use, numbered here on narrow rows (on the wide ones it cost ~1 s more at 1M)
    (row_number() OVER (PARTITION BY u.purpose ORDER BY u.subscriber_id) - 1)::INTEGER AS row_idx,
    row_number() OVER (PARTITION BY u.purpose, u.arpu ORDER BY u.subscriber_id) - 1 AS equal_spend_before,
    fr.share AS frequency_rank,
    tr.share AS tenure_rank,
    pr.share AS payment_delay_rank,
    cr.share AS complaints_rank
  -- LEFT joins, which the optimizer keeps in this order: as inner joins it built one hash table
  -- of the four ranking tables' product per purpose (7.6M rows at 10M subscribers) and took ~2 s
  -- more. The same rows either way: these four columns are never NULL (02_aggregates.sql
  -- coalesces three; tenure_months is required, or 0 where a snapshot lacks it: load-sql.ts),
  -- so every row finds its rank.
  FROM (SELECT * FROM all_subscriber_features WHERE purpose = 'score') u
  LEFT JOIN value_ranks('frequency') fr ON fr.purpose = u.purpose AND fr.v = u.frequency
  LEFT JOIN value_ranks('tenure_months') tr ON tr.purpose = u.purpose AND tr.v = u.tenure_months
  LEFT JOIN value_ranks('payment_delay_avg') pr ON pr.purpose = u.purpose AND pr.v = u.payment_delay_avg
  LEFT JOIN value_ranks('complaints_recent') cr ON cr.purpose = u.purpose AND cr.v = u.complaints_recent
),
-- joined after the windows: beside the four joins above, the optimizer joined the small ranking
-- tables to each other on purpose alone first (a product of their rows)
spend_ranked AS (
  SELECT
    r.*,
    (sr.revenue_above_value + coalesce(r.arpu::DECIMAL(18, 6) * r.equal_spend_before, 0))::DECIMAL(38, 6)::DOUBLE
      / nullif(sr.revenue_total, 0)::DECIMAL(38, 6)::DOUBLE AS revenue_share_above,
    sr.spend_rank
  FROM ranked r
  JOIN spend_ranks sr ON sr.purpose = r.purpose AND sr.arpu IS NOT DISTINCT FROM r.arpu
)
SELECT
  r.purpose,
  r.as_of,
  r.subscriber_id,
  r.row_idx,
  coalesce(r.revenue_share_above, 0) AS revenue_share_above,
  -- weights from domain/rules.ts STAR_GRADE_WEIGHTS, over the components the input has: an absent
  -- one weighs 0 and star_scale rescales the rest (feature_settings.sql; 1 when all are there)
  least(5, 1 + floor((s.star_spend * r.spend_rank
    + s.star_frequency * r.frequency_rank
    + s.star_tenure * r.tenure_rank
    + s.star_payment_delay * (1 - r.payment_delay_rank)
    + s.star_complaints * (1 - r.complaints_rank)) * s.star_scale * 5))::INTEGER AS star_grade
FROM spend_ranked r, feature_settings s
UNION ALL
SELECT
  purpose,
  as_of,
  subscriber_id,
  (row_number() OVER (ORDER BY subscriber_id) - 1)::INTEGER AS row_idx,
  NULL::DOUBLE AS revenue_share_above,
  NULL::INTEGER AS star_grade
FROM all_subscriber_features
WHERE purpose = 'train';
