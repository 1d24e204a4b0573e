import { CONTACT_OUTCOMES } from '../domain/campaigns';

/**
 * The contact-log contract (`--param contacts=<file>`, CSV or Parquet): one row per contact
 * attempt on last month's dispatch list. A file missing a required column is refused; rows
 * breaking a rule are quarantined with the first rule they break (contacts_quarantine.parquet).
 */
export const CONTACTS_CONTRACT = [
  { name: 'subscriber_id', required: true, description: "Subscriber key, as on last month's dispatch list" },
  { name: 'contact_date', required: true, description: 'Day of the contact (a date or timestamp) in the run month' },
  { name: 'action', required: false, description: 'Product or action offered (recommended_product on the list)' },
  { name: 'channel', required: false, description: 'Channel used, e.g. outbound call, SMS and app push' },
  {
    name: 'outcome',
    required: false,
    description: `One of ${CONTACT_OUTCOMES.join(', ')}; empty when not known (other words read as not known, and are counted)`,
  },
] as const;

/** Quarantine reasons, in the order they are checked. */
export const CONTACT_QUARANTINE_REASONS = {
  missingId: 'subscriber_id: missing',
  badDate: 'contact_date: not a valid date',
  outsideMonth: 'contact_date: outside the run month',
  unknownSubscriber: "subscriber_id: not on last month's dispatch list",
} as const;
