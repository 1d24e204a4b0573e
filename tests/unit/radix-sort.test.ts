import { describe, expect, it } from 'vitest';
import { sortFloat32, sortFloat64 } from '../../activities/ml/radix-sort';
import { seededRandom } from '../../activities/ml/random';

describe('radix sorts of float samples', () => {
  it("orders doubles as Float64Array's sort does, -0 before +0, small arrays and large", () => {
    const random = seededRandom(3);
    const inputs = [
      new Float64Array(0),
      Float64Array.of(2, -0, 0, -0, -1, 1, Infinity, -Infinity, 5e-324, -5e-324, Number.MAX_VALUE, -Number.MAX_VALUE),
      Float64Array.from({ length: 50_000 }, () => (random() - 0.5) * 1e6),
      // many ties and a shared high word: the passes whose digit every key shares move nothing
      Float64Array.from({ length: 50_000 }, () => Math.floor(random() * 12)),
      Float64Array.from({ length: 50_001 }, () => (random() < 0.3 ? -0 : random() < 0.5 ? 0 : -Math.fround(random()))),
    ];
    for (const values of inputs) {
      const before = values.slice();
      const sorted = sortFloat64(values);
      expect(Buffer.from(sorted.buffer).equals(Buffer.from(values.slice().sort().buffer))).toBe(true);
      expect(values).toEqual(before); // the input stays as it was
    }
  });

  it("orders float32 values as Float32Array's sort does", () => {
    const random = seededRandom(4);
    for (const values of [
      Float32Array.of(2, -0, 0, -1, Infinity, -Infinity, 1e-45),
      Float32Array.from({ length: 40_000 }, () => (random() - 0.5) * 1e6),
      Float32Array.from({ length: 40_000 }, () =>
        random() < 0.4 ? 0 : random() < 0.5 ? -0 : Math.floor(random() * 9),
      ),
    ]) {
      const sorted = sortFloat32(values);
      expect(Buffer.from(sorted.buffer).equals(Buffer.from(values.slice().sort().buffer))).toBe(true);
    }
  });
});
