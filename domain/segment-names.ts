/**
 * Readable segment names from a segment's profile, e.g. "high value · data heavy · declining".
 * Inputs are the segment's mean z-scores against all subscribers (log scale for usage) and its
 * mean MOU trend (recent 3 months / 3 before).
 */
export interface SegmentProfileSignals {
  valueZ: number;
  dataZ: number;
  voiceZ: number;
  stickyZ: number;
  mouTrend: number;
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
  const lean = signals.dataZ - signals.voiceZ;
  if (lean > t.preference) parts.push('data heavy');
  else if (lean < -t.preference) parts.push('voice heavy');
  else if (signals.dataZ > t.value && signals.voiceZ > t.value) parts.push('heavy user');
  else if (signals.dataZ < -t.value && signals.voiceZ < -t.value) parts.push('light user');
  else parts.push('balanced');
  if (signals.stickyZ > t.sticky) parts.push('bundled');
  if (signals.mouTrend < t.declining) parts.push('declining');
  else if (signals.mouTrend > t.growing) parts.push('growing');
  return parts.join(' · ');
}

/** Makes names unique by numbering repeats: "low value · balanced (2)". */
export function uniqueNames(names: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((name) => {
    const count = (seen.get(name) ?? 0) + 1;
    seen.set(name, count);
    return count === 1 ? name : `${name} (${count})`;
  });
}
