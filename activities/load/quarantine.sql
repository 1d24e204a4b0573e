-- The rows that broke the usage contract, each with its file, row and reason, in file order, and
-- the month as written where it could not be read (LOADED_QUARANTINE_COLUMNS).
-- Reads checked_usage (activities/load-sql.ts) and the input file paths (getvariable('input_files'));
-- adds to table quarantine (a load checks its files month by month).
INSERT INTO quarantine
SELECT getvariable('input_files')[file_index + 1] AS source_file, file_row, subscriber_id, strftime("month", '%Y-%m') AS "month", reason,
       month_text
FROM checked_usage WHERE reason IS NOT NULL ORDER BY source_file, file_row;
