import { describe, expect, it } from 'vitest';
import { adjustedRandIndex, classifierMetrics, rocCurve, scoreOrder } from '../../activities/ml/metrics';
import { seededRandom } from '../../activities/ml/random';

const f64 = (values: number[]) => Float64Array.from(values);
const u8 = (values: number[]) => Uint8Array.from(values);

describe('ROC curve', () => {
  it('runs from (0,0) to (1,1), one point per distinct score, thinned to maxPoints', () => {
    const curve = rocCurve(Float64Array.from([0.9, 0.8, 0.8, 0.1]), Uint8Array.from([1, 1, 0, 0]));
    expect(curve).toEqual([
      { fpr: 0, tpr: 0 },
      { fpr: 0, tpr: 0.5 },
      { fpr: 0.5, tpr: 1 },
      { fpr: 1, tpr: 1 },
    ]);
    const many = rocCurve(
      Float64Array.from({ length: 1000 }, (_, i) => i),
      Uint8Array.from({ length: 1000 }, (_, i) => i % 2),
      11,
    );
    expect(many).toHaveLength(11);
    expect(many[0]).toEqual({ fpr: 0, tpr: 0 });
    expect(many[10]).toEqual({ fpr: 1, tpr: 1 });
  });
});

describe('adjusted Rand index', () => {
  it('is 1 for the same partition under other names and about 0 for an unrelated one', () => {
    expect(
      adjustedRandIndex([
        { a: 1, b: 'x', n: 50 },
        { a: 2, b: 'y', n: 30 },
      ]),
    ).toBe(1);
    // every row of a in both b groups equally: no agreement beyond chance
    const cells = [
      { a: 1, b: 'x', n: 25 },
      { a: 1, b: 'y', n: 25 },
      { a: 2, b: 'x', n: 25 },
      { a: 2, b: 'y', n: 25 },
    ];
    expect(Math.abs(adjustedRandIndex(cells))).toBeLessThan(0.02);
  });
  it('matches a hand-computed value', () => {
    // scikit-learn: adjusted_rand_score([0,0,1,1], [0,0,1,2]) = 0.5714285714285715
    expect(
      adjustedRandIndex([
        { a: 0, b: 0, n: 2 },
        { a: 1, b: 1, n: 1 },
        { a: 1, b: 2, n: 1 },
      ]),
    ).toBeCloseTo(0.5714285714285715, 12);
  });
});

describe('classifier metrics', () => {
  it('scores a perfect ranking as AUC 1 and a reversed one as 0', () => {
    expect(classifierMetrics(f64([0.9, 0.8, 0.2, 0.1]), u8([1, 1, 0, 0])).rocAuc).toBe(1);
    expect(classifierMetrics(f64([0.1, 0.2, 0.8, 0.9]), u8([1, 1, 0, 0])).rocAuc).toBe(0);
  });
  it('counts ties as half, whatever the row order', () => {
    expect(classifierMetrics(f64([0.5, 0.5, 0.5, 0.5]), u8([1, 0, 1, 0])).rocAuc).toBe(0.5);
    expect(classifierMetrics(f64([0.5, 0.5, 0.5, 0.5]), u8([0, 0, 1, 1])).rocAuc).toBe(0.5);
  });
  it("shares a tie's churners over its places where a decile cuts through it, whatever the row order", () => {
    // one sure churner, then a tie of 10 holding 2 churners, then 9 stayers: the top decile is 2 rows
    const scores = f64([0.9, ...Array(10).fill(0.5), ...Array(9).fill(0.1)]);
    const lastInTie = u8([1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, ...Array(9).fill(0)]);
    const firstInTie = u8([1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, ...Array(9).fill(0)]);
    const [a, b] = [classifierMetrics(scores, lastInTie), classifierMetrics(scores, firstInTie)];
    expect(a).toEqual(b);
    expect(a.precisionAtTopDecile).toBeCloseTo(1.2 / 2, 12); // the sure churner and 1 of the tie's 10 places
    expect(a.recallAtTopDecile).toBeCloseTo(1.2 / 3, 12);
    expect(a.liftByDecile[0]).toBeCloseTo(0.6 / (3 / 20), 12);
    // the deciles' churners add up to all of them
    expect(a.liftByDecile.reduce((sum, lift) => sum + lift * 2 * (3 / 20), 0)).toBeCloseTo(3, 12);
  });

  it("gives DeLong's standard error of the AUC as the pairwise definition does, ties counted half", () => {
    const random = seededRandom(4);
    // scores on a coarse grid: many ties, within and across the two groups
    const labels = Uint8Array.from({ length: 60 }, () => (random() < 0.3 ? 1 : 0));
    const scores = Float64Array.from(labels, (label) => Math.round((random() + 0.4 * label) * 8) / 8);
    const churners = [...scores].filter((_, i) => labels[i]);
    const stayers = [...scores].filter((_, i) => !labels[i]);
    const psi = (x: number, y: number) => (x > y ? 1 : x === y ? 0.5 : 0);
    const churnerPlacements = churners.map((x) => stayers.reduce((sum, y) => sum + psi(x, y), 0) / stayers.length);
    const stayerPlacements = stayers.map((y) => churners.reduce((sum, x) => sum + psi(x, y), 0) / churners.length);
    const sampleVariance = (values: number[]) => {
      const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
      return values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (values.length - 1);
    };
    const expected = Math.sqrt(
      sampleVariance(churnerPlacements) / churners.length + sampleVariance(stayerPlacements) / stayers.length,
    );
    expect(classifierMetrics(scores, labels).rocAucStdError).toBeCloseTo(expected, 12);
    expect(classifierMetrics(f64([0.9, 0.1, 0.2]), u8([1, 0, 0])).rocAucStdError).toBeNaN();
  });

  it('matches a hand-computed AUC, average precision and lift', () => {
    // scores descending: 1,0,1,0,0 -> pairs ranked right: (p1 over 3 negs) + (p2 over 2 negs) = 5 of 6
    const m = classifierMetrics(f64([0.9, 0.7, 0.6, 0.4, 0.1]), u8([1, 0, 1, 0, 0]));
    expect(m.rocAuc).toBeCloseTo(5 / 6, 12);
    expect(m.prAuc).toBeCloseTo((1 / 2) * 1 + (1 / 2) * (2 / 3), 12);
    expect(m.baseRate).toBeCloseTo(0.4);
    expect(m.confusion).toEqual({ truePositive: 2, falsePositive: 1, trueNegative: 2, falseNegative: 0 });
  });
  it('puts all churners of a sharp score in the top decile', () => {
    const n = 1000;
    const labels = u8(Array.from({ length: n }, (_, i) => (i < 50 ? 1 : 0)));
    const scores = f64(Array.from({ length: n }, (_, i) => 1 - i / n));
    const m = classifierMetrics(scores, labels);
    expect(m.recallAtTopDecile).toBe(1);
    expect(m.liftByDecile[0]).toBeCloseTo(0.5 / 0.05, 9); // 50 of the top 100 vs a 5% base rate
    expect(m.liftByDecile.slice(1).every((lift) => lift === 0)).toBe(true);
  });
});

describe('scoreOrder', () => {
  it('orders rows like a stable comparison sort, ties (and -0 with 0) in row order', () => {
    const random = seededRandom(7);
    // few distinct values, so most rows tie; a -0 among the zeros
    const scores = f64(Array.from({ length: 5000 }, () => Math.floor(random() * 40) / 8 - 1));
    scores[17] = -0;
    scores[18] = 0;
    const rows = Array.from({ length: scores.length }, (_, i) => i);
    const descending = [...rows].sort((a, b) => scores[b] - scores[a]);
    const ascending = [...rows].sort((a, b) => scores[a] - scores[b]);
    expect([...scoreOrder(scores, 'descending')]).toEqual(descending);
    expect([...scoreOrder(scores, 'ascending')]).toEqual(ascending);
    expect(scoreOrder(f64([]), 'ascending')).toEqual(new Uint32Array(0));
  });
  it('refuses NaN scores', () => {
    expect(() => scoreOrder(f64([0.2, Number.NaN]), 'descending')).toThrow(RangeError);
  });
});
