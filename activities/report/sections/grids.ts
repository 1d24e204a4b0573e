import type { DISPATCH_ORDERS } from '../../../domain/params';
import { priorityWords } from '../../../domain/rules';
import { counted, escape, fmt, pct, type ReportSection } from '../html';

/** A grid's rollup (snapshot_grids) and its dispatch list's subscribers to contact and held out (sql/grids.sql). */
export interface GridRow {
  region: string | null;
  grid: string | null;
  subscribers: number;
  mou: number;
  dou: number;
  revenue: number;
  high_risk_subscribers: number;
  high_value_at_risk: number;
  to_contact: number;
  /** The grid's control group: on the dispatch list, not to be contacted (next month measures against them). */
  held_out: number;
}

/** One subscriber to contact of a grid's dispatch list (dispatch.parquet, control group left out). */
export interface ContactRow {
  region: string | null;
  grid: string | null;
  contact_rank: number;
  subscriber_id: string;
  segment_name: string;
  operation_priority: number;
  churn_score: number;
  risk_band: string;
  /** The features that raised this subscriber's churn score most, in words (churn-reasons.ts). */
  churn_reasons: string[];
  tags: string[];
  retention_style: string;
  recommended_product: string;
  channel: string;
  contact_moment: string;
}

/** What publishing makes of an id with pseudonymiseIds (00_macros.sql): sha256 in hex. */
const PSEUDONYM = /^[0-9a-f]{64}$/;

/** A subscriber id; a pseudonym (a 64-character hash) shortened, in full on hover. */
function who(id: string): string {
  return PSEUDONYM.test(id)
    ? `<code title="${escape(id)}">${escape(id.slice(0, 12))}…</code>`
    : `<code>${escape(id)}</code>`;
}

/** Why a subscriber is on the dispatch list, in words: priority cell, churn risk, tags. */
export function contactReason(contact: ContactRow): string {
  const who = priorityWords(contact.operation_priority) ?? 'priority';
  const tags = contact.tags.length ? ` · ${contact.tags.join(', ')}` : '';
  return `${who} (P${contact.operation_priority}) · churn risk ${contact.risk_band} (${pct(contact.churn_score)})${tags}`;
}

/**
 * For grid managers: per region, each grid's rollup, and under it the first contacts of its
 * dispatch list in dispatch.parquet's order. Collapsed by default (one grid open), so the page stays short with hundreds of grids and needs no script.
 */
export function gridsSection(
  grids: GridRow[],
  contacts: ContactRow[],
  perGrid: number,
  dispatch: DispatchRule,
): ReportSection {
  // a grid is a grid of its region: codes may repeat across regions, and "(no grid)" is per region
  const gridKey = (row: { region: string | null; grid: string | null }) => JSON.stringify([row.region, row.grid]);
  const contactsByGrid = groupBy(contacts, gridKey);
  const regions = groupBy(grids, (g) => g.region);
  const regionNames = [...regions.keys()].sort((a, b) => (a ?? '\uffff').localeCompare(b ?? '\uffff'));
  const header = `<div class="grid-row head"><span></span><span>grid</span><span class="num">subscribers</span><span class="num">revenue (¥&nbsp;a&nbsp;month)</span><span class="num">MOU (min)</span><span class="num">DOU (MB)</span><span class="num">high risk</span><span class="num">high value at risk</span><span class="num">to contact</span><span class="num">held out</span></div>`;
  const gridBlock = (g: GridRow, open: boolean) => {
    const first = (contactsByGrid.get(gridKey(g)) ?? []).map(
      (c) =>
        `<tr><td class="num">${c.contact_rank}</td><td>${who(c.subscriber_id)}<div class="columns">${escape(c.segment_name)}</div></td><td>${escape(contactReason(c))}${reasonList(c)}</td><td>${escape(c.recommended_product)}<div class="columns">approach: ${escape(c.retention_style)}</div></td><td>${escape(c.channel)}</td><td>${escape(c.contact_moment)}</td></tr>`,
    );
    const list = first.length
      ? `<table class="contacts"><tr><th class="num">#</th><th>who</th><th>why</th><th>offer</th><th>channel</th><th>moment</th></tr>${first.join('')}</table>
      <p class="note">${first.length < g.to_contact ? `The first ${first.length} of ${fmt(g.to_contact)} to contact in this grid's dispatch list; dispatch.parquet holds all of them.` : `Everyone to contact in this grid's dispatch list (as in dispatch.parquet).`}${heldOut(g)}</p>`
      : `<p class="note">Nobody to contact in this grid this month.${heldOut(g)}</p>`;
    return `<details class="grid"${open ? ' open' : ''}><summary class="grid-row"><span>${escape(g.grid ?? '(no grid)')}</span><span class="num">${fmt(g.subscribers)}</span><span class="num">${fmt(g.revenue)}</span><span class="num">${fmt(g.mou)}</span><span class="num">${fmt(g.dou)}</span><span class="num">${fmt(g.high_risk_subscribers)}</span><span class="num">${fmt(g.high_value_at_risk)}</span><span class="num">${fmt(g.to_contact)}</span><span class="num">${fmt(g.held_out)}</span></summary>
      ${list}</details>`;
  };
  // opened for a first look: the first grid (in dispatch order) with someone to contact, and its region
  const opened = grids.find((g) => g.to_contact > 0) ?? grids[0];
  const regionBlocks = regionNames.map((name) => {
    const rows = regions.get(name) ?? [];
    const total = (pick: (g: GridRow) => number) => fmt(rows.reduce((n, g) => n + pick(g), 0));
    return `<details class="region"${name === opened?.region ? ' open' : ''}><summary>${escape(name ?? '(no region)')} <span class="note">${counted(rows.length, 'grid')} · ${total((g) => g.subscribers)} subscribers · ${total((g) => g.high_risk_subscribers)} high risk · ${total((g) => g.to_contact)} to contact · ${total((g) => g.held_out)} held out</span></summary>
    ${header}
    ${rows.map((g) => gridBlock(g, g === opened)).join('\n    ')}
    </details>`;
  });
  return {
    id: 'grids',
    title: 'Grids: rollup and first contacts',
    html: `<p>${listed(grids, dispatch)}</p>
    <p class="note">Open a region, then a grid, to see its first ${perGrid} contacts (who, why, the offer to make and the approach it belongs to, channel, moment), in the order of dispatch.parquet. Held out: the grid's control group, on the dispatch list (control = true) but not to be contacted, so that next month's run can measure whether the contacts kept subscribers; they are not listed, and the ranks they hold are skipped. A contact at low churn risk is on the list for its operation priority (its value and instability), not for churn risk: what raises its risk most, under the why, is no reason to call by itself. Revenue (its subscribers' ARPU summed), MOU and DOU are the grid's totals for the month, in the units the segments' averages use (¥, minutes, MB).</p>
    ${regionBlocks.join('\n    ')}`,
  };
}

/** Who is on the dispatch lists and in what order (04_dispatch.sql). */
export interface DispatchRule {
  order: (typeof DISPATCH_ORDERS)[number];
  /** Subscribers of priority 1 to this are listed whatever their churn risk. */
  maxPriority: number;
}

/** This month's lists in one sentence: how many to contact, in how many grids (those with anyone on the list, not every grid), who is on them, and in what order. */
function listed(grids: GridRow[], dispatch: DispatchRule): string {
  const total = (pick: (g: GridRow) => number) => grids.reduce((n, g) => n + pick(g), 0);
  const priorities = Array.from({ length: dispatch.maxPriority }, (_, i) => `${i + 1} (${priorityWords(i + 1)})`);
  const order =
    dispatch.order === 'revenueAtRisk'
      ? 'by revenue at risk (churn score x ARPU), largest first'
      : 'by operation priority (1 first), then by churn score: a priority 1 subscriber at low risk comes before a priority 6 one at high risk';
  return `<b>${counted(
    total((g) => g.to_contact),
    'subscriber',
  )} to contact this month</b>, and ${fmt(total((g) => g.held_out))} held out, in ${counted(
    grids.filter((g) => g.to_contact + g.held_out > 0).length,
    'grid',
  )}. On the list: everyone at elevated or high churn risk, and operation priorities ${priorities.join(' and ')} whatever their risk. Each grid's list is ranked ${order}.`;
}

/**
 * A contact's churn reasons, each on a line of its own under the why: what raises its churn score
 * most. A contact at low risk is on the list for its operation priority (its value), whatever its
 * risk: its heading says so, as "risk raised most by: 50,588 MB of data a month" read as reasons
 * to call a subscriber at 0.3% risk.
 */
function reasonList(contact: ContactRow): string {
  const reasons = contact.churn_reasons;
  if (contact.risk_band === 'low')
    return `<div class="columns">on the list for its value, not its churn risk, which is low${reasons.length ? `; what raises that risk most:<br>${reasons.map(escape).join('<br>')}` : ''}</div>`;
  return reasons.length ? `<div class="columns">risk raised most by:<br>${reasons.map(escape).join('<br>')}</div>` : '';
}

/** The note on a grid's control group, if it has one. */
function heldOut(g: GridRow): string {
  return g.held_out > 0
    ? ` ${fmt(g.held_out)} more ${g.held_out === 1 ? 'is' : 'are'} held out as the control group: do not contact them.`
    : '';
}

/** Map.groupBy, which Node 20 lacks; keeps the rows' order within each key. */
function groupBy<T, K>(rows: readonly T[], key: (row: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const row of rows) {
    const group = groups.get(key(row));
    if (group) group.push(row);
    else groups.set(key(row), [row]);
  }
  return groups;
}
