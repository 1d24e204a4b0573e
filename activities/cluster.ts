import { DOUBLE, INTEGER, type DuckDBConnection } from '@duckdb/node-api';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DataQualityError } from '../domain/errors';
import type { RunParams } from '../domain/params';
import { segmentAction } from '../domain/actions';
import type { SegmentProfile } from '../store/manifest';
import { distinctNames, segmentName } from '../domain/segment-names';
import { quoteIdent } from '../data/contract';
import { checkpoint } from './context';
import { queryOne, queryRows, readSql, setVariable, singleThreaded, withReadOnlyConnection } from './duckdb';
import { segmentsFile } from './stage-outputs';
import { appendColumnsTable, readColumns } from './ml/columns';
import { assignToCentroids, chooseK, fitKMeans } from './ml/kmeans';
import { rowNumbers } from './ml/feature-matrix';
import { matchToPrevious } from './ml/match-centroids';
import type { PreviousSegmentation } from './segment-history';
import type { UserFeature } from './user-features';
import type { StageCacheAccess, StageCacheUse } from '../store/artifacts';
import { restoreSegments, segmentsKey, storeSegments, type ClusterInputs, type Segmentation } from './segments-cache';

/** What K-means sees: behaviour, not outcomes. Skewed usage goes in on a log scale. */
export const CLUSTER_FEATURES = {
  log_arpu: 'ln(1 + arpu)',
  log_mou: 'ln(1 + mou)',
  log_dou: 'ln(1 + dou)',
  log_sms: 'ln(1 + sms)',
  log_call_circle: 'ln(1 + call_circle)',
  log_tenure: 'ln(1 + tenure_months)',
  sticky_services: 'sticky_services',
} as const;

/** How a segment name calls each clustering input when it must tell two segments apart. */
const CLUSTER_FEATURE_WORDS: Record<keyof typeof CLUSTER_FEATURES, string> = {
  log_arpu: 'spend',
  log_mou: 'voice',
  log_dou: 'data',
  log_sms: 'SMS',
  log_call_circle: 'call circle',
  log_tenure: 'tenure',
  sticky_services: 'bundles',
};

/** The usage profile proper: with fewer than two of these, the user's numeric features join the clustering. */
const USAGE_INPUTS = ['log_arpu', 'log_mou', 'log_dou', 'log_sms', 'log_call_circle'];

/** The feature each clustering input is made from, to leave out those an input cannot support. */
const CLUSTER_FEATURE_SOURCES: Record<keyof typeof CLUSTER_FEATURES, string> = {
  log_arpu: 'arpu',
  log_mou: 'mou',
  log_dou: 'dou',
  log_sms: 'sms',
  log_call_circle: 'call_circle',
  log_tenure: 'tenure_months',
  sticky_services: 'sticky_services',
};

/** The segmentation (segments-cache.ts stores it) and what this run spent on it. */
export interface ClusterSummary extends Segmentation {
  /** K-means itself: choosing k (unless fixed), fitting on the sample and assigning every subscriber (not reading or writing). */
  kmeansSeconds: number;
  seconds: number;
  /** The stage cache (segments-cache.ts), absent without a features key; with stored segments kmeansSeconds is 0. */
  cache?: StageCacheUse;
}

/**
 * Segments the run month's subscribers: fits K-means on a sample, assigns everyone to the
 * nearest centroid, and names segments from their profile. Segment ids carry over from last
 * month's nearest segments when there is a previous snapshot; otherwise they rank segments by
 * value (1 = highest ARPU). Reads the run database without writing it (the churn stage may run
 * beside it: activities/stage-outputs.ts) and writes `segments(row_idx, segment_id, distance)` to
 * segments.parquet in the run folder; each segment's name and action are in the summary.
 */
export async function clusterSubscribers(
  dbPath: string,
  params: RunParams,
  previous: PreviousSegmentation | null = null,
  /** Features the input could not support (FeatureSummary.skippedFeatures). */
  skippedFeatures: string[] = [],
  /** The user's own features: numeric ones join when the data has fewer than two usage columns. */
  userFeatures: UserFeature[] = [],
  /** Where stored segments are found and kept: used only with the run's load-features key. */
  cache?: StageCacheAccess,
): Promise<ClusterSummary> {
  const started = performance.now();
  const inputs: ClusterInputs = { params, previous, skippedFeatures, userFeatures };
  if (!cache?.featuresKey) return computeSegments(dbPath, inputs, started);
  const key = segmentsKey(cache.featuresKey, inputs);
  const runDir = dirname(dbPath);
  const restored = await restoreSegments(cache, key, runDir);
  if (restored.summary && restored.artifact) {
    await checkpoint({ stage: 'cluster: stored segments' });
    return {
      ...restored.summary,
      kmeansSeconds: 0,
      seconds: (performance.now() - started) / 1000,
      cache: { key, reused: [restored.artifact], reason: restored.reason, stored: [] },
    };
  }
  const computed = await computeSegments(dbPath, inputs, started);
  const stored = await storeSegments(cache, key, params.month, computed, runDir);
  return { ...computed, cache: { key, reused: [], reason: restored.reason, stored: [stored] } };
}

async function computeSegments(
  dbPath: string,
  { params, previous, skippedFeatures, userFeatures }: ClusterInputs,
  started: number,
): Promise<ClusterSummary> {
  return withReadOnlyConnection(dbPath, async (conn) => {
    const { rows } = await queryOne<{ rows: number }>(
      conn,
      "SELECT count(*) AS rows FROM features WHERE purpose = 'score'",
    );
    const expressions: [string, string][] = Object.entries(CLUSTER_FEATURES).filter(
      ([name]) => !skippedFeatures.includes(CLUSTER_FEATURE_SOURCES[name as keyof typeof CLUSTER_FEATURES]),
    );
    const words = new Map<string, string>(Object.entries(CLUSTER_FEATURE_WORDS));
    if (expressions.filter(([name]) => USAGE_INPUTS.includes(name)).length < 2) {
      // k-means standardises every input; a gap takes the column's mean, so it pulls no segment
      for (const feature of userFeatures.filter((f) => f.type === 'numeric')) {
        const column = quoteIdent(feature.column);
        expressions.push([feature.name, `coalesce(${column}, avg(${column}) OVER ())`]);
        words.set(feature.name, feature.name);
      }
    }
    // more segments than subscribers is no fault a retry mends (ml/kmeans.ts's RangeError would be retried)
    if (params.k && rows < params.k)
      throw new DataQualityError(
        `cannot make ${params.k} segments from ${rows} subscribers to score: give a smaller k (--param k=...), or leave k out to choose it`,
      );
    const data = await readColumns(conn, expressions, "FROM features WHERE purpose = 'score' ORDER BY row_idx", rows);
    await checkpoint({ stage: params.k ? 'cluster: fitting k-means' : 'cluster: choosing k' });
    const fitStarted = performance.now();
    const sampling = { seed: params.seed, restarts: params.kmeansRestarts };
    const { fit, silhouetteByK } = params.k
      ? {
          fit: await fitKMeans(data.columns, { ...sampling, k: params.k, sampleSize: params.kmeansSampleSize }),
          silhouetteByK: {},
        }
      : await chooseK(data.columns, {
          ...sampling,
          kMin: params.kMin,
          kMax: params.kMax,
          fitSampleSize: params.kmeansSampleSize,
          sampleSize: params.silhouetteSampleSize,
        });
    const { segment, distance, inertia } = await assignToCentroids(data.columns, fit);
    const kmeansSeconds = (performance.now() - fitStarted) / 1000;

    const inUnits = fit.centroids.map((centroid) => centroid.map((value, d) => value * fit.stdDevs[d] + fit.means[d]));
    const comparable = previous !== null && previous.featureNames.join() === data.names.join();
    const idOf = Uint16Array.from(
      comparable
        ? matchToPrevious(inUnits, previous.centroids, fit.stdDevs)
        : idsByValue(inUnits, data.names.indexOf('log_arpu')),
    );

    await writeSegments(conn, segment, distance, idOf);
    const centroidOf = new Map(fit.centroids.map((centroid, index) => [idOf[index], centroid]));
    const segments = await profileSegments(
      conn,
      centroidOf,
      data.names.map((name) => words.get(name) ?? name),
    );
    // the file may be a hard link into the stage cache (a retried attempt restored it): never written through
    await rm(segmentsFile(dirname(dbPath)), { force: true });
    await setVariable(conn, 'segments_file', segmentsFile(dirname(dbPath)));
    await conn.run("COPY segments TO (getvariable('segments_file')) (FORMAT parquet, COMPRESSION zstd)");
    return {
      k: fit.k,
      featureNames: data.names,
      centroids: inUnits
        .map((values, index) => ({ segmentId: idOf[index], values }))
        .sort((a, b) => a.segmentId - b.segmentId),
      previous: comparable ? { month: previous.month, version: previous.version } : null,
      silhouetteByK,
      sampleSize: fit.sampleSize,
      iterations: fit.iterations,
      converged: fit.converged,
      inertia,
      segments,
      kmeansSeconds,
      seconds: (performance.now() - started) / 1000,
    };
  });
}

/** Segment ids as a value ranking: 1 for the centroid with the highest ARPU. */
function idsByValue(centroids: number[][], arpuColumn: number): number[] {
  const ids = new Array<number>(centroids.length);
  centroids
    .map((centroid, index) => ({ index, value: centroid[arpuColumn] }))
    .sort((a, b) => b.value - a.value)
    .forEach(({ index }, rank) => (ids[index] = rank + 1));
  return ids;
}

async function writeSegments(
  conn: DuckDBConnection,
  segment: Uint16Array,
  distance: Float64Array,
  idOf: Uint16Array,
): Promise<void> {
  const rowIdx = rowNumbers(segment.length, Int32Array);
  const segmentId = segment.map((cluster) => idOf[cluster]);
  await appendColumnsTable(
    conn,
    'segments',
    [
      ['row_idx', INTEGER, rowIdx],
      ['segment_id', INTEGER, segmentId],
      ['distance', DOUBLE, distance],
    ],
    'cluster: writing segments',
  );
}

/** Profiles, names and actions by segment id; `centroids` (standard units, by segment id) tell equal names apart. */
async function profileSegments(
  conn: DuckDBConnection,
  centroids: Map<number, number[]>,
  dimensions: string[],
): Promise<SegmentProfile[]> {
  // one thread: a parallel sum of doubles adds in a varying order, and these averages name the
  // segments and sit in the manifest, which must not differ between reruns in the last digit
  const sql = await readSql(import.meta.url, './cluster/segment_profiles.sql');
  const rows = await singleThreaded(conn, () =>
    queryRows<{
      segment_id: number;
      subscribers: number;
      share: number;
      arpu: number;
      mou: number;
      dou: number;
      mou_trend: number | null;
      stability_score: number;
      revenue_share: number;
      value_z: number;
      data_z: number | null;
      voice_z: number | null;
      sticky_z: number;
    }>(conn, sql),
  );
  const signals = rows.map((r) => ({
    valueZ: r.value_z,
    dataZ: r.data_z,
    voiceZ: r.voice_z,
    stickyZ: r.sticky_z,
    mouTrend: r.mou_trend,
  }));
  const names = distinctNames(
    signals.map(segmentName),
    rows.map((r) => centroids.get(r.segment_id) ?? []),
    dimensions,
  );
  return rows.map((r, i) => ({
    segmentId: r.segment_id,
    name: names[i],
    ...segmentAction(signals[i]),
    subscribers: r.subscribers,
    share: r.share,
    arpu: r.arpu,
    mou: r.mou,
    dou: r.dou,
    mouTrend: r.mou_trend,
    stabilityScore: r.stability_score,
    revenueShare: r.revenue_share,
  }));
}
