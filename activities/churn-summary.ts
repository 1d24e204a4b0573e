/**
 * What the churn stage reports (trainAndScoreChurn in churn.ts): the models, their holdout
 * metrics and how they were trained. Types only, so the manifest (store/manifest.ts) and the
 * report read them without importing the stage.
 */
import type { ChurnModel } from '../domain/params';
import type { StageCacheUse } from '../store/artifacts';
import type { FeatureUse } from './churn-features';
import type { ReliabilityBin } from './ml/calibration';
import type { ClassifierMetrics } from './ml/metrics';
import type { LeafRule } from './ml/tree-rules';

/** One model measured on the holdout. */
export interface ModelEvaluation {
  holdout: ClassifierMetrics;
  /** Holdout ROC curve, at most 101 points. */
  holdoutRoc: { fpr: number; tpr: number }[];
  trainSeconds: number;
}

/** The boosted ensemble: how it was fitted, calibrated and how long it took. */
export interface EnsembleSummary extends ModelEvaluation {
  /** The model in XGBoost's JSON format (calibration folded in). */
  modelPath: string;
  /** Trees kept after early stopping. */
  trees: number;
  /** Platt scaling fitted on the validation rows; applied only where it lowered their Brier score. */
  calibration: { method: 'platt'; a: number; b: number; applied: boolean };
  /** Holdout Brier scores of the probabilities before and after calibration. */
  brier: { uncalibrated: number; calibrated: number };
  /** Holdout reliability curve of the published (calibrated) probabilities, ten equal-count bins. */
  reliability: ReliabilityBin[];
  featureImportance: Record<string, number>;
  /** Present when the training rows exceeded boostMaxTrainingRows: the ensemble trained on a sample of `rows` of them. */
  trainingSample?: { rows: number; of: number };
  /** Scoring this month's subscribers with their reasons (one walk of the trees), and the holdout. */
  scoreSeconds: number;
  /**
   * The stage cache (ensemble-cache.ts), absent without a store: `key` is the trained ensemble's,
   * `scoredKey` its scores' for this month's rows; with the stored ensemble trainSeconds is 0, with
   * the stored scores scoreSeconds.
   */
  cache?: StageCacheUse & { scoredKey: string };
}

export interface ChurnSummary {
  /** The model whose probabilities are the published scores. */
  model: ChurnModel;
  /** The readable tree (ml-cart JSON), published whichever model scores. */
  modelPath: string;
  trainingRows: number;
  holdoutRows: number;
  /** Holdout metrics of the scoring model. */
  holdout: ClassifierMetrics;
  /** Holdout ROC curve of the scoring model, at most 101 points. */
  holdoutRoc: { fpr: number; tpr: number }[];
  /** The readable tree on the same rows, measured on the same holdout. */
  tree: ModelEvaluation;
  /** The boosted ensemble (null when churnModel is 'tree'). */
  ensemble: EnsembleSummary | null;
  /** The riskiest leaves, as readable rules. */
  topRules: LeafRule[];
  featureImportance: Record<string, number>;
  /** Every feature the model was given: source, type, missing share (training rows) and importance. */
  features: FeatureUse[];
  /** The user's columns left out of the models here (no value in the training month), with the reason. */
  unusedFeatures?: { feature: string; reason: string }[];
  scoredRows: number;
  riskBandCounts: Record<string, number>;
  /** The readable tree's training time (0 when taken from the stage cache). */
  trainSeconds: number;
  /** The readable tree's stage cache (ensemble-cache.ts), absent without a store. */
  treeCache?: StageCacheUse;
  seconds: number;
}
