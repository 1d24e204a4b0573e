import { describe, expect, it } from 'vitest';
import { skippedFeatureItems } from '../../domain/skipped-features';

describe('skipped features as the report and snapshots show list them', () => {
  it("gathers a score's absent components into one item, and keeps the others as they are, in order", () => {
    const rescaled = 'stability_score is rescaled over the components it has (tenure: 30 of 100 points)';
    expect(
      skippedFeatureItems([
        { feature: 'recency_days', reason: 'input has no last_recharge_date' },
        { feature: 'stability_score.contract', reason: `input has no contract_end_date; ${rescaled}` },
        { feature: 'stability_score.broadband', reason: `input has no has_broadband; ${rescaled}` },
        { feature: 'star_grade', reason: 'input has no arpu_avg, tenure' },
        { feature: 'stability_score.family', reason: `input has no has_family_bundle; ${rescaled}` },
      ]),
    ).toEqual([
      'recency_days (input has no last_recharge_date)',
      `stability_score.contract, stability_score.broadband, stability_score.family (input has no contract_end_date, has_broadband, has_family_bundle; ${rescaled})`,
      'star_grade (input has no arpu_avg, tenure)',
    ]);
    expect(skippedFeatureItems([])).toEqual([]);
  });
});
