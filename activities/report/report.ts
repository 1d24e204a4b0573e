import type { DuckDBConnection } from '@duckdb/node-api';
import { queryRows } from '../duckdb';
import type { ChurnSummary } from '../churn';
import type { ClusterSummary } from '../cluster';
import type { FeatureSummary } from '../features';
import type { LoadSummary } from '../load';
import {
  dataQualityChart,
  importanceChart,
  liftChart,
  migrationChart,
  paretoCurve,
  rocChart,
  segmentSizes,
  valueStabilityGrid,
} from './charts';

/**
 * The run report: one self-contained HTML file per snapshot (inline SVG charts, no script, no
 * network). Reads the snapshot tables of the publishing connection and the stage summaries.
 * It holds no times or run ids, so a reproduced snapshot's report is byte-identical.
 */
export interface ReportInput {
  load: LoadSummary;
  features: FeatureSummary;
  cluster: ClusterSummary;
  churn: ChurnSummary;
}

export async function buildReport(
  conn: DuckDBConnection,
  request: ReportInput,
  hasMigration: boolean,
): Promise<string> {
  const { load, cluster, churn } = request;
  const month = load.params.month;
  const segments = await queryRows<{
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
  }>(
    conn,
    'SELECT segment_id, segment_name, subscribers, revenue_share, arpu, mou, dou, mean_churn_score, high_risk_subscribers, recommended_product, channel FROM snapshot_segments ORDER BY segment_id',
  );
  const pareto = await queryRows<{ subscriber_share: number; revenue_share: number }>(
    conn,
    `WITH ranked AS (
       SELECT row_number() OVER (ORDER BY arpu DESC, subscriber_id) AS rank, count(*) OVER () AS n,
              sum(arpu::DECIMAL(18, 6)) OVER (ORDER BY arpu DESC, subscriber_id ROWS UNBOUNDED PRECEDING) AS running,
              sum(arpu::DECIMAL(18, 6)) OVER () AS total
       FROM snapshot_subscribers
     )
     SELECT rank / n AS subscriber_share, (running / total)::DOUBLE AS revenue_share
     FROM ranked WHERE rank % greatest(n // 100, 1) = 0 OR rank = n ORDER BY rank`,
  );
  const grid = await queryRows<{ value_tier: string; stability: string; subscribers: number; priority: number }>(
    conn,
    `SELECT value_tier, CASE WHEN stable THEN 'stable' ELSE 'unstable' END AS stability, count(*) AS subscribers, min(operation_priority) AS priority
     FROM snapshot_subscribers GROUP BY ALL ORDER BY priority`,
  );
  const migration = hasMigration
    ? await queryRows<{ from_segment: string; to_segment: string; subscribers: number }>(
        conn,
        'SELECT from_segment, to_segment, subscribers FROM snapshot_migration',
      )
    : [];
  const topShare = pareto.find((p) => p.subscriber_share >= 0.2)?.revenue_share ?? 0;
  const quality = [
    { outcome: 'loaded', rows: load.rowsLoaded },
    ...Object.entries(load.quarantineByReason).map(([outcome, rows]) => ({ outcome, rows })),
  ];

  const charts = {
    segments: await segmentSizes(
      segments.map((s) => ({
        segment: `${s.segment_id} ${s.segment_name}`,
        subscribers: s.subscribers,
        revenue_share: s.revenue_share,
      })),
    ),
    pareto: await paretoCurve(pareto),
    grid: await valueStabilityGrid(grid),
    roc: await rocChart(churn.holdoutRoc, churn.holdout.rocAuc),
    lift: await liftChart(churn.holdout.liftByDecile),
    importance: await importanceChart(churn.featureImportance),
    migration: cluster.previous ? await migrationChart(migration, cluster.previous.month) : '',
    quality: await dataQualityChart(quality),
  };
  // a feature the input cannot support is NULL (e.g. DOU from a file without data volumes)
  const fmt = (n: number | null, digits = 0) =>
    n === null ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const pct = (n: number) => `${(n * 100).toFixed(1)}%`;

  return stableIds(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>segflow run report ${escape(month)}</title>
<style>
  body { font: 14px/1.45 Helvetica, Arial, sans-serif; color: #1f2937; margin: 0; background: #f8fafc; }
  header { background: #1e3a8a; color: white; padding: 20px 32px; }
  header h1 { margin: 0 0 4px; font-size: 22px; }
  main { padding: 16px 32px 40px; max-width: 1280px; }
  .kpis { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
  .kpi { background: white; border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px 16px; min-width: 150px; }
  .kpi b { display: block; font-size: 22px; color: #1e3a8a; }
  section { background: white; border: 1px solid #e5e7eb; border-radius: 8px; padding: 16px 20px; margin: 16px 0; }
  section h2 { margin: 0 0 12px; font-size: 17px; }
  .row { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
  table { border-collapse: collapse; font-size: 13px; }
  th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid #e5e7eb; vertical-align: top; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  .note { color: #6b7280; font-size: 12px; }
</style>
</head>
<body>
<header>
  <h1>segflow run report — ${escape(month)}</h1>
  <div>parameters ${escape(load.paramsHash.slice(0, 12))} · history ${load.params.historyMonths} months · k ${cluster.k}${request.load.params.k ? ' (fixed)' : ' (chosen by silhouette)'} · tree depth ${load.params.treeDepth}, min leaf ${load.params.treeMinLeaf}</div>
</header>
<main>
  <div class="kpis">
    <div class="kpi"><b>${fmt(churn.scoredRows)}</b>subscribers scored</div>
    <div class="kpi"><b>${cluster.k}</b>segments</div>
    <div class="kpi"><b>${pct(topShare)}</b>of revenue from the top 20%</div>
    <div class="kpi"><b>${churn.holdout.rocAuc.toFixed(3)}</b>churn holdout ROC AUC</div>
    <div class="kpi"><b>${churn.holdout.liftByDecile[0].toFixed(1)}x</b>top-decile lift</div>
    <div class="kpi"><b>${fmt(churn.riskBandCounts.high ?? 0)}</b>high churn risk</div>
    <div class="kpi"><b>${fmt(load.rowsQuarantined)}</b>rows quarantined</div>
  </div>

  <section id="segments"><h2>Segments</h2>
    <div class="row">${charts.segments}</div>
    <table>
      <tr><th>id</th><th>segment</th><th class="num">subscribers</th><th class="num">revenue</th><th class="num">ARPU</th><th class="num">MOU</th><th class="num">DOU (MB)</th><th class="num">mean churn risk</th><th class="num">high risk</th><th>recommended product</th><th>channel</th></tr>
      ${segments.map((s) => `<tr><td>${s.segment_id}</td><td>${escape(s.segment_name)}</td><td class="num">${fmt(s.subscribers)}</td><td class="num">${pct(s.revenue_share)}</td><td class="num">${fmt(s.arpu, 1)}</td><td class="num">${fmt(s.mou)}</td><td class="num">${fmt(s.dou)}</td><td class="num">${pct(s.mean_churn_score)}</td><td class="num">${fmt(s.high_risk_subscribers)}</td><td>${escape(s.recommended_product)}</td><td>${escape(s.channel)}</td></tr>`).join('\n      ')}
    </table>
  </section>

  <section id="value"><h2>Value and stability</h2>
    <div class="row">${charts.pareto}${charts.grid}</div>
    <p class="note">Key customers are the top holding ${pct(load.params.keyCustomerRevenueShare)} of revenue. Priority 1 (most urgent) is high value and unstable.</p>
  </section>

  <section id="churn"><h2>Churn risk</h2>
    <div class="row">${charts.roc}${charts.lift}</div>
    <div class="row">${charts.importance}</div>
    <h3>Riskiest rules</h3>
    <table>
      <tr><th>if</th><th class="num">churn rate</th><th class="num">lift</th><th class="num">subscribers (training)</th></tr>
      ${churn.topRules.map((r) => `<tr><td>${escape(r.condition)}</td><td class="num">${pct(r.churnRate)}</td><td class="num">${r.lift.toFixed(1)}x</td><td class="num">${fmt(r.subscribers)}</td></tr>`).join('\n      ')}
    </table>
    <p class="note">Holdout: ${fmt(churn.holdoutRows)} subscribers, base churn rate ${pct(churn.holdout.baseRate)}, precision in the top decile ${pct(churn.holdout.precisionAtTopDecile)}, recall ${pct(churn.holdout.recallAtTopDecile)}, PR AUC ${churn.holdout.prAuc.toFixed(3)}.</p>
    <h3>Features the model was given</h3>
    <table>
      <tr><th>feature</th><th>source</th><th>type</th><th class="num">missing (training)</th><th class="num">importance</th></tr>
      ${churn.features.map((f) => `<tr><td>${escape(f.name)}</td><td>${f.source}</td><td>${f.type}</td><td class="num">${pct(f.missingShare)}</td><td class="num">${pct(f.importance)}</td></tr>`).join('\n      ')}
    </table>
  </section>

  ${cluster.previous ? `<section id="migration"><h2>Migration since ${escape(cluster.previous.month)}</h2><div class="row">${charts.migration}</div></section>` : ''}

  <section id="quality"><h2>Data quality</h2>
    <div class="row">${charts.quality}</div>
    <p class="note">${fmt(load.rowsRead)} rows read from ${load.inputFiles.length} files = ${fmt(load.rowsLoaded)} loaded + ${fmt(load.rowsQuarantined)} quarantined (quarantine.parquet lists each with its reason).</p>
    ${load.labels ? `<p class="note">Churn labels from ${escape(load.labels.path)}: ${fmt(load.labels.rows)} rows, ${fmt(load.labels.unknownIds)} of them for subscribers the input does not have (not used).</p>` : ''}
    ${load.skippedUserFeatures?.length ? `<p class="note">Columns of your file left out of the models: ${load.skippedUserFeatures.map((s) => `${escape(s.feature)} (${escape(s.reason)})`).join('; ')}.</p>` : ''}
    ${request.features.skippedFeatures.length ? `<p class="note">Skipped features (the input cannot support them; left out of the models, empty in subscribers.parquet): ${request.features.skippedFeatures.map((s) => `${escape(s.feature)} (${escape(s.reason)})`).join('; ')}.</p>` : ''}
  </section>
</main>
</body>
</html>
`);
}

/**
 * Vega numbers clip paths and gradients with a process-wide counter, so the same chart gets
 * other ids in a process that rendered before. Renumbering them in order of appearance keeps
 * the report byte-identical when a snapshot is reproduced.
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

function escape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}
