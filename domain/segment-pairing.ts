/**
 * Pairing the segments of two snapshots (`snapshots diff`): segment ids of two runs with another k,
 * or matched to other months, name other groups, so each segment is paired by where its
 * subscribers are in the other snapshot.
 */

/** A segment of one snapshot and where its subscribers (those in both snapshots) are in the other. */
export interface SegmentPairing {
  segment: string;
  subscribers: number;
  /** The other snapshot's segment holding most of them, and their share there. */
  counterpart: string;
  share: number;
  /** Other segments holding at least PAIRING_ALSO_SHARE of them, largest first: "5 name (12%), ...". */
  also: string;
  reads: PairingReading;
}

/**
 * `kept`: each is the other's main counterpart, both ways at PAIRING_KEPT_SHARE or more. From the
 * first snapshot's side (where its segments went): `split`, under that share went to its
 * counterpart; `merged`, they went together, but the counterpart gathered others' too. From the
 * second's (where its segments came from): `merged`, under that share came from one segment;
 * `split`, they came together, from a segment that split.
 */
export type PairingReading = 'kept' | 'split' | 'merged';

export const PAIRING_KEPT_SHARE = 0.8;
export const PAIRING_ALSO_SHARE = 0.1;

/**
 * How a pairing reads from its share and the counterpart's share that this segment holds, seen from
 * the first snapshot (`went`) or the second (`came`).
 */
export function pairingReading(share: number, counterpartShare: number, side: 'went' | 'came'): PairingReading {
  if (share >= PAIRING_KEPT_SHARE && counterpartShare >= PAIRING_KEPT_SHARE) return 'kept';
  const spread = share < PAIRING_KEPT_SHARE;
  return spread === (side === 'went') ? 'split' : 'merged';
}
