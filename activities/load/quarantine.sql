-- The rows that broke the usage contract, each with its file, row and reason, in file order.
-- Reads checked_usage (activities/load-sql.ts) and the input file paths (getvariable('input_files'));
-- adds to table quarantine (a load checks its files month by month).
INSERT INTO quarantine
SELECT getvariable('input_files')[file_index + 1] AS source_file, file_row, subscriber_id, strftime("month", '%Y-%m') AS "month", reason
FROM checked_usage WHERE reason IS NOT NULL ORDER BY source_file, file_row;
