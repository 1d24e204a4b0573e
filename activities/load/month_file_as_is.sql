-- Whether a month folder's Parquet file ($path) can stand, copied as it is, for the checked rows of
-- its month ($month): every row group's month statistics are that month's first day (so
-- truncating each month to its first day changed nothing), a codec the feature passes decode
-- fast, and row groups small enough for a pass to skip those outside its range of ids. The
-- caller has checked the rest (activities/load.ts, copyMonthFileAsIs).
SELECT coalesce(
  count(DISTINCT row_group_id) FILTER (
    WHERE path_in_schema = 'month' AND stats_min_value = $month AND stats_max_value = $month
  ) = count(DISTINCT row_group_id)
  AND bool_and(compression IN ('UNCOMPRESSED', 'SNAPPY', 'ZSTD', 'LZ4_RAW'))
  AND max(row_group_num_rows) <= 1048576, false) AS as_is
FROM parquet_metadata($path);
