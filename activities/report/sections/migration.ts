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
 * Moves between last month's segments and this month's, by segment id: ids carry over to the
 * nearest segment, so a segment whose id stayed is the same group even when its profile moved
 * enough to change its name. Such a segment is listed as renamed and its subscribers stay on
 * the diagonal; they are not shown as moving.
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
  const label = (id: number) => `${id} ${now.get(id) ?? before.get(id)}`;
  const chart = await migrationChart(
    cells.map((c) => ({
      from: c.from_segment_id === null ? JOINED : label(c.from_segment_id),
      to: c.to_segment_id === null ? LEFT : label(c.to_segment_id),
      subscribers: c.subscribers,
    })),
    {
      from: [...ids.filter((id) => before.has(id)).map(label), JOINED],
      to: [...ids.filter((id) => now.has(id)).map(label), LEFT],
    },
    previousSnapshot,
    month,
  );
  const sum = (keep: (c: MigrationCell) => boolean) => cells.filter(keep).reduce((n, c) => n + c.subscribers, 0);
  const inBoth = sum((c) => c.from_segment_id !== null && c.to_segment_id !== null);
  const stayed = sum((c) => c.from_segment_id !== null && c.from_segment_id === c.to_segment_id);
  const rows = ids.map((id) => {
    const [was, is] = [before.get(id), now.get(id)];
    const status =
      was === undefined ? 'new segment' : is === undefined ? 'gone' : was === is ? 'same' : '<b>renamed</b>';
    return `<tr><td>${id}</td><td>${escape(was ?? '—')}</td><td>${escape(is ?? '—')}</td><td>${status}</td></tr>`;
  });
  return {
    id: 'migration',
    title: `Migration since ${escape(previousSnapshot)}`,
    html: `<div class="row">${chart}
    <div><table class="names">
      <tr><th>id</th><th>name in ${escape(previousSnapshot)}</th><th>name in ${escape(month)}</th><th></th></tr>
      ${rows.join('\n      ')}
    </table>
    <p class="note">Segment ids carry over to this month's nearest segment. A renamed segment is the same group whose profile moved across a naming threshold: its subscribers count as staying.</p></div></div>
    <p class="note">${fmt(stayed)} of ${fmt(inBoth)} subscribers present in both months (${pct(inBoth ? stayed / inBoth : 0)}) kept their segment; ${fmt(sum((c) => c.from_segment_id === null))} joined and ${fmt(sum((c) => c.to_segment_id === null))} left the network.</p>`,
  };
}
