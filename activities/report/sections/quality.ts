import type { SkippedFeature } from '../../features';
import { dataQualityChart } from '../charts';
import { escape, fmt, type ReportSection } from '../html';

export interface QualityData {
  rowsRead: number;
  rowsLoaded: number;
  rowsQuarantined: number;
  /** Of rowsQuarantined, rows of months outside the run window. */
  rowsOutsideWindow: number;
  inputFiles: number;
  quarantineByReason: Record<string, number>;
  skippedFeatures: SkippedFeature[];
}

/** Input rows loaded and quarantined by reason, and features the input could not support. */
export async function qualitySection(data: QualityData): Promise<ReportSection> {
  const chart = await dataQualityChart([
    { outcome: 'loaded', rows: data.rowsLoaded },
    ...Object.entries(data.quarantineByReason).map(([outcome, rows]) => ({ outcome, rows })),
  ]);
  const skipped = data.skippedFeatures.map((s) => `${escape(s.feature)} (${escape(s.reason)})`).join('; ');
  return {
    id: 'quality',
    title: 'Data quality',
    html: `<div class="row">${chart}</div>
    <p class="note">${fmt(data.rowsRead)} rows read from ${data.inputFiles} files = ${fmt(data.rowsLoaded)} loaded + ${fmt(data.rowsQuarantined)} quarantined (quarantine.parquet lists each with its reason)${data.rowsOutsideWindow > 0 ? `: ${fmt(data.rowsQuarantined - data.rowsOutsideWindow)} broke the input contract, and ${fmt(data.rowsOutsideWindow)} lie in months outside the run window, not read` : ''}.</p>
    ${skipped ? `<p class="note">Skipped features (the input cannot support them; left out of the models, empty in subscribers.parquet): ${skipped}.</p>` : ''}`,
  };
}
