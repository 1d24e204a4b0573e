import { describe, expect, it } from 'vitest';
import type { CampaignFollowUp } from '../../activities/campaign-metrics';
import { campaignsSection, followUpPart } from '../../activities/report/sections/campaigns';
import { followUpText } from '../../cli/commands/campaigns';
import { followUpHeadline, followUpVerdict, signedPoints } from '../../domain/campaign-reading';
import { followUpRow, measuredFollowUp } from '../campaign-follow-up-fixtures';

const row = followUpRow;
const followUp = measuredFollowUp;

describe('campaign follow-up as text', () => {
  it('compares the uplift in the month of contact with the uplift a month later', () => {
    expect(followUpHeadline(followUp())).toBe(
      "A month later: 2026-05/v1's list (measured by 2026-06/v2, churn read in 2026-06), read again in 2026-07: 25.0% of the held out and 21.0% of the targeted had no usage in 2026-07: uplift +4.0 pp (95% interval −0.6 to +8.7 pp, not significant), against +3.2 pp (+0.4 to +6.3 pp, significant (kept)) in 2026-06: the effect measured in the month of contact cannot be told from none a month later.",
    );
  });

  it('reads the two months together: a true sentence for every pair of readings', () => {
    // each reading as a group's fields: in the month of contact (ownMonth*) and a month later
    const now = {
      kept: { significant: true, tooSmall: false, absoluteUplift: 0.04, upliftLow: 0.01 },
      lost: { significant: true, tooSmall: false, absoluteUplift: -0.05, upliftHigh: -0.01 },
      'no clear effect': { significant: false, tooSmall: false },
      'too small': { significant: false, tooSmall: true },
    } as const;
    const then = {
      kept: { ownMonthSignificant: true, ownMonthTooSmall: false, ownMonthAbsoluteUplift: 0.032 },
      lost: { ownMonthSignificant: true, ownMonthTooSmall: false, ownMonthAbsoluteUplift: -0.03 },
      'no clear effect': { ownMonthSignificant: false, ownMonthTooSmall: false },
      'too small': { ownMonthSignificant: false, ownMonthTooSmall: true },
      'not measured': { ownMonthSignificant: null, ownMonthTooSmall: null, ownMonthAbsoluteUplift: null },
    } as const;
    const expected: Record<keyof typeof then, Record<keyof typeof now, string>> = {
      kept: {
        kept: 'the contacts still kept subscribers a month later',
        lost: 'the contacts kept subscribers in the month of contact, but a month later more of the contacted than of the control group had left',
        'no clear effect': 'the effect measured in the month of contact cannot be told from none a month later',
        'too small':
          'too few subscribers to tell whether the effect measured in the month of contact held a month later',
      },
      lost: {
        kept: 'more of the contacted than of the control group left in the month of contact, but a month later fewer of them had left',
        lost: 'more of the contacted than of the control group had left, in the month of contact and still a month later',
        'no clear effect':
          'more of the contacted than of the control group left in the month of contact; a month later the difference cannot be told from none',
        'too small':
          'too few subscribers to tell whether the harm measured in the month of contact lasted a month later',
      },
      'no clear effect': {
        kept: 'the contacted left less often a month later, a difference the month of contact could not yet show',
        lost: 'more of the contacted than of the control group had left a month later, a difference the month of contact could not yet show',
        'no clear effect': 'neither month can tell the difference from none',
        'too small':
          'too few subscribers to tell a month later; the month of contact could not tell the difference from none',
      },
      'too small': {
        kept: 'the contacted left less often a month later; the month of contact had too few subscribers to tell',
        lost: 'more of the contacted than of the control group had left a month later; the month of contact had too few subscribers to tell',
        'no clear effect':
          'too few subscribers to tell in the month of contact, and a month later the difference cannot be told from none',
        'too small': 'too few subscribers to tell, in either month',
      },
      'not measured': {
        kept: 'the contacted left less often a month later',
        lost: 'more of the contacted than of the control group had left a month later',
        'no clear effect': 'a month later the difference cannot be told from none',
        'too small': 'too few subscribers to tell a month later',
      },
    };
    const read = Object.fromEntries(
      Object.entries(then).map(([t, thenFields]) => [
        t,
        Object.fromEntries(
          Object.entries(now).map(([n, nowFields]) => [
            n,
            followUpVerdict(row('all', 'a', { ...thenFields, ...nowFields })),
          ]),
        ),
      ]),
    );
    expect(read).toEqual(expected);
    // no sentence says "neither month" or "could not yet show" of a month that did read a difference
    for (const t of ['kept', 'lost'] as const)
      for (const sentence of Object.values(expected[t])) {
        expect(sentence).not.toContain('neither month');
        expect(sentence).not.toContain('could not yet show');
      }
    // a group the month of contact did not have
    expect(
      followUpHeadline(
        followUp(row('all', 'a', { ownMonthAbsoluteUplift: null, ownMonthSignificant: null, ownMonthTooSmall: null })),
      ),
    ).not.toContain('against');
  });

  it('says the churn rates are weighted, in the headline, the tables of campaigns show and the report', () => {
    const overall = row('all', 'all on the list');
    const weighted = {
      ...followUp(overall),
      holdOutWeights: { controlShare: 0.25, strata: 'region, grid, operation priority' },
    } as const;
    expect(followUpHeadline(weighted)).toContain(
      "25.0% of the held out and 21.0% of the targeted had no usage in 2026-07 (churn weighted by each subscriber's chance of being held out, controlShare 0.25): uplift +4.0 pp",
    );
    const NOTE =
      "Churn rates are weighted by each subscriber's chance of being held out (controlShare 0.25, more in small strata of region, grid, operation priority, where the floor may hold one out): a group's rate need not be its churned / subscribers, which are counts.";
    const text = followUpText(weighted, [overall]);
    expect(text.split('\n').every((line) => line.length <= 100)).toBe(true);
    expect(text.replace(/\n {2}/g, ' ')).toContain(`${NOTE}\n\nall `);
    const html = followUpPart(weighted, [overall]);
    expect(html).toContain('<th class="num">left by 2026-07, weighted</th>');
    expect(html).toContain(`${NOTE} Every breakdown is in campaigns_followup.parquet.`);
    // unweighted (controlShare null) or a manifest without holdOutWeights: not a word
    for (const unweighted of [
      { ...weighted, holdOutWeights: { ...weighted.holdOutWeights, controlShare: null } },
      followUp(overall),
    ]) {
      expect(followUpHeadline(unweighted)).not.toContain('weighted');
      expect(followUpText(unweighted, [overall])).not.toContain('weighted');
      expect(followUpPart(unweighted, [overall])).not.toContain('weighted');
    }
  });

  it('signs points, with a true minus and no sign for zero', () => {
    expect(signedPoints(0.0321)).toBe('+3.2 pp');
    expect(signedPoints(-0.0321)).toBe('−3.2 pp');
    expect(signedPoints(0)).toBe('0.0 pp');
    expect(signedPoints(-0.0001)).toBe('0.0 pp');
    expect(signedPoints(null)).toBe('–');
  });

  it('says why a list was not followed up, in the report and campaigns show', async () => {
    const reason = "2026-05/v1's dispatch list, measured by 2026-06/v1, is no longer in the store (retired or removed)";
    const notFollowed: CampaignFollowUp = {
      measured: false,
      reason,
      firstMeasuredIn: { month: '2026-06', version: 1 },
    };
    expect(followUpText(notFollowed, []).replace(/\n\s+/g, ' ')).toBe(`A month later: not followed up: ${reason}.`);
    expect(followUpPart(notFollowed, [])).toContain(`A month later: not followed up: ${reason}.`);
    // a run without a measurement of its own still shows the follow-up
    const section = await campaignsSection({
      metrics: null,
      groups: [],
      followUp: { metrics: notFollowed, groups: [] },
    });
    expect(section.html).toContain('<h3>A month later</h3>');
  });

  it('fits campaigns show in 100 columns and tables the whole list and each action in the report', () => {
    const overall = row('all', 'all on the list');
    const actions = [
      row('action', 'larger data package or data add-on', { significant: true, upliftLow: 0.02 }),
      row('action', 'premium unlimited plan with a device offer', { tooSmall: true }),
    ];
    const text = followUpText(followUp(overall), [overall, ...actions]);
    expect(Math.max(...text.split('\n').map((line) => line.length))).toBeLessThanOrEqual(100);
    expect(text).toContain('in 2026-06');
    expect(text).toContain('by 2026-07');
    const html = followUpPart(followUp(overall), [overall, ...actions, row('channel', 'SMS')]);
    // the heading says "A month later": the headline below it does not say it again
    expect(html).toMatch(/<h3>A month later<\/h3>\s*<p>2026-05\/v1's list \(measured by/);
    expect(html).toContain('<td>whole list</td>');
    expect(html).toContain('<td>larger data package or data add-on</td>');
    expect(html).not.toContain('<td>SMS</td>'); // breakdowns other than action are in the file
    expect(html).toContain('campaigns_followup.parquet');
    expect(html).toContain('no kept per 100 contacts');
  });
});
