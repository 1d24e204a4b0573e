import { describe, expect, it } from 'vitest';
import type { CampaignGroup, CampaignMetrics, ListFit } from '../../activities/campaign-metrics';
import { dispatchedListWarning } from '../../activities/campaigns';
import { campaignsSection, showsWeightedChurn, upliftTicks } from '../../activities/report/sections/campaigns';
import { campaignsText } from '../../cli/commands/campaigns';
import { campaignSummaryLine, campaignWarningLine, quarantineLine, reuseLine } from '../../cli/snapshot-text';

function group(dimension: string, name: string, values: Partial<CampaignGroup> = {}): CampaignGroup {
  return {
    dimension,
    group: name,
    controlSubscribers: 300,
    controlChurned: 30,
    controlChurnRate: 0.1,
    targetedSubscribers: 2_700,
    targetedChurned: 216,
    targetedChurnRate: 0.08,
    absoluteUplift: 0.02,
    relativeUplift: 0.2,
    upliftLow: -0.01,
    upliftHigh: 0.06,
    significant: false,
    tooSmall: false,
    keptPer100Contacts: 2.5,
    contactedSubscribers: 2_160,
    acceptedSubscribers: 400,
    acceptanceRate: 0.25,
    contactedControls: 3,
    ...values,
  };
}

function metrics(values: Partial<Extract<CampaignMetrics, { measured: true }>> = {}): CampaignMetrics {
  const overall = group('all', 'all on the list');
  return {
    measured: true,
    dispatchFrom: { month: '2026-10', version: 1 },
    contacts: {
      file: '/data/contacts.csv',
      sha256: 'f'.repeat(64),
      rows: 144,
      loaded: 0,
      quarantined: 144,
      quarantineByReason: { 'contact_date: outside the run month': 141, 'subscriber_id: missing': 3 },
      contactedControls: 0,
    },
    interval: 'Newcombe hybrid score interval (method 10) from two Wilson 95% intervals',
    minArmSubscribers: 30,
    overall,
    byAction: [],
    ...values,
  };
}

const ref = { month: '2026-11', version: 1 };
const WARNING =
  '0 of 144 contact-log rows were used (141 x contact_date: outside the run month 2026-11; 3 x subscriber_id: missing): is this the log of the contacts made in 2026-11?';

/** A note as one line (its wrapped lines joined), after checking every line fits 100 columns. */
function note(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
  return text.replace(/\n {16}/g, ' ');
}

describe('campaign measurement as text', () => {
  it('shows the warning of a mostly unusable contact log in campaigns show, the report, the snapshot and the run result', async () => {
    const warned = metrics({ warnings: [WARNING] });
    const groups = [group('all', 'all on the list'), group('action', 'offer')];
    // wrapped to 100 columns
    expect(campaignsText(ref, warned, groups).replace(/\n +/g, ' ')).toContain(`warning: ${WARNING}`);
    expect(campaignsText(ref, metrics(), groups)).not.toContain('warning');
    const html = (await campaignsSection({ metrics: warned, groups })).html;
    expect(html).toContain('Check the contact log');
    expect(html).toContain('0 of 144 contact-log rows were used');
    expect((await campaignsSection({ metrics: metrics(), groups })).html).not.toContain('Check the contact log');
    expect(note(campaignWarningLine({ metrics: { campaigns: warned } } as never))).toBe(
      `  campaigns     warning: ${WARNING}`,
    );
    expect(campaignWarningLine({ metrics: { campaigns: metrics() } } as never)).toBeUndefined();
    expect(campaignWarningLine({ metrics: {} } as never)).toBeUndefined();
    // a manifest published before `warnings` still shows its one warning
    expect(note(campaignWarningLine({ metrics: { campaigns: metrics({ warning: WARNING }) } } as never))).toBe(
      `  campaigns     warning: ${WARNING}`,
    );
    expect(campaignsText(ref, metrics({ warning: WARNING }), groups).replace(/\n +/g, ' ')).toContain(WARNING);
  });

  it("says in a line of the run's result and snapshots show what a run took from earlier runs", () => {
    const artifact = (stage: string) => ({ stage }) as never;
    expect(
      reuseLine({
        lineage: {
          reused: [artifact('load-features'), artifact('churn-ensemble'), artifact('churn-scores')],
        },
      } as never),
    ).toBe(
      '  reused        the load and features, the trained ensemble, its scores: stored by earlier runs (--no-reuse computes everything)',
    );
    expect(reuseLine({ lineage: { reused: [artifact('usage-month'), artifact('usage-month')] } } as never)).toContain(
      'reused        2 checked months:',
    );
    expect(reuseLine({ lineage: { reused: [] } } as never)).toBeUndefined();
    expect(reuseLine({} as never)).toBeUndefined();
  });

  it("names the most frequent quarantine reasons in a line of the run's result and snapshots show", () => {
    expect(
      quarantineLine({
        quarantineByReason: {
          'month: outside the run window': 9_000,
          '短信条数 (sms_count): not a valid integer': 2_868,
          'duplicate (subscriber_id, month)': 12,
          'spend: outside [0, 1000000]': 12,
          'tenure_months: missing': 3,
        },
      }),
    ).toBe(
      '  quarantine    2,868 x 短信条数 (sms_count): not a valid integer; 12 x duplicate (subscriber_id, month); 12 x spend: outside [0, 1000000]; 1 more reason (rows in quarantine.parquet)',
    );
    // months outside the window were not read: no line for them alone
    expect(quarantineLine({ quarantineByReason: { 'month: outside the run window': 10 } })).toBeUndefined();
  });

  it("sums the measurement up in a line of the run's result and snapshots show", () => {
    const snapshot = { month: '2026-11', version: 1 };
    expect(note(campaignSummaryLine({ metrics: { campaigns: metrics() }, snapshot } as never))).toBe(
      "  campaigns     2026-10/v1's dispatch list: 2,700 targeted churned 8.0%, 300 held out 10.0%: uplift +2.0 pp (held-out churn minus targeted; 95% interval -1.0 to +6.0 pp; not significant); segflow campaigns show 2026-11/v1",
    );
    const worse = metrics({
      overall: group('all', 'all', { absoluteUplift: -0.05, upliftLow: -0.09, upliftHigh: -0.01, significant: true }),
    });
    expect(note(campaignSummaryLine({ metrics: { campaigns: worse }, snapshot } as never))).toContain(
      'uplift -5.0 pp (held-out churn minus targeted; 95% interval -9.0 to -1.0 pp; significant (harm))',
    );
    expect(campaignSummaryLine({ metrics: {}, snapshot } as never)).toBeUndefined();
  });

  it("says the churn rates are weighted, with the list's controlShare and strata, wherever they are shown", async () => {
    const snapshot = { month: '2026-11', version: 1 };
    const holdOutWeights = { controlShare: 0.25, strata: 'region, grid, operation priority' } as const;
    const weighted = metrics({ holdOutWeights });
    const groups = [group('all', 'all on the list'), group('action', 'offer')];
    const NOTE =
      "Churn rates are weighted by each subscriber's chance of being held out (controlShare 0.25, more in small strata of region, grid, operation priority, where the floor may hold one out): a group's rate need not be its churned / subscribers, which are counts.";
    // campaigns show: the note beside the tables, after the arms' definitions and before the first table
    const text = campaignsText(ref, weighted, groups);
    expect(text.split('\n').every((line) => line.length <= 100)).toBe(true);
    const joined = text.replace(/\n {2}/g, ' ');
    expect(joined).toContain(`${NOTE}\n\nall `);
    expect(joined.indexOf(NOTE)).toBeGreaterThan(joined.indexOf('Churn by arm.'));
    // the run's printed line and snapshots show
    expect(note(campaignSummaryLine({ metrics: { campaigns: weighted }, snapshot } as never))).toBe(
      "  campaigns     2026-10/v1's dispatch list: 2,700 targeted churned 8.0%, 300 held out 10.0% (churn weighted by each subscriber's chance of being held out, controlShare 0.25): uplift +2.0 pp (held-out churn minus targeted; 95% interval -1.0 to +6.0 pp; not significant); segflow campaigns show 2026-11/v1",
    );
    // the report: the headline, the tables' churn columns and a note above the tables
    const html = (await campaignsSection({ metrics: weighted, groups })).html;
    expect(html).toContain(
      "This month 10.0% of the control group left, against 8.0% of the contacted (churn weighted by each subscriber's chance of being held out, controlShare 0.25): 2.0 pp fewer left",
    );
    expect(html).toContain(
      '<th>action</th><th class="num">control</th><th class="num">left, weighted</th><th class="num">contacted</th><th class="num">left, weighted</th>',
    );
    expect(html).toContain(`<p class="note">${NOTE}</p>\n    <h3>By action</h3>`);
    expect(showsWeightedChurn({ metrics: weighted, groups })).toBe(true);
    // a list published before session 35 names its strata as they were drawn
    const byGrid = metrics({ holdOutWeights: { controlShare: 0.1, strata: 'grid, operation priority' } });
    expect(campaignsText(ref, byGrid, groups).replace(/\n {2}/g, ' ')).toContain(
      '(controlShare 0.1, more in small strata of grid, operation priority, where the floor may hold one out)',
    );
    // unweighted (a hand-made list: controlShare null) or a manifest without holdOutWeights: not a word
    for (const unweighted of [metrics({ holdOutWeights: { ...holdOutWeights, controlShare: null } }), metrics()]) {
      expect(campaignsText(ref, unweighted, groups)).not.toContain('weighted by');
      expect(campaignSummaryLine({ metrics: { campaigns: unweighted }, snapshot } as never)).not.toContain('weighted');
      const plain = (await campaignsSection({ metrics: unweighted, groups })).html;
      expect(plain).not.toContain('weighted by');
      expect(plain).toContain('<th class="num">control</th><th class="num">left</th>');
      expect(showsWeightedChurn({ metrics: unweighted, groups })).toBe(false);
    }
  });

  it('says a list that held nobody out was not measured, in the run result, campaigns show and the report', async () => {
    const snapshot = { month: '2026-11', version: 1 };
    const REASON =
      "2026-10/v1's list was published with controlShare=0 (no control group); a later month's run with a controlShare above 0 can be measured";
    const refused: CampaignMetrics = { measured: false, reason: REASON };
    expect(note(campaignSummaryLine({ metrics: { campaigns: refused }, snapshot } as never))).toBe(
      `  campaigns     not measured: ${REASON}`,
    );
    expect(campaignsText(ref, refused, [])).toBe(`2026-11/v1: not measured: ${REASON}`);
    expect((await campaignsSection({ metrics: refused, groups: [] })).html).toContain(`Not measured: ${REASON}`);
    // a manifest published before such a list was refused: 0 held out, every group too small
    const noControl = group('all', 'all on the list', {
      controlSubscribers: 0,
      controlChurned: 0,
      controlChurnRate: null,
      absoluteUplift: null,
      relativeUplift: null,
      upliftLow: null,
      upliftHigh: null,
      tooSmall: true,
      keptPer100Contacts: null,
    });
    const old = metrics({ overall: noControl });
    const NOBODY = "2026-10/v1's list holds nobody out (no control group)";
    expect(note(campaignSummaryLine({ metrics: { campaigns: old }, snapshot } as never))).toBe(
      `  campaigns     not measured: ${NOBODY}`,
    );
    expect(campaignsText(ref, old, [noControl])).toBe(`2026-11/v1: not measured: ${NOBODY}`);
    const html = (await campaignsSection({ metrics: old, groups: [noControl] })).html;
    expect(html).toContain("Not measured: 2026-10/v1's list holds nobody out (no control group).");
    expect(html).not.toContain('Too few subscribers');
    // a list that held some out, all of them with every usage row quarantined, did hold them out
    const unreadable = metrics({ overall: { ...noControl, controlUnreadable: 4 } });
    expect(campaignSummaryLine({ metrics: { campaigns: unreadable }, snapshot } as never)).not.toContain(NOBODY);
    expect(campaignsText(ref, unreadable, [noControl])).not.toContain(NOBODY);
    expect((await campaignsSection({ metrics: unreadable, groups: [noControl] })).html).not.toContain(NOBODY);
  });

  it('shows kept per 100 contacts as – where it is not given, and says why, in campaigns show and the report', async () => {
    const few = group('action', 'offer', { contactedSubscribers: 12, keptPer100Contacts: null });
    const groups = [group('all', 'all on the list'), few];
    const text = campaignsText(ref, metrics({ minLoggedSubscribers: 30 }), groups);
    const offer = text.split('\n').filter((line) => line.startsWith('offer'));
    expect(offer.at(-1)).toMatch(/ 12 +3 +25\.0 +–$/);
    expect(text.replace(/\n +/g, ' ')).toContain(
      "kept/100 – where fewer than 30 of a group's targeted subscribers were logged (too few to divide by).",
    );
    const withheld = metrics({
      minLoggedSubscribers: 30,
      keptPer100Withheld: 'the contact log is mostly unusable (see the warning)',
    });
    expect(campaignsText(ref, withheld, groups).replace(/\n +/g, ' ')).toContain(
      'kept/100 not given (–): the contact log is mostly unusable (see the warning).',
    );
    const html = (await campaignsSection({ metrics: withheld, groups })).html;
    expect(html).toContain('not given (–): the contact log is mostly unusable (see the warning).');
    expect(html).toMatch(/<td class="num">–<\/td><td class="num">25\.0%<\/td>/);
    // a manifest published before: no gap to explain
    expect(campaignsText(ref, metrics(), groups)).not.toContain('too few to divide by');
  });

  it('says how many on the list were left out of both arms because their usage rows were all quarantined', async () => {
    const overall = group('all', 'all on the list', { controlUnreadable: 3, targetedUnreadable: 27 });
    const text = campaignsText(ref, metrics({ overall }), [overall]).replace(/\n +/g, ' ');
    expect(text).toContain(
      'unreadable: 30 on the list (3 held out, 27 targeted) had every 2026-11 usage row quarantined: whether they left is unknown, so they are in neither arm (their rows are in quarantine.parquet)',
    );
    const html = (await campaignsSection({ metrics: metrics({ overall }), groups: [overall] })).html;
    expect(html).toContain(
      '30 subscribers on the list (3 held out, 27 to be contacted) had every usage row this month quarantined',
    );
    // none, or a measurement published before they were counted: nothing said
    const none = group('all', 'all on the list');
    expect(campaignsText(ref, metrics({ overall: none }), [none])).not.toContain('unreadable');
    expect((await campaignsSection({ metrics: metrics({ overall: none }), groups: [none] })).html).not.toContain(
      'quarantined:',
    );
  });

  it('says churn is read in the month of the contacts, and how many who accepted left anyway', async () => {
    const overall = group('all', 'all on the list', { acceptedSubscribers: 238, acceptedChurned: 26 });
    const html = (await campaignsSection({ metrics: metrics({ overall }), groups: [overall] })).html;
    expect(html).toContain('churn is read in this month, the month the contacts were made');
    expect(html).toContain(
      '26 of the 238 subscribers who accepted an offer have no usage this month and count as churned',
    );
    const text = campaignsText(ref, metrics({ overall }), [overall]);
    expect(text.replace(/\n +/g, ' ')).toContain('churn: no usage in 2026-11, the month of the contacts');
    expect(text).toMatch(/accepted, left/);
    expect(
      text
        .split('\n')
        .filter((line) => line.startsWith('all on the list'))
        .at(-1),
    ).toMatch(/ 25\.0 +26 +2\.5$/);
    // a measurement published before it was counted: no such sentence
    const before = (await campaignsSection({ metrics: metrics(), groups: [group('all', 'all on the list')] })).html;
    expect(before).not.toContain('who accepted an offer have no usage');
  });

  it('shows every warning, each on its own line, and says how the measured list was chosen', async () => {
    const LIST =
      'measured against the dispatch list of 2026-10/v2, the latest version when this run started; 2026-10 also has v1, and the contact log fits 2026-10/v1 better (rows whose logged action is the one the list recommends: v1 187 of 187, v2 165 of 187): if v1 was the list dispatched, run again with --param dispatched=2026-10/v1';
    const warned = metrics({
      dispatchFrom: { month: '2026-10', version: 2, sha256: 'e'.repeat(64), chosenBy: 'latest' },
      warnings: [WARNING, LIST],
    });
    const groups = [group('all', 'all on the list')];
    const lines = campaignWarningLine({ metrics: { campaigns: warned } } as never) ?? '';
    // each warning a note of its own, wrapped to 100 columns under its text
    expect(lines.split('\n').filter((line) => line.startsWith('  campaigns     warning: '))).toHaveLength(2);
    expect(note(lines)).toBe(`  campaigns     warning: ${WARNING}\n  campaigns     warning: ${LIST}`);
    const text = campaignsText(ref, warned, groups);
    expect(text.split('\n').slice(0, 2).join('\n')).toBe(
      '2026-11/v1: the dispatch list of 2026-10/v2 (the latest when the run started) against its control\n  group',
    );
    expect(text.replace(/\n +/g, ' ')).toContain(`warning: ${WARNING}\nwarning: ${LIST}`);
    expect(text.split('\n').every((line) => line.length <= 100)).toBe(true);
    const named = metrics({ dispatchFrom: { month: '2026-10', version: 1, chosenBy: 'dispatched' } });
    expect(campaignsText(ref, named, groups).split('\n')[0]).toContain('2026-10/v1 (named by --param dispatched)');
    const html = (await campaignsSection({ metrics: warned, groups })).html;
    expect(html).toContain(
      'is this the log of the contacts made in 2026-11? measured against the dispatch list of 2026-10/v2',
    );
    expect(html).toContain('--param dispatched=2026-10/v1.');
  });

  it('words a significantly harmful action as lost subscribers, never as kept', async () => {
    const harm = {
      absoluteUplift: -0.11,
      relativeUplift: -0.5,
      upliftLow: -0.15,
      upliftHigh: -0.07,
      significant: true,
    };
    const overall = group('all', 'all on the list', { ...harm, keptPer100Contacts: -14.9 });
    const action = group('action', 'premium plan', { ...harm, absoluteUplift: -0.1, keptPer100Contacts: -12.5 });
    const kept = group('action', 'data package', {
      absoluteUplift: 0.05,
      upliftLow: 0.01,
      upliftHigh: 0.09,
      significant: true,
    });
    const grids = [
      group('grid', 'G1', harm),
      group('grid', 'G2', harm),
      group('grid', 'G3', { significant: true, upliftLow: 0.01 }),
    ];
    const groups = [overall, action, kept, ...grids];
    const html = (await campaignsSection({ metrics: metrics({ overall, byAction: [action, kept] }), groups })).html;
    expect(html).toContain('No: the contacted left more often.');
    expect(html).toContain(
      '11.0 pp more left among the contacted (95% interval −15.0 to −7.0 pp), about 14.9 subscribers lost per 100 contacted.',
    );
    expect(html).not.toMatch(/-\d+(\.\d+)? pp fewer|about -|about –/);
    // the tables' uplifts, intervals, relative uplifts and kept per 100 with one minus sign, as a month later's
    expect(html).toContain(
      '<td class="num">−10.0 pp</td><td class="num">−15.0 to −7.0 pp</td><td class="num">−50.0%</td><td class="num">−12.5</td>',
    );
    expect(html).not.toMatch(/>-\d/);
    // the chart is horizontal: its title says left of 0, as its axis does
    expect(html).toContain('left of 0: churn caused');
    expect(html).not.toContain('interval; below 0');
    // the chart's marks carry each action's reading
    expect(html).toMatch(/action: premium plan[^"]*reading: lost subscribers/);
    expect(html).toMatch(/action: data package[^"]*reading: kept subscribers/);
    expect(html).toContain('<b>significant (harm)</b>');
    expect(html).toContain('<b>significant (kept)</b>');
    expect(html).toContain(
      'of them, 1 show significantly less churn among the contacted (kept subscribers) and 2 significantly more',
    );
    const text = campaignsText(ref, metrics(), [overall, action, kept]);
    expect(text.match(/significant \(harm\)/g)).toHaveLength(2);
    expect(text.match(/significant \(kept\)/g)).toHaveLength(1);
  });

  it('gives no kept per 100 contacted beyond the control group churn: the log records fewer contacts than were made', async () => {
    // control churn 10.0%: 31.2 kept per 100 contacted would keep more than would have left
    const overall = group('all', 'all on the list', {
      significant: true,
      upliftLow: 0.005,
      keptPer100Contacts: 31.2,
    });
    const html = (await campaignsSection({ metrics: metrics({ overall }), groups: [overall] })).html;
    expect(html).toContain(
      '; the contact log gives 31.2 kept per 100 contacted, more than the 10.0 per 100 held out who left, which no contact can keep: it records fewer contacts than were made.',
    );
    expect(html).not.toContain('about 31.2 subscribers kept');
  });

  it("labels 0 on the uplift chart's axis, with at most 8 round ticks", () => {
    expect(upliftTicks([{ low: -0.15, high: 0.17 }])).toEqual([-0.15, -0.1, -0.05, 0, 0.05, 0.1, 0.15, 0.2]);
    expect(upliftTicks([{ low: 0.003, high: 0.04 }])).toEqual([0, 0.01, 0.02, 0.03, 0.04]);
    expect(upliftTicks([{ low: null, high: null }])).toEqual([0]);
  });

  it('claims no subscribers kept when the interval cannot tell the difference from none', async () => {
    const overall = group('all', 'all on the list');
    const html = (await campaignsSection({ metrics: metrics({ overall }), groups: [overall] })).html;
    expect(html).toContain(
      '<b>No clear effect yet.</b> On the 2026-10 dispatch list (v1), 300 subscribers were held out as a control group and 2,700 were to be contacted. This month 10.0% of the control group left, against 8.0% of the contacted: 2.0 pp fewer left among the contacted (95% interval −1.0 to +6.0 pp), a difference this month cannot tell from none. Of the contacts with a recorded outcome, 25.0% accepted the offer.',
    );
    expect(html).not.toContain('kept per 100 contacted');
  });

  it('warns that among many groups some read significant by chance', async () => {
    const overall = group('all', 'all on the list');
    const grids = Array.from({ length: 22 }, (_, i) =>
      group('grid', `G${i}`, i === 0 ? { significant: true, upliftLow: 0.01 } : {}),
    );
    const html = (await campaignsSection({ metrics: metrics({ overall }), groups: [overall, ...grids] })).html;
    expect(html).toContain(
      "22 groups (by action, channel, contact moment, segment and grid) were large enough to read, and 1 reads significant. Each breakdown's intervals hold together at 95% (each group's wider than 95% alone, by the number of groups read beside it): with no effect at all, a breakdown shows a significant group in about one campaign in twenty.",
    );
    // a handful of groups: no such note
    expect((await campaignsSection({ metrics: metrics({ overall }), groups: [overall] })).html).not.toContain(
      'by chance',
    );
  });

  it('leaves out the kept-per-100 sentence when there is no value', async () => {
    const overall = group('all', 'all on the list', {
      keptPer100Contacts: null,
      contactedSubscribers: 0,
      significant: true,
      upliftLow: 0.01,
      acceptanceRate: null,
    });
    const html = (await campaignsSection({ metrics: metrics({ overall }), groups: [overall] })).html;
    expect(html).toContain('2.0 pp fewer left among the contacted (95% interval +1.0 to +6.0 pp).</p>');
    expect(html).not.toContain('about –');
    const none = group('all', 'all on the list', {
      absoluteUplift: null,
      upliftLow: null,
      upliftHigh: null,
      keptPer100Contacts: null,
    });
    const noneHtml = (await campaignsSection({ metrics: metrics({ overall: none }), groups: [none] })).html;
    expect(noneHtml).not.toMatch(/about|– fewer/);
    // no interval is one dash, not "– to –"
    expect(noneHtml).not.toContain('– to –');
  });
});

describe('the warning of a list chosen by default in a month of several versions', () => {
  const fit = (version: number, actionMatches: number): ListFit => ({
    version,
    rows: 934,
    onList: 934,
    withAction: 934,
    actionMatches,
    sha256: String(version).repeat(64),
  });
  const measured = { month: '2026-10', version: 3 };

  it('names the measured version where the log fits it best, and those it fits as well', () => {
    expect(dispatchedListWarning(measured, [fit(1, 700), fit(2, 918), fit(3, 934)])).toContain(
      '2026-10 also has v1, v2; the contact log fits 2026-10/v3, the one measured, best (log rows naming the action the list recommends, of the 934 with an action: v1 700, v2 918, v3 934)',
    );
    expect(dispatchedListWarning(measured, [fit(1, 700), fit(2, 934), fit(3, 934)])).toContain(
      'the contact log fits 2026-10/v3, the one measured, as well as v2 (',
    );
  });
});
