import { DO_NOT_DISTURB } from '../../../domain/actions';
import { segmentSizes } from '../charts';
import { escape, fmt, pct, percent, type ReportSection } from '../html';

/** Retention styles, channels and moments below this share of a segment are summed into one line. */
const MINOR_STYLE_SHARE = 0.1;

/** One segment's profile and product, with its subscribers' retention styles, channels, contact moments and tags (sql/segments.sql). */
export interface SegmentRow {
  segment_id: number;
  segment_name: string;
  subscribers: number;
  revenue_share: number;
  arpu: number;
  mou: number;
  dou: number;
  mean_churn_score: number;
  high_risk_subscribers: number;
  recommended_product: string;
  /** Most subscribers first. */
  retention_styles: { style: string; subscribers: number }[];
  /** The channels its subscribers get (the operation grid's, by value tier x stability), most subscribers first. */
  channels: { value: string; subscribers: number }[];
  /** The contact moments its subscribers get (their tag's, else the segment's), most subscribers first. */
  contact_moments: { value: string; subscribers: number }[];
  tags: { tag: string; subscribers: number }[];
}

/** Sizes and profiles per segment, then each segment's complete action (CPCT, retention style, tags). */
export async function segmentsSection(segments: SegmentRow[]): Promise<ReportSection> {
  const chart = await segmentSizes(
    segments.map((s) => ({
      segment: `${s.segment_id} ${s.segment_name}`,
      subscribers: s.subscribers,
      revenue_share: s.revenue_share,
    })),
  );
  const share = (part: number, s: SegmentRow) => percent(part / s.subscribers);
  /** A segment's split over styles, channels or moments: the large ones with their share, the small ones summed into one line. */
  const shareList = (
    s: SegmentRow,
    rows: { text: string; subscribers: number }[],
    kindOf: (text: string) => string,
  ) => {
    const major = rows.filter((r) => r.subscribers / s.subscribers >= MINOR_STYLE_SHARE);
    const minor = rows.slice(major.length);
    const items = major.map(({ text, subscribers }) => {
      // "sticky binding: family plan, broadband bundle": the kind in bold, the means after it
      const kind = kindOf(text);
      const rest = text.slice(kind.length);
      return `<li><b>${escape(kind)}</b>${rest ? escape(rest.replace(/^: /, ' ')) : ''} <span class="share">${share(subscribers, s)}</span></li>`;
    });
    if (minor.length) {
      const rest = minor.reduce((n, r) => n + r.subscribers, 0);
      const names = minor.map((r) => kindOf(r.text)).join(', ');
      items.push(
        `<li class="note" title="${escape(names)}">${minor.length} other${minor.length > 1 ? 's' : ''} ${share(rest, s)}</li>`,
      );
    }
    return `<ul class="plain">${items.join('')}</ul>`;
  };
  const styleList = (s: SegmentRow) =>
    shareList(
      s,
      s.retention_styles.map((r) => ({ text: r.style, subscribers: r.subscribers })),
      (text) => text.split(': ')[0],
    );
  const channelList = (s: SegmentRow) =>
    shareList(
      s,
      s.channels.map((r) => ({ text: r.value, subscribers: r.subscribers })),
      (text) => text,
    );
  // every moment ends in the hours never to call or push; said once in the note under the table
  const quiet = `; not ${DO_NOT_DISTURB}`;
  const momentList = (s: SegmentRow) =>
    shareList(
      s,
      s.contact_moments.map((r) => ({
        text: r.value.endsWith(quiet) ? r.value.slice(0, -quiet.length) : r.value,
        subscribers: r.subscribers,
      })),
      (text) => text,
    );
  const profiles = segments.map(
    (s) =>
      `<tr><td>${s.segment_id}</td><td>${escape(s.segment_name)}</td><td class="num">${fmt(s.subscribers)}</td><td class="num">${pct(s.revenue_share)}</td><td class="num">${fmt(s.arpu, 1)}</td><td class="num">${fmt(s.mou)}</td><td class="num">${fmt(s.dou)}</td><td class="num">${pct(s.mean_churn_score)}</td><td class="num">${fmt(s.high_risk_subscribers)}</td></tr>`,
  );
  const actions = segments.map((s) => {
    const tags = s.tags.map(
      (t) => `<span class="tag">${escape(t.tag)} <span class="share">${share(t.subscribers, s)}</span></span>`,
    );
    return `<tr><td>${s.segment_id}</td><td>${escape(s.segment_name)}</td><td>${escape(s.recommended_product)}</td><td>${channelList(s)}</td><td>${momentList(s)}</td><td>${styleList(s)}</td><td>${tags.join(' ') || '<span class="note">none</span>'}</td></tr>`;
  });
  return {
    id: 'segments',
    title: 'Segments',
    html: `<div class="row">${chart}</div>
    <table class="profiles">
      <tr><th>id</th><th>segment</th><th class="num">subscribers</th><th class="num">revenue share</th><th class="num">ARPU (¥ a month)</th><th class="num">MOU (min a month)</th><th class="num">DOU (MB a month)</th><th class="num">mean churn risk</th><th class="num">high risk</th></tr>
      ${profiles.join('\n      ')}
    </table>
    <p class="note">ARPU, MOU and DOU are the averages of the segment's subscribers for the month; the grids below give totals in the same units.</p>
    <h3>What to do per segment</h3>
    <table class="actions">
      <tr><th>id</th><th>segment</th><th>product</th><th>channel (share of the segment)</th><th>contact moment (share of the segment)</th><th>retention style (share of the segment)</th><th>tags (share of the segment)</th></tr>
      ${actions.join('\n      ')}
    </table>
    <p class="note">The product is the segment's. The channel and the retention style are each subscriber's, by their value tier and stability (the operation grid), so one segment's subscribers may get several; the moment is the segment's, except that subscribers tagged warning, new or declining are contacted at their tag's moment. The shares are of the segment's subscribers; each subscriber's own is in the grids below and in dispatch.parquet. No calls or pushes ${DO_NOT_DISTURB} (local time).</p>`,
  };
}
