import type { SegmentAction } from '../domain/actions';
import type { RunParams } from '../domain/params';
import type { ChurnSummary } from '../activities/churn';
import type { CodeVersion } from '../activities/code-version';
import type { LabelsFile } from '../activities/labels';
import type { InputFile } from '../activities/load';
import type { RunRef } from './layout';

/** The schema of snapshots/<month>/v<N>/manifest.json. */

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

/** Everything an auditor needs to know about how a snapshot was produced. */
export interface SnapshotManifest {
  snapshot: { month: string; version: number; publishedAt: string };
  run: RunRef;
  requestedBy: string;
  params: RunParams;
  paramsHash: string;
  inputs: InputFile[];
  /** Churn labels from their own file: its hash, kind and the label rows whose id the input does not have. */
  labels?: LabelsFile | null;
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
    churnHoldout: ChurnSummary['holdout'];
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
    segments: SegmentProfile[];
  };
  outputs: OutputFile[];
  /** Seconds each compute stage took on the worker (informational; differs between reruns). */
  timings: {
    loadSeconds: number;
    featuresSeconds: number;
    clusterSeconds: number;
    kmeansSeconds: number;
    churnSeconds: number;
    treeTrainSeconds: number;
  };
}
