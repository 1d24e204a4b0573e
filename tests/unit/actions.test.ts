import { describe, expect, it } from 'vitest';
import { segmentAction } from '../../domain/actions';

describe('CPCT actions per segment', () => {
  it('offers data to data-heavy, bundles to bundled, recharge bonuses to low value', () => {
    expect(segmentAction({ valueZ: 0, dataZ: 1.2, voiceZ: -0.5, stickyZ: 0, mouTrend: 1 }).recommendedProduct).toMatch(
      /data/,
    );
    expect(
      segmentAction({ valueZ: 0.8, dataZ: 0.2, voiceZ: 0.1, stickyZ: 1.4, mouTrend: 1 }).recommendedProduct,
    ).toMatch(/family plan/);
    expect(
      segmentAction({ valueZ: -1, dataZ: -0.3, voiceZ: -0.2, stickyZ: 0, mouTrend: 1 }).recommendedProduct,
    ).toMatch(/recharge bonus/);
  });
  it('offers no data package where the input has no data volumes, and voice to heavy callers then', () => {
    const product = (dataZ: number | null, voiceZ: number | null) =>
      segmentAction({ valueZ: 0, dataZ, voiceZ, stickyZ: 0, mouTrend: null }).recommendedProduct;
    // with no data column a low voice z used to read as leaning to data
    expect(product(null, -1.5)).not.toMatch(/data/);
    expect(product(null, 1.2)).toMatch(/voice minutes/);
    expect(product(1.2, null)).toMatch(/data package/);
    expect(product(null, null)).toBe('converged mobile and broadband bundle');
  });
  it('sends account managers to high value and SMS to low value', () => {
    expect(segmentAction({ valueZ: 1, dataZ: 0, voiceZ: 0, stickyZ: 0, mouTrend: 1 }).channel).toBe(
      'account manager call',
    );
    expect(segmentAction({ valueZ: -1, dataZ: 0, voiceZ: 0, stickyZ: 0, mouTrend: 1 }).channel).toBe(
      'SMS and app push',
    );
  });
  it('contacts a declining segment now, others before the bill, never in do-not-disturb hours', () => {
    expect(segmentAction({ valueZ: 0, dataZ: 0, voiceZ: 0, stickyZ: 0, mouTrend: 0.7 }).contactMoment).toMatch(
      /^now: usage is falling.*not 21:00-09:00$/,
    );
    expect(segmentAction({ valueZ: 0, dataZ: 0, voiceZ: 0, stickyZ: 0, mouTrend: 1 }).contactMoment).toMatch(
      /before the monthly bill.*not 21:00-09:00$/,
    );
  });
});
