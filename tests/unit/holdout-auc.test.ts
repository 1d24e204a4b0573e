import { describe, expect, it } from 'vitest';
import { classifierMetrics } from '../../activities/ml/metrics';
import { seededRandom } from '../../activities/ml/random';
import { aucInterval, fewHeldOutWarning, holdoutAucText } from '../../domain/holdout-auc';

/** A standard normal draw (Box-Muller). */
function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

describe("a holdout ROC AUC's interval", () => {
  it("is at least as wide as the AUC's spread over many holdouts drawn alike, not much wider (binormal scores, 100 churners of 2,100)", () => {
    const random = seededRandom(11);
    const [churners, stayers] = [100, 2_000];
    const labels = Uint8Array.from({ length: churners + stayers }, (_, i) => (i < churners ? 1 : 0));
    const aucs = Array.from({ length: 300 }, () => {
      const scores = Float64Array.from(labels, (label) => normal(random) + 1.5 * label);
      return classifierMetrics(scores, labels).rocAuc;
    });
    const mean = aucs.reduce((sum, auc) => sum + auc, 0) / aucs.length;
    const spread = Math.sqrt(aucs.reduce((sum, auc) => sum + (auc - mean) ** 2, 0) / (aucs.length - 1));
    const interval = aucInterval(mean, churners, stayers)!;
    // Hanley and McNeil's standard error against the one measured: it errs wide (1.27x here), never narrow
    const ratio = (interval.high - interval.low) / 2 / 1.96 / spread;
    expect(ratio).toBeGreaterThan(1);
    expect(ratio).toBeLessThan(1.4);
  });

  it('stays within 0 and 1, narrows with more churners, and is not given without both outcomes', () => {
    expect(aucInterval(0.864, 3, 1_500)).toEqual({ low: expect.closeTo(0.5998, 4), high: 1 });
    const few = aucInterval(0.866, 12, 600)!;
    const many = aucInterval(0.866, 121, 5_927)!;
    expect(many.high - many.low).toBeLessThan(few.high - few.low);
    expect(aucInterval(0.9, 0, 100)).toBeNull();
    expect(aucInterval(Number.NaN, 10, 100)).toBeNull();
  });

  it('reads with the churners it was measured on, and warns below 30 of them', () => {
    expect(holdoutAucText(0.866, 121, 6_048)).toBe('0.866 (95%: 0.825 to 0.907; 121 churners held out)');
    expect(holdoutAucText(0.866)).toBe('0.866');
    expect(holdoutAucText(Number.NaN, 0, 6_048)).toBe('–');
    expect(fewHeldOutWarning(3)).toMatch(/^only 3 churners were held out to test the models: .* read them as rough/);
    expect(fewHeldOutWarning(30)).toBeNull();
    expect(fewHeldOutWarning(undefined)).toBeNull();
  });
});
