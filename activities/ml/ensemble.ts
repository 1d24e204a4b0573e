/**
 * The churn ensemble's work as pure functions of typed arrays, from training rows to a
 * calibrated model and from a compiled model to scores and reasons: they run in worker threads
 * (ensemble-worker.ts, driven by ensemble-threads.ts) so the activity's event loop keeps
 * heartbeating.
 */
import type { BoostedModel } from './boosted-model';
import { scaleModel, sigmoid, trainBoosted, type BoostingOptions } from './boosting';
import { brierScore, fitPlatt, type PlattScaling } from './calibration';
import {
  compiledMarginPairs,
  compiledMargins,
  compileModel,
  rowMajorValues,
  scoreWithReasons,
  type CompiledModel,
} from './compiled-model';
import { pickRows } from './feature-matrix';

export interface EnsembleTask {
  /** Labelled rows, column-major (float64; read as float32 like XGBoost). */
  columns: Float64Array[];
  labels: Uint8Array;
  trainRows: Uint32Array;
  options: BoostingOptions;
}

export interface TrainedEnsemble {
  /** Calibrated model: its probabilities are the published scores. */
  model: BoostedModel;
  /** The model before calibration (for the holdout comparison). */
  uncalibrated: BoostedModel;
  calibration: PlattScaling & { applied: boolean };
  bestRound: number;
  trainSeconds: number;
}

export function trainEnsemble(task: EnsembleTask): TrainedEnsemble {
  const { columns, labels, trainRows } = task;
  const started = performance.now();
  const trained = trainBoosted(columns, labels, trainRows, task.options);

  // Platt scaling on the validation rows (held out of every tree); kept only if it lowers their Brier score
  const validation = rowMajorValues(columns, trained.validationRows);
  const validationLabels = pickRows(labels, trained.validationRows);
  const margins = compiledMargins(compileModel(trained.model), validation);
  const platt = fitPlatt(margins, validationLabels);
  const scaled = scaleModel(trained.model, platt.a, platt.b);
  const applied =
    brierScore(compiledMargins(compileModel(scaled), validation).map(sigmoid), validationLabels) <
    brierScore(margins.map(sigmoid), validationLabels);
  return {
    model: applied ? scaled : trained.model,
    uncalibrated: trained.model,
    calibration: { ...platt, applied },
    bestRound: trained.bestRound,
    trainSeconds: (performance.now() - started) / 1000,
  };
}

/** Rows to score: row-major float32 values (compiled-model.ts `rowMajorValues`). */
export interface ScoreTask {
  model: CompiledModel;
  values: Float32Array;
  /** Reasons kept per row; 0 for probabilities only. */
  reasons: number;
  /** Per feature, the feature its contribution joins before the reasons are picked (-1: none; scoreWithReasons). */
  foldInto?: Int16Array;
  /** The same trees with other leaf values (the uncalibrated model): its probabilities too, from the same walk (no reasons). */
  also?: CompiledModel;
}

/** What a thread running ensemble-worker.ts is asked: train, score rows, or the hash of the code it loaded (code-hash.ts). */
export type EnsembleRequest = { train: EnsembleTask } | { score: ScoreTask } | { codeHash: true };

export interface ScoredRows {
  probabilities: Float64Array;
  /** Per row, `reasons` feature indices (-1 = none) and their contributions (log-odds). */
  reasonFeatures: Int16Array;
  reasonContributions: Float64Array;
  /** Under ScoreTask.also (empty without it). */
  alsoProbabilities: Float64Array;
}

export function scoreRows(task: ScoreTask): ScoredRows {
  const { model, values, reasons, also, foldInto } = task;
  if (reasons === 0) {
    const { margins, otherMargins } = compiledMarginPairs(model, also ?? null, values);
    return {
      probabilities: margins.map(sigmoid),
      reasonFeatures: new Int16Array(0),
      reasonContributions: new Float64Array(0),
      alsoProbabilities: otherMargins.map(sigmoid),
    };
  }
  if (also) throw new Error('scoreRows: a second model is scored without reasons only');
  const scored = scoreWithReasons(model, values, reasons, foldInto);
  return {
    probabilities: scored.margins.map(sigmoid),
    reasonFeatures: scored.features,
    reasonContributions: scored.contributions,
    alsoProbabilities: new Float64Array(0),
  };
}
