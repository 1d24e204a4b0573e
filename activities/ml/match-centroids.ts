/**
 * Gives this month's segments the ids of last month's nearest segments, so a segment keeps its
 * id while its members' behaviour stays put and migration between months can be counted.
 * Greedy on the closest pairs first (for k <= 30 this matches the optimal assignment in all but
 * contrived cases, and it is easy to explain). Distances are in units of this month's
 * standard deviations. Segments left unmatched get ids after the largest previous id.
 */
export function matchToPrevious(
  current: number[][],
  previous: { segmentId: number; values: number[] }[],
  scale: number[],
  /** Beyond this distance (in standard deviations) a segment is new rather than moved. */
  maxDistance = 2,
): number[] {
  const pairs: { c: number; p: number; distance: number }[] = [];
  current.forEach((centroid, c) =>
    previous.forEach((prev, p) => {
      const distance = Math.sqrt(
        centroid.reduce((sum, value, d) => sum + ((value - prev.values[d]) / scale[d]) ** 2, 0),
      );
      pairs.push({ c, p, distance });
    }),
  );
  pairs.sort((a, b) => a.distance - b.distance || a.c - b.c || a.p - b.p);
  const ids: number[] = new Array(current.length).fill(0);
  const usedPrevious = new Set<number>();
  for (const { c, p, distance } of pairs) {
    if (distance > maxDistance || ids[c] !== 0 || usedPrevious.has(p)) continue;
    ids[c] = previous[p].segmentId;
    usedPrevious.add(p);
  }
  let next = previous.reduce((max, prev) => Math.max(max, prev.segmentId), 0);
  return ids.map((id) => (id !== 0 ? id : ++next));
}
