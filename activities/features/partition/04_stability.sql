-- Stability: tenure, contract, sticky services, call circle and premium number, as
-- of the feature month, combined into a 0-100 score with the weights in domain/rules.ts. Over the
-- components the input has: an absent one weighs 0 and stability_scale rescales the rest to 0-100
-- (feature_settings.sql; 1 when all are there).
CREATE OR REPLACE TEMP TABLE stability_features AS
SELECT
  w.as_of,
  w.subscriber_id,
  w.tenure_months::DOUBLE AS tenure_months,
  greatest(coalesce(date_diff('month', w.as_of, w.contract_end_date), 0), 0)::DOUBLE AS contract_months_left,
  (coalesce(w.has_broadband, false)::INTEGER + coalesce(w.has_family_bundle, false)::INTEGER)::DOUBLE AS sticky_services,
  coalesce(w.call_circle, 0)::DOUBLE AS call_circle,
  coalesce(w.premium_number, false) AS premium_number,
  w.plan,
  w.region,
  w.grid,
  round((
      s.w_tenure * least(w.tenure_months / s.tenure_cap_months, 1)
    + s.w_contract * (coalesce(w.contract_end_date > w.as_of, false))::INTEGER
    + s.w_broadband * coalesce(w.has_broadband, false)::INTEGER
    + s.w_family_bundle * coalesce(w.has_family_bundle, false)::INTEGER
    + s.w_call_circle * least(coalesce(w.call_circle, 0) / s.call_circle_cap, 1)
    + s.w_premium_number * coalesce(w.premium_number, false)::INTEGER
  ) * s.stability_scale, 1) AS stability_score
FROM feature_window w, feature_settings s
WHERE w.months_ago = 0;
