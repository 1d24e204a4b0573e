/**
 * subscribers.parquet's columns (activities/publish/tables/01_subscribers.sql), in order, before
 * the user's own features, which follow under the names the models give them: a user's column
 * named like one of these, in any case, is published, and named in rules and reasons, as
 * `user:<name>` (a test holds this list to the published table).
 */
export const SUBSCRIBER_COLUMNS = [
  'subscriber_id',
  'month',
  'segment_id',
  'segment_name',
  'churn_score',
  'risk_band',
  'revenue_at_risk',
  'churn_reasons',
  'reason_words',
  'value_tier',
  'high_value',
  'star_grade',
  'stability_score',
  'stable',
  'tags',
  'operation_priority',
  'retention_style',
  'recommended_product',
  'channel',
  'contact_moment',
  'arpu',
  'mou',
  'dou',
  'sms',
  'monetary',
  'frequency',
  'recharge_amount',
  'recency_days',
  'payment_delay_avg',
  'complaints_recent',
  'mou_trend',
  'dou_trend',
  'spend_trend',
  'recharge_trend',
  'spend_slope_rel',
  'spend_volatility',
  'mou_volatility',
  'tenure_months',
  'contract_months_left',
  'sticky_services',
  'call_circle',
  'premium_number',
  'plan',
  'region',
  'grid',
] as const;

/**
 * Columns the snapshot tables' SQL works with beside the published ones (row_idx joins the stage
 * outputs; 04_dispatch.sql's draw and strata read `s.*` of the subscribers): a user's column is
 * never named like them either.
 */
export const WORKING_COLUMNS = ['row_idx', 'control_draw', 'stratum_min_draw', 'stratum_size'] as const;
