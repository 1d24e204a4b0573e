import type { SegmentAction } from '../domain/actions';
import type { RunParams } from '../domain/params';
import type { ColumnMatch } from '../domain/mapping';
import type { CampaignFollowUp, CampaignMetrics } from '../activities/campaign-metrics';
import type { ChurnSummary, EnsembleSummary } from '../activities/churn-summary';
import type { CodeVersion } from '../activities/code-version';
import type { LabelsFile } from '../activities/labels';
import type { RunRef } from './layout';
import type { ReusedArtifact } from './artifacts';

/** The schema of snapshots/<month>/v<N>/manifest.json. */

/** An input file the run read, as its plan found it. */
export interface InputFile {
  path: string;
  sha256: string;
  bytes: number;
  rows: number;
}

/** A mapping file by its path and the sha256 of its bytes when the run read it. */
/** The mapping file a run read, as it read it, in its snapshot: what the manifest's hash stands for (`snapshots diff` compares them). */
export const MAPPING_FILE = 'mapping.json';

/** The contact-log mapping a measurement read (params.contactsMapping), as it read it, in its snapshot. */
export const CONTACTS_MAPPING_FILE = 'contacts_mapping.json';

export interface MappingFile {
  path: string;
  sha256: string;
}

/** One published segment's profile, name and recommended action. */
export interface SegmentProfile extends SegmentAction {
  segmentId: number;
  name: string;
  subscribers: number;
  share: number;
  arpu: number;
  mou: number;
  dou: number;
  /** null without the months of history a trend needs. */
  mouTrend: number | null;
  stabilityScore: number;
  revenueShare: number;
}

export interface OutputFile {
  file: string;
  sha256: string;
  bytes: number;
  rows?: number;
}

/** Where the run's stage outputs came from. */
export interface Lineage {
  /** The load and feature stages' cache key: the run reused it, or stored its own output under it. */
  stageKey: string;
  /** The churn stage's cache keys, likewise: the trained ensemble's and its scores' (absent for the single tree, or an older run). */
  churnKeys?: string[];
  /** The features stage's month keys: the training month's (taken from the run that scored it, or computed) and the scoring month's (stored for next month's run). */
  featureMonthKeys?: string[];
  /** The load's month keys: each window month's checked rows, taken from an earlier run or stored by this one. */
  usageMonthKeys?: string[];
  /** The readable tree's key: the tree taken from an earlier run or stored by this one (absent in older runs). */
  treeKey?: string;
  /** The segments' key: the clustering taken from an earlier run or stored by this one (absent in older runs). */
  segmentsKey?: string;
  /** The dispatch list's exact reasons' key: taken from an earlier run or stored by this one (absent in older runs, and without the ensemble). */
  reasonsKey?: string;
  /** Empty for a cold run. */
  reused: ReusedArtifact[];
  /** Earlier window months whose input files changed since last month's snapshot read them: which, and what follows. */
  inputChanged?: string;
}

/** The stage-cache keys a lineage names as the run's own (stored by it or taken by key), without `reused`'s. */
export function lineageKeys(lineage: Lineage): string[] {
  return [
    lineage.stageKey,
    ...(lineage.churnKeys ?? []),
    ...(lineage.featureMonthKeys ?? []),
    ...(lineage.usageMonthKeys ?? []),
    ...(lineage.segmentsKey ? [lineage.segmentsKey] : []),
    ...(lineage.treeKey ? [lineage.treeKey] : []),
    ...(lineage.reasonsKey ? [lineage.reasonsKey] : []),
  ];
}

/** Everything an auditor needs to know about how a snapshot was produced. */
export interface SnapshotManifest {
  /**
   * `experiment`: published with `segflow run --experiment`, so latest.json did not move to it (next
   * month's run, campaigns and `YYYY-MM` references keep to the month's latest) until promoted.
   */
  snapshot: { month: string; version: number; publishedAt: string; experiment?: true };
  run: RunRef;
  requestedBy: string;
  params: RunParams;
  paramsHash: string;
  inputs: InputFile[];
  /** Churn labels from their own file: its hash, kind and the label rows whose id the input does not have. */
  labels?: LabelsFile | null;
  /** The mapping file the run read (`mapping` parameter) and the sha256 of its bytes (absent before it was recorded). */
  mapping?: MappingFile;
  /** Names the mapping or the contract reads that the input writes otherwise (LoadSummary.columnMatches); absent when none. */
  columnMatches?: ColumnMatch[];
  code: CodeVersion;
  rowCounts: {
    inputRows: number;
    loaded: number;
    quarantined: number;
    subscribers: number;
    trainingRows: number;
    holdoutRows: number;
  };
  quarantineByReason: Record<string, number>;
  /** Features the input could not support (and user columns left out): NULL in subscribers.parquet, left out of the models. */
  skippedFeatures: { feature: string; reason: string }[];
  metrics: {
    /** Which model's probabilities are the published scores. */
    churnModel: ChurnSummary['model'];
    /** Holdout metrics of the scoring model. */
    churnHoldout: ChurnSummary['holdout'];
    /** Both models on the same holdout: what readability costs. */
    churnModels: {
      tree: { holdout: ChurnSummary['holdout'] };
      boosted: {
        holdout: ChurnSummary['holdout'];
        trees: number;
        featureImportance: Record<string, number>;
        /** Present when the ensemble trained on a sample of the training rows (boostMaxTrainingRows). */
        trainingSample?: EnsembleSummary['trainingSample'];
      } | null;
    };
    /** Platt scaling of the ensemble, the holdout Brier score before and after, and the reliability curve. */
    churnCalibration:
      | (EnsembleSummary['calibration'] & {
          brierUncalibrated: number;
          brierCalibrated: number;
          reliability: EnsembleSummary['reliability'];
        })
      | null;
    /** How churn_reasons were attributed (null when the tree scores: no reasons). */
    churnReasons: string | null;
    /** How many subscribers' reasons are exact SHAP values (the dispatch list's; absent when the tree scores, and from older manifests). */
    churnReasonsExact?: number;
    churnTopRules: ChurnSummary['topRules'];
    featureImportance: Record<string, number>;
    /** Every feature the churn model was given: source (contract, derived, user), type, missing share, importance. */
    churnFeatures: ChurnSummary['features'];
    riskBandCounts: Record<string, number>;
    kmeans: {
      k: number;
      silhouetteByK: Record<number, number>;
      sampleSize: number;
      iterations: number;
      converged: boolean;
      inertia: number;
      featureNames: string[];
      centroids: { segmentId: number; values: number[] }[];
    };
    /** Segment ids were carried over from this snapshot; migration.parquet counts the moves. */
    previousSnapshot: { month: string; version: number } | null;
    /**
     * The month before's snapshot whose dispatch list the campaigns read, when it is not
     * previousSnapshot: its latest, clustered on other features (absent: previousSnapshot's, or none).
     */
    campaignsMonthBefore?: { month: string; version: number };
    segments: SegmentProfile[];
    /**
     * Last month's dispatch list measured against its control group (runs given a contact log
     * only): overall and per action; campaigns.parquet holds every breakdown.
     */
    campaigns?: CampaignMetrics;
    /**
     * The list the previous snapshot's run measured, measured again with churn read in this run's
     * month (campaign-follow-up.ts): overall and per action; campaigns_followup.parquet holds every
     * breakdown. Absent when the previous snapshot measured no campaign, and in manifests published
     * before the follow-up.
     */
    campaignFollowUp?: CampaignFollowUp;
  };
  outputs: OutputFile[];
  /** Absent in snapshots published before stage reuse, and in reproductions (always cold). */
  lineage?: Lineage;
  /** Seconds each compute stage took on the worker (informational; differs between reruns). */
  timings: {
    loadSeconds: number;
    featuresSeconds: number;
    clusterSeconds: number;
    kmeansSeconds: number;
    churnSeconds: number;
    treeTrainSeconds: number;
    ensembleTrainSeconds: number | null;
    ensembleScoreSeconds: number | null;
  };
}
