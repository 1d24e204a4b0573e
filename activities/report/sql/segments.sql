-- Each segment's profile and product (snapshot_segments), with how its subscribers split over
-- retention styles and channels (set per subscriber by value tier x stability, the operation grid)
-- and contact moments (set by their tags, else the segment's), and how many carry each tag.
WITH styles AS (
  SELECT segment_id, retention_style AS style, count(*)::INTEGER AS subscribers
  FROM snapshot_subscribers
  GROUP BY ALL
), channels AS (
  SELECT segment_id, channel, count(*)::INTEGER AS subscribers
  FROM snapshot_subscribers
  GROUP BY ALL
), moments AS (
  SELECT segment_id, contact_moment AS moment, count(*)::INTEGER AS subscribers
  FROM snapshot_subscribers
  GROUP BY ALL
), tags AS (
  SELECT segment_id, tag, count(*)::INTEGER AS subscribers
  FROM (SELECT segment_id, unnest(tags) AS tag FROM snapshot_subscribers)
  GROUP BY ALL
)
SELECT
  s.segment_id, s.segment_name, s.subscribers, s.revenue_share, s.arpu, s.mou, s.dou, s.mean_churn_score,
  s.high_risk_subscribers, s.recommended_product,
  (SELECT list({ 'style': st.style, 'subscribers': st.subscribers } ORDER BY st.subscribers DESC, st.style)
   FROM styles st WHERE st.segment_id = s.segment_id) AS retention_styles,
  (SELECT list({ 'value': c.channel, 'subscribers': c.subscribers } ORDER BY c.subscribers DESC, c.channel)
   FROM channels c WHERE c.segment_id = s.segment_id) AS channels,
  (SELECT list({ 'value': m.moment, 'subscribers': m.subscribers } ORDER BY m.subscribers DESC, m.moment)
   FROM moments m WHERE m.segment_id = s.segment_id) AS contact_moments,
  coalesce((SELECT list({ 'tag': t.tag, 'subscribers': t.subscribers } ORDER BY t.subscribers DESC, t.tag)
            FROM tags t WHERE t.segment_id = s.segment_id), []) AS tags
FROM snapshot_segments s
ORDER BY s.segment_id;
