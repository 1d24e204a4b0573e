-- Subscribers by (segment last month, segment this month), both with id and name; a NULL id is
-- a subscriber in only one of the two months (joined or left).
SELECT from_segment_id, from_segment, to_segment_id, to_segment, subscribers
FROM snapshot_migration
ORDER BY from_segment_id NULLS FIRST, to_segment_id NULLS LAST;
