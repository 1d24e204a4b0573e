-- Rows that broke the input contract, with where they came from and why.
CREATE OR REPLACE TEMP VIEW snapshot_quarantine AS
SELECT source_file, file_row, published_id(subscriber_id) AS subscriber_id, "month", reason
FROM quarantine
ORDER BY source_file, file_row;
