-- Rows loaded and quarantined, and the valid rows of the run's month ($month).
SELECT count(*) FILTER (WHERE reason IS NULL) AS loaded, count(*) FILTER (WHERE reason IS NOT NULL) AS quarantined,
       count(*) FILTER (WHERE reason IS NULL AND "month" = $month::DATE) AS in_month
FROM checked_usage;
