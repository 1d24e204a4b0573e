-- Run parameters and domain rules (domain/rules.ts) as one row that the feature SQL joins:
-- every value bound by activities/features.ts writeFeatureSettings, never spliced into SQL. A
-- score's component the input lacks weighs 0 there, and stability_scale / star_scale rescale the
-- rest to the full range (exactly 1 when every component is there).
CREATE OR REPLACE TABLE feature_settings AS SELECT
  $history_months::INTEGER AS history_months, $use_user_labels::BOOLEAN AS use_user_labels,
  $tenure_cap_months::DOUBLE AS tenure_cap_months, $w_tenure::DOUBLE AS w_tenure,
  $w_contract::DOUBLE AS w_contract, $w_broadband::DOUBLE AS w_broadband,
  $w_family_bundle::DOUBLE AS w_family_bundle, $call_circle_cap::DOUBLE AS call_circle_cap,
  $w_call_circle::DOUBLE AS w_call_circle, $w_premium_number::DOUBLE AS w_premium_number,
  $stability_scale::DOUBLE AS stability_scale,
  $star_spend::DOUBLE AS star_spend, $star_frequency::DOUBLE AS star_frequency, $star_tenure::DOUBLE AS star_tenure,
  $star_payment_delay::DOUBLE AS star_payment_delay, $star_complaints::DOUBLE AS star_complaints,
  $star_scale::DOUBLE AS star_scale;
