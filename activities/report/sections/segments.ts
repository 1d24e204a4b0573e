import { segmentSizes } from '../charts';
import { escape, fmt, pct, percent, type ReportSection } from '../html';

/** Retention styles below this share of a segment are summed into one line. */
const MINOR_STYLE_SHARE = 0.1;

/** One segment's profile and action, with its subscribers' retention styles and tags (sql/segments.sql). */
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
  channel: string;
  contact_moment: string;
  /** Most subscribers first. */
  retention_styles: { style: string; subscribers: number }[];
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
  const styleList = (s: SegmentRow) => {
    const major = s.retention_styles.filter((r) => r.subscribers / s.subscribers >= MINOR_STYLE_SHARE);
    const minor = s.retention_styles.slice(major.length);
    const items = major.map(({ style, subscribers }) => {
      // "sticky binding: family plan, broadband bundle": the kind in bold, the means after it
      const [kind, means] = style.split(': ');
      return `<li><b>${escape(kind)}</b>${means ? ` ${escape(means)}` : ''} <span class="share">${share(subscribers, s)}</span></li>`;
    });
    if (minor.length) {
      const rest = minor.reduce((n, r) => n + r.subscribers, 0);
      const names = minor.map((r) => r.style.split(': ')[0]).join(', ');
      items.push(
        `<li class="note" title="${escape(names)}">${minor.length} other${minor.length > 1 ? 's' : ''} ${share(rest, s)}</li>`,
      );
    }
    return `<ul class="plain">${items.join('')}</ul>`;
  };
  const profiles = segments.map(
    (s) =>
      `<tr><td>${s.segment_id}</td><td>${escape(s.segment_name)}</td><td class="num">${fmt(s.subscribers)}</td><td class="num">${pct(s.revenue_share)}</td><td class="num">${fmt(s.arpu, 1)}</td><td class="num">${fmt(s.mou)}</td><td class="num">${fmt(s.dou)}</td><td class="num">${pct(s.mean_churn_score)}</td><td class="num">${fmt(s.high_risk_subscribers)}</td></tr>`,
  );
  const actions = segments.map((s) => {
    const tags = s.tags.map(
      (t) => `<span class="tag">${escape(t.tag)} <span class="share">${share(t.subscribers, s)}</span></span>`,
    );
    return `<tr><td>${s.segment_id}</td><td>${escape(s.segment_name)}</td><td>${escape(s.recommended_product)}</td><td>${escape(s.channel)}</td><td>${escape(s.contact_moment)}</td><td>${styleList(s)}</td><td>${tags.join(' ') || '<span class="note">none</span>'}</td></tr>`;
  });
  return {
    id: 'segments',
    title: 'Segments',
    html: `<div class="row">${chart}</div>
    <table class="profiles">
      <tr><th>id</th><th>segment</th><th class="num">subscribers</th><th class="num">revenue share</th><th class="num">ARPU (¥)</th><th class="num">MOU (min)</th><th class="num">DOU (MB)</th><th class="num">mean churn risk</th><th class="num">high risk</th></tr>
      ${profiles.join('\n      ')}
    </table>
    <h3>What to do per segment</h3>
    <table class="actions">
      <tr><th>id</th><th>segment</th><th>product</th><th>channel</th><th>contact moment</th><th>retention style (share of the segment)</th><th>tags (share of the segment)</th></tr>
      ${actions.join('\n      ')}
    </table>
    <p class="note">The retention style follows each subscriber's value tier and stability; subscribers tagged warning, new or declining are contacted at their tag's moment instead of the segment's (see the grids below and dispatch.parquet).</p>`,
  };
}
