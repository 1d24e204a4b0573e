-- One row per segment: its size, average usage and value, and mean z-scores of value, data,
-- voice and sticky services against all scored subscribers (segment names and actions come from
-- these signals, domain/segment-names.ts). Reads features and segments (activities/cluster.ts).
-- In row order, summed on one thread (cluster.ts): sums of doubles depend on their order, and
-- the features table's physical order differs between a computed and a reused run database.
-- The data and voice z-scores stay NULL where the input has no such usage (or all of it is equal):
-- a name or an offer must not lean on a usage the data does not show.
WITH ordered AS (
  SELECT s.segment_id, f.*
  FROM features f JOIN segments s USING (row_idx)
  WHERE f.purpose = 'score'
  ORDER BY row_idx
), scored AS (
  SELECT f.*,
    (ln(1 + f.arpu) - avg(ln(1 + f.arpu)) OVER ()) / nullif(stddev_pop(ln(1 + f.arpu)) OVER (), 0) AS value_z,
    (ln(1 + f.dou) - avg(ln(1 + f.dou)) OVER ()) / nullif(stddev_pop(ln(1 + f.dou)) OVER (), 0) AS data_z,
    (ln(1 + f.mou) - avg(ln(1 + f.mou)) OVER ()) / nullif(stddev_pop(ln(1 + f.mou)) OVER (), 0) AS voice_z,
    (f.sticky_services - avg(f.sticky_services) OVER ()) / nullif(stddev_pop(f.sticky_services) OVER (), 0) AS sticky_z
  FROM ordered f
)
SELECT segment_id, count(*) AS subscribers, count(*) / sum(count(*)) OVER () AS share,
  avg(arpu) AS arpu, avg(mou) AS mou, avg(dou) AS dou, avg(mou_trend) AS mou_trend,
  avg(stability_score) AS stability_score, sum(arpu) / sum(sum(arpu)) OVER () AS revenue_share,
  coalesce(avg(value_z), 0) AS value_z, avg(data_z) AS data_z,
  avg(voice_z) AS voice_z, coalesce(avg(sticky_z), 0) AS sticky_z
FROM scored GROUP BY segment_id ORDER BY segment_id;
