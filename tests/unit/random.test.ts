import { describe, expect, it } from 'vitest';
import { boostingKernel, kernelMemory } from '../../activities/ml/kernel';
import { RandomStream, seededRandom } from '../../activities/ml/random';

describe('seeded random stream', () => {
  it('draws the same sequence as seededRandom', () => {
    const stream = new RandomStream(42);
    const random = seededRandom(42);
    for (let i = 0; i < 1_000; i++) expect(stream.next()).toBe(random());
  });

  it("samples rows in order with one draw per row until full (the kernel's sampleAscending)", () => {
    const rows = Uint32Array.from({ length: 5_000 }, (_, i) => 3 * i + 1);
    const size = 3_700;
    const { memory, at } = kernelMemory({ rows: rows.length * 4, out: size * 4 });
    new Uint32Array(memory.buffer, at.rows, rows.length).set(rows);
    const stream = new RandomStream(7);
    stream.sampleAscending(boostingKernel(memory), at.rows, rows.length, size, at.out);
    const taken = new Uint32Array(memory.buffer, at.out, size);

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
