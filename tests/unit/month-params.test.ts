import { describe, expect, it } from 'vitest';
import { addMonths, isMonth } from '../../domain/month';
import { parseRunParams } from '../../domain/params';

describe('months', () => {
  it('adds and subtracts across year boundaries', () => {
    expect(addMonths('2026-01', -1)).toBe('2025-12');
    expect(addMonths('2025-12', 1)).toBe('2026-01');
    expect(addMonths('2026-06', -18)).toBe('2024-12');
  });
  it('accepts only YYYY-MM with a real month', () => {
    expect(isMonth('2026-10')).toBe(true);
    for (const bad of ['2026-13', '2026-00', '2026-1', '26-10', '2026-10-01', '../2026-10'])
      expect(isMonth(bad)).toBe(false);
  });
});

describe('run parameters', () => {
  it('fills defaults', () => {
    const parsed = parseRunParams({ month: '2026-10', input: '/data' });
    expect(parsed.ok && parsed.params).toMatchObject({
      kMin: 3,
      kMax: 8,
      treeDepth: 6,
      highValueThreshold: 3000,
      historyMonths: 6,
    });
    expect(parsed.ok && parsed.params.k).toBeUndefined(); // chosen by silhouette
  });
  it('lists every problem, by field', () => {
    const parsed = parseRunParams({
      month: '2026-13',
      input: '/data',
      k: 1,
      treeDepth: 0,
      holdoutShare: 2,
      bogus: true,
    });
    expect(parsed.ok).toBe(false);
    const problems = parsed.ok ? [] : parsed.problems.join('\n');
    expect(problems).toMatch(/month: month must be YYYY-MM/);
    expect(problems).toMatch(/^k: /m);
    expect(problems).toMatch(/^treeDepth: /m);
    expect(problems).toMatch(/^holdoutShare: /m);
    expect(problems).toMatch(/bogus/);
  });
  it("says what a value must be in plain words, not in zod's", () => {
    const parsed = parseRunParams({ month: '2026-10', input: '/data', k: 'abc', treeDepth: 99, holdoutShare: 0.95 });
    const problems = parsed.ok ? [] : parsed.problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^k: must be a (whole )?number$/),
        expect.stringMatching(/^treeDepth: must be at most \d+$/),
        expect.stringMatching(/^holdoutShare: must be less than 0\.9$/),
      ]),
    );
  });
});
