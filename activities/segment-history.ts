import { addMonths } from '../domain/month';
import type { StoreConfig } from '../store/layout';
import { latestVersion, readManifest } from '../store/snapshots';

/** Last month's segmentation, which this month's segment ids are matched against. */
export interface PreviousSegmentation {
  month: string;
  version: number;
  featureNames: string[];
  centroids: { segmentId: number; values: number[] }[];
}

/**
 * The latest snapshot of the month before `month` (or the given version of it, when a
 * snapshot is reproduced), or null when there is none or it was clustered on other features.
 */
export async function findPreviousSegmentation(
  store: StoreConfig,
  month: string,
  pinned?: { month: string; version: number },
): Promise<PreviousSegmentation | null> {
  const previousMonth = pinned?.month ?? addMonths(month, -1);
  const version = pinned?.version ?? (await latestVersion(store, previousMonth));
  if (version === undefined) return null;
  const manifest = await readManifest(store, previousMonth, version).catch(() => undefined);
  const kmeans = manifest?.metrics.kmeans;
  if (!kmeans?.centroids || !kmeans.featureNames) return null;
  return { month: previousMonth, version, featureNames: kmeans.featureNames, centroids: kmeans.centroids };
}
