-- Rows loaded and quarantined, the valid rows of the run's month ($month), and the valid rows
-- whose month is not their file's month folder (file_folder_months: NULL for a file in none).
SELECT count(*) FILTER (WHERE reason IS NULL) AS loaded, count(*) FILTER (WHERE reason IS NOT NULL) AS quarantined,
       count(*) FILTER (WHERE reason IS NULL AND "month" = $month::DATE) AS in_month,
       count(*) FILTER (WHERE reason IS NULL AND "month" IS DISTINCT FROM f.folder_month::DATE) AS outside_month_folder
FROM checked_usage c LEFT JOIN file_folder_months f USING (file_index);
