import { paramsDifferingFromDefaults, type RunParams } from '../../../domain/params';
import { escape } from '../html';

/** The snapshot a report describes: set at publish time (a reproduction passes the original's). */
export interface ReportedSnapshot {
  version: number;
  /** ISO time the snapshot was published. */
  publishedAt: string;
  requestedBy: string;
  /** Published with `--experiment`: not the month's latest unless promoted. */
  experiment?: boolean;
}

export interface HeaderData {
  params: RunParams;
  paramsHash: string;
  /** Segments found (k). */
  k: number;
}

/** Month, version, who asked and when, and every parameter set away from its default. */
export function reportHeader({ params, paramsHash, k }: HeaderData, snapshot: ReportedSnapshot): string {
  const published = snapshot.publishedAt.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
  const changed = paramsDifferingFromDefaults(params).map(
    ({ name, value, defaultValue }) =>
      `<span class="param" title="default: ${escape(defaultValue === undefined ? 'none' : JSON.stringify(defaultValue))}">` +
      `${escape(name)} = ${escape(typeof value === 'string' ? value : JSON.stringify(value))}</span>`,
  );
  return `<header>
  <h1>segflow run report — ${escape(params.month)}</h1>
  <div class="identity">version ${snapshot.version} · published ${escape(published)} · requested by ${escape(snapshot.requestedBy)}${snapshot.experiment ? " · <strong>experiment</strong>: published beside the month's latest of the time, which it did not replace (a later promotion may have made it the latest: segflow snapshots list says)" : ''}</div>
  <div class="params">${changed.length ? `parameters set: ${changed.join(' ')} · all others at their defaults` : 'all parameters at their defaults'} · ${k} segments${params.k ? '' : ' (number chosen by silhouette)'} · parameters hash <code>${escape(paramsHash.slice(0, 12))}</code></div>
</header>`;
}
