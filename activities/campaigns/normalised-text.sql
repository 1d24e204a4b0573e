-- Text compared as people type it: case, surrounding spaces and runs of spaces or '_' aside. The
-- contact log's words (01_contacts.sql) and the contact-log mapping's (contact-log.ts, which
-- refuses two mapped words that fold alike) are folded by this one macro.
CREATE OR REPLACE TEMP MACRO normalised_text(t) AS nullif(trim(regexp_replace(lower(t), '[_\s]+', ' ', 'g')), '');
