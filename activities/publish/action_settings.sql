-- Value-tier, tagging, dispatch and contact-moment rules (domain/rules.ts, domain/actions.ts) as
-- one row the published tables join; every value bound by activities/publish.ts, never spliced into SQL.
CREATE OR REPLACE TEMP TABLE action_settings AS SELECT
  $key_share::DOUBLE AS key_share, $high_share::DOUBLE AS high_share, $mid_share::DOUBLE AS mid_share,
  $high_value_threshold::DOUBLE AS high_value_threshold,
  $stable_score::DOUBLE AS stable_score, $warning_mou_trend::DOUBLE AS warning_mou_trend,
  $loyal_tenure::DOUBLE AS loyal_tenure, $new_tenure::DOUBLE AS new_tenure, $declining_trend::DOUBLE AS declining_trend,
  $dispatch_max_priority::INTEGER AS dispatch_max_priority, $moment_warning AS moment_warning,
  $moment_new AS moment_new, $moment_declining AS moment_declining, $control_share::DOUBLE AS control_share,
  $dispatch_order AS dispatch_order;
