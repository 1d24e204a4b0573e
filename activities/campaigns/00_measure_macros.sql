-- The measure step shared by the measurement of last month's list (02_measure.sql) and its
-- follow-up a month later (04_follow_up.sql): a dispatch list's subscribers with their arm, their
-- weight and whether they churned in the run month, then churn per arm and uplift per group,
-- overall and by action (recommended product), segment, channel, contact moment and grid.
-- Churned: on the list and not active this month (no valid usage row in the run month, so not in
-- snapshot_subscribers): the same definition as the churn model's label. As for that label, a
-- subscriber whose every run-month row was quarantined (unreadable, not absent) is in neither
-- arm: whether it left is unknown (table unreadable_in_run_month,
-- features/unreadable_in_run_month.sql, whose ids are raw: they are compared as published, through
-- published_id of activities/publish/tables/00_macros.sql, like the list's and snapshot_subscribers',
-- which are keyed hashes when ids are pseudonymised).
-- Weights: the list held out, besides every draw below controlShare s, the lowest draw of a
-- stratum of n (n s >= 1) where nobody drew that low (publish/tables/04_dispatch.sql), so a
-- subscriber of such a stratum was held out with the chance p = s + (1 - s)^n / n (32.9% in a
-- stratum of 4 at 0.25), of any other with p = s. Each subscriber weighs the inverse of its chance
-- of its arm (1 / p held out, 1 / (1 - p) targeted), and an arm's churn rate is the weighted mean
-- (Hajek): r = sum(w y) / sum(w), y = 1 when churned. Unweighted, small strata, held out more
-- often, would count for more in the control group than on the list. Its variance (linearised):
-- v = sum(w^2 (y - r)^2) / sum(w)^2, which is r (1 - r) / n with equal weights; the arm's Wilson
-- interval is taken at its effective size n_eff = r (1 - r) / v (Kish's sum(w)^2 / sum(w^2) where
-- v = 0: no churner, or only churners), the arm's size when every weight is equal.
-- Uplift = control churn rate - contacted churn rate (positive: fewer left), with the Newcombe
-- hybrid score interval (from two Wilson intervals at normal quantile z). The whole list's is a 95%
-- interval (z from the session variable z). The groups of a breakdown (action, segment, channel,
-- contact moment, grid) have simultaneous 95% intervals over those of them read (not too small):
-- Bonferroni, each at 1 - alpha / groups read (session variable alpha, 0.05), so that with no
-- effect some group of the breakdown reads significant in about alpha of the campaigns, whatever
-- their overlap. Read one by one at 95%, some action did in a sixth of generated campaigns without
-- effect, some group of some breakdown in a quarter (docs/campaigns.md, "Reading many groups").
-- Wilson's interval of a rate r (x / n) in an arm of (effective) size n.
CREATE OR REPLACE TEMP MACRO wilson_centre(r, n, z) AS
  (r + z ^ 2 / (2 * n)) / (1 + z ^ 2 / n);
CREATE OR REPLACE TEMP MACRO wilson_half(r, n, z) AS
  z * sqrt(r * (1 - r) / n + z ^ 2 / (4 * n ^ 2)) / (1 + z ^ 2 / n);
CREATE OR REPLACE TEMP MACRO wilson_low(r, n, z) AS wilson_centre(r, n, z) - wilson_half(r, n, z);
CREATE OR REPLACE TEMP MACRO wilson_high(r, n, z) AS wilson_centre(r, n, z) + wilson_half(r, n, z);
-- An arm's effective size from its weighted churn rate r and its sums w = sum(w), ww = sum(w^2),
-- wwy = sum(w^2 y): n_eff = r (1 - r) / v, v = sum(w^2 (y - r)^2) / sum(w)^2
-- = (sum(w^2 y) (1 - 2 r) + r^2 sum(w^2)) / sum(w)^2 (y^2 = y); Kish's sum(w)^2 / sum(w^2) where v = 0.
CREATE OR REPLACE TEMP MACRO effective_size(r, w, ww, wwy) AS
  CASE WHEN r * (1 - r) > 0 THEN r * (1 - r) * w ^ 2 / (wwy * (1 - 2 * r) + r ^ 2 * ww) ELSE w ^ 2 / ww END;
-- The standard normal quantile of 1 - q, for a tail probability q below 0.02425: Acklam's rational
-- approximation of the lower tail (relative error under 1.2e-9), at t = sqrt(-2 ln q); e.g. 2.8653
-- for q = 0.05 / 2 / 12 (twelve groups read).
CREATE OR REPLACE TEMP MACRO acklam_lower_tail(t) AS
  (((((-7.784894002430293e-03 * t - 3.223964580411365e-01) * t - 2.400758277161838e+00) * t
     - 2.549732539343734e+00) * t + 4.374664141464968e+00) * t + 2.938163982698783e+00)
  / ((((7.784695709041462e-03 * t + 3.224671290700398e-01) * t + 2.445134137142996e+00) * t
     + 3.754408661907416e+00) * t + 1);
CREATE OR REPLACE TEMP MACRO normal_upper_quantile(q) AS -acklam_lower_tail(sqrt(-2 * ln(q)));

-- The subscribers of the dispatch list in table `list` (with its control flag), their groups, their
-- weight and whether they churned in the run month (or are unreadable: in neither arm, but
-- counted). The stratum of a subscriber is counted on the whole list, as the draw counted it:
-- region x grid x operation priority, or grid x operation priority for a list ranked per grid
-- (session variable control_strata_by_grid: published before session 35, whose strata were so).
-- Session variable control_share: the list's controlShare; unknown (NULL), every weight is 1.
CREATE OR REPLACE TEMP MACRO campaign_list_subscribers(list) AS TABLE
WITH stratified AS (
  SELECT *,
    count(*) OVER (PARTITION BY CASE WHEN NOT coalesce(getvariable('control_strata_by_grid'), false) THEN region END,
                                grid, operation_priority) AS stratum_size,
    getvariable('control_share')::DOUBLE AS share
  FROM query_table(list)
), chances AS (
  -- the same test of a stratum big enough for a floor as 04_dispatch.sql's
  SELECT *, CASE WHEN stratum_size * share >= 1 THEN share + (1 - share) ^ stratum_size / stratum_size
                 ELSE share END AS held_out_chance
  FROM stratified
)
SELECT d.subscriber_id, d.control, d.recommended_product, d.segment_name, d.channel, d.contact_moment,
       -- a grid is a grid of its region: a code that repeats across regions is named with its region
       CASE WHEN count(DISTINCT coalesce(d.region, '(no region)')) OVER (PARTITION BY d.grid) > 1
            THEN coalesce(d.region, '(no region)') || ' / ' || coalesce(d.grid, '(no grid)') ELSE d.grid END AS grid,
       coalesce(CASE WHEN d.control THEN 1 / d.held_out_chance ELSE 1 / (1 - d.held_out_chance) END, 1) AS arm_weight,
       s.subscriber_id IS NULL AS churned,
       -- in neither arm, but counted (control_unreadable, targeted_unreadable)
       s.subscriber_id IS NULL AND d.subscriber_id IN (SELECT published_id(subscriber_id) FROM unreadable_in_run_month) AS unreadable
FROM chances d
LEFT JOIN snapshot_subscribers s USING (subscriber_id);

-- Per (dimension, group) of the subscribers in table `subscribers` (campaign_list_subscribers'
-- columns and contacted, accepted, outcome_known): each arm's churn, the uplift with its interval,
-- too small and significant, kept per 100 contacts and the contact counts. Subscribers and churned
-- are counts; churn rates are weighted (above). Weighted sums add whole counts times a weight, one
-- term per weight in the order of the weights (a parallel sum of doubles adds in a varying order,
-- and the file must be the same bytes on every run). In no particular order: order by
-- list_position(getvariable('dimensions'), dimension), "group".
CREATE OR REPLACE TEMP MACRO campaign_groups(subscribers) AS TABLE
WITH grouped AS (
  SELECT c.*, g.dimension, g."group"
  FROM query_table(subscribers) c,
  LATERAL (VALUES
    ('all', 'all on the list'), ('action', c.recommended_product), ('segment', c.segment_name),
    ('channel', c.channel), ('contact moment', c.contact_moment), ('grid', c.grid)
  ) AS g(dimension, "group")
), by_group AS (
  SELECT dimension, "group",
    count(*) FILTER (WHERE NOT unreadable AND control) AS control_subscribers,
    count(*) FILTER (WHERE NOT unreadable AND control AND churned) AS control_churned,
    count(*) FILTER (WHERE NOT unreadable AND NOT control) AS targeted_subscribers,
    count(*) FILTER (WHERE NOT unreadable AND NOT control AND churned) AS targeted_churned,
    count(*) FILTER (WHERE NOT unreadable AND NOT control AND contacted) AS contacted_subscribers,
    count(*) FILTER (WHERE NOT unreadable AND NOT control AND outcome_known) AS outcome_subscribers,
    count(*) FILTER (WHERE NOT unreadable AND NOT control AND accepted) AS accepted_subscribers,
    count(*) FILTER (WHERE NOT unreadable AND control AND contacted) AS contacted_controls,
    count(*) FILTER (WHERE NOT unreadable AND NOT control AND accepted AND churned) AS accepted_churned,
    count(*) FILTER (WHERE unreadable AND control) AS control_unreadable,
    count(*) FILTER (WHERE unreadable AND NOT control) AS targeted_unreadable
  FROM grouped
  GROUP BY dimension, "group"
), by_weight AS (
  -- whole counts per arm and weight: the terms of the weighted sums
  SELECT dimension, "group", control, arm_weight AS w,
    count(*) AS listed, count(*) FILTER (WHERE churned) AS churners
  FROM grouped
  WHERE NOT unreadable
  GROUP BY dimension, "group", control, arm_weight
), weighted AS (
  -- per arm: sum(w), sum(w y), sum(w^2), sum(w^2 y), each added in the order of w
  SELECT dimension, "group",
    list_sum(list(listed * w ORDER BY w) FILTER (WHERE control)) AS control_w,
    list_sum(list(churners * w ORDER BY w) FILTER (WHERE control)) AS control_wy,
    list_sum(list(listed * w * w ORDER BY w) FILTER (WHERE control)) AS control_ww,
    list_sum(list(churners * w * w ORDER BY w) FILTER (WHERE control)) AS control_wwy,
    list_sum(list(listed * w ORDER BY w) FILTER (WHERE NOT control)) AS targeted_w,
    list_sum(list(churners * w ORDER BY w) FILTER (WHERE NOT control)) AS targeted_wy,
    list_sum(list(listed * w * w ORDER BY w) FILTER (WHERE NOT control)) AS targeted_ww,
    list_sum(list(churners * w * w ORDER BY w) FILTER (WHERE NOT control)) AS targeted_wwy
  FROM by_weight
  GROUP BY dimension, "group"
), rates AS (
  SELECT b.*, s.* EXCLUDE (dimension, "group"),
    s.control_wy / nullif(s.control_w, 0) AS control_churn_rate,
    s.targeted_wy / nullif(s.targeted_w, 0) AS targeted_churn_rate
  FROM by_group b
  LEFT JOIN weighted s ON s.dimension = b.dimension AND s."group" IS NOT DISTINCT FROM b."group"
), effective AS (
  SELECT *,
    effective_size(control_churn_rate, control_w, control_ww, control_wwy) AS control_effective,
    effective_size(targeted_churn_rate, targeted_w, targeted_ww, targeted_wwy) AS targeted_effective
  FROM rates
), sized AS (
  SELECT *, least(control_subscribers, targeted_subscribers) < getvariable('min_arm_subscribers') AS too_small
  FROM effective
), levels AS (
  -- the whole list at 95%; a breakdown's groups simultaneously over its groups read (one alone: 95%)
  SELECT *,
    CASE WHEN dimension = 'all' OR groups_read <= 1 THEN getvariable('z')
         ELSE normal_upper_quantile(getvariable('alpha') / 2 / groups_read) END AS z,
    CASE WHEN dimension = 'all' OR groups_read <= 1 THEN 1 - getvariable('alpha')
         ELSE 1 - getvariable('alpha') / groups_read END AS interval_level
  FROM (SELECT *, count(*) FILTER (WHERE NOT too_small) OVER (PARTITION BY dimension) AS groups_read FROM sized)
), intervals AS (
  SELECT *,
    control_churn_rate - targeted_churn_rate AS absolute_uplift,
    (control_churn_rate - targeted_churn_rate) - sqrt(
      (control_churn_rate - wilson_low(control_churn_rate, control_effective, z)) ^ 2
      + (wilson_high(targeted_churn_rate, targeted_effective, z) - targeted_churn_rate) ^ 2) AS uplift_low,
    (control_churn_rate - targeted_churn_rate) + sqrt(
      (wilson_high(control_churn_rate, control_effective, z) - control_churn_rate) ^ 2
      + (targeted_churn_rate - wilson_low(targeted_churn_rate, targeted_effective, z)) ^ 2) AS uplift_high
  FROM levels
)
SELECT
  dimension, "group",
  control_subscribers, control_churned, round(control_churn_rate, 6) AS control_churn_rate,
  targeted_subscribers, targeted_churned, round(targeted_churn_rate, 6) AS targeted_churn_rate,
  round(absolute_uplift, 6) AS absolute_uplift,
  round(absolute_uplift / nullif(control_churn_rate, 0), 6) AS relative_uplift,
  round(uplift_low, 6) AS uplift_low,
  round(uplift_high, 6) AS uplift_high,
  NOT too_small AND (uplift_low > 0 OR uplift_high < 0) AS significant,
  too_small,
  -- per 100 subscribers actually contacted: the list's uplift over the share reached by a contact
  -- (Bloom); not given (NULL) for a group with fewer logged subscribers than min_logged_subscribers,
  -- nor at all when kept_per_contact_readable is false (a log mostly unusable: most likely the wrong file)
  CASE WHEN getvariable('kept_per_contact_readable') AND contacted_subscribers >= getvariable('min_logged_subscribers')
       THEN round(100 * absolute_uplift * targeted_subscribers / nullif(contacted_subscribers, 0), 3)
  END AS kept_per_100_contacts,
  contacted_subscribers,
  accepted_subscribers,
  round(accepted_subscribers / nullif(outcome_subscribers, 0), 6) AS acceptance_rate,
  contacted_controls,
  -- on the list, but every run-month usage row quarantined: whether they left is unknown (in neither arm)
  control_unreadable,
  targeted_unreadable,
  -- accepted an offer yet no usage in the run month: churned anyway, or a log to check (a wrong id or outcome)
  accepted_churned,
  -- the confidence of the group's own interval: 0.95 for the whole list, 1 - 0.05 / the groups its breakdown reads
  round(interval_level, 6) AS interval_level
FROM intervals;
