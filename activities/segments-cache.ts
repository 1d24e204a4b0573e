/**
 * Reuse of the clustering's work (stage `segments`), content-addressed: the segments file
 * (segments.parquet: row_idx, segment_id, distance) and the clustering summary (k, centroids,
 * profiles, names and actions), keyed by the features table it read (the run's load-features
 * key), the parameters clustering reads, last month's segmentation that fixes the segment ids,
 * and the clustering code. An analyst rerun that changes only the value labels, the tree's depth
 * or the dispatch settings takes them instead of clustering again.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunParams } from '../domain/params';
import { canonicalJson, hashFile, sha256 } from '../store/hashing';
import { linkOrCopy } from '../store/files';
import { readExactJson, writeExactJson } from '../store/exact-json';
import { STAGE_CACHE_FORMAT } from '../store/stage-cache';
import type { ReusedArtifact, StageCacheAccess, StoredStages } from '../store/artifacts';
import type { SegmentProfile } from '../store/manifest';
import { pinCodeHash } from './code-identity';
import { lockedDependencyTree, lockedVersions } from './code-version';
import { mlCodeFiles, mlCodeHash } from './ml/code-hash';
import type { PreviousSegmentation } from './segment-history';
import { lookUpArtifact, storeArtifact } from './artifact-store';
import { segmentsFile } from './stage-outputs';
import type { UserFeature } from './user-features';

export const SEGMENTS_STAGE = 'segments';
const SUMMARY_FILE = 'cluster.json';
const ROOT = new URL('../', import.meta.url);

/**
 * Beside activities/ml (k-means, its sampling and silhouettes, the centroid matching): the module
 * that reads the columns and names and profiles the segments, its SQL, and the naming and action
 * rules (a test checks the list against the import graph).
 */
export const CLUSTER_CODE_FILES = [
  'activities/cluster.ts',
  'activities/cluster/segment_profiles.sql',
  'activities/stage-outputs.ts',
  'activities/duckdb.ts',
  'data/contract.ts',
  'domain/actions.ts',
  'domain/segment-names.ts',
];

/**
 * sha256 over the clustering code, and the packages whose results the segments hold: k-means
 * with every package it depends on (ml-random seeds its starts), and DuckDB for the profiles.
 */
function hashClusterCode(): string {
  const parts = CLUSTER_CODE_FILES.map((file) => `${file}\n${sha256(readFileSync(new URL(file, ROOT)))}`);
  const packages = { ...lockedDependencyTree('ml-kmeans'), ...lockedVersions(['@duckdb/node-api']) };
  parts.push(mlCodeHash(), canonicalJson(packages));
  return sha256(parts.join('\n'));
}

/** The clustering code's hash as the worker loaded it (code-identity.ts). */
export const clusterCodeHash = pinCodeHash(
  "the clustering's code",
  () => [
    ...mlCodeFiles(),
    ...[...CLUSTER_CODE_FILES, 'package-lock.json'].map((file) => fileURLToPath(new URL(file, ROOT))),
  ],
  hashClusterCode,
);

/** What the segments depend on besides the features table and the code. */
export interface ClusterInputs {
  params: RunParams;
  previous: PreviousSegmentation | null;
  skippedFeatures: string[];
  userFeatures: UserFeature[];
}

/** The parameters clustering reads: k (or the range it is chosen from), the seed, restarts and sample sizes. */
export const CLUSTER_PARAMS = [
  'k',
  'kMin',
  'kMax',
  'seed',
  'kmeansRestarts',
  'kmeansSampleSize',
  'silhouetteSampleSize',
] as const satisfies readonly (keyof RunParams)[];

/** The key of clustering the features table of `featuresKey`. */
export function segmentsKey(featuresKey: string, inputs: ClusterInputs): string {
  return sha256(
    canonicalJson({
      format: STAGE_CACHE_FORMAT,
      stage: SEGMENTS_STAGE,
      features: featuresKey,
      params: Object.fromEntries(CLUSTER_PARAMS.map((name) => [name, inputs.params[name] ?? null])),
      previous: inputs.previous,
      skippedFeatures: inputs.skippedFeatures,
      userFeatures: inputs.userFeatures,
      code: clusterCodeHash(),
    }),
  );
}

/** The clustering's result, as stored (cluster.json) and as the run's summary holds it beside its seconds. */
export interface Segmentation {
  k: number;
  /** Centroids in the units of CLUSTER_FEATURES (log scale for usage), by segment id. */
  featureNames: string[];
  centroids: { segmentId: number; values: number[] }[];
  /** The snapshot whose segment ids were carried over, if any. */
  previous: { month: string; version: number } | null;
  /** How k was chosen: the silhouette of each candidate (empty when the analyst fixed k). */
  silhouetteByK: Record<number, number>;
  sampleSize: number;
  iterations: number;
  converged: boolean;
  /** Sum of squared distances to the assigned centroid, standardised units, all subscribers. */
  inertia: number;
  segments: SegmentProfile[];
}

/**
 * Links the stored segments file of `key` into the run folder `runDir` (a copy across file
 * systems) when reuse is allowed and every stored file matches its hash; returns the stored
 * summary (null when there is none to take), and why.
 */
export async function restoreSegments(
  access: StageCacheAccess,
  key: string,
  runDir: string,
): Promise<{ summary: Segmentation | null; artifact: ReusedArtifact | null; reason: string }> {
  const found = await lookUpArtifact(access.store, SEGMENTS_STAGE, key, access.allowed, ['cluster']);
  if ('missing' in found) return { summary: null, artifact: null, reason: found.missing };
  await linkOrCopy(join(found.dir, 'segments.parquet'), segmentsFile(runDir));
  return {
    summary: await readExactJson<Segmentation>(join(found.dir, SUMMARY_FILE)),
    artifact: found.artifact,
    reason: "features, clustering parameters, last month's segments and clustering code unchanged",
  };
}

/** Stores the run's segments file (in `runDir`) and its summary under `key`. */
export async function storeSegments(
  access: StageCacheAccess,
  key: string,
  month: string,
  /** The run's summary: its seconds and cache use are the run's own, not stored. */
  summary: Segmentation & { kmeansSeconds: number; seconds: number; cache?: unknown },
  runDir: string,
): Promise<StoredStages> {
  const { kmeansSeconds: _kmeans, seconds: _seconds, cache: _cache, ...stored } = summary;
  const rows = summary.segments.reduce((sum, segment) => sum + segment.subscribers, 0);
  return storeArtifact(
    access.store,
    { stage: SEGMENTS_STAGE, key, producedBy: access.run, month, code: clusterCodeHash() },
    {},
    async (staging) => {
      await linkOrCopy(segmentsFile(runDir), join(staging, 'segments.parquet'));
      await writeExactJson(join(staging, SUMMARY_FILE), stored satisfies Segmentation);
      return Promise.all(
        ['segments.parquet', SUMMARY_FILE].map(async (file) => ({
          file,
          rows,
          ...(await hashFile(join(staging, file))),
        })),
      );
    },
  );
}
