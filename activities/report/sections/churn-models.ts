import type { ChurnSummary, ModelEvaluation } from '../../churn-summary';
import { aucInterval, fewHeldOutWarning } from '../../../domain/holdout-auc';
import { count } from '../../../domain/decimals';
import { renderChart } from '../charts';
import { decimals, escape, type ReportSection } from '../html';

/** What the churn-models section shows: both models on the same holdout, and the ensemble's calibration. */
export interface ChurnModelsData {
  /** The model whose probabilities are the published scores. */
  scoringModel: 'boosted' | 'tree';
  models: {
    name: string;
    rocAuc: number;
    /** DeLong's standard error (absent from an older run's summary). */
    rocAucStdError?: number;
    prAuc: number;
    precisionAtTopDecile: number;
    liftByDecile: number[];
    roc: { fpr: number; tpr: number }[];
  }[];
  /** The holdout both models were measured on: its subscribers and the churners among them. */
  holdout: { rows: number; churners: number };
  /** The ensemble's calibration (absent when only the tree was trained). */
  calibration: {
    trees: number;
    a: number;
    b: number;
    applied: boolean;
    brierUncalibrated: number;
    brierCalibrated: number;
    reliability: { predicted: number; observed: number; rows: number }[];
  } | null;
  /** Subscribers whose reasons are exact SHAP values (the dispatch list's); 0: path contributions for all, `notExact` says why. */
  exactReasons: number;
  notExact?: string;
}

/**
 * Report section "Churn models": ROC and lift of the readable tree and the boosted ensemble side
 * by side (what readability costs), the reliability curve and Brier scores of the calibrated
 * probabilities. Plain data in, HTML out; no times (a reproduced report must be byte-identical).
 */
export async function churnModelsSection(data: ChurnModelsData): Promise<ReportSection> {
  // with churnModel 'tree' the readable tree is the one model
  const which = data.models.length > 1 ? 'both models' : 'the readable tree';
  const roc = await renderChart({
    width: 300,
    height: 300,
    title: `Holdout ROC, ${which}`,
    layer: [
      {
        data: {
          values: [
            { fpr: 0, tpr: 0 },
            { fpr: 1, tpr: 1 },
          ],
        },
        mark: { type: 'line', strokeDash: [4, 4], color: '#9ca3af' },
        encoding: { x: { field: 'fpr', type: 'quantitative' }, y: { field: 'tpr', type: 'quantitative' } },
      },
      {
        data: {
          values: data.models.flatMap((m) =>
            m.roc.map((p, order) => ({ ...p, order, model: `${m.name} (AUC ${decimals(m.rocAuc, 3)})` })),
          ),
        },
        mark: { type: 'line' },
        encoding: {
          x: { field: 'fpr', type: 'quantitative', title: 'false positive rate' },
          y: { field: 'tpr', type: 'quantitative', title: 'true positive rate' },
          color: { field: 'model', type: 'nominal', title: null, legend: { orient: 'bottom-right', labelLimit: 260 } },
          order: { field: 'order', type: 'quantitative' },
        },
      },
    ],
  });
  const lift = await renderChart({
    width: 300,
    height: 300,
    title: `Lift by score decile, ${which}`,
    data: {
      values: data.models.flatMap((m) =>
        m.liftByDecile.map((value, i) => ({ decile: i + 1, lift: value, model: m.name })),
      ),
    },
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'decile', type: 'ordinal', title: 'decile (1 = riskiest 10%)', axis: { labelAngle: 0 } },
      xOffset: { field: 'model', type: 'nominal' },
      y: { field: 'lift', type: 'quantitative', title: 'churn rate / base rate' },
      color: { field: 'model', type: 'nominal', title: null, legend: { orient: 'top-right', labelLimit: 260 } },
    },
  });
  const calibration = data.calibration;
  const reliability = calibration
    ? await renderChart({
        width: 300,
        height: 300,
        title: 'Reliability of the churn probabilities (holdout)',
        layer: [
          {
            data: {
              values: [
                { predicted: 0, observed: 0 },
                { predicted: 1, observed: 1 },
              ],
            },
            mark: { type: 'line', strokeDash: [4, 4], color: '#9ca3af', clip: true },
            encoding: {
              x: { field: 'predicted', type: 'quantitative', scale: { domain: [0, maxProbability(calibration)] } },
              y: { field: 'observed', type: 'quantitative', scale: { domain: [0, maxProbability(calibration)] } },
            },
          },
          {
            data: { values: calibration.reliability },
            mark: { type: 'line', point: true, color: '#2563eb' },
            encoding: {
              x: { field: 'predicted', type: 'quantitative', title: 'mean predicted probability', axis: PERCENT_AXIS },
              y: { field: 'observed', type: 'quantitative', title: 'observed churn rate', axis: PERCENT_AXIS },
            },
          },
        ],
      })
    : '';
  const rows = data.models
    .map(
      (m) =>
        `<tr><td>${escape(m.name)}${m.name.startsWith(data.scoringModel) ? ' (scores)' : ''}</td><td class="num">${aucCell(m.rocAuc, data.holdout, m.rocAucStdError)}</td><td class="num">${decimals(m.prAuc, 3)}</td><td class="num">${decimals(m.precisionAtTopDecile * 100, 1, '%')}</td><td class="num">${decimals(m.liftByDecile[0], 1, 'x')}</td></tr>`,
    )
    .join('\n      ');
  const fewHeldOut = fewHeldOutWarning(data.holdout.churners);
  const note = calibration
    ? `<p class="note">Ensemble: ${calibration.trees} trees kept by early stopping. ${calibrationWords(calibration)} Reasons per subscriber: the three features that raised the score most, ${data.exactReasons > 0 ? `by exact SHAP values for the ${data.exactReasons.toLocaleString('en-US')} subscribers on the dispatch list and by path contributions of the ensemble for the rest` : `by path contributions of the ensemble${data.notExact ? ` (not exact SHAP values: ${escape(data.notExact)})` : ''}`}.</p>`
    : '<p class="note">Scored by the single tree (churnModel tree): no ensemble, calibration or reasons.</p>';
  return {
    id: 'churn-models',
    title:
      data.models.length > 1 ? 'Churn models: readable tree vs boosted ensemble' : 'Churn model: the readable tree',
    html: `<div class="row">${roc}${lift}${reliability}</div>
    <p>${data.models.length > 1 ? 'Both models are measured on the same' : 'It is measured on'} ${count(data.holdout.rows)} labelled subscribers held out of their training, ${count(data.holdout.churners)} of them churners.${fewHeldOut ? ` <b>Read with care:</b> ${escape(fewHeldOut)}.` : ''}</p>
    <table>
      <tr><th>model</th><th class="num">holdout ROC AUC (95% interval)</th><th class="num">PR AUC</th><th class="num">precision, top decile</th><th class="num">top-decile lift</th></tr>
      ${rows}
    </table>
    ${note}`,
  };
}

/**
 * The reliability chart's axes: about 5 ticks, as percentages ("5%", "2.5%"). With Vega's 11
 * ticks on 300 px, "0.00" and "0.02", "0.18" and "0.20" ran into each other ("0.000.02"): the
 * first and last labels are set flush with the axis's ends.
 */
const PERCENT_AXIS = { tickCount: 5, format: '~%' } as const;

/** The AUC and its interval (domain/holdout-auc.ts), as a table cell. */
function aucCell(auc: number, holdout: ChurnModelsData['holdout'], stdError: number | undefined): string {
  const interval = aucInterval(auc, { ...holdout, stdError });
  return interval
    ? `${decimals(auc, 3)} (${decimals(interval.low, 3)}–${decimals(interval.high, 3)})`
    : decimals(auc, 3);
}

/**
 * The ensemble's calibration in words: applied, the holdout Brier score with and without it; not
 * applied, why, and the one Brier score the published probabilities have (no "calibrated" score
 * beside "not applied").
 */
function calibrationWords(calibration: NonNullable<ChurnModelsData['calibration']>): string {
  const platt = `Platt scaling on validation rows held out of every tree (a = ${calibration.a.toFixed(3)}, b = ${calibration.b.toFixed(3)})`;
  return calibration.applied
    ? `Probabilities calibrated by ${platt}, applied as it lowered the validation Brier score. Holdout Brier score ${calibration.brierCalibrated.toPrecision(4)} calibrated vs ${calibration.brierUncalibrated.toPrecision(4)} uncalibrated.`
    : `Calibration not applied: ${platt} did not lower the validation Brier score, so the probabilities are the ensemble's own. Holdout Brier score ${calibration.brierUncalibrated.toPrecision(4)}.`;
}

function maxProbability(calibration: NonNullable<ChurnModelsData['calibration']>): number {
  const top = Math.max(...calibration.reliability.flatMap((bin) => [bin.predicted, bin.observed]), 0.05);
  return Math.min(1, Math.ceil(top * 20) / 20);
}

/** The section's data from the churn stage's summary. */
export function churnModelsData(
  churn: ChurnSummary,
  reasons: { exactRows: number; notExact?: string } | null = null,
): ChurnModelsData {
  const model = (name: string, m: ModelEvaluation) => ({
    name,
    rocAuc: m.holdout.rocAuc,
    rocAucStdError: m.holdout.rocAucStdError,
    prAuc: m.holdout.prAuc,
    precisionAtTopDecile: m.holdout.precisionAtTopDecile,
    liftByDecile: m.holdout.liftByDecile,
    roc: m.holdoutRoc,
  });
  const ensemble = churn.ensemble;
  return {
    scoringModel: churn.model,
    models: [model('tree', churn.tree), ...(ensemble ? [model('boosted ensemble', ensemble)] : [])],
    holdout: { rows: churn.tree.holdout.rows, churners: churn.tree.holdout.positives },
    calibration: ensemble
      ? {
          trees: ensemble.trees,
          ...ensemble.calibration,
          brierUncalibrated: ensemble.brier.uncalibrated,
          brierCalibrated: ensemble.brier.calibrated,
          reliability: ensemble.reliability,
        }
      : null,
    exactReasons: reasons?.exactRows ?? 0,
    ...(reasons?.notExact ? { notExact: reasons.notExact } : {}),
  };
}
