import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainAndScoreChurn } from '../activities/churn';
import { clusterSubscribers } from '../activities/cluster';
import { codeVersion } from '../activities/code-version';
import { queryRows, withConnection } from '../activities/duckdb';
import { computeFeatures } from '../activities/features';
import { hashFile } from '../activities/hashing';
import { loadUsage } from '../activities/load';
import { findPreviousSegmentation } from '../activities/segment-history';
import {
  latestVersion,
  listVersions,
  publishSnapshot,
  readManifest,
  type SnapshotManifest,
} from '../activities/publish';
import { isMonth } from '../domain/month';
import { versionDir, type StoreConfig } from '../domain/store-layout';
import { UsageError } from './client';

export interface SnapshotRef {
  month: string;
  version: number;
}

/** Parses "2026-10" (latest), "2026-10/v2" or "2026-10@2". */
export async function resolveSnapshot(store: StoreConfig, text: string): Promise<SnapshotRef> {
  const match = /^(\d{4}-\d{2})(?:(?:\/v|@v?)(\d+))?$/.exec(text.trim());
  if (!match || !isMonth(match[1]))
    throw new UsageError(`not a snapshot reference: "${text}" (use YYYY-MM, YYYY-MM/vN or YYYY-MM@N)`);
  const month = match[1];
  if (match[2]) return { month, version: Number(match[2]) };
  const version = await latestVersion(store, month);
  if (version === undefined) throw new UsageError(`no snapshot published for ${month}`);
  return { month, version };
}

export async function listMonths(store: StoreConfig): Promise<string[]> {
  const entries = await readdir(join(store.storeDir, 'snapshots')).catch(() => [] as string[]);
  return entries.filter(isMonth).sort();
}

export interface SnapshotListing {
  month: string;
  version: number;
  latest: boolean;
  publishedAt: string;
  requestedBy: string;
  workflowId: string;
  paramsHash: string;
  subscribers: number;
  churnRocAuc: number;
  segments: number;
}

export async function listSnapshots(store: StoreConfig, month?: string): Promise<SnapshotListing[]> {
  const listings: SnapshotListing[] = [];
  for (const m of month ? [month] : await listMonths(store)) {
    const latest = await resolveSnapshot(store, m).then(
      (ref) => ref.version,
      () => 0,
    );
    for (const version of await listVersions(store, m)) {
      const manifest = await readManifest(store, m, version);
      listings.push({
        month: m,
        version,
        latest: version === latest,
        publishedAt: manifest.snapshot.publishedAt,
        requestedBy: manifest.requestedBy,
        workflowId: manifest.run.workflowId,
        paramsHash: manifest.paramsHash,
        subscribers: manifest.rowCounts.subscribers,
        churnRocAuc: manifest.metrics.churnHoldout.rocAuc,
        segments: manifest.metrics.segments.length,
      });
    }
  }
  return listings;
}

export interface SnapshotDiff {
  a: SnapshotRef;
  b: SnapshotRef;
  params: { name: string; a: unknown; b: unknown }[];
  metrics: { name: string; a: number; b: number; change: number }[];
  /** Subscribers by (segment in A, segment in B); "(absent)" for subscribers in only one. */
  migration: { from: string; to: string; subscribers: number }[];
  riskBandChanges: { from: string; to: string; subscribers: number }[];
  riskBandChangedTotal: number;
  /** Up to 20 subscribers whose risk band changed, for a first look. */
  riskBandExamples: { subscriber_id: string; from: string; to: string; score_a: number; score_b: number }[];
}

/** What changed between two snapshots: parameters, metrics, segment migration, risk bands. */
export async function diffSnapshots(store: StoreConfig, a: SnapshotRef, b: SnapshotRef): Promise<SnapshotDiff> {
  const [ma, mb] = await Promise.all([
    readManifest(store, a.month, a.version),
    readManifest(store, b.month, b.version),
  ]);
  const names = [...new Set([...Object.keys(ma.params), ...Object.keys(mb.params)])].sort();
  const params = names
    .map((name) => ({
      name,
      a: (ma.params as Record<string, unknown>)[name],
      b: (mb.params as Record<string, unknown>)[name],
    }))
    .filter((p) => JSON.stringify(p.a) !== JSON.stringify(p.b));
  const metric = (m: SnapshotManifest) => ({
    subscribers: m.rowCounts.subscribers,
    rowsQuarantined: m.rowCounts.quarantined,
    segments: m.metrics.segments.length,
    kmeansInertia: m.metrics.kmeans.inertia,
    churnRocAuc: m.metrics.churnHoldout.rocAuc,
    churnPrAuc: m.metrics.churnHoldout.prAuc,
    churnTopDecileLift: m.metrics.churnHoldout.liftByDecile[0],
    highRiskSubscribers: m.metrics.riskBandCounts.high ?? 0,
  });
  const [xa, xb] = [metric(ma), metric(mb)];
  const metrics = Object.keys(xa).map((name) => {
    const key = name as keyof typeof xa;
    return { name, a: xa[key], b: xb[key], change: xb[key] - xa[key] };
  });

  return withConnection(':memory:', async (conn) => {
    await conn.run(
      `CREATE TEMP TABLE pairs AS
       SELECT coalesce(a.subscriber_id, b.subscriber_id) AS subscriber_id,
              coalesce(a.segment_id || ' ' || a.segment_name, '(absent)') AS seg_a,
              coalesce(b.segment_id || ' ' || b.segment_name, '(absent)') AS seg_b,
              coalesce(a.risk_band, '(absent)') AS band_a, coalesce(b.risk_band, '(absent)') AS band_b,
              a.churn_score AS score_a, b.churn_score AS score_b
       FROM read_parquet($file_a) a FULL OUTER JOIN read_parquet($file_b) b USING (subscriber_id)`,
      {
        file_a: join(versionDir(store, a.month, a.version), 'subscribers.parquet'),
        file_b: join(versionDir(store, b.month, b.version), 'subscribers.parquet'),
      },
    );
    const migration = await queryRows<{ from: string; to: string; subscribers: number }>(
      conn,
      'SELECT seg_a AS "from", seg_b AS "to", count(*) AS subscribers FROM pairs GROUP BY ALL ORDER BY 1, 2',
    );
    const riskBandChanges = await queryRows<{ from: string; to: string; subscribers: number }>(
      conn,
      'SELECT band_a AS "from", band_b AS "to", count(*) AS subscribers FROM pairs WHERE band_a <> band_b GROUP BY ALL ORDER BY 3 DESC, 1, 2',
    );
    const riskBandExamples = await queryRows<SnapshotDiff['riskBandExamples'][number]>(
      conn,
      `SELECT subscriber_id, band_a AS "from", band_b AS "to", score_a, score_b FROM pairs
       WHERE band_a <> band_b AND band_a <> '(absent)' AND band_b <> '(absent)' ORDER BY subscriber_id LIMIT 20`,
    );
    return {
      a,
      b,
      params,
      metrics,
      migration,
      riskBandChanges,
      riskBandChangedTotal: riskBandChanges.reduce((sum, row) => sum + row.subscribers, 0),
      riskBandExamples,
    };
  });
}

export interface ReproduceReport {
  ref: SnapshotRef;
  /** Inputs whose content no longer matches the manifest: the run cannot be reproduced. */
  changedInputs: string[];
  codeNow: string;
  codeThen: string;
  files: { file: string; expected: string; actual: string | null; identical: boolean }[];
  identical: boolean;
}

/**
 * Recomputes a snapshot from its manifest (same inputs, same parameters) in a scratch store,
 * outside Temporal, and compares every output file's hash with the published one.
 */
export async function reproduceSnapshot(store: StoreConfig, ref: SnapshotRef): Promise<ReproduceReport> {
  const manifest = await readManifest(store, ref.month, ref.version);
  const changedInputs: string[] = [];
  for (const input of manifest.inputs) {
    const now = await hashFile(input.path).catch(() => undefined);
    if (now?.sha256 !== input.sha256) changedInputs.push(input.path);
  }
  const report = { ref, changedInputs, codeNow: codeVersion().commit, codeThen: manifest.code.commit };
  if (changedInputs.length > 0) return { ...report, files: [], identical: false };

  const scratch = await mkdtemp(join(tmpdir(), 'segflow-reproduce-'));
  try {
    const scratchStore: StoreConfig = { storeDir: join(scratch, 'store'), workDir: join(scratch, 'work') };
    const run = { workflowId: 'reproduce', runId: randomUUID() };
    const load = await loadUsage(scratchStore, run, manifest.params);
    const features = await computeFeatures(load.dbPath, load.params, {
      format: load.format,
      inputColumns: load.inputColumns,
    });
    const skipped = features.skippedFeatures.map((s) => s.feature);
    const pinned = manifest.metrics.previousSnapshot;
    const previous = pinned ? await findPreviousSegmentation(store, ref.month, pinned) : null;
    const cluster = await clusterSubscribers(load.dbPath, load.params, previous, skipped);
    const churn = await trainAndScoreChurn(load.dbPath, load.params, skipped);
    const published = await publishSnapshot(
      scratchStore,
      run,
      { requestedBy: 'reproduce', load, features, cluster, churn },
      store,
    );
    const again = await readManifest(scratchStore, published.month, published.version);
    const files = manifest.outputs.map((output) => {
      const actual = again.outputs.find((o) => o.file === output.file)?.sha256 ?? null;
      return { file: output.file, expected: output.sha256, actual, identical: actual === output.sha256 };
    });
    return { ...report, files, identical: files.every((f) => f.identical) };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
