import { describe, expect, it } from 'vitest';
import { CHURN_FEATURES } from '../../activities/churn';
import {
  describeFeature,
  FEATURE_WORDS,
  featureLabel,
  termInSymbols,
  termInWords,
  VALUE_WORDS,
} from '../../domain/feature-words';
import { paramsDifferingFromDefaults, parseRunParams } from '../../domain/params';

describe('features in words a marketer reads', () => {
  it('says the examples of issue 13 in words', () => {
    expect(termInWords({ feature: 'spend_slope_rel', high: -0.05 })).toBe('spend fell more than 5% a month');
    expect(termInWords({ feature: 'call_circle', high: 17.5 })).toBe('fewer than 18 distinct contacts');
  });

  it('reads counts as whole numbers, ratios as rises and falls, amounts with their unit', () => {
    expect(termInWords({ feature: 'complaints_recent', high: 0.5 })).toBe('no complaints in the last 3 months');
    expect(termInWords({ feature: 'complaints_recent', low: 0.5 })).toBe('at least 1 complaint in the last 3 months');
    expect(termInWords({ feature: 'tenure_months', low: 5.5, high: 11.5 })).toBe('on the network 6 to 11 months');
    // an amount's ends round toward the inside of the range, as a single bound does
    expect(termInWords({ feature: 'arpu', low: 19.2, high: 50.7 })).toBe('spends ¥20 to ¥50 a month');
    expect(termInWords({ feature: 'dou', low: 1234.5, high: 5678.9 })).toBe(
      'uses 1,235 MB to 5,678 MB of data a month',
    );
    // a range the rounding would close up reads as its middle
    expect(termInWords({ feature: 'arpu', low: 19.2, high: 20.4 })).toBe('spends about ¥20 a month');
    expect(termInWords({ feature: 'spend_volatility', low: 0.101, high: 0.109 })).toBe(
      'monthly spend varies about 11% around its average',
    );
    expect(termInWords({ feature: 'mou_trend', high: 0.71 })).toBe(
      'call minutes fell more than 29% (last 3 months vs the 3 before)',
    );
    expect(termInWords({ feature: 'mou_trend', low: 1.2 })).toBe(
      'call minutes grew 20% or more (last 3 months vs the 3 before)',
    );
    // a bound rounds toward the rule's side: "¥19 or more" would take in a subscriber at ¥19.1
    expect(termInWords({ feature: 'arpu', low: 19.2 })).toBe('spends ¥20 or more a month');
    expect(termInWords({ feature: 'dou', high: 1234.5 })).toBe('uses less than 1,234 MB of data a month');
    expect(termInWords({ feature: 'dou', low: 0.372 })).toBe('uses 0.38 MB or more of data a month');
    expect(termInWords({ feature: 'spend_volatility', high: 0.234 })).toBe(
      'monthly spend varies less than 23% around its average',
    );
    expect(termInWords({ feature: 'spend_volatility', low: 0.234 })).toBe(
      'monthly spend varies 24% or more around its average',
    );
    // a rate's unit follows its number; a cut at no change is a fall, not one of "more than 0%"
    expect(termInWords({ feature: 'spend_slope_rel', low: -0.05 })).toBe('spend fell less than 5% a month or grew');
    expect(termInWords({ feature: 'recharge_trend', high: 1 })).toBe('recharges fell (last 3 months vs the 3 before)');
  });

  it('rounds a change into the rule, as amounts are: its words take in no subscriber it leaves out', () => {
    // the walkthrough's rules: "more than 10%" for < 0.905, "more than 5% a month" for < -0.0461;
    // a split's two sides never share a fall in words (they overlapped: "more than 5.4%", "less than 5.5%")
    expect(termInWords({ feature: 'recharge_trend', high: 0.905 })).toBe(
      'recharges fell more than 9.5% (last 3 months vs the 3 before)',
    );
    expect(termInWords({ feature: 'spend_slope_rel', high: -0.0461 })).toBe('spend fell more than 4.7% a month');
    expect(termInWords({ feature: 'spend_slope_rel', low: -0.0461 })).toBe('spend fell less than 4.6% a month or grew');
    expect(termInWords({ feature: 'mou_trend', low: 1.2049 })).toBe(
      'call minutes grew 20.5% or more (last 3 months vs the 3 before)',
    );
    expect(termInWords({ feature: 'mou_trend', high: 1.2049 })).toBe(
      'call minutes grew less than 20.4% (last 3 months vs the 3 before) or fell',
    );
    expect(termInWords({ feature: 'mou_trend', low: 0.6049, high: 0.9051 })).toBe(
      'call minutes fell 9.5% to 39.5% (last 3 months vs the 3 before)',
    );
    expect(termInWords({ feature: 'spend_slope_rel', high: -0.00456 })).toBe('spend fell more than 0.46% a month');
    expect(termInWords({ feature: 'spend_slope_rel', high: -0.05405975 })).toBe('spend fell more than 5.5% a month');
    expect(termInWords({ feature: 'spend_slope_rel', low: -0.05405975 })).toBe(
      'spend fell less than 5.4% a month or grew',
    );
    // a range thinner than the rounding reads as its middle, not backwards ("fell 5.5% to 5.4%")
    expect(termInWords({ feature: 'spend_trend', low: 0.9451, high: 0.9459 })).toBe(
      'spend fell about 5.4% (last 3 months vs the 3 before)',
    );
    expect(termInWords({ feature: 'spend_trend', low: 1.0541, high: 1.0549 })).toBe(
      'spend grew about 5.4% (last 3 months vs the 3 before)',
    );
    expect(termInWords({ feature: 'spend_slope_rel', low: -0.0461, high: 0.0349 })).toBe(
      'spend changed between -4.6% and +3.4% a month',
    );
  });

  it('keeps a feature without words by its column name, as the churn tree states it', () => {
    const terms = [
      { feature: 'call_circle', high: 17.5 },
      { feature: 'new_column', low: 3 },
    ];
    expect(terms.map(termInWords)).toEqual(['fewer than 18 distinct contacts', 'new_column >= 3']);
    expect(terms.map(termInSymbols).join(' and ')).toBe('call_circle < 17.5 and new_column >= 3');
  });

  it('has words for every feature the churn tree may split on', () => {
    for (const feature of CHURN_FEATURES) {
      expect(FEATURE_WORDS[feature], feature).toBeDefined();
      expect(featureLabel(feature)).not.toBe(feature);
    }
  });
});

describe('parameters that differ from their defaults', () => {
  it('lists only what the run set away from the schema defaults, with the default', () => {
    const parsed = parseRunParams({ month: '2026-06', input: 'data', k: 6, treeDepth: 4, seed: 42 });
    if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
    expect(paramsDifferingFromDefaults(parsed.params)).toEqual([
      { name: 'k', value: 6, defaultValue: undefined },
      { name: 'treeDepth', value: 4, defaultValue: 6 },
    ]);
  });
});

describe('feature values in words (churn reasons)', () => {
  it('has words for every churn feature', () => {
    expect(CHURN_FEATURES.filter((feature) => !VALUE_WORDS[feature])).toEqual([]);
  });

  it('reads out values the way an agent would say them', () => {
    expect(describeFeature('complaints_recent', 4)).toBe('4 complaints in the last 3 months');
    // days since the last recharge (or the whole window, with none), not since the last use: a subscriber may call daily and top up rarely
    expect(describeFeature('recency_days', 29)).toBe('no recharge for 29 days before month end');
    expect(describeFeature('contract_months_left', 1)).toBe('contract ends in 1 month');
    expect(describeFeature('contract_months_left', 0)).toBe('no contract binding');
    expect(describeFeature('mou_trend', 0.4)).toBe('call minutes down to 40% of the months before');
    expect(describeFeature('mou_trend', 0.998)).toBe('call minutes about as in the months before');
    expect(describeFeature('tenure_months', 3)).toBe('customer for 3 months');
    expect(describeFeature('plan_code', 2.5)).toBe('plan_code = 2.5');
  });
});
