-- Synthetic monthly telecom usage with planted behavioural groups and churners.
-- Every random draw is a hash of (subscriber, draw id, seed): output depends only on the
-- parameters, never on thread scheduling. Expects temp table gen_params(seed, subscribers,
-- months, first_month) and macros u(id, draw, seed) in (0,1) and gauss(id, draw, seed) ~ N(0,1).

CREATE OR REPLACE TEMP TABLE group_profile AS
SELECT * FROM (VALUES
  -- group,              share_to, spend, mou,  dou,   sms, circle, tenure, recharges, churn_hazard, p_contract, p_broadband, p_family, p_premium
  ('budget_light',        0.30,    25.0,  60.0,  700.0, 12.0, 12.0,  16.0,  1.0,  0.030, 0.05, 0.05, 0.05, 0.02),
  ('data_streamer',       0.52,    95.0,  70.0, 24000.0, 4.0, 18.0,  14.0,  2.0,  0.022, 0.25, 0.10, 0.10, 0.04),
  ('voice_traditional',   0.72,    70.0, 950.0,  400.0, 45.0, 70.0,  70.0,  2.0,  0.012, 0.30, 0.20, 0.15, 0.10),
  ('family_bundle',       0.92,   160.0, 320.0, 7000.0, 15.0, 40.0,  44.0,  3.0,  0.006, 0.60, 0.95, 0.95, 0.08),
  ('business_premium',    1.00,   320.0,1500.0,14000.0, 30.0,160.0,  80.0,  4.0,  0.010, 0.90, 0.60, 0.30, 0.50)
) AS t(planted_group, share_to, spend, mou, dou, sms, circle, tenure, recharges, churn_hazard, p_contract, p_broadband, p_family, p_premium);

CREATE OR REPLACE TEMP TABLE subscribers AS
WITH base AS (
  SELECT range::BIGINT + 1 AS id, p.seed, p.months FROM gen_params p, range(p.subscribers)
), grouped AS (
  SELECT b.*, g.*
  FROM (SELECT *, u(id, 1, seed) AS u_group FROM base) b
  JOIN (SELECT *, lag(share_to, 1, 0.0) OVER (ORDER BY share_to) AS share_from FROM group_profile) g
    ON b.u_group >= g.share_from AND b.u_group < g.share_to
), drawn AS (
  SELECT *,
    -- 6% join during the window; the rest were already on the network
    CASE WHEN u(id, 2, seed) < 0.06 THEN 1 + floor(u(id, 3, seed) * (months - 1))::INTEGER ELSE 0 END AS join_idx,
    u(id, 4, seed) < p_contract AS has_contract,
    -- the revenue pyramid: log-normal levels, plus a Pareto tail for business accounts
    CASE WHEN planted_group = 'business_premium'
         THEN least(spend * pow(u(id, 5, seed), -1.0 / 1.9), 250000.0)
         ELSE spend * exp(0.45 * gauss(id, 6, seed)) END AS spend_level,
    mou * exp(0.35 * gauss(id, 7, seed)) AS mou_level,
    dou * exp(0.35 * gauss(id, 8, seed)) AS dou_level,
    sms * exp(0.5 * gauss(id, 9, seed)) AS sms_level,
    circle * exp(0.3 * gauss(id, 10, seed)) AS circle_level,
    least(240, greatest(1, round(tenure * exp(0.6 * gauss(id, 11, seed)))))::INTEGER AS tenure_at_start,
    u(id, 12, seed) < p_broadband AS has_broadband,
    u(id, 13, seed) < p_family AS has_family_bundle,
    u(id, 14, seed) < p_premium AS premium_number,
    1 + floor(u(id, 15, seed) * 6)::INTEGER AS region_no,
    1 + floor(u(id, 16, seed) * 40)::INTEGER AS grid_no,
    -- 8% show a temporary usage dip without leaving: churn signals are never perfect
    CASE WHEN u(id, 17, seed) < 0.08 THEN 1 + floor(u(id, 18, seed) * (months - 1))::INTEGER END AS decoy_dip_idx
  FROM grouped
), hazard AS (
  SELECT *,
    least(0.5, churn_hazard
               * CASE WHEN tenure_at_start < 12 THEN 1.8 ELSE 1.0 END
               * CASE WHEN has_contract THEN 0.5 ELSE 1.3 END
               * CASE WHEN has_broadband OR has_family_bundle THEN 0.7 ELSE 1.0 END) AS monthly_hazard
  FROM drawn
)
SELECT *,
  -- month index at which the subscriber is first absent (geometric draw); NULL = stays
  CASE WHEN join_idx + 1 + floor(ln(u(id, 19, seed)) / ln(1 - monthly_hazard)) < months
       THEN (join_idx + 1 + floor(ln(u(id, 19, seed)) / ln(1 - monthly_hazard)))::INTEGER END AS churn_idx,
  floor(u(id, 20, seed) * 36)::INTEGER AS contract_months_at_start,
  CASE WHEN u(id, 21, seed) < 0.3 THEN 0.0 ELSE 0.3 + 0.7 * u(id, 22, seed) END AS warning_strength
FROM hazard;

CREATE OR REPLACE TEMP TABLE usage AS
WITH months AS (
  SELECT range::INTEGER AS m FROM gen_params p, range(p.months)
), active AS (
  SELECT s.*, mo.m, (p.first_month + to_months(mo.m))::DATE AS month,
    -- usage fades over the three months before leaving (or through a decoy dip)
    -- a churner's warning strength varies, and 30% leave with no warning at all
    CASE
      WHEN s.churn_idx - mo.m = 1 THEN 1 - 0.65 * s.warning_strength
      WHEN s.churn_idx - mo.m = 2 THEN 1 - 0.40 * s.warning_strength
      WHEN s.churn_idx - mo.m = 3 THEN 1 - 0.15 * s.warning_strength
      WHEN mo.m - s.decoy_dip_idx BETWEEN 0 AND 1 THEN 0.55
      ELSE 1.0 END AS fade,
    s.id * 100 + mo.m AS draw_key
  FROM subscribers s
  CROSS JOIN months mo
  CROSS JOIN gen_params p
  WHERE mo.m >= s.join_idx AND (s.churn_idx IS NULL OR mo.m < s.churn_idx)
), monthly AS (
  SELECT *,
    greatest(0, round(recharges * fade + u(draw_key, 30, seed) - 0.5))::INTEGER AS recharge_count
  FROM active
)
SELECT
  'S' || lpad(id::VARCHAR, 9, '0') AS subscriber_id,
  month,
  round(mou_level * fade * exp(0.25 * gauss(draw_key, 31, seed)), 1) AS voice_minutes,
  round(dou_level * fade * exp(0.25 * gauss(draw_key, 32, seed)), 1) AS data_mb,
  round(sms_level * fade * exp(0.4 * gauss(draw_key, 33, seed)))::INTEGER AS sms_count,
  round(spend_level * (0.4 + 0.6 * fade) * exp(0.12 * gauss(draw_key, 34, seed)), 2) AS spend,
  recharge_count,
  round(recharge_count * spend_level * (0.8 + 0.4 * u(draw_key, 35, seed)) / greatest(recharges, 1), 2) AS recharge_amount,
  CASE WHEN recharge_count > 0 THEN (month + to_days(floor(u(draw_key, 36, seed) * 28)::INTEGER))::DATE END AS last_recharge_date,
  greatest(0, round(2.5 * gauss(draw_key, 37, seed) + 14 * (1 - fade)))::INTEGER AS payment_delay_days,
  (CASE WHEN u(draw_key, 38, seed) < 0.03 + 0.5 * (1 - fade) THEN 1 ELSE 0 END
   + CASE WHEN u(draw_key, 39, seed) < 0.3 * (1 - fade) THEN 1 ELSE 0 END)::INTEGER AS complaints,
  CASE planted_group
    WHEN 'budget_light' THEN 'prepaid_basic'
    WHEN 'data_streamer' THEN 'data_unlimited'
    WHEN 'voice_traditional' THEN 'voice_classic'
    WHEN 'family_bundle' THEN 'family_share'
    ELSE 'business_pro' END AS plan,
  CASE WHEN has_contract
       THEN ((SELECT first_month FROM gen_params) + to_months(contract_months_at_start + 12))::DATE END AS contract_end_date,
  has_broadband,
  has_family_bundle,
  (CASE WHEN join_idx > 0 THEN m - join_idx ELSE tenure_at_start + m END)::INTEGER AS tenure_months,
  round(circle_level * (0.5 + 0.5 * fade) * exp(0.2 * gauss(draw_key, 40, seed)))::INTEGER AS call_circle,
  premium_number,
  'R' || region_no AS region,
  'R' || region_no || '-G' || lpad(grid_no::VARCHAR, 2, '0') AS grid,
  strftime(month, '%Y-%m') AS usage_month
FROM monthly;

CREATE OR REPLACE TEMP TABLE truth AS
SELECT
  'S' || lpad(s.id::VARCHAR, 9, '0') AS subscriber_id,
  s.planted_group,
  strftime((p.first_month + to_months(s.join_idx))::DATE, '%Y-%m') AS joined_month,
  CASE WHEN s.churn_idx IS NOT NULL THEN strftime((p.first_month + to_months(s.churn_idx))::DATE, '%Y-%m') END AS churn_month,
  s.decoy_dip_idx IS NOT NULL AS has_decoy_dip
FROM subscribers s, gen_params p;
