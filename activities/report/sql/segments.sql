-- Each segment's profile and action (snapshot_segments), with how its subscribers split over
-- retention styles (set per subscriber by value tier x stability) and how many carry each tag.
WITH styles AS (
  SELECT segment_id, retention_style AS style, count(*)::INTEGER AS subscribers
  FROM snapshot_subscribers
  GROUP BY ALL
), tags AS (
  SELECT segment_id, tag, count(*)::INTEGER AS subscribers
  FROM (SELECT segment_id, unnest(tags) AS tag FROM snapshot_subscribers)
  GROUP BY ALL
)
SELECT
  s.segment_id, s.segment_name, s.subscribers, s.revenue_share, s.arpu, s.mou, s.dou, s.mean_churn_score,
  s.high_risk_subscribers, s.recommended_product, s.channel, s.contact_moment,
  (SELECT list({ 'style': st.style, 'subscribers': st.subscribers } ORDER BY st.subscribers DESC, st.style)
   FROM styles st WHERE st.segment_id = s.segment_id) AS retention_styles,
  coalesce((SELECT list({ 'tag': t.tag, 'subscribers': t.subscribers } ORDER BY t.subscribers DESC, t.tag)
            FROM tags t WHERE t.segment_id = s.segment_id), []) AS tags
FROM snapshot_segments s
ORDER BY s.segment_id;
