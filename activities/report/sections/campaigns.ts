import type { CampaignGroup, CampaignMetrics } from '../../campaigns';
import { renderChart } from '../charts';
import { decimals, escape, fmt, pct as percentOf, type ReportSection } from '../html';

/** What the section shows: the manifest's campaign metrics and every row of campaigns.parquet. */
export interface CampaignsSectionData {
  metrics: CampaignMetrics;
  groups: CampaignGroup[];
}

/** Breakdowns shown as tables; grids are summarised (campaigns.parquet holds each grid's row). */
const TABLE_DIMENSIONS = ['action', 'channel', 'contact moment', 'segment'] as const;

/** The report section "Did last month's actions work?": uplift per action with its interval, then the breakdowns. */
export async function campaignsSection(data: CampaignsSectionData): Promise<ReportSection> {
  const { metrics, groups } = data;
  const section = (html: string) => ({ id: 'campaigns', title: "Did last month's actions work?", html });
  if (!metrics.measured) return section(`<p class="note">Not measured: ${escape(metrics.reason)}.</p>`);
  const { overall, contacts, dispatchFrom } = metrics;
  const grids = groups.filter((g) => g.dimension === 'grid');
  const readableGrids = grids.filter((g) => !g.tooSmall);
  const warning = metrics.warning
    ? `<p style="border-left: 4px solid #dc2626; padding-left: 8px;"><b>Check the contact log:</b> ${escape(metrics.warning)} The groups below are measured on the dispatch list all the same (intent to treat), but the contact counts, kept per 100 contacts and acceptance rest on this log.</p>\n    `
    : '';
  return section(`${warning}<p><b>${verdict(overall)}</b> On the ${dispatchFrom.month} dispatch list (v${dispatchFrom.version}), ${fmt(overall.controlSubscribers)} subscribers were held out as a control group and ${fmt(overall.targetedSubscribers)} were to be contacted. This month ${pct(overall.controlChurnRate)} of the control group left, against ${pct(overall.targetedChurnRate)} of the contacted: ${points(overall.absoluteUplift)} fewer (95% interval ${points(overall.upliftLow)} to ${points(overall.upliftHigh)}), about ${decimals(overall.keptPer100Contacts, 1)} subscribers kept per 100 contacted.</p>
    <div class="row">${await upliftChart(groups.filter((g) => g.dimension === 'action'))}</div>
    ${TABLE_DIMENSIONS.map((dimension) =>
      groupTable(
        dimension,
        groups.filter((g) => g.dimension === dimension),
      ),
    ).join('\n    ')}
    <p class="note">${fmt(readableGrids.length)} of ${fmt(grids.length)} grids have at least ${metrics.minArmSubscribers} subscribers in each arm; ${fmt(readableGrids.filter((g) => g.significant).length)} of them show a significant uplift (campaigns.parquet lists every grid).</p>
    <p class="note">Churned: on the list and not active this month (no usage row), as the churn model's label. Uplift: control churn rate minus contacted churn rate, everyone not held out counted as contacted (intent to treat); interval: ${escape(metrics.interval)}; groups with fewer than ${metrics.minArmSubscribers} subscribers in an arm are marked too small and never called significant. Kept per 100 contacts divides the uplift by the share of the list with a contact record. Acceptance: accepted among the contacted with a recorded outcome. Contact log: ${fmt(contacts.rows)} rows, ${fmt(contacts.loaded)} used, ${fmt(contacts.quarantined)} quarantined${quarantineReasons(contacts.quarantineByReason)} (contacts_quarantine.parquet)${contacts.contactedControls ? `; ${fmt(contacts.contactedControls)} control subscribers were contacted anyway and stay in the control group` : ''}.</p>`);
}

function verdict(overall: CampaignGroup): string {
  if (overall.tooSmall) return 'Too few subscribers to tell.';
  if (!overall.significant) return 'No clear effect yet.';
  return (overall.absoluteUplift ?? 0) > 0
    ? 'Yes: the contacts kept subscribers.'
    : 'No: the contacted left more often.';
}

function upliftChart(actions: CampaignGroup[]): Promise<string> {
  const rows = actions.map((g) => ({
    action: g.group ?? '(none)',
    uplift: g.absoluteUplift,
    low: g.upliftLow,
    high: g.upliftHigh,
    reading: g.tooSmall ? 'too small to read' : g.significant ? 'kept subscribers' : 'no clear effect',
  }));
  return renderChart({
    width: 560,
    height: { step: 34 },
    title: 'Churn prevented per action, percentage points (95% interval)',
    data: { values: rows },
    layer: [
      {
        mark: { type: 'rule', strokeWidth: 3 },
        encoding: {
          y: actionAxis,
          x: {
            field: 'low',
            type: 'quantitative',
            title: 'fewer churned among the contacted than in the control group',
            axis: { labelExpr: "format(datum.value * 100, '.0f') + ' pp'" },
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

// vega estimates text at 0.8 x font size per character without a canvas: room for the longest product name
const actionAxis = { field: 'action', type: 'nominal', title: null, axis: { labelLimit: 380 } } as const;

const readingColor = {
  field: 'reading',
  type: 'nominal',
  title: null,
  scale: {
    domain: ['kept subscribers', 'no clear effect', 'too small to read'],
    range: ['#16a34a', '#6b7280', '#d1d5db'],
  },
} as const;

function groupTable(dimension: string, rows: CampaignGroup[]): string {
  if (rows.length === 0) return '';
  return `<h3>By ${escape(dimension)}</h3>
    <table>
      <tr><th>${escape(dimension)}</th><th class="num">control</th><th class="num">left</th><th class="num">contacted</th><th class="num">left</th><th class="num">uplift</th><th class="num">95% interval</th><th class="num">relative</th><th class="num">kept / 100 contacts</th><th class="num">accepted</th><th>reading</th></tr>
      ${rows
        .map(
          (g) =>
            `<tr><td>${escape(g.group ?? '(none)')}</td><td class="num">${fmt(g.controlSubscribers)}</td><td class="num">${pct(g.controlChurnRate)}</td><td class="num">${fmt(g.targetedSubscribers)}</td><td class="num">${pct(g.targetedChurnRate)}</td><td class="num">${points(g.absoluteUplift)}</td><td class="num">${points(g.upliftLow)} to ${points(g.upliftHigh)}</td><td class="num">${pct(g.relativeUplift)}</td><td class="num">${decimals(g.keptPer100Contacts, 1)}</td><td class="num">${pct(g.acceptanceRate)}</td><td>${g.tooSmall ? 'too small to read' : g.significant ? '<b>significant</b>' : 'not significant'}</td></tr>`,
        )
        .join('\n      ')}
    </table>`;
}

function quarantineReasons(byReason: Record<string, number>): string {
  const entries = Object.entries(byReason);
  return entries.length ? ` (${entries.map(([reason, rows]) => `${fmt(rows)} x ${escape(reason)}`).join('; ')})` : '';
}

const pct = (n: number | null) => (n === null ? '–' : percentOf(n));
const points = (n: number | null) => (n === null ? '–' : `${(n * 100).toFixed(1)} pp`);
