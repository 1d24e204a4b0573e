import { describe, expect, it } from 'vitest';
import { CHURN_FEATURES } from '../../activities/churn';
import { describeFeature, FEATURE_WORDS } from '../../domain/feature-words';

describe('feature words', () => {
  it('has words for every churn feature', () => {
    expect(CHURN_FEATURES.filter((feature) => !FEATURE_WORDS[feature])).toEqual([]);
  });

  it('reads out values the way an agent would say them', () => {
    expect(describeFeature('complaints_recent', 4)).toBe('4 complaints in the last 3 months');
    expect(describeFeature('contract_months_left', 1)).toBe('contract ends in 1 month');
    expect(describeFeature('contract_months_left', 0)).toBe('no contract binding');
    expect(describeFeature('mou_trend', 0.4)).toBe('call minutes down to 40% of the months before');
    expect(describeFeature('tenure_months', 3)).toBe('customer for 3 months');
    expect(describeFeature('plan_code', 2.5)).toBe('plan_code = 2.5');
  });
});
