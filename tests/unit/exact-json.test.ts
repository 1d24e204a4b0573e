import { describe, expect, it } from 'vitest';
import { exactJson, parseExactJson } from '../../store/exact-json';

describe('exact JSON (stored artifacts)', () => {
  it('gives back NaN, the infinities and -0, where plain JSON gives null and 0', () => {
    const value = {
      holdout: { rocAuc: NaN, prAuc: Number.NaN, lift: [Infinity, -Infinity, 2.5], zero: -0, plain: 0 },
      names: ['NaN', '$number'],
      nested: [{ $number: 1 }, { $number: 'abc' }, null],
    };
    const back = parseExactJson<typeof value>(exactJson(value));
    expect(back).toEqual(value);
    expect(Object.is(back.holdout.zero, -0)).toBe(true);
    expect(Object.is(back.holdout.plain, 0)).toBe(true);
    expect(JSON.parse(JSON.stringify(value)).holdout.rocAuc).toBeNull();
  });

  it('writes finite numbers as plain JSON does, and reads plain JSON as JSON.parse does', () => {
    const value = { a: 1.5, b: [1, 2, { c: 'x' }], d: null };
    expect(exactJson(value)).toBe(JSON.stringify(value));
    expect(parseExactJson('{"rocAuc":null,"k":4}')).toEqual({ rocAuc: null, k: 4 });
  });
});
