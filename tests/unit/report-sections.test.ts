import { describe, expect, it } from 'vitest';
import { dataQualityChart } from '../../activities/report/charts';
import {
  contactReason,
  gridsSection,
  type ContactRow,
  type DispatchRule,
  type GridRow,
} from '../../activities/report/sections/grids';
import { reportHeader } from '../../activities/report/sections/header';
import {
  migrationSection,
  unmatchedMigrationSection,
  type MigrationCell,
} from '../../activities/report/sections/migration';
import { churnSection } from '../../activities/report/sections/churn';
import { churnModelsSection } from '../../activities/report/sections/churn-models';
import { glossarySection } from '../../activities/report/sections/glossary';
import { kpiStrip } from '../../activities/report/sections/kpis';
import { parseRunParams } from '../../domain/params';
import { TAG_RULES } from '../../domain/actions';

/** The default dispatch lists' rule. */
const RULE: DispatchRule = { order: 'priority', maxPriority: 2 };

/** The texts of one Vega role's text marks, in drawing order. */
function texts(svg: string, role: string): string[] {
  const group = svg.split(`role-${role}`).slice(1);
  return group.flatMap((part) => [...part.split('</g>')[0].matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]));
}

describe('report sections', () => {
  it('draws data quality on a log axis that starts at 1, not 0, with every bar and its count', async () => {
    const svg = await dataQualityChart([
      { outcome: 'loaded', rows: 18_436, kind: 'loaded' },
      { outcome: 'duplicate subscriber and month', rows: 3, kind: 'quarantined' },
    ]);
    const ticks = texts(svg, 'axis-label');
    expect(ticks[0]).toBe('1');
    expect(ticks).not.toContain('0');
    expect(svg.match(/role-mark[^>]*>\s*<path/g)?.length ?? 0).toBeGreaterThan(0);
    expect(svg).toContain('18,436');
  });

  it('orders migration by segment id, shows a renamed segment as renamed, its subscribers staying, and a regrouped id as regrouped', async () => {
    const cell = (from: [number | null, string], to: [number | null, string], subscribers: number): MigrationCell => ({
      from_segment_id: from[0],
      from_segment: from[1],
      to_segment_id: to[0],
      to_segment: to[1],
      subscribers,
    });
    const section = await migrationSection(
      [
        cell([2, 'mid value · balanced'], [2, 'mid value · balanced · declining'], 500),
        cell([10, 'low value · light user'], [10, 'low value · light user'], 300),
        cell([10, 'low value · light user'], [2, 'mid value · balanced · declining'], 7),
        cell([null, '(new)'], [10, 'low value · light user'], 12),
        cell([2, 'mid value · balanced'], [null, '(gone)'], 9),
      ],
      '2026-05',
      '2026-06',
    );
    expect(section.html).toMatch(
      /<td>2<\/td><td>mid value · balanced<\/td><td>mid value · balanced · declining<\/td><td><b>renamed<\/b>/,
    );
    expect(section.html).toMatch(/<td>10<\/td>.*<td>same<\/td>/);
    expect(section.html).toContain('800 of 807 subscribers present in both months (99.1%) kept their segment');
    // rows and columns by id (2 before 10), the columns by this month's names, the rows by last
    // month's; joiners and leavers last
    expect(texts(section.html, 'axis-label')).toEqual([
      '2 mid value · balanced · declining',
      '10 low value · light user',
      '(left the network)',
      '2 mid value · balanced',
      '10 low value · light user',
      '(joined the network)',
    ]);

    // k from 2 to 1: the one segment left took id 1, but 60% of it was segment 2
    const fewer = await migrationSection(
      [
        cell([1, 'low value · light user'], [1, 'low value · data heavy'], 100),
        cell([2, 'mid value · data heavy'], [1, 'low value · data heavy'], 150),
      ],
      '2026-05',
      '2026-06',
    );
    expect(fewer.html).toMatch(/<td>1<\/td>.*<td><b>regrouped<\/b>: 40.0% of it was segment 1 before<\/td>/);
    // a gone segment says where most of it went
    expect(fewer.html).toMatch(/<td>2<\/td>.*<td>gone: most \(100\.0%\) to 1<\/td>/);
    expect(fewer.html).toContain('0 of 250 subscribers present in both months (0.0%) kept their segment');
    expect(fewer.html).toContain('A regrouped segment kept the id');
    expect(section.html).not.toContain('A regrouped segment');

    // segment 1 split: 40 stayed, 60 went to a new segment 3; its stayers kept their segment
    const split = await migrationSection(
      [
        cell([1, 'low value · light user'], [1, 'low value · light user'], 40),
        cell([1, 'low value · light user'], [3, 'low value · data heavy'], 60),
      ],
      '2026-05',
      '2026-06',
    );
    expect(split.html).toMatch(/<td>1<\/td>.*<td><b>split<\/b>: 40.0% of it stayed<\/td>/);
    expect(split.html).toContain('40 of 100 subscribers present in both months (40.0%) kept their segment');
    expect(split.html).not.toContain('regrouped');

    // a renamed segment that took in a third of another's subscribers says so
    const merged = await migrationSection(
      [
        cell([2, 'high value · balanced'], [2, 'mid value · voice heavy'], 800),
        cell([6, 'mid value · voice heavy'], [2, 'mid value · voice heavy'], 500),
        cell([6, 'mid value · voice heavy'], [null, '(gone)'], 70),
      ],
      '2026-05',
      '2026-06',
    );
    expect(merged.html).toMatch(
      /<td>2<\/td>.*<td><b>renamed<\/b>; 38\.5% of it came from other segments \(most from 6\)<\/td>/,
    );
    expect(merged.html).toMatch(/<td>6<\/td>.*<td>gone: most \(100\.0%\) to 2<\/td>/);
    // the status column (renamed, regrouped, split, gone) has a header
    expect(merged.html).toMatch(/<th>name in [^<]*<\/th><th>status<\/th><\/tr>/);
  });

  it('says where migration would be that the month before was segmented on other features, and that its ids are not comparable', () => {
    const section = unmatchedMigrationSection('2026-05/v1', '2026-06');
    expect(section.id).toBe('migration');
    expect(section.title).toBe('Migration: not measured');
    expect(section.html).toContain(
      '<b>No migration this month.</b> 2026-05/v1, the month before, was segmented on other features',
    );
    expect(section.html).toContain("<b>they are not comparable with 2026-05/v1's</b>");
  });

  it('lists each grid with its first contacts in dispatch order, and says why each is there', () => {
    const grid = (name: string | null, to_contact: number, held_out = 0): GridRow => ({
      region: 'R1',
      grid: name,
      subscribers: 100,
      mou: 1000,
      dou: 2048,
      revenue: 5000,
      high_risk_subscribers: 2,
      high_value_at_risk: 1,
      to_contact,
      held_out,
    });
    const contact = (rank: number, id: string): ContactRow => ({
      region: 'R1',
      grid: 'R1-G02',
      contact_rank: rank,
      subscriber_id: id,
      segment_name: 'high value · heavy user',
      operation_priority: 1,
      churn_score: 0.42,
      risk_band: 'high',
      churn_reasons: ['spend falling 7% a month', 'no recharge for 27 days before month end'],
      tags: ['VIP', 'warning'],
      retention_style: 'steel binding: contract renewal, device offer',
      recommended_product: 'premium unlimited plan',
      channel: 'account manager call',
      contact_moment: 'within 7 days',
    });
    expect(contactReason(contact(1, 'S1'))).toBe(
      'key customer, unstable (P1) · churn risk high (42.0%) · VIP, warning',
    );
    const section = gridsSection(
      [grid('R1-G01', 0), grid('R1-G02', 9), grid(null, 0)],
      [contact(1, 'S7'), contact(2, 'S3')],
      2,
      RULE,
    );
    const order = [...section.html.matchAll(/<code>(S\d)<\/code>/g)].map((m) => m[1]);
    expect(order).toEqual(['S7', 'S3']);
    // the first grid with someone to contact is open
    expect(section.html).toMatch(/<details class="grid" open><summary class="grid-row"><span>R1-G02/);
    expect(section.html).toContain('The first 2 of 9');
    expect(section.html).toContain('(no grid)');
    // the lists in one sentence: how many, who is on them, in what order; each contact's reasons
    expect(section.html).toContain(
      "<b>9 subscribers to contact this month</b>, and 0 held out, in 1 grid. On the list: everyone at elevated or high churn risk, and operation priorities 1 (key customer, unstable) and 2 (high value, unstable) whatever their risk. Each grid's list is ranked by operation priority (1 first), then by churn score",
    );
    expect(section.html).toContain(
      '<div class="columns">risk raised most by:<br>spend falling 7% a month<br>no recharge for 27 days before month end</div>',
    );
    expect(gridsSection([grid('R1-G02', 1)], [], 2, { order: 'revenueAtRisk', maxPriority: 2 }).html).toContain(
      '<b>1 subscriber to contact this month</b>',
    );
    // a grid's control group is counted apart and named as not to be contacted
    const held = gridsSection([grid('R1-G02', 2, 1)], [contact(1, 'S7'), contact(3, 'S3')], 5, RULE).html;
    expect(held).toContain('Everyone to contact in this grid');
    expect(held).toContain('1 more is held out as the control group: do not contact them.');
    expect(held).toContain('2 to contact · 1 held out');
    // a grid whose list is only its control group is a grid on the lists; a grid with nobody on it is not
    expect(gridsSection([grid('R1-G01', 0, 1), grid('R1-G02', 2), grid('R1-G03', 0)], [], 5, RULE).html).toContain(
      '<b>2 subscribers to contact this month</b>, and 1 held out, in 2 grids.',
    );
    // an id made from a file's rows reads in full; only a pseudonym (a hash) is shortened
    const pseudonym = 'ab'.repeat(32);
    const ids = gridsSection(
      [grid('R1-G02', 2)],
      [contact(1, 'customers.csv#12345'), contact(2, pseudonym)],
      2,
      RULE,
    ).html;
    expect(ids).toContain('<code>customers.csv#12345</code>');
    expect(ids).toContain(`<code title="${pseudonym}">${pseudonym.slice(0, 12)}…</code>`);
  });

  it('says a contact at low churn risk is on the list for its value, and that its churn reasons are not reasons to call', () => {
    const contact = (rank: number, risk_band: string, churn_score: number, operation_priority: number): ContactRow => ({
      region: 'R1',
      grid: 'R1-G01',
      contact_rank: rank,
      subscriber_id: `S${rank}`,
      segment_name: 'high value · data heavy',
      operation_priority,
      churn_score,
      risk_band,
      churn_reasons: ['50,588 MB of data a month', 'customer for 24 months'],
      tags: [],
      retention_style: 'steel binding: contract renewal, device offer',
      recommended_product: 'larger data package or data add-on',
      channel: 'outbound call',
      contact_moment: 'in the week before the monthly bill; not 21:00-09:00',
    });
    const grid: GridRow = {
      region: 'R1',
      grid: 'R1-G01',
      subscribers: 60,
      mou: 1000,
      dou: 2048,
      revenue: 5000,
      high_risk_subscribers: 1,
      high_value_at_risk: 1,
      to_contact: 3,
      held_out: 0,
    };
    const { html } = gridsSection(
      [grid],
      [contact(1, 'high', 0.42, 1), contact(2, 'low', 0.003, 2), { ...contact(3, 'low', 0.004, 1), churn_reasons: [] }],
      5,
      RULE,
    );
    const why = (rank: number) => html.split('<tr><td class="num">')[rank].split('</td><td>')[2];
    // at high risk, the reasons are what raised the risk that put it on the list
    expect(why(1)).toContain('churn risk high (42.0%)');
    expect(why(1)).toContain('<div class="columns">risk raised most by:<br>50,588 MB of data a month<br>');
    // at 0.3% they read as reasons to call: the cell says it is there for its value
    expect(why(2)).toContain('high value, unstable (P2) · churn risk low (0.3%)');
    expect(why(2)).toContain(
      '<div class="columns">on the list for its value, not its churn risk, which is low; what raises that risk most:<br>50,588 MB of data a month<br>customer for 24 months</div>',
    );
    expect(why(2)).not.toContain('risk raised most by');
    expect(why(3)).toContain('<div class="columns">on the list for its value, not its churn risk, which is low</div>');
    expect(html).toContain(
      'A contact at low churn risk is on the list for its operation priority (its value and instability), not for churn risk',
    );
  });

  it("gives the grids' totals in the segments' units (¥ a month, MB), not GB beside their MB", () => {
    const grid: GridRow = {
      region: 'R1',
      grid: 'R1-G01',
      subscribers: 65,
      mou: 28_266,
      dou: 545_280,
      revenue: 10_366,
      high_risk_subscribers: 1,
      high_value_at_risk: 0,
      to_contact: 0,
      held_out: 0,
    };
    const { html } = gridsSection([grid], [], 5, RULE);
    expect(html).toContain(
      '<span class="num">revenue (¥&nbsp;a&nbsp;month)</span><span class="num">MOU (min)</span><span class="num">DOU (MB)</span>',
    );
    // DOU in MB as summed, not divided into 532.5 GB
    expect(html).toContain(
      '<span class="num">10,366</span><span class="num">28,266</span><span class="num">545,280</span>',
    );
    expect(html).toContain(
      "Revenue (its subscribers' ARPU summed), MOU and DOU are the grid's totals for the month, in the units the segments' averages use (¥, minutes, MB).",
    );
  });

  it('names the version, publish time, requester and the parameters set away from their defaults', () => {
    const parsed = parseRunParams({ month: '2026-06', input: 'data', treeDepth: 4 });
    if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
    const header = reportHeader(
      { params: parsed.params, paramsHash: 'abcdef0123456789', k: 5 },
      { version: 3, publishedAt: '2026-07-01T06:05:09.123Z', requestedBy: 'schedule:monthly' },
    );
    expect(header).toContain('version 3 · published 2026-07-01 06:05 UTC · requested by schedule:monthly');
    expect(header).toContain('<span class="param" title="default: 6">treeDepth = 4</span>');
  });
});

describe('churn section', () => {
  it("lists the user's columns read with a note (values that were not numbers, taken as missing)", async () => {
    const rule = {
      condition: 'mou < 61',
      terms: [{ feature: 'mou', high: 60.95 }],
      churnRate: 0.436,
      subscribers: 55,
      lift: 8,
    };
    const churn = {
      featureImportance: { arpu: 1 },
      topRules: [
        { ...rule, heldOut: { subscribers: 21, churnRate: 4 / 21 } },
        { ...rule, heldOut: { subscribers: 0, churnRate: null } },
        rule, // an older run's rule
      ],
      holdout: {
        rocAuc: 0.8,
        prAuc: 0.3,
        baseRate: 0.05,
        liftByDecile: [3],
        precisionAtTopDecile: 0.2,
        recallAtTopDecile: 0.4,
      },
      holdoutRoc: [
        { fpr: 0, tpr: 0 },
        { fpr: 1, tpr: 1 },
      ],
      holdoutRows: 100,
      features: [],
      model: 'boosted',
      tree: { holdout: { rocAuc: 0.7, prAuc: 0.17, precisionAtTopDecile: 0.09, recallAtTopDecile: 0.25 } },
    } as unknown as Parameters<typeof churnSection>[0];
    const section = await churnSection(churn, {
      userFeatures: [
        { name: 'device_age', column: 'user_0', type: 'numeric', note: "3 values not numbers taken as missing: 'n/a'" },
        { name: 'contract', column: 'user_1', type: 'categorical', categories: ['a'] },
      ],
    });
    expect(section.html).toContain(
      "Columns of your file read with a note: device_age (3 values not numbers taken as missing: 'n/a').",
    );
    expect(section.html).not.toContain('Check the features');
    // each rule's rate on the held-out subscribers it holds for, beside its training rate
    expect(section.html).toContain(
      '<td class="num">43.6%</td><td class="num">8.0x</td><td class="num">55</td><td class="num">19.0% (21)</td></tr>',
    );
    expect(section.html).toContain('<td class="num">55</td><td class="num">none held out</td></tr>');
    expect(section.html).toContain('<td class="num">55</td><td class="num">–</td></tr>');
    // the features' importance is the published model's (no ensemble here: the readable tree's), as the chart's is the tree's
    expect(section.html).toContain('<th class="num">importance (readable tree)</th>');
    // the rules' note reads the tree's holdout, and names the charts' model apart
    expect(section.html).toContain(
      'The tree checked on 100 held-out subscribers (base churn rate 5.0%): in its riskiest 10% precision 9.0% and recall 25.0%, ROC AUC 0.700, PR AUC 0.170.',
    );
    expect(section.html).toContain(
      "The ROC curve and lift above are the boosted ensemble's, whose probabilities are the published scores: in its riskiest 10% precision 20.0% and recall 40.0%, ROC AUC 0.800, PR AUC 0.300.",
    );
    expect(section.html).not.toContain('tell them it was missing');
  });

  it('says what a missing indicator is, and what "or missing" in a rule takes in', async () => {
    const churn = {
      featureImportance: { app_sessions: 0.6, 'app_sessions missing': 0.4 },
      topRules: [
        {
          condition: '(app_sessions < 1 or missing)',
          terms: [{ feature: 'app_sessions', high: 1, missing: true }],
          churnRate: 0.2,
          subscribers: 50,
          lift: 4,
        },
      ],
      holdout: {
        rocAuc: 0.7,
        prAuc: 0.1,
        baseRate: 0.05,
        liftByDecile: [2],
        precisionAtTopDecile: 0.1,
        recallAtTopDecile: 0.2,
      },
      holdoutRoc: [
        { fpr: 0, tpr: 0 },
        { fpr: 1, tpr: 1 },
      ],
      holdoutRows: 100,
      features: [
        { name: 'app_sessions', source: 'user', type: 'numeric', missingShare: 0.3, importance: 0.6 },
        {
          name: 'app_sessions missing',
          source: 'user',
          type: 'numeric',
          missingShare: 0,
          importance: 0.4,
          missingOf: 'app_sessions',
        },
      ],
      model: 'tree',
      tree: { holdout: { rocAuc: 0.7, prAuc: 0.1, precisionAtTopDecile: 0.1, recallAtTopDecile: 0.2 } },
    } as unknown as Parameters<typeof churnSection>[0];
    const { html } = await churnSection(churn, { userFeatures: [] });
    expect(html).toContain('<li>(app_sessions &lt; 1 or missing)</li>');
    expect(html).toContain(
      '&quot;app_sessions missing&quot; is 1 for the subscribers with no value of app_sessions (0 for the others): the models see a missing number as 0, and these tell them it was missing. A rule that says "or missing" takes in the subscribers without a value.',
    );
  });

  it('says a model with a holdout ROC AUC of 0.99 or more usually has the label under another name, naming its largest importance', async () => {
    const churn = {
      featureImportance: { Abgang: 0.9, arpu: 0.1 },
      topRules: [],
      holdout: {
        rocAuc: 1,
        prAuc: 1,
        baseRate: 0.05,
        liftByDecile: [10],
        precisionAtTopDecile: 0.5,
        recallAtTopDecile: 1,
      },
      holdoutRoc: [
        { fpr: 0, tpr: 1 },
        { fpr: 1, tpr: 1 },
      ],
      holdoutRows: 100,
      features: [
        { name: 'arpu', source: 'derived', type: 'numeric', missingShare: 0, importance: 0.106 },
        { name: 'Abgang', source: 'user', type: 'numeric', missingShare: 0.9, importance: 0.894 },
      ],
      tree: { holdout: { rocAuc: 0.9, prAuc: 0.5, precisionAtTopDecile: 0.3, recallAtTopDecile: 0.6 } },
    } as unknown as Parameters<typeof churnSection>[0];
    const section = await churnSection(churn);
    expect(section.html).toContain(
      '<b>Check the features:</b> holdout ROC AUC 1.000: a model this good usually means a column gives the label away (largest importance: Abgang, 89%); check it; to leave a column of yours out of the models, give it the type skip in the features of the mapping.</p>',
    );
    // the warning comes first, above the charts
    expect(section.html.indexOf('Check the features')).toBeLessThan(section.html.indexOf('<div class="row">'));
    // the importance chart names a derived feature in words beside its column, a user's column once
    expect(section.html).toContain('>Abgang<');
    expect(section.html).not.toContain('Abgang · Abgang');
    expect(section.html).toMatch(/>[^<]+ · arpu</);
  });
});

describe('headline numbers', () => {
  it("give the AUC's interval in the tile, and a word when few churners were held out", () => {
    const data = {
      scored: 1,
      segments: 1,
      topFifthRevenueShare: 0.5,
      rocAuc: 0.8,
      topDecileLift: 3,
      highRisk: 1,
      quarantined: 0,
    };
    expect(kpiStrip(data)).toContain('<b>0.800</b>churn ROC AUC</div>');
    expect(kpiStrip({ ...data, rocAucHoldout: { churners: 121, rows: 6_048, stdError: 0.02 } })).toContain(
      '<b>0.800</b>churn ROC AUC (0.76–0.84)</div>',
    );
    expect(kpiStrip({ ...data, rocAucHoldout: { churners: 3, rows: 1_500 } })).toContain(
      'churn ROC AUC (0.50–1.00), rough: few churners held out</div>',
    );
  });
});

describe('churn models section', () => {
  const tree = {
    name: 'readable tree',
    rocAuc: 0.8,
    prAuc: 0.4,
    precisionAtTopDecile: 0.3,
    liftByDecile: [3, 2, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5],
    roc: [
      { fpr: 0, tpr: 0 },
      { fpr: 1, tpr: 1 },
    ],
  };
  it("names the readable tree alone when it is the one model (churnModel 'tree'), not both", async () => {
    const section = await churnModelsSection({
      scoringModel: 'tree',
      models: [tree],
      calibration: null,
      holdout: { rows: 6_048, churners: 121 },
      exactReasons: 0,
    });
    expect(section.title).toBe('Churn model: the readable tree');
    expect(section.html).toContain('Holdout ROC, the readable tree');
    expect(section.html).not.toContain('both models');
  });

  it("says how the ensemble's reasons were found: exact SHAP values on the dispatch list, path contributions elsewhere", async () => {
    const boosted = (exactReasons: number, notExact?: string) =>
      churnModelsSection({
        scoringModel: 'boosted',
        models: [tree, { ...tree, name: 'boosted ensemble' }],
        calibration: {
          trees: 80,
          a: 1,
          b: 0,
          applied: false,
          brierUncalibrated: 0.05,
          brierCalibrated: 0.05,
          reliability: [{ predicted: 0.1, observed: 0.1, rows: 10 }],
        },
        holdout: { rows: 6_048, churners: 121 },
        exactReasons,
        ...(notExact ? { notExact } : {}),
      });
    expect((await boosted(34_309)).html).toContain(
      'by exact SHAP values for the 34,309 subscribers on the dispatch list and by path contributions of the ensemble for the rest.',
    );
    expect((await boosted(0)).html).toContain(
      'the three features that raised the score most, by path contributions of the ensemble.',
    );
    // calibration not applied: no "calibrated" Brier score beside it, the reason and the one score
    const notApplied = (await boosted(0)).html;
    expect(notApplied).toContain(
      "Calibration not applied: Platt scaling on validation rows held out of every tree (a = 1.000, b = 0.000) did not lower the validation Brier score, so the probabilities are the ensemble's own. Holdout Brier score 0.05000.",
    );
    expect(notApplied).not.toContain('calibrated vs');
  });

  it('says how many churners the holdout held, gives each AUC its interval, and warns of a holdout of few churners', async () => {
    const measured = (churners: number) =>
      churnModelsSection({
        scoringModel: 'tree',
        models: [tree],
        calibration: null,
        holdout: { rows: 6_048, churners },
        exactReasons: 0,
      });
    const many = (await measured(121)).html;
    expect(many).toContain(
      '<p>It is measured on 6,048 labelled subscribers held out of their training, 121 of them churners.</p>',
    );
    expect(many).toContain('<td class="num">0.800 (0.752–0.848)</td>');
    expect(many).not.toContain('Read with care');
    const few = (await measured(3)).html;
    expect(few).toContain(
      '3 of them churners. <b>Read with care:</b> only 3 churners were held out to test the models',
    );
    expect(few).toContain('<td class="num">0.800 (0.498–1.000)</td>');
  });
});

describe('glossary', () => {
  const GLOSSARY = { highValueThreshold: 3000, keyCustomerRevenueShare: 0.3, controlShare: 0.1 };
  it('says the VIP tag also goes to key customers, as the tags give it, not only to spend above the threshold', () => {
    const { html } = glossarySection(GLOSSARY);
    expect(html).toContain('the top subscribers by spend who together hold 30% of revenue (keyCustomerRevenueShare;');
    expect(html).toContain(
      'spends at least ¥3,000 a month (highValueThreshold), and the VIP tag goes to those and to the key customers of the revenue ranking',
    );
    // the operation grid's cells as domain/rules.ts sets them (it said priority 1 was "high value")
    expect(html).toContain(
      '1 (key customer, unstable) is the most urgent, then 2 (high value, unstable), down to 8 (low value, stable)',
    );
  });

  it("says a segment name's usage word is a lean against the typical subscriber, which a segment's table means can seem to contradict", () => {
    const { html } = glossarySection(GLOSSARY);
    expect(html).toContain('<dt>data heavy, voice heavy, heavy user, light user, balanced</dt>');
    expect(html).toContain(
      'data heavy (voice heavy) says their data use stands above their voice use by more than 0.75',
    );
    expect(html).toContain("heavy (light) user, both more than 0.5 above (below) the typical subscriber's");
  });

  it("names the parts this run's stability score and star grade were taken over, when the input lacked some", () => {
    const full = glossarySection(GLOSSARY).html;
    expect(full).toContain(
      'a 0-100 score from tenure, contract, broadband bundle, family bundle, call circle and premium number; below 50 is unstable.</dd>',
    );
    expect(full).toContain(
      'on spend, recharge frequency, tenure, payment delays and complaints (for payment delays and complaints, fewer is better).</dd>',
    );
    const some = glossarySection({
      ...GLOSSARY,
      skippedFeatures: [
        'stability_score.broadband',
        'stability_score.family_bundle',
        'stability_score.premium_number',
        'star_grade.complaints',
        'dou_trend',
      ],
    }).html;
    expect(some).toContain(
      "a 0-100 score from tenure, contract and call circle; below 50 is unstable. This month's input has no broadband bundle, family bundle or premium number, so it is taken over the parts it has, rescaled to 0-100.</dd>",
    );
    expect(some).toContain(
      "on spend, recharge frequency, tenure and payment delays (for payment delays and complaints, fewer is better). This month's input has no complaints, so it is taken over the parts it has, rescaled to 1-5 stars.</dd>",
    );
    expect(
      glossarySection({
        ...GLOSSARY,
        skippedFeatures: ['stability_score'],
      }).html,
    ).toContain('below 50 is unstable. <b>Not computed this month:</b> the input has none of its parts.');
  });

  it('explains the words of retention styles, contact moments and the churn models that the other sections show', () => {
    const { html } = glossarySection(GLOSSARY);
    const terms = [...html.matchAll(/<dt>([^<]*)<\/dt>/g)].map((m) => m[1]);
    for (const term of [
      'steel binding',
      'sticky binding',
      'upsell',
      'change moment',
      'share of impurity decrease',
      'PR AUC',
      'Brier score',
      'Platt scaling',
      'SHAP',
    ])
      expect(terms).toContain(term);
    // a style's means and who gets it, as the operation grid (domain/rules.ts) sets them
    expect(html).toContain(
      "<dt>steel binding</dt><dd>a retention style (a contact's approach): hold the subscriber with a commitment for a term: contract renewal, device offer. For operation priorities 1 (key customer, unstable) and 2 (high value, unstable).</dd>",
    );
    expect(html).toContain(
      'family plan, broadband bundle. For operation priorities 4 (mid value, unstable) and 5 (high value, stable).</dd>',
    );
    expect(html).toContain('data add-on, plan upgrade. For operation priority 6 (mid value, stable).</dd>');
    // the ensemble's words, in a run without it (churnModel tree), are nowhere else in the report
    const treeOnly = glossarySection({ ...GLOSSARY, ensemble: false }).html;
    for (const term of ['Brier score', 'Platt scaling', 'SHAP']) expect(treeOnly).not.toContain(`<dt>${term}</dt>`);
    expect(treeOnly).toContain('<dt>PR AUC</dt>');
  });

  it('defines a weighted churn rate only in a report that shows one', () => {
    const weighted = glossarySection({ ...GLOSSARY, weightedChurn: true }).html;
    expect(weighted).toContain(
      '<dt>weighted churn rate</dt><dd>a campaign\'s churn rate of the control group or of the contacted ("left, weighted" in Did last month\'s actions work?), each subscriber counted by the inverse of its chance of being in that group.',
    );
    expect(weighted).toContain(
      "So a group's rate need not be its churned / subscribers; the subscriber counts are people.</dd>",
    );
    // after uplift, whose rates it weighs
    expect(weighted.indexOf('<dt>weighted churn rate</dt>')).toBeGreaterThan(weighted.indexOf('<dt>uplift</dt>'));
    expect(glossarySection(GLOSSARY).html).not.toContain('weighted churn rate');
    expect(glossarySection({ ...GLOSSARY, weightedChurn: false }).html).not.toContain('weighted churn rate');
  });

  it("tells the models' holdout from the campaign's held out, and defines the tags from their thresholds, uplift and pp", () => {
    const { html } = glossarySection({ ...GLOSSARY, controlShare: 0.15 });
    expect(html).toContain("<dt>holdout</dt><dd>the churn models' test subscribers");
    expect(html).toContain("Not the campaign's held out.</dd>");
    expect(html).toContain(
      "<dt>held out, control group</dt><dd>the campaign's control group: about 15% of each month's dispatch list (controlShare)",
    );
    expect(html).toContain("Not the models' holdout.</dd>");
    expect(html).toContain("<dt>uplift</dt><dd>the control group's churn rate minus the contacted subscribers'");
    expect(html).toContain('<dt>pp</dt><dd>percentage points');
    // the tags' thresholds as domain/actions.ts sets them
    expect(html).toContain(
      `<b>loyal</b>: on the network ${TAG_RULES.loyalTenureMonths} months or more, stable and at low churn risk.`,
    );
    expect(html).toContain(`<b>new</b>: on the network fewer than ${TAG_RULES.newTenureMonths} months.`);
    expect(html).toContain(
      `<b>declining</b>: spend or call minutes of the last three months below ${TAG_RULES.decliningTrend * 100}% of the three months before.`,
    );
    expect(html).toContain(
      `<b>warning</b>: churn risk elevated or high, or call minutes of the last three months below ${TAG_RULES.warningMouTrend * 100}% of the three months before.`,
    );
    expect(html).toContain('<b>VIP</b>: a key customer, or spends at least ¥3,000 a month');
  });
});
