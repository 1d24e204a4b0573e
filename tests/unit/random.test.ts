import { describe, expect, it } from 'vitest';
import { RandomStream, seededRandom } from '../../activities/ml/random';

describe('seeded random stream', () => {
  it('draws the same sequence as seededRandom', () => {
    const stream = new RandomStream(42);
    const random = seededRandom(42);
    for (let i = 0; i < 1_000; i++) expect(stream.next()).toBe(random());
  });

  it('samples rows in order with one draw per row until full', () => {
    const rows = Uint32Array.from({ length: 5_000 }, (_, i) => 3 * i + 1);
    const size = 3_700;
    const stream = new RandomStream(7);
    const taken = stream.sampleAscending(rows, size);

    // the reference: selection sampling with a call to next() per row
    const reference = new RandomStream(7);
    const expected: number[] = [];
    let i = 0;
    for (; expected.length < size; i++)
      if (reference.next() * (rows.length - i) < size - expected.length) expected.push(rows[i]);
    expect(Array.from(taken)).toEqual(expected);
    // the same draws were used: both streams go on alike
    expect(stream.next()).toBe(reference.next());
  });
});
