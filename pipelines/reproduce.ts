import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainAndScoreChurn } from '../activities/churn';
import { clusterSubscribers } from '../activities/cluster';
import { codeVersion } from '../activities/code-version';
import { computeFeatures } from '../activities/features';
import { loadUsage } from '../activities/load';
import { publishSnapshot } from '../activities/publish';
import { findPreviousSegmentation } from '../activities/segment-history';
import { churnUserInput, featureInput } from '../activities/stage-inputs';
import { hashFile } from '../store/hashing';
import type { StoreConfig } from '../store/layout';
import { readManifest, type SnapshotRef } from '../store/snapshots';

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
 * outside Temporal, and compares every output file's hash with the published one. Always cold:
 * it never reads the stage cache, so a snapshot that reused stored load and feature output is
 * checked against a full recomputation.
 */
export async function reproduceSnapshot(store: StoreConfig, ref: SnapshotRef): Promise<ReproduceReport> {
  const manifest = await readManifest(store, ref.month, ref.version);
  const changedInputs: string[] = [];
  for (const input of manifest.inputs) {
    const now = await hashFile(input.path).catch(() => undefined);
    if (now?.sha256 !== input.sha256) changedInputs.push(input.path);
  }
  const campaigns = manifest.metrics.campaigns;
  if (campaigns?.measured) {
    const now = await hashFile(campaigns.contacts.file).catch(() => undefined);
    if (now?.sha256 !== campaigns.contacts.sha256) changedInputs.push(campaigns.contacts.file);
  }
  const report = { ref, changedInputs, codeNow: codeVersion().commit, codeThen: manifest.code.commit };
  if (changedInputs.length > 0) return { ...report, files: [], identical: false };

  const scratch = await mkdtemp(join(tmpdir(), 'segflow-reproduce-'));
  try {
    const scratchStore: StoreConfig = { storeDir: join(scratch, 'store'), workDir: join(scratch, 'work') };
    const run = { workflowId: 'reproduce', runId: randomUUID() };
    const load = await loadUsage(scratchStore, run, manifest.params);
    const features = await computeFeatures(load.dbPath, load.params, featureInput(load));
    const skipped = features.skippedFeatures.map((s) => s.feature);
    const pinned = manifest.metrics.previousSnapshot;
    const previous = pinned ? await findPreviousSegmentation(store, ref.month, pinned) : null;
    const cluster = await clusterSubscribers(load.dbPath, load.params, previous, skipped, load.userFeatures);
    const churn = await trainAndScoreChurn(load.dbPath, load.params, skipped, churnUserInput(load));
    // the report's header names the original snapshot: version, publish time and requester
    const { version, publishedAt } = manifest.snapshot;
    const original = { version, publishedAt, requestedBy: manifest.requestedBy };
    const published = await publishSnapshot(
      scratchStore,
      run,
      { requestedBy: 'reproduce', load, features, cluster, churn },
      store,
      { reportAs: original },
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
