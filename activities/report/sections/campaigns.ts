import type {
  CampaignFollowUp,
  CampaignFollowUpGroup,
  CampaignGroup,
  CampaignMetrics,
  HoldOutWeights,
} from '../../campaign-metrics';
import { campaignWarnings } from '../../campaigns';
import { FOLLOW_UP_FILE } from '../../campaign-follow-up';
import { renderChart } from '../charts';
import { decimals, escape, fmt, pct as percentOf, type ReportSection } from '../html';
import {
  churnIsWeighted,
  followUpDefinition,
  followUpHeadline,
  keptPer100Gap,
  noControlGroup,
  ownMonthReading,
  READING_IN_TABLES,
  signedInterval,
  signedPoints,
  upliftReading,
  weightedChurnNote,
  weightingWords,
} from '../../../domain/campaign-reading';

/**
 * What the section shows: the manifest's campaign metrics and every row of campaigns.parquet
 * (null: this run measured nothing, only the follow-up), and the follow-up of the list last month's
 * run measured, with every row of campaigns_followup.parquet.
 */
export interface CampaignsSectionData {
  metrics: CampaignMetrics | null;
  groups: CampaignGroup[];
  followUp?: { metrics: CampaignFollowUp; groups: CampaignFollowUpGroup[] };
}

/**
 * Whether the section shows weighted churn rates, of the measurement or its follow-up: the
 * glossary then says what they are.
 */
export function showsWeightedChurn(data: CampaignsSectionData): boolean {
  return (
    (data.metrics?.measured === true && churnIsWeighted(data.metrics.holdOutWeights)) ||
    (data.followUp?.metrics.measured === true && churnIsWeighted(data.followUp.metrics.holdOutWeights))
  );
}

/** Breakdowns shown as tables; grids are summarised (campaigns.parquet holds each grid's row). */
const TABLE_DIMENSIONS = ['action', 'channel', 'contact moment', 'segment'] as const;

/** The report section "Did last month's actions work?": uplift per action with its interval, then the breakdowns. */
export async function campaignsSection(data: CampaignsSectionData): Promise<ReportSection> {
  const { metrics, groups } = data;
  const followUp = data.followUp ? followUpPart(data.followUp.metrics, data.followUp.groups) : '';
  const section = (html: string) => ({
    id: 'campaigns',
    title: "Did last month's actions work?",
    html: followUp ? `${html}\n    ${followUp}` : html,
  });
  if (!metrics) return section('');
  if (!metrics.measured) return section(`<p class="note">Not measured: ${escape(metrics.reason)}.</p>`);
  const { overall, contacts, dispatchFrom } = metrics;
  const noControl = noControlGroup(metrics);
  if (noControl) return section(`<p class="note">Not measured: ${escape(noControl)}.</p>`);
  const grids = groups.filter((g) => g.dimension === 'grid');
  const readableGrids = grids.filter((g) => !g.tooSmall);
  const warnings = campaignWarnings(metrics);
  const warning = warnings.length
    ? `<p style="border-left: 4px solid #dc2626; padding-left: 8px;"><b>Check the contact log:</b> ${warnings.map((w) => escape(/[.?!]$/.test(w) ? w : `${w}.`)).join(' ')} The groups below are measured on the dispatch list all the same (intent to treat), but the contact counts, kept per 100 contacts and acceptance rest on this log.</p>\n    `
    : '';
  const weighted = weightingWords(metrics.holdOutWeights);
  return section(`${warning}<p><b>${verdict(overall)}</b> On the ${dispatchFrom.month} dispatch list (v${dispatchFrom.version}), ${fmt(overall.controlSubscribers)} subscribers were held out as a control group and ${fmt(overall.targetedSubscribers)} were to be contacted. This month ${pct(overall.controlChurnRate)} of the control group left, against ${pct(overall.targetedChurnRate)} of the contacted${weighted ? ` (churn ${escape(weighted)})` : ''}${comparison(overall)}</p>
    ${unreadableNote(overall)}<div class="row">${await upliftChart(groups.filter((g) => g.dimension === 'action'))}</div>
    ${weightedNote(metrics.holdOutWeights)}${TABLE_DIMENSIONS.map((dimension) =>
      groupTable(
        dimension,
        groups.filter((g) => g.dimension === dimension),
        churnIsWeighted(metrics.holdOutWeights),
      ),
    ).join('\n    ')}
    <p class="note">${fmt(readableGrids.length)} of ${fmt(grids.length)} grids have at least ${metrics.minArmSubscribers} subscribers in each arm${readableGrids.length ? `; ${gridReadings(readableGrids)}` : ''} (campaigns.parquet lists every grid).</p>
    ${chanceNote(groups)}
    <p class="note">${TIMING_CAVEAT}${acceptedChurnedNote(overall)}</p>
    <p class="note">Churned: on the list and not active this month (no usage row), as the churn model's label. Uplift: control churn rate minus contacted churn rate, everyone not held out counted as contacted (intent to treat); interval: ${escape(metrics.interval)}; groups with fewer than ${metrics.minArmSubscribers} subscribers in an arm are marked too small and never called significant. Kept per 100 contacts divides the uplift by the share of the list with a contact record (negative: subscribers lost)${keptPer100Gap(metrics) ? `; ${escape(keptPer100Gap(metrics) ?? '')}` : ''}. Significant (kept): the interval lies above 0; significant (harm): below 0, more churn among the contacted. Acceptance: accepted among the contacted with a recorded outcome. Contact log: ${fmt(contacts.rows)} rows, ${fmt(contacts.loaded)} used, ${fmt(contacts.quarantined)} quarantined${quarantineReasons(contacts.quarantineByReason)} (contacts_quarantine.parquet)${contacts.contactedControls ? `; ${fmt(contacts.contactedControls)} control subscribers were contacted anyway and stay in the control group` : ''}.</p>`);
}

/** The note above tables of weighted churn rates (domain/campaign-reading.ts weightedChurnNote); empty when they are not. */
function weightedNote(weights: HoldOutWeights | undefined): string {
  const note = weightedChurnNote(weights);
  return note ? `<p class="note">${escape(note)}</p>\n    ` : '';
}

/** A churn rate's column header: "left", "left, weighted" when the rates are. */
const leftHeader = (left: string, weighted: boolean) => escape(weighted ? `${left}, weighted` : left);

/** When churn is read: the month of the contacts, so a subscriber who leaves late in it counts as kept. */
const TIMING_CAVEAT =
  'When: churn is read in this month, the month the contacts were made. A subscriber contacted on the 20th who leaves on the 25th still has a usage row this month and counts as kept; a later exit is not part of this measurement, so the uplift is that of churn within the month of contact.';

/**
 * The contacted who accepted an offer and yet have no usage this month (count as churned): some
 * leave anyway, but many such rows usually mean a log to check (a wrong id or outcome). Empty for
 * none (or a measurement published before they were counted).
 */
function acceptedChurnedNote(overall: CampaignGroup): string {
  const churned = overall.acceptedChurned ?? 0;
  if (churned === 0) return '';
  return ` ${fmt(churned)} of the ${fmt(overall.acceptedSubscribers)} subscribers who accepted an offer have no usage this month and count as churned: some leave anyway, but many such rows are worth checking in the contact log (a wrong subscriber id or outcome).`;
}

/**
 * The list's subscribers whose every usage row this month was quarantined: whether they left is
 * unknown, so they are in neither group; empty when there are none (or a measurement published
 * before they were counted).
 */
function unreadableNote(overall: CampaignGroup): string {
  const control = overall.controlUnreadable ?? 0;
  const targeted = overall.targetedUnreadable ?? 0;
  if (control + targeted === 0) return '';
  return `<p class="note">${fmt(control + targeted)} subscribers on the list (${fmt(control)} held out, ${fmt(targeted)} to be contacted) had every usage row this month quarantined: whether they left is unknown, so they are counted in neither group (their rows are in quarantine.parquet).</p>
    `;
}

function verdict(overall: CampaignGroup): string {
  if (overall.tooSmall) return 'Too few subscribers to tell.';
  if (!overall.significant) return 'No clear effect yet.';
  return (overall.absoluteUplift ?? 0) > 0
    ? 'Yes: the contacts kept subscribers.'
    : 'No: the contacted left more often.';
}

/** The headline's comparison of the arms, worded by the direction of the uplift; empty when there is none. */
function comparison(overall: CampaignGroup): string {
  const uplift = overall.absoluteUplift;
  if (uplift === null) return '.';
  const interval = `95% interval ${signedInterval(overall.upliftLow, overall.upliftHigh)}`;
  if (Math.abs(uplift) < 0.0005) return `: the same rate (${interval}).`;
  const kept = overall.keptPer100Contacts;
  // an estimate the interval cannot tell from no effect is not a number of subscribers kept
  // more kept per 100 contacted than the control group lost per 100: the log records fewer contacts than were made
  const beyondControl =
    kept !== null && overall.controlChurnRate !== null && kept > 100 * overall.controlChurnRate + 0.05;
  const per100 = !overall.significant
    ? ', a difference this month cannot tell from none'
    : kept === null || Math.abs(kept) < 0.05
      ? ''
      : beyondControl
        ? `; the contact log gives ${decimals(kept, 1)} kept per 100 contacted, more than the ${decimals(100 * (overall.controlChurnRate ?? 0), 1)} per 100 held out who left, which no contact can keep: it records fewer contacts than were made`
        : `, about ${decimals(Math.abs(kept), 1)} subscribers ${kept > 0 ? 'kept' : 'lost'} per 100 contacted`;
  const accepted =
    overall.acceptanceRate === null
      ? ''
      : ` Of the contacts with a recorded outcome, ${pct(overall.acceptanceRate)} accepted the offer.`;
  return `: ${points(Math.abs(uplift))} ${uplift > 0 ? 'fewer' : 'more'} left among the contacted (${interval})${per100}.${accepted}`;
}

/** A group's reading in the chart's words. */
export function reading(
  g: CampaignGroup,
): 'too small to read' | 'kept subscribers' | 'lost subscribers' | 'no clear effect' {
  const read = upliftReading(g);
  return read === 'too small' ? 'too small to read' : read === 'no clear effect' ? read : `${read} subscribers`;
}

/**
 * Many groups read: each breakdown's groups hold together at 95% (Bonferroni over its groups read,
 * campaigns.ts), so with no effect a breakdown shows a significant group in about one campaign in
 * twenty, and a lone significant group on a handful of churners is still a lead, not a finding.
 */
function chanceNote(groups: CampaignGroup[]): string {
  const read = groups.filter((g) => g.dimension !== 'all' && !g.tooSmall);
  const significant = read.filter((g) => g.significant).length;
  if (read.length < 10) return '';
  return `<p class="note">${fmt(read.length)} groups (by action, channel, contact moment, segment and grid) were large enough to read, and ${fmt(significant)} ${significant === 1 ? 'reads' : 'read'} significant. Each breakdown's intervals hold together at 95% (each group's wider than 95% alone, by the number of groups read beside it): with no effect at all, a breakdown shows a significant group in about one campaign in twenty. A group's significant reading resting on a few churners is a lead to test again next month, not a result.</p>`;
}

function gridReadings(readable: CampaignGroup[]): string {
  const kept = readable.filter((g) => reading(g) === 'kept subscribers').length;
  const lost = readable.filter((g) => reading(g) === 'lost subscribers').length;
  return `of them, ${fmt(kept)} show significantly less churn among the contacted (kept subscribers) and ${fmt(lost)} significantly more (lost subscribers)`;
}

function upliftChart(actions: CampaignGroup[]): Promise<string> {
  const rows = actions.map((g) => ({
    action: g.group ?? '(none)',
    uplift: g.absoluteUplift,
    low: g.upliftLow,
    high: g.upliftHigh,
    reading: reading(g),
  }));
  return renderChart({
    width: 400,
    height: { step: 34 },
    title: 'Churn prevented per action, percentage points (95% interval; left of 0: churn caused)',
    data: { values: rows },
    layer: [
      {
        mark: { type: 'rule', strokeWidth: 3 },
        encoding: {
          y: actionAxis,
          x: {
            field: 'low',
            type: 'quantitative',
            title: 'right of 0: fewer churned among the contacted than in the control group; left: more',
            axis: { values: upliftTicks(rows), labelExpr: "format(datum.value * 100, '.0f') + ' pp'" },
          },
          x2: { field: 'high' },
          color: readingColor,
        },
      },
      {
        mark: { type: 'point', filled: true, size: 90 },
        encoding: {
          y: actionAxis,
          x: { field: 'uplift', type: 'quantitative' },
          color: readingColor,
        },
      },
      { mark: { type: 'rule', color: '#4b5563', strokeDash: [4, 4] }, encoding: { x: { datum: 0 } } },
    ],
  });
}

/**
 * The uplift axis's ticks: multiples of a round step (1, 2 or 5 pp and tens of them) over the
 * intervals and 0, at most 8, so 0 is always a labelled tick (Vega's own ticks could leave it out:
 * −15, −5, 5, 15 pp).
 */
export function upliftTicks(rows: { low: number | null; high: number | null }[]): number[] {
  const ends = rows.flatMap((r) => [r.low, r.high]).filter((v): v is number => v !== null && Number.isFinite(v));
  const low = Math.min(0, ...ends);
  const high = Math.max(0, ...ends);
  const steps = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1];
  const step = steps.find((s) => Math.ceil(high / s - 1e-9) - Math.floor(low / s + 1e-9) <= 8) ?? 1;
  const ticks: number[] = [];
  for (let i = Math.floor(low / step + 1e-9); i <= Math.ceil(high / step - 1e-9); i++)
    ticks.push(Math.round(i * step * 1e6) / 1e6);
  return ticks;
}

// no limit: a product's name is never cut
const actionAxis = { field: 'action', type: 'nominal', title: null, axis: { labelLimit: 0 } } as const;

const readingColor = {
  field: 'reading',
  type: 'nominal',
  title: null,
  // under the chart: beside it, the legend made the chart wider than a half-screen window
  legend: { orient: 'bottom' },
  scale: {
    domain: ['kept subscribers', 'lost subscribers', 'no clear effect', 'too small to read'],
    // "too small" light, but to be seen on white
    range: ['#16a34a', '#dc2626', '#6b7280', '#a3acb9'],
  },
} as const;

function groupTable(dimension: string, rows: CampaignGroup[], weighted: boolean): string {
  if (rows.length === 0) return '';
  return `<h3>By ${escape(dimension)}</h3>
    <table>
      <tr><th>${escape(dimension)}</th><th class="num">control</th><th class="num">${leftHeader('left', weighted)}</th><th class="num">contacted</th><th class="num">${leftHeader('left', weighted)}</th><th class="num">uplift</th><th class="num">95% interval</th><th class="num">relative</th><th class="num">kept / 100 contacts (− lost)</th><th class="num">accepted</th><th>reading</th></tr>
      ${rows
        .map(
          (g) =>
            `<tr><td>${escape(g.group ?? '(none)')}</td><td class="num">${fmt(g.controlSubscribers)}</td><td class="num">${pct(g.controlChurnRate)}</td><td class="num">${fmt(g.targetedSubscribers)}</td><td class="num">${pct(g.targetedChurnRate)}</td><td class="num">${signedPoints(g.absoluteUplift)}</td><td class="num">${signedInterval(g.upliftLow, g.upliftHigh)}</td><td class="num">${minus(pct(g.relativeUplift))}</td><td class="num">${minus(decimals(g.keptPer100Contacts, 1))}</td><td class="num">${pct(g.acceptanceRate)}</td><td>${tableReading(g)}</td></tr>`,
        )
        .join('\n      ')}
    </table>`;
}

function tableReading(g: Pick<CampaignGroup, 'tooSmall' | 'significant' | 'absoluteUplift'>): string {
  const read = upliftReading(g);
  return read === 'kept' || read === 'lost' ? `<b>${READING_IN_TABLES[read]}</b>` : READING_IN_TABLES[read];
}

function quarantineReasons(byReason: Record<string, number>): string {
  const entries = Object.entries(byReason);
  return entries.length ? ` (${entries.map(([reason, rows]) => `${fmt(rows)} x ${escape(reason)}`).join('; ')})` : '';
}

const pct = (n: number | null) => (n === null ? '–' : percentOf(n));
const points = (n: number | null) => (n === null ? '–' : `${(n * 100).toFixed(1)} pp`);
/** A negative number's sign as the minus the uplifts have (signedPoints), not a hyphen. */
const minus = (text: string) => text.replace(/^-/, '−');

/**
 * "A month later": the list last month's run measured, read again with churn in this month: the
 * headline for the whole list, then the whole list and each action, the uplift in the month of
 * contact beside the uplift by this month.
 */
export function followUpPart(metrics: CampaignFollowUp, groups: CampaignFollowUpGroup[]): string {
  const heading = '<h3>A month later</h3>';
  if (!metrics.measured) return `${heading}\n    <p class="note">${escape(followUpHeadline(metrics))}</p>`;
  const rows = groups.filter((g) => g.dimension === 'all' || g.dimension === 'action');
  const own = metrics.firstMeasuredIn.month;
  const ownReading = (g: CampaignFollowUpGroup) => {
    const read = ownMonthReading(g);
    return read === null ? '–' : READING_IN_TABLES[read];
  };
  const weighted = weightedChurnNote(metrics.holdOutWeights);
  const left = leftHeader(`left by ${metrics.churnMonth}`, churnIsWeighted(metrics.holdOutWeights));
  return `${heading}
    <p>${escape(followUpHeadline(metrics).replace(/^A month later: (.)/, (_, first: string) => first.toUpperCase()))}</p>
    <table>
      <tr><th>action</th><th class="num">control</th><th class="num">${left}</th><th class="num">contacted</th><th class="num">${left}</th><th class="num">uplift in ${escape(own)}</th><th class="num">95% interval</th><th>reading</th><th class="num">uplift by ${escape(metrics.churnMonth)}</th><th class="num">95% interval</th><th>reading</th></tr>
      ${rows
        .map(
          (g) =>
            `<tr><td>${escape(g.dimension === 'all' ? 'whole list' : (g.group ?? '(none)'))}</td><td class="num">${fmt(g.controlSubscribers)}</td><td class="num">${pct(g.controlChurnRate)}</td><td class="num">${fmt(g.targetedSubscribers)}</td><td class="num">${pct(g.targetedChurnRate)}</td><td class="num">${signedPoints(g.ownMonthAbsoluteUplift)}</td><td class="num">${signedInterval(g.ownMonthUpliftLow, g.ownMonthUpliftHigh)}</td><td>${ownReading(g)}</td><td class="num">${signedPoints(g.absoluteUplift)}</td><td class="num">${signedInterval(g.upliftLow, g.upliftHigh)}</td><td>${tableReading(g)}</td></tr>`,
        )
        .join('\n      ')}
    </table>
    <p class="note">${escape(followUpDefinition(metrics.churnMonth, own))}${followUpUnreadable(metrics)}${weighted ? ` ${escape(weighted)}` : ''} Every breakdown is in ${FOLLOW_UP_FILE}.</p>`;
}

/** The list's subscribers whose every usage row of the follow-up's month was quarantined (in neither arm); empty for none. */
function followUpUnreadable(metrics: Extract<CampaignFollowUp, { measured: true }>): string {
  const { controlUnreadable: control, targetedUnreadable: targeted } = metrics.overall;
  if (control + targeted === 0) return '';
  return ` ${fmt(control + targeted)} subscribers on the list (${fmt(control)} held out, ${fmt(targeted)} to be contacted) had every usage row of ${escape(metrics.churnMonth)} quarantined: whether they left is unknown, so they are in neither group.`;
}
