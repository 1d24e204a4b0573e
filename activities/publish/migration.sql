-- Subscribers by (segment last month, segment this month); "(new)" and "(gone)" for those in
-- only one of the two snapshots. Needs snapshot_subscribers and session variable
-- previous_subscribers (the previous snapshot's subscribers.parquet).
CREATE OR REPLACE TEMP VIEW snapshot_migration AS
SELECT
  p.segment_id AS from_segment_id,
  coalesce(p.segment_name, '(new)') AS from_segment,
  c.segment_id AS to_segment_id,
  coalesce(c.segment_name, '(gone)') AS to_segment,
  count(*) AS subscribers
FROM read_parquet(getvariable('previous_subscribers')) p
FULL OUTER JOIN snapshot_subscribers c USING (subscriber_id)
GROUP BY ALL
ORDER BY from_segment_id NULLS FIRST, to_segment_id NULLS LAST;
