import type { SkippedFeature } from '../../features';
import { skippedFeatureItems } from '../../../domain/skipped-features';
import { OUTSIDE_WINDOW } from '../../../data/contract';
import { dataQualityChart } from '../charts';
import { counted, escape, fmt, type ReportSection } from '../html';

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

/**
 * Rows read = loaded + quarantined, as the run's result counts them: the rows that broke the
 * contract apart from those of months outside the window, which were left out (in a file holding other months too, they were read and set aside).
 */
function rowsNote(data: QualityData): string {
  const outside = data.rowsOutsideWindow;
  const read = `${fmt(data.rowsRead - outside)} rows read from ${counted(data.inputFiles, 'file')} = ${fmt(data.rowsLoaded)} loaded + ${fmt(data.rowsQuarantined - outside)} quarantined`;
  return outside > 0
    ? `${read} for breaking the input contract; ${fmt(outside)} more rows of months outside the run window were left out (quarantine.parquet lists each row with its reason, those too)`
    : `${read} (quarantine.parquet lists each with its reason)`;
}

/** Input rows loaded and quarantined by reason, and features the input could not support. */
export async function qualitySection(data: QualityData): Promise<ReportSection> {
  const chart = await dataQualityChart([
    { outcome: 'loaded', rows: data.rowsLoaded, kind: 'loaded' },
    // rows of months outside the run window broke no rule: grey, apart from the reasons in red
    ...Object.entries(data.quarantineByReason).map(([outcome, rows]) => ({
      outcome,
      rows,
      kind: outcome === OUTSIDE_WINDOW ? ('left out' as const) : ('quarantined' as const),
    })),
  ]);
  const skipped = skippedFeatureItems(data.skippedFeatures)
    .map((item) => escape(item))
    .join('; ');
  return {
    id: 'quality',
    title: 'Data quality',
    html: `<div class="row">${chart}</div>
    <p class="note">${rowsNote(data)}.</p>
    ${skipped ? `<p class="note">Skipped features (the input cannot support them; left out of the models, empty in subscribers.parquet; a score's component, score.component, leaves that score rescaled over the components it has): ${skipped}.</p>` : ''}`,
  };
}
