/** Seeded PRNG (mulberry32): sampling and splits repeat exactly for the same seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates shuffle in place. */
export function shuffle(values: Uint32Array, random: () => number): Uint32Array {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = values[i];
    values[i] = values[j];
    values[j] = swap;
  }
  return values;
}

/** `size` distinct indices in [0, n), in ascending order (all of them when size >= n). */
export function sampleIndices(n: number, size: number, random: () => number): Uint32Array {
  const all = Uint32Array.from({ length: n }, (_, i) => i);
  if (size >= n) return all;
  return shuffle(all, random).slice(0, size).sort();
}
