import type { DuckDBConnection } from '@duckdb/node-api';
import { queryRows, readSql } from '../duckdb';
import { DISPATCH_MAX_PRIORITY } from '../../domain/actions';
import type { ChurnSummary } from '../churn-summary';
import type { ClusterSummary } from '../cluster';
import type { FeatureSummary } from '../features';
import type { LoadSummary } from '../load';
import { escape, type ReportSection } from './html';
import { churnSection } from './sections/churn';
import { churnModelsData, churnModelsSection } from './sections/churn-models';
import type { ReasonsMethod } from '../dispatch-reasons';
import { glossarySection } from './sections/glossary';
import { gridsSection, type ContactRow, type GridRow } from './sections/grids';
import { reportHeader, type HeaderData, type ReportedSnapshot } from './sections/header';
import { kpiStrip } from './sections/kpis';
import { migrationSection, unmatchedMigrationSection, type MigrationCell } from './sections/migration';
import { qualitySection } from './sections/quality';
import { segmentsSection, type SegmentRow } from './sections/segments';
import { valueSection } from './sections/value';

export type { ReportedSnapshot } from './sections/header';

/**
 * The run report: one self-contained HTML file per snapshot (inline SVG charts, no script, no
 * network). Reads the snapshot tables of the publishing connection and the stage summaries.
 * Its only run-specific words are the snapshot's version, publish time and requester (header),
 * which a reproduction takes from the original, so a reproduced report is byte-identical.
 */
export interface ReportInput {
  load: LoadSummary;
  features: FeatureSummary;
  cluster: ClusterSummary;
  churn: ChurnSummary;
}

/** A report with everything but the header: the version and publish time are known only at publish. */
export interface PreparedReport {
  header: HeaderData;
  kpis: string;
  sections: ReportSection[];
}

/** How many contacts of each grid's dispatch list the report shows. */
const FIRST_CONTACTS_PER_GRID = 5;

/**
 * Queries the snapshot tables and renders every section, in page order. A new section is a
 * function in sections/ that takes plain data and returns a ReportSection; add its call here.
 */
export async function buildReport(
  conn: DuckDBConnection,
  request: ReportInput,
  hasMigration: boolean,
  /**
   * "Did last month's actions work?" (sections/campaigns.ts), when the run was given a contact log
   * or followed a list up, and whether it shows weighted churn rates (the glossary defines them).
   */
  campaigns: { section: ReportSection; weightedChurn: boolean } | null = null,
  /** How the reasons were found (dispatch-reasons.ts); null without the ensemble. */
  reasons: Pick<ReasonsMethod, 'exactRows' | 'notExact'> | null = null,
  /** The month before's snapshot when the segment ids were not matched to it (segmented on other features); null when they were, or it has none. */
  unmatchedMonthBefore: { month: string; version: number } | null = null,
): Promise<PreparedReport> {
  const { load, cluster, churn } = request;
  const query = async <T extends Record<string, unknown>>(file: string, values?: Record<string, number>) =>
    queryRows<T>(conn, await readSql(import.meta.url, `./sql/${file}`), values);
  const pareto = await query<{ subscriber_share: number; revenue_share: number }>('pareto.sql');
  const previous = hasMigration ? cluster.previous : null;

  const sections: (ReportSection | null)[] = [
    await segmentsSection(await query<SegmentRow & Record<string, unknown>>('segments.sql')),
    await valueSection({
      pareto,
      grid: await query('value_grid.sql'),
      keyCustomerRevenueShare: load.params.keyCustomerRevenueShare,
    }),
    await churnSection(churn, load),
    await churnModelsSection(churnModelsData(churn, reasons)),
    campaigns?.section ?? null,
    previous
      ? await migrationSection(
          await query<MigrationCell & Record<string, unknown>>('migration.sql'),
          `${previous.month}/v${previous.version}`,
          load.params.month,
        )
      : unmatchedMonthBefore
        ? unmatchedMigrationSection(`${unmatchedMonthBefore.month}/v${unmatchedMonthBefore.version}`, load.params.month)
        : null,
    gridsSection(
      await query<GridRow & Record<string, unknown>>('grids.sql'),
      await query<ContactRow & Record<string, unknown>>('first_contacts.sql', { per_grid: FIRST_CONTACTS_PER_GRID }),
      FIRST_CONTACTS_PER_GRID,
      { order: load.params.dispatchOrder, maxPriority: DISPATCH_MAX_PRIORITY },
    ),
    await qualitySection({
      rowsRead: load.rowsRead,
      rowsLoaded: load.rowsLoaded,
      rowsQuarantined: load.rowsQuarantined,
      rowsOutsideWindow: load.rowsOutsideWindow ?? 0,
      inputFiles: load.inputFiles.length,
      quarantineByReason: load.quarantineByReason,
      skippedFeatures: request.features.skippedFeatures,
    }),
    glossarySection({
      highValueThreshold: load.params.highValueThreshold,
      keyCustomerRevenueShare: load.params.keyCustomerRevenueShare,
      controlShare: load.params.controlShare,
      skippedFeatures: request.features.skippedFeatures.map((f) => f.feature),
      // Brier score, Platt scaling and SHAP are the ensemble's (churnModel tree has none)
      ensemble: Boolean(churn.ensemble),
      weightedChurn: campaigns?.weightedChurn ?? false,
    }),
  ];
  return {
    header: { params: load.params, paramsHash: load.paramsHash, k: cluster.k },
    kpis: kpiStrip({
      scored: churn.scoredRows,
      segments: cluster.k,
      topFifthRevenueShare: pareto.find((p) => p.subscriber_share >= 0.2)?.revenue_share ?? 0,
      rocAuc: churn.holdout.rocAuc,
      rocAucHoldout: {
        churners: churn.holdout.positives,
        rows: churn.holdout.rows,
        stdError: churn.holdout.rocAucStdError,
      },
      topDecileLift: churn.holdout.liftByDecile[0],
      highRisk: churn.riskBandCounts.high ?? 0,
      quarantined: load.rowsQuarantined - (load.rowsOutsideWindow ?? 0),
    }),
    sections: sections.filter((s) => s !== null),
  };
}

/** The whole page: header, headline numbers, contents, then the sections. */
export function renderReport(report: PreparedReport, snapshot: ReportedSnapshot): string {
  const contents = report.sections.map((s) => `<a href="#${s.id}">${s.title}</a>`).join(' ');
  const body = stableIds(
    report.sections.map((s) => `<section id="${s.id}"><h2>${s.title}</h2>\n    ${s.html}\n  </section>`).join('\n\n  '),
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>segflow run report ${escape(report.header.params.month)}</title>
<style>
${STYLE}
</style>
</head>
<body>
${reportHeader(report.header, snapshot)}
<main>
  ${report.kpis}
  <nav>${contents}</nav>

  ${body}
</main>
</body>
</html>
`;
}

const STYLE = `  body { font: 14px/1.45 Helvetica, Arial, sans-serif; color: #1f2937; margin: 0; background: #f8fafc; }
  header { background: #1e3a8a; color: white; padding: 20px 32px; }
  header h1 { margin: 0 0 6px; font-size: 22px; }
  header .identity { font-size: 15px; }
  header .params { color: #c7d2fe; font-size: 13px; margin-top: 4px; }
  header .param { background: rgba(255, 255, 255, 0.14); border-radius: 4px; padding: 1px 6px; color: white; overflow-wrap: anywhere; }
  header code { color: white; }
  main { padding: 16px 32px 40px; max-width: 1280px; }
  nav { margin: 4px 0 8px; }
  nav a { color: #1e3a8a; margin-right: 16px; text-decoration: none; border-bottom: 1px solid #c7d2fe; }
  .kpis { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
  .kpi { flex: 1 1 0; background: white; border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px 16px; min-width: 120px; }
  .kpi b { display: block; font-size: 22px; color: #1e3a8a; }
  section { background: white; border: 1px solid #e5e7eb; border-radius: 8px; padding: 16px 20px; margin: 16px 0; overflow-x: auto; }
  section h2 { margin: 0 0 12px; font-size: 17px; }
  section h3 { margin: 20px 0 8px; font-size: 15px; }
  .row { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
  svg.marks { max-width: 100%; height: auto; }
  table { border-collapse: collapse; font-size: 13px; }
  th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid #e5e7eb; vertical-align: top; }
  th { color: #374151; }
  td.num, th.num, span.num { text-align: right; font-variant-numeric: tabular-nums; }
  td.num { white-space: nowrap; }
  .note { color: #6b7280; font-size: 12px; }
  .columns { color: #9ca3af; font: 11px/1.3 ui-monospace, Menlo, monospace; margin-top: 2px; }
  .share { color: #6b7280; font-size: 12px; }
  .tag { display: inline-block; background: #eef2ff; border-radius: 10px; padding: 0 8px; margin: 0 4px 4px 0; white-space: nowrap; }
  ul.plain { margin: 0; padding: 0; list-style: none; }
  ul.terms { margin: 0; padding-left: 18px; }
  details.region { border-top: 1px solid #e5e7eb; padding: 6px 0; }
  details.region > summary { font-weight: bold; cursor: pointer; padding: 4px 0; }
  details.region > summary .note { font-weight: normal; margin-left: 8px; }
  .grid-row { display: grid; grid-template-columns: 18px minmax(80px, 110px) repeat(8, minmax(64px, 100px)); gap: 8px; padding: 4px 0; font-size: 13px; }
  .grid-row.head { color: #374151; font-weight: bold; border-bottom: 1px solid #e5e7eb; }
  details.grid > summary { list-style: none; cursor: pointer; border-bottom: 1px solid #f3f4f6; }
  details.grid > summary::-webkit-details-marker { display: none; }
  details.grid > summary::before { content: '▸'; color: #6b7280; }
  details.grid[open] > summary::before { content: '▾'; }
  details.grid > table, details.grid > p { margin: 6px 0 12px 26px; }
  dl.glossary { display: grid; grid-template-columns: 160px 1fr; gap: 6px 16px; margin: 0; }
  dl.glossary dt { font-weight: bold; }
  dl.glossary dd { margin: 0; }
  @media (max-width: 900px) {
    header { padding: 16px; }
    main { padding: 8px 12px 32px; }
    section { padding: 12px; }
    th, td { padding: 5px 6px; }
  }
  @media (max-width: 600px) {
    /* a phone: charts keep their size and a section scrolls sideways (shrunk to fit, their text was
       5 px), with a shadow at the edge that has more to see */
    svg.marks { max-width: none; flex: none; }
    section {
      background:
        linear-gradient(to right, white 30%, rgba(255, 255, 255, 0)) left / 40px 100% no-repeat local,
        linear-gradient(to left, white 30%, rgba(255, 255, 255, 0)) right / 40px 100% no-repeat local,
        radial-gradient(farthest-side at 0 50%, rgba(0, 0, 0, 0.18), rgba(0, 0, 0, 0)) left / 14px 100% no-repeat scroll,
        radial-gradient(farthest-side at 100% 50%, rgba(0, 0, 0, 0.18), rgba(0, 0, 0, 0)) right / 14px 100% no-repeat scroll,
        white;
    }
    dl.glossary { grid-template-columns: 1fr; }
  }
  @media print {
    body { background: white; }
    header { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
    main { padding: 0; max-width: none; }
    section { overflow: visible; border: none; padding: 0; }
    section h2, section h3 { break-after: avoid; }
    svg.marks, tr, .kpi, .grid-row { break-inside: avoid; }
    table { font-size: 12px; }
    th, td { padding: 4px 5px; }
  }`;

/**
 * Vega numbers clip paths and gradients with a process-wide counter, so the same chart gets
 * other ids in a process that rendered before. Renumbering them in order of appearance keeps
 * the report byte-identical when a snapshot is reproduced. Applied to the sections only, so the
 * contents' links to section ids stay as they are.
 */
function stableIds(html: string): string {
  const referenced = new Set(
    [...html.matchAll(/url\(#([^)]+)\)|href="#([^"]+)"/g)].map((match) => match[1] ?? match[2]),
  );
  const renamed = new Map<string, string>();
  for (const [, id] of html.matchAll(/ id="([^"]+)"/g)) {
    if (referenced.has(id) && !renamed.has(id)) renamed.set(id, `chart-def-${renamed.size + 1}`);
  }
  return html.replace(/( id="|url\(#|href="#)([^")]+)/g, (whole, prefix: string, id: string) =>
    renamed.has(id) ? `${prefix}${renamed.get(id)}` : whole,
  );
}
