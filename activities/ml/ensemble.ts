/**
 * The churn ensemble from training rows to calibrated scores and reasons, as one pure function
 * of typed arrays: it runs in a worker thread (ensemble-worker.ts) so the activity's event loop
 * keeps heartbeating, and in tests directly.
 */
import {
  predictBoosted,
  predictMargins,
  scaleModel,
  trainBoosted,
  type BoostedModel,
  type BoostingOptions,
} from './boosting';
import { brierScore, fitPlatt, type PlattScaling } from './calibration';
import { pickRows } from './columns';
import { topContributions } from './contributions';

export interface EnsembleTask {
  /** Labelled rows, column-major (float64; read as float32 like XGBoost). */
  columns: Float64Array[];
  labels: Uint8Array;
  trainRows: Uint32Array;
  holdoutRows: Uint32Array;
  /** This month's subscribers to score, same feature order. */
  scoreColumns: Float64Array[];
  options: BoostingOptions;
  /** Reasons kept per scored row. */
  reasons: number;
}

export interface EnsembleResult {
  /** Calibrated model: its probabilities are the published scores. */
  model: BoostedModel;
  calibration: PlattScaling & { applied: boolean };
  bestRound: number;
  /** Holdout probabilities before and after calibration. */
  holdoutUncalibrated: Float64Array;
  holdoutCalibrated: Float64Array;
  scores: Float64Array;
  /** Per scored row, `reasons` feature indices (-1 = none) and their contributions (log-odds). */
  reasonFeatures: Int16Array;
  reasonContributions: Float64Array;
  trainSeconds: number;
  scoreSeconds: number;
  reasonSeconds: number;
}

export function runEnsemble(task: EnsembleTask): EnsembleResult {
  const { columns, labels, trainRows, holdoutRows, scoreColumns } = task;
  let started = performance.now();
  const trained = trainBoosted(columns, labels, trainRows, task.options);

  // Platt scaling on the validation rows (held out of every tree); kept only if it lowers their Brier score
  const validationColumns = columns.map((column) => pickRows(column, trained.validationRows));
  const validationLabels = pickRows(labels, trained.validationRows);
  const platt = fitPlatt(predictMargins(trained.model, validationColumns), validationLabels);
  const scaled = scaleModel(trained.model, platt.a, platt.b);
  const applied =
    brierScore(predictBoosted(scaled, validationColumns), validationLabels) <
    brierScore(predictBoosted(trained.model, validationColumns), validationLabels);
  const model = applied ? scaled : trained.model;
  const trainSeconds = (performance.now() - started) / 1000;

  const holdoutColumns = columns.map((column) => pickRows(column, holdoutRows));
  started = performance.now();
  const scores = predictBoosted(model, scoreColumns);
  const scoreSeconds = (performance.now() - started) / 1000;
  started = performance.now();
  const top = topContributions(model, scoreColumns, task.reasons);
  return {
    model,
    calibration: { ...platt, applied },
    bestRound: trained.bestRound,
    holdoutUncalibrated: predictBoosted(trained.model, holdoutColumns),
    holdoutCalibrated: predictBoosted(model, holdoutColumns),
    scores,
    reasonFeatures: top.features,
    reasonContributions: top.contributions,
    trainSeconds,
    scoreSeconds,
    reasonSeconds: (performance.now() - started) / 1000,
  };
}
