-- Rows that broke the input contract, with where they came from and why; a month that could not
-- be read as the file wrote it (month_text), so the analyst sees what was there.
CREATE OR REPLACE TEMP VIEW snapshot_quarantine AS
SELECT source_file, file_row, published_id(subscriber_id) AS subscriber_id, coalesce("month", month_text) AS "month", reason
FROM quarantine
ORDER BY source_file, file_row;
