import { rowNumbers } from './feature-matrix';
import type { BoostingKernel } from './kernel';

/** mulberry32's step and output: a seeded PRNG, so sampling and splits repeat exactly for the same seed. */
const STEP = 0x6d2b79f5;

/** mulberry32's output for an advanced state: a float in [0, 1). */
function mulberry32(state: number): number {
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** A seeded stream of floats in [0, 1), whose state the kernel's sampling can carry (sampleAscending). */
export class RandomStream {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + STEP) >>> 0;
    return mulberry32(this.state);
  }

  /**
   * `size` of the `n` row indices at byte `rows` of the kernel's memory, drawn without
   * replacement, to byte `out` in their order: one pass, a draw per row until the sample is full
   * (Knuth's selection sampling; the kernel's sampleAscending). The same draws as calling next()
   * per row, at a fraction of the time (boosting draws one per training row per tree).
   */
  sampleAscending(kernel: BoostingKernel, rows: number, n: number, size: number, out: number): void {
    this.state = kernel.sampleAscending(rows, n, size, this.state, out) >>> 0;
  }
}

/** Seeded PRNG (mulberry32): sampling and splits repeat exactly for the same seed. */
export function seededRandom(seed: number): () => number {
  const stream = new RandomStream(seed);
  return () => stream.next();
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
  const all = rowNumbers(n, Uint32Array);
  if (size >= n) return all;
  return shuffle(all, random).slice(0, size).sort();
}
