import { describe, expect, it } from 'vitest';
import { classifierMetrics } from '../../activities/ml/metrics';
import { seededRandom } from '../../activities/ml/random';
import { aucInterval, fewHeldOutWarning, holdoutAucText } from '../../domain/holdout-auc';

/** A standard normal draw (Box-Muller). */
function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/**
 * Over many holdouts drawn alike (binormal scores: churners N(shift, spread), stayers N(0, 1)), the
 * standard errors DeLong (from each holdout's scores, on average) and Hanley and McNeil (from the
 * counts) give for the AUC, against its spread measured over the holdouts.
 */
function measured(shift: number, spread: number) {
  const random = seededRandom(11);
  const [churners, stayers] = [100, 2_000];
  const labels = Uint8Array.from({ length: churners + stayers }, (_, i) => (i < churners ? 1 : 0));
  const holdouts = Array.from({ length: 300 }, () =>
    classifierMetrics(
      Float64Array.from(labels, (label) => (label ? shift + spread * normal(random) : normal(random))),
      labels,
    ),
  );
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  const auc = mean(holdouts.map((h) => h.rocAuc));
  const measuredSpread = Math.sqrt(holdouts.reduce((sum, h) => sum + (h.rocAuc - auc) ** 2, 0) / (holdouts.length - 1));
  const interval = aucInterval(auc, { churners, rows: churners + stayers })!;
  return {
    delong: mean(holdouts.map((h) => h.rocAucStdError!)) / measuredSpread,
    hanleyMcNeil: (interval.high - interval.low) / 2 / 1.96 / measuredSpread,
  };
}

describe("a holdout ROC AUC's interval", () => {
  it("from DeLong's standard error is as wide as the AUC's spread over holdouts drawn alike; from the counts alone it can be too narrow", () => {
    // churners' scores spread as the stayers': DeLong 0.99x, Hanley and McNeil 1.27x
    const alike = measured(1.5, 1);
    expect(alike.delong).toBeGreaterThan(0.9);
    expect(alike.delong).toBeLessThan(1.1);
    expect(alike.hanleyMcNeil).toBeGreaterThan(1);
    // churners' scores spread three times as wide (the review's case): DeLong 1.01x, Hanley and McNeil 0.77x
    const wider = measured(1.5, 3);
    expect(wider.delong).toBeGreaterThan(0.9);
    expect(wider.delong).toBeLessThan(1.1);
    expect(wider.hanleyMcNeil).toBeLessThan(0.8);
  });

  it('holds the true AUC about 95% of the time, also on 10 held-out churners, where DeLong alone falls short', () => {
    const random = seededRandom(21);
    const labels = Uint8Array.from({ length: 510 }, (_, i) => (i < 10 ? 1 : 0));
    const trueAuc = 0.8556; // churners N(1.5, 1) against stayers N(0, 1): Φ(1.5 / √2)
    let held = 0;
    let heldByDeLong = 0;
    const holdouts = 1_000;
    for (let h = 0; h < holdouts; h++) {
      const metrics = classifierMetrics(
        Float64Array.from(labels, (label) => normal(random) + 1.5 * label),
        labels,
      );
      const interval = aucInterval(metrics.rocAuc, { churners: 10, rows: 510, stdError: metrics.rocAucStdError })!;
      if (interval.low <= trueAuc && trueAuc <= interval.high) held++;
      const half = 1.96 * metrics.rocAucStdError!;
      if (metrics.rocAuc - half <= trueAuc && trueAuc <= metrics.rocAuc + half) heldByDeLong++;
    }
    expect(held / holdouts).toBeGreaterThan(0.92);
    expect(heldByDeLong / holdouts).toBeLessThan(0.9);
  });

  it('stays within 0 and 1, narrows with more churners, and is not given without both outcomes', () => {
    expect(aucInterval(0.864, { churners: 3, rows: 1_503 })).toEqual({ low: expect.closeTo(0.5998, 4), high: 1 });
    const few = aucInterval(0.866, { churners: 12, rows: 612 })!;
    const many = aucInterval(0.866, { churners: 121, rows: 6_048 })!;
    expect(many.high - many.low).toBeLessThan(few.high - few.low);
    expect(aucInterval(0.9, { churners: 0, rows: 100 })).toBeNull();
    expect(aucInterval(Number.NaN, { churners: 10, rows: 110 })).toBeNull();
    // a recorded standard error is used; a NaN one (under 2 churners) falls back to the counts
    expect(aucInterval(0.8, { churners: 50, rows: 1_000, stdError: 0.01 })).toEqual({
      low: expect.closeTo(0.7804, 12),
      high: expect.closeTo(0.8196, 12),
    });
    expect(aucInterval(0.8, { churners: 1, rows: 1_000, stdError: Number.NaN })).toEqual(
      aucInterval(0.8, { churners: 1, rows: 1_000 }),
    );
  });

  it('reads with the churners it was measured on, and warns below 30 of them', () => {
    expect(holdoutAucText(0.866, { churners: 121, rows: 6_048 })).toBe(
      '0.866 (95%: 0.825 to 0.907; 121 churners held out)',
    );
    expect(holdoutAucText(0.866)).toBe('0.866');
    // a manifest without the counts
    expect(holdoutAucText(0.866, {} as never)).toBe('0.866');
    expect(holdoutAucText(Number.NaN, { churners: 0, rows: 6_048 })).toBe('–');
    expect(fewHeldOutWarning(3)).toMatch(/^only 3 churners were held out to test the models: .* read them as rough/);
    expect(fewHeldOutWarning(30)).toBeNull();
    expect(fewHeldOutWarning(undefined)).toBeNull();
  });
});
