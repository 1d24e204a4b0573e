/**
 * Readable segment names from a segment's profile, e.g. "high value · data heavy · declining".
 * Inputs are the segment's mean z-scores against all subscribers (log scale for usage) and its
 * mean MOU trend (recent 3 months / 3 before; null without the history for it, e.g. a snapshot).
 */
export interface SegmentProfileSignals {
  valueZ: number;
  /** Null where the input has no data (or no voice) usage: no word leans on it. */
  dataZ: number | null;
  voiceZ: number | null;
  stickyZ: number;
  mouTrend: number | null;
}

export const NAMING_THRESHOLDS = {
  /** |z| beyond which a segment is high / low in value. */
  value: 0.5,
  /** data z minus voice z beyond which usage leans to one side. */
  preference: 0.75,
  sticky: 0.75,
  declining: 0.9,
  growing: 1.1,
} as const;

export function segmentName(signals: SegmentProfileSignals): string {
  const t = NAMING_THRESHOLDS;
  const parts = [signals.valueZ > t.value ? 'high value' : signals.valueZ < -t.value ? 'low value' : 'mid value'];
  const usage = usageWord(signals);
  if (usage) parts.push(usage);
  if (signals.stickyZ > t.sticky) parts.push('bundled');
  // no trend word without trend data (a NULL would otherwise compare as below the threshold)
  if (signals.mouTrend !== null && signals.mouTrend < t.declining) parts.push('declining');
  else if (signals.mouTrend !== null && signals.mouTrend > t.growing) parts.push('growing');
  return parts.join(' · ');
}

/**
 * How the segment uses the network: leaning to data or voice, heavy or light on both, balanced;
 * with only one of the two in the input, heavy or light on it; with neither, nothing.
 */
function usageWord({ dataZ, voiceZ }: SegmentProfileSignals): string | null {
  const t = NAMING_THRESHOLDS;
  if (dataZ === null || voiceZ === null) {
    const [known, kind] = dataZ !== null ? [dataZ, 'data'] : voiceZ !== null ? [voiceZ, 'voice'] : [null, ''];
    if (known === null) return null;
    return known > t.value ? `heavy ${kind} user` : known < -t.value ? `light ${kind} user` : null;
  }
  const lean = dataZ - voiceZ;
  if (lean > t.preference) return 'data heavy';
  if (lean < -t.preference) return 'voice heavy';
  if (dataZ > t.value && voiceZ > t.value) return 'heavy user';
  if (dataZ < -t.value && voiceZ < -t.value) return 'light user';
  return 'balanced';
}

/**
 * Makes equal names distinct by what sets those segments apart, never by a number: within a
 * group of equal names, the clustering dimension on which their centroids differ most splits
 * the group at its middle ("… · lower tenure" / "… · higher tenure"), again until every name is
 * unique. `centroids[i]` is segment i's centroid in standard units; `dimensions` names its axes.
 */
export function distinctNames(
  names: readonly string[],
  centroids: readonly (readonly number[])[],
  dimensions: readonly string[],
): string[] {
  const out = [...names];
  const groups = new Map<string, number[]>();
  names.forEach((name, i) => groups.set(name, [...(groups.get(name) ?? []), i]));
  const split = (members: number[], used: Set<number>) => {
    if (members.length < 2) return;
    let best = -1;
    let spread = 1e-9;
    dimensions.forEach((_, d) => {
      if (used.has(d)) return;
      const values = members.map((i) => centroids[i][d]);
      const range = Math.max(...values) - Math.min(...values);
      if (range > spread) [best, spread] = [d, range];
    });
    if (best < 0) return; // equal centroids on every remaining axis: nothing true to tell them apart
    const ordered = [...members].sort((a, b) => centroids[a][best] - centroids[b][best] || a - b);
    const half = Math.ceil(ordered.length / 2);
    const [lower, higher] = [ordered.slice(0, half), ordered.slice(half)];
    for (const i of lower) out[i] += ` · lower ${dimensions[best]}`;
    for (const i of higher) out[i] += ` · higher ${dimensions[best]}`;
    const next = new Set(used).add(best);
    split(lower, next);
    split(higher, next);
  };
  for (const members of groups.values()) split(members, new Set());
  return out;
}
