-- Subscribers with a quarantined row in the run month. One without a valid row there too (each
-- caller checks) was unreadable, not absent: whether such a subscriber of the training month churned is unknown, so
-- its training row gets no label (partition/05_subscriber_features.sql, train_month_reused.sql)
-- instead of counting as a churner; nor is it counted in a campaign's arms (../campaigns.ts). Rows
-- of months outside the window say nothing of the run month. Reads table quarantine and the
-- session variables run_month ('YYYY-MM'), month_folder_pattern and outside_window_reason
-- (load.ts's MONTH_FOLDER, load-sql.ts's OUTSIDE_WINDOW).
CREATE OR REPLACE TEMP TABLE unreadable_in_run_month AS
SELECT DISTINCT subscriber_id
FROM quarantine
WHERE subscriber_id IS NOT NULL
  -- a row whose month could not be read counts for its file's month folder (usage_month=YYYY-MM)
  AND coalesce("month", regexp_extract(source_file, getvariable('month_folder_pattern'), 1))
      = getvariable('run_month')
  AND reason <> getvariable('outside_window_reason');
