import type { RunRef } from './layout';

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
}
