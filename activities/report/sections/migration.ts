import { migrationChart } from '../charts';
import { escape, fmt, pct, type ReportSection } from '../html';

/** One cell of migration.parquet: a NULL id is a subscriber in only one of the two months. */
export interface MigrationCell {
  from_segment_id: number | null;
  from_segment: string;
  to_segment_id: number | null;
  to_segment: string;
  subscribers: number;
}

const JOINED = '(joined the network)';
const LEFT = '(left the network)';

/**
 * Where migration would be when the month before has a snapshot its segment ids were not matched
 * to (it was segmented on other features, as after a mapping that reads other columns): no
 * migration, and its segment ids mean other groups than this month's.
 */
export function unmatchedMigrationSection(
  /** The month before's snapshot, as YYYY-MM/vN. */
  monthBefore: string,
  month: string,
): ReportSection {
  const before = escape(monthBefore);
  return {
    id: 'migration',
    title: 'Migration: not measured',
    html: `<p><b>No migration this month.</b> ${before}, the month before, was segmented on other features than ${escape(month)} (its input had other columns, or its snapshot records no segment centres), so this month's segments could not be matched to its segments. This month's segment ids were numbered afresh, by value (1 = the highest ARPU): <b>they are not comparable with ${before}'s</b>, where the same id may be another group of subscribers.</p>`,
  };
}

/**
 * Moves between last month's segments and this month's, by segment id: ids carry over to the
 * nearest segment, so a segment whose id stayed is usually the same group, even when its profile
 * moved enough to change its name (listed as renamed, its subscribers staying). Not always: after
 * a change of k, or a month that reshaped the segments, the nearest segment may hold mostly other
 * subscribers than the id's segment did. Such an id is listed as regrouped, and its subscribers do
 * not count as keeping their segment. One that lost most of its subscribers to other segments but
 * holds mostly its own is split: those who stayed kept their segment.
 */
export async function migrationSection(
  cells: MigrationCell[],
  /** The snapshot the ids were matched to, as YYYY-MM/vN (a month may have several versions). */
  previousSnapshot: string,
  month: string,
): Promise<ReportSection> {
  const before = new Map<number, string>();
  const now = new Map<number, string>();
  for (const c of cells) {
    if (c.from_segment_id !== null) before.set(c.from_segment_id, c.from_segment);
    if (c.to_segment_id !== null) now.set(c.to_segment_id, c.to_segment);
  }
  const ids = [...new Set([...before.keys(), ...now.keys()])].sort((a, b) => a - b);
  // rows are last month's segments and columns this month's: each named as it was then
  const labelBefore = (id: number) => `${id} ${before.get(id)}`;
  const labelNow = (id: number) => `${id} ${now.get(id)}`;
  const chart = await migrationChart(
    cells.map((c) => ({
      from: c.from_segment_id === null ? JOINED : labelBefore(c.from_segment_id),
      to: c.to_segment_id === null ? LEFT : labelNow(c.to_segment_id),
      subscribers: c.subscribers,
    })),
    {
      from: [...ids.filter((id) => before.has(id)).map(labelBefore), JOINED],
      to: [...ids.filter((id) => now.has(id)).map(labelNow), LEFT],
    },
    previousSnapshot,
    month,
  );
  const sum = (keep: (c: MigrationCell) => boolean) => cells.filter(keep).reduce((n, c) => n + c.subscribers, 0);
  const inBoth = sum((c) => c.from_segment_id !== null && c.to_segment_id !== null);
  const shares = new Map(ids.map((id) => [id, share(cells, id)]));
  const shareOf = (id: number) => shares.get(id)!;
  const regrouped = new Set(ids.filter((id) => before.has(id) && now.has(id) && shareOf(id).ofNow <= 0.5));
  const stayed = sum(
    (c) => c.from_segment_id !== null && c.from_segment_id === c.to_segment_id && !regrouped.has(c.from_segment_id),
  );
  const rows = ids.map((id) => {
    const [was, is] = [before.get(id), now.get(id)];
    const status =
      was === undefined
        ? 'new segment'
        : is === undefined
          ? `gone${largestMove(cells, id, 'to')}`
          : regrouped.has(id)
            ? `<b>regrouped</b>: ${pct(shareOf(id).ofNow)} of it was segment ${id} before`
            : (shareOf(id).ofBefore <= 0.5
                ? `<b>split</b>${was === is ? '' : ' and renamed'}: ${pct(shareOf(id).ofBefore)} of it stayed`
                : was === is
                  ? 'same'
                  : '<b>renamed</b>') + tookIn(cells, id, shareOf(id).ofNow);
    return `<tr><td>${id}</td><td>${escape(was ?? '—')}</td><td>${escape(is ?? '—')}</td><td>${status}</td></tr>`;
  });
  const regroupedNote = regrouped.size
    ? ` A regrouped segment kept the id of the segment nearest to it, but holds mostly other subscribers than that segment did (as after a change of k): its subscribers do not count as staying.`
    : '';
  return {
    id: 'migration',
    title: `Migration since ${escape(previousSnapshot)}`,
    html: `<div class="row">${chart}
    <div><table class="names">
      <tr><th>id</th><th>name in ${escape(previousSnapshot)}</th><th>name in ${escape(month)}</th><th>status</th></tr>
      ${rows.join('\n      ')}
    </table>
    <p class="note">Segment ids carry over to this month's nearest segment. A renamed segment is the same group whose profile moved across a naming threshold: its subscribers count as staying.${regroupedNote}</p></div></div>
    <p class="note">${fmt(stayed)} of ${fmt(inBoth)} subscribers present in both months (${pct(inBoth ? stayed / inBoth : 0)}) kept their segment; ${fmt(sum((c) => c.from_segment_id === null))} joined and ${fmt(sum((c) => c.to_segment_id === null))} left the network.</p>`,
  };
}

/**
 * Of last month's segment `id`, the share of its subscribers (of those still here) now in the
 * segment that took its id; of that segment, the share that was segment `id` before.
 */
function share(cells: MigrationCell[], id: number): { ofBefore: number; ofNow: number } {
  let kept = 0;
  let wasId = 0;
  let isId = 0;
  for (const c of cells) {
    if (c.from_segment_id === null || c.to_segment_id === null) continue;
    if (c.from_segment_id === id) wasId += c.subscribers;
    if (c.to_segment_id === id) isId += c.subscribers;
    if (c.from_segment_id === id && c.to_segment_id === id) kept += c.subscribers;
  }
  return { ofBefore: wasId ? kept / wasId : 0, ofNow: isId ? kept / isId : 0 };
}

/** Of the segments `id` gave to ('to') or took from ('from'), the largest, in words: ": most (88.0%) to 2", " (most from 6)". */
function largestMove(cells: MigrationCell[], id: number, direction: 'to' | 'from'): string {
  const [own, other] = direction === 'to' ? (['from', 'to'] as const) : (['to', 'from'] as const);
  const moved = cells.filter((c) => c[`${own}_segment_id`] === id && c[`${other}_segment_id`] !== null);
  const largest = moved
    .filter((c) => c[`${other}_segment_id`] !== id)
    .reduce<MigrationCell | undefined>((a, c) => (a && a.subscribers >= c.subscribers ? a : c), undefined);
  if (!largest) return '';
  const total = moved.reduce((n, c) => n + c.subscribers, 0);
  return direction === 'to'
    ? `: most (${pct(largest.subscribers / total)}) to ${largest.to_segment_id}`
    : ` (most from ${largest.from_segment_id})`;
}

/** A kept id that took in many of other segments' subscribers (a fifth of it or more) says so. */
function tookIn(cells: MigrationCell[], id: number, ofNow: number): string {
  return ofNow < 0.8 ? `; ${pct(1 - ofNow)} of it came from other segments${largestMove(cells, id, 'from')}` : '';
}
