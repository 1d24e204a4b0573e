import { RISK_BANDS } from '../../../domain/rules';
import { aucInterval, fewHeldOutWarning, type HoldoutCounts } from '../../../domain/holdout-auc';
import { decimals, fmt, pct } from '../html';

const HIGH_RISK_SCORE = RISK_BANDS.find((b) => b.band === 'high')?.minScore ?? 0;

export interface KpiData {
  scored: number;
  segments: number;
  /** Share of revenue from the top 20% of subscribers by ARPU. */
  topFifthRevenueShare: number;
  rocAuc: number;
  /** What the AUC was measured on, for its interval (absent: the AUC alone). */
  rocAucHoldout?: HoldoutCounts;
  topDecileLift: number;
  highRisk: number;
  quarantined: number;
}

/** The headline numbers under the header. */
export function kpiStrip(data: KpiData): string {
  const kpi = (value: string, label: string, hint: string) =>
    `<div class="kpi" title="${hint}"><b>${value}</b>${label}</div>`;
  return `<div class="kpis">
    ${kpi(fmt(data.scored), 'subscribers scored', 'active in the run month')}
    ${kpi(String(data.segments), 'segments', 'groups of subscribers who use the network alike')}
    ${kpi(pct(data.topFifthRevenueShare), 'of revenue from the top 20%', 'subscribers ranked by monthly spend')}
    ${kpi(decimals(data.rocAuc, 3), aucLabel(data), 'see the glossary: 0.5 is guessing, 1 is perfect; the range is its 95% interval (Churn models)')}
    ${kpi(decimals(data.topDecileLift, 1, 'x'), 'top-decile lift', 'churn rate of the riskiest 10% against the average')}
    ${kpi(fmt(data.highRisk), 'high churn risk', `churn score of ${pct(HIGH_RISK_SCORE)} or more`)}
    ${kpi(fmt(data.quarantined), 'rows quarantined', 'input rows of the run window that broke the input contract')}
  </div>`;
}

/** "churn ROC AUC (0.82–0.92)", and a word when too few churners were held out to read it. */
function aucLabel(data: KpiData): string {
  const interval = data.rocAucHoldout ? aucInterval(data.rocAuc, data.rocAucHoldout) : null;
  const range = interval ? ` (${decimals(interval.low, 2)}–${decimals(interval.high, 2)})` : '';
  const few =
    data.rocAucHoldout && fewHeldOutWarning(data.rocAucHoldout.churners) ? ', rough: few churners held out' : '';
  return `churn ROC AUC${range}${few}`;
}
