-- The contact log checked against its contract (data/contacts-contract.ts): every row with the
-- first rule it breaks (reason NULL for a valid row). Reads view raw_contacts(file_row,
-- subscriber_id, contact_date, action, channel, outcome) as text, table previous_dispatch (last
-- month's list) and the session variables month_start, month_end, contact_outcomes and reason_*.
-- Ids are compared as published (keyed hashes when ids are pseudonymised, like the list's). With
-- a key, an id written as the list publishes it (64 hexadecimal digits: a team that worked from
-- the pseudonymised list logs what it read there) is taken as it is; an operator's id is keyed.
-- The quarantine keeps contact_date as read (NULL when unreadable) and contact_date_text as typed,
-- so that '2026-13-01' or '15/10/2026' can be seen and fixed; file_row: see activities/contact-log.ts.
-- An outcome that is none of contact_outcomes is read as unknown (outcome NULL, outcome_unread as
-- typed): the row is still a contact, as a row without an outcome is. A word of table
-- contact_mapped_words(contract_column, word, segflow_word) (the contact-log mapping's outcomes,
-- channels and actions, campaigns.ts) reads as its segflow word in its column, so that the
-- checks against the list (03_log_checks.sql) see segflow's channels and actions. contact_day (campaigns.ts) reads a day as the usage's dates are read (2026-06-05,
-- 2026/6/5, 2026年6月5日, 2026.06.05), or with the mapping's dateFormat alone.
-- Words are compared as normalised_text (normalised-text.sql) folds them.

-- one segflow word per column and folded word (the mapping refuses two words that fold alike)
CREATE OR REPLACE TEMP TABLE folded_mapped_words AS
SELECT contract_column, normalised_text(word) AS word, any_value(segflow_word) AS segflow_word
FROM contact_mapped_words GROUP BY 1, 2;

CREATE OR REPLACE TEMP TABLE checked_contacts AS
WITH typed AS (
  SELECT file_row,
    nullif(trim(subscriber_id), '') AS subscriber_id,
    contact_date AS contact_date_text,
    contact_day(contact_date) AS contact_date,
    coalesce(a.segflow_word, nullif(trim(r.action), '')) AS action,
    coalesce(c.segflow_word, nullif(trim(r.channel), '')) AS channel,
    coalesce(o.segflow_word, normalised_text(r.outcome)) AS outcome_read,
    nullif(trim(r.outcome), '') AS outcome_text
  FROM raw_contacts r
  LEFT JOIN folded_mapped_words o ON o.contract_column = 'outcome' AND o.word = normalised_text(r.outcome)
  LEFT JOIN folded_mapped_words c ON c.contract_column = 'channel' AND c.word = normalised_text(r.channel)
  LEFT JOIN folded_mapped_words a ON a.contract_column = 'action' AND a.word = normalised_text(r.action)
)
SELECT t.file_row, t.logged_id AS subscriber_id, t.contact_date, t.contact_date_text,
  t.action, t.channel,
  CASE WHEN list_contains(getvariable('contact_outcomes'), t.outcome_read) THEN t.outcome_read END AS outcome,
  CASE WHEN NOT list_contains(getvariable('contact_outcomes'), t.outcome_read) THEN t.outcome_text END AS outcome_unread,
  CASE
    WHEN t.subscriber_id IS NULL THEN getvariable('reason_missing_id')
    WHEN t.contact_date IS NULL THEN getvariable('reason_bad_date')
    WHEN t.contact_date < getvariable('month_start') OR t.contact_date > getvariable('month_end')
      THEN getvariable('reason_outside_month')
    WHEN t.logged_id NOT IN (SELECT subscriber_id FROM previous_dispatch)
      THEN getvariable('reason_unknown_subscriber')
  END AS reason
FROM (
  SELECT *,
    CASE WHEN getvariable('pseudonym_key') IS NOT NULL AND regexp_full_match(subscriber_id, '[0-9a-f]{64}')
         THEN subscriber_id ELSE published_id(subscriber_id) END AS logged_id
  FROM typed
) t;

CREATE OR REPLACE TEMP TABLE snapshot_contacts_quarantine AS
SELECT getvariable('contacts_file') AS source_file, file_row, subscriber_id, strftime(contact_date, '%Y-%m-%d') AS contact_date,
       contact_date_text, coalesce(outcome, normalised_text(outcome_unread)) AS outcome, reason
FROM checked_contacts WHERE reason IS NOT NULL
ORDER BY file_row;
