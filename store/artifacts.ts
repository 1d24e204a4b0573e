import type { RunRef, StoreConfig } from './layout';

/** A stored stage output a run used instead of computing it (activities/stage-cache.ts). */
export interface ReusedArtifact {
  /** Its folder: cache/<stage>/<key>/ in the store. */
  stage: string;
  /** The run stages it stands for. */
  stages: string[];
  key: string;
  files: { file: string; sha256: string; bytes: number; rows: number }[];
  /** The run that computed it, and when. */
  producedBy: RunRef;
  producedAt: string;
  /** The key whose signature over its artifact.json the run checked (a worker with SEGFLOW_SIGNING_KEY takes only those). */
  signedBy?: string;
}

/** What storing an artifact came to (activities/artifact-store.ts storeArtifact). */
export interface StoredStages {
  stored: boolean;
  path: string;
  bytes: number;
  /** Why nothing was stored (the store could not be written): the run goes on without it. */
  error?: string;
}

/** What a stage's use of the stage cache came to: its key, what it took or stored, and why. */
export interface StageCacheUse {
  key: string;
  /** The stored artifacts the stage used instead of computing. */
  reused: ReusedArtifact[];
  reason: string;
  /** What this run stored for later runs (the store's answer for each: stored, or why not). */
  stored: StoredStages[];
}

/**
 * Where a stage after the features may find and store its work (the churn ensemble and its
 * scores, the readable tree, the segments); reproductions pass none: they compute.
 */
export interface StageCacheAccess {
  store: StoreConfig;
  run: RunRef;
  /** False for a cold run (`--no-reuse`): it computes, and still stores. */
  allowed: boolean;
  /** The load-features key of the run's features table (activities/stage-cache.ts), when the run has one. */
  featuresKey?: string;
}
