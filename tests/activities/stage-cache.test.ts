import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { chmod, cp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { PLAN_STAGE } from '../../activities/plan-cache';
import { basename, dirname, join } from 'node:path';
import { sha256 } from '../../store/hashing';
import { MockActivityEnvironment } from '@temporalio/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CheckpointDetails } from '../../activities/context';
import { trainAndScoreChurn } from '../../activities/churn';
import { clusterSubscribers } from '../../activities/cluster';
import {
  combineFeatures,
  computeFeatures,
  computePartitionFeatures,
  type FeatureSummary,
} from '../../activities/features';
import { combineLoad, loadPartition, planLoad, type LoadSummary } from '../../activities/load';
import { publishSnapshot, type PublishResult } from '../../activities/publish';
import { reproduceSnapshot } from '../../pipelines/reproduce';
import { reuseStages, stageKey, storeStages, LOAD_FEATURES_STAGE } from '../../activities/stage-cache';
import { STAGE_CODE_FILES } from '../../activities/stage-code';
import { SCORING_CODE_FILES } from '../../activities/ensemble-cache';
import { sqlFilesUnder } from '../../activities/code-identity';
import { cacheDir, featuresFile, runDir, type StoreConfig } from '../../store/layout';
import { queryRows, withConnection } from '../../activities/duckdb';
import type { SnapshotManifest } from '../../store/manifest';
import { listSnapshots, readManifest } from '../../store/snapshots';
import { snapshotSummary, snapshotsTable } from '../../cli/snapshot-text';
import { listCache, pruneCache } from '../../store/stage-cache';
import {
  ENSEMBLE_STAGE,
  findEnsemble,
  holdsEnsembleFor,
  SCORES_STAGE,
  scoredOutputKey,
  TREE_STAGE,
  treeKey,
  type ScoringRows,
  type TreeTask,
} from '../../activities/ensemble-cache';
import type { FeatureMeta } from '../../activities/ml/feature-matrix';
import type { TrainedEnsemble } from '../../activities/ml/ensemble';
import { REPO_ROOT } from '../../worker/config';
import { parseDuration, parseSize } from '../../cli/commands/cache';
import { reusedNote } from '../../cli/commands/snapshots';
import { smallSample, storeIn, tempDir, writeParquet } from '../helpers';
import { keyPair } from '../audit-store';
import { lookUpArtifact } from '../../activities/artifact-store';
import { reachableModules } from '../import-graph';
import type { SampleSummary } from '../../data/generate';
import { FEATURE_MONTH_STAGE, featureMonthKey } from '../../activities/window-cache';
import { loadReusingMonths, USAGE_MONTH_STAGE } from '../../activities/usage-months';
import { findPreviousSegmentation } from '../../activities/segment-history';
import { CLUSTER_CODE_FILES, CLUSTER_PARAMS, SEGMENTS_STAGE, segmentsKey } from '../../activities/segments-cache';
import { parseRunParams, type RunParams } from '../../domain/params';
import { nextReasonsKey, REASONS_STAGE } from '../../activities/dispatch-reasons';

interface Published {
  manifest: SnapshotManifest;
  /** The snapshot's folder. */
  path: string;
  reused: boolean;
  reason: string;
  features: FeatureSummary;
  /** What publishing reports of the dispatch list's reasons and the stage cache. */
  reasonsReuse: PublishResult['reasonsReuse'];
}

/** The workflow's sequence (workflows/monthly-segmentation.ts) with real DuckDB, outside Temporal. */
async function runPipeline(
  store: StoreConfig,
  runId: string,
  params: Record<string, unknown>,
  /**
   * `ensembleCache`: the churn stage may also reuse and store its trained ensemble, and
   * `featureMonths`: the features stage its months' rows, `usageMonths`: the load its checked
   * months, as the worker's do; `stageReuse`
   * false looks the load and features up as a cold run does (default: as `reuse`).
   */
  options: {
    partitions: number;
    reuse: boolean;
    ensembleCache?: boolean;
    featureMonths?: boolean;
    usageMonths?: boolean;
    stageReuse?: boolean;
    /** The clustering may reuse and store its segments, as the worker's does. */
    segmentsCache?: boolean;
    /** Segment ids matched to last month's latest snapshot, as the workflow does (default: none). */
    previousMonth?: boolean;
    /** Usage rows per aggregation pass of the features (several passes when small). */
    rowsPerBucket?: number;
  },
): Promise<Published> {
  const run = { workflowId: 'cache-test', runId };
  const plan = await planLoad(store, run, params, options.partitions);
  const cache = await reuseStages(store, plan, options.reuse && options.stageReuse !== false);
  let load: LoadSummary;
  let features: FeatureSummary;
  if (cache.reused) ({ load, features } = cache.reused);
  else {
    const parts = [];
    for (const index of plan.partitionDbPaths.keys())
      parts.push(
        options.usageMonths
          ? await loadReusingMonths({ store, run, allowed: options.reuse }, plan, index)
          : await loadPartition(plan, index),
      );
    load = await combineLoad(plan, parts);
    const input = { format: load.format, inputColumns: load.inputColumns };
    const months = options.featureMonths ? { store, run, allowed: options.reuse, load } : undefined;
    const sizing = { rowsPerBucket: options.rowsPerBucket };
    if (options.partitions === 1) features = await computeFeatures(load.dbPath, load.params, input, sizing, months);
    else {
      const partFeatures = [];
      for (const path of load.partitionDbPaths)
        partFeatures.push(await computePartitionFeatures(path, load.params, input, months));
      features = await combineFeatures(load.dbPath, load.partitionDbPaths, load.params, input, partFeatures, months);
    }
    await storeStages(store, run, cache.key, load, features);
  }
  const skipped = features.skippedFeatures.map((s) => s.feature);
  const previous = options.previousMonth ? await findPreviousSegmentation(store, load.params.month) : null;
  const cluster = await clusterSubscribers(
    load.dbPath,
    load.params,
    previous,
    skipped,
    [],
    options.segmentsCache ? { store, run, allowed: options.reuse, featuresKey: cache.key } : undefined,
  );
  const churn = await trainAndScoreChurn(
    load.dbPath,
    load.params,
    skipped,
    undefined,
    // as the workflow passes them: the load-features key stands for the features table
    options.ensembleCache ? { store, run, allowed: options.reuse, featuresKey: cache.key } : undefined,
  );
  const lineage = { stageKey: cache.key, reused: cache.reused ? [cache.reused.artifact] : [] };
  const published = await publishSnapshot(store, run, {
    requestedBy: 'test',
    load,
    features,
    cluster,
    churn,
    lineage,
  });
  return {
    manifest: await readManifest(store, published.month, published.version),
    path: published.path,
    reused: cache.reused !== null,
    reason: cache.reason,
    features,
    reasonsReuse: published.reasonsReuse,
  };
}

/** A new store over a 3,000-subscriber sample, and its first (cold) run of 2026-06 with k 4, as each suite starts. */
async function coldRunInNewStore(
  options: Parameters<typeof runPipeline>[3],
): Promise<{ store: StoreConfig; params: Record<string, unknown>; cold: Published }> {
  const dir = await tempDir();
  const sample = await smallSample(dir, 3_000, 8);
  const store = storeIn(dir);
  const params = { month: '2026-06', input: join(sample.outDir, 'usage'), k: 4 };
  return { store, params, cold: await runPipeline(store, 'cold', params, options) };
}

/**
 * Every output file's hash, report.html's without its header: the header names the snapshot's own
 * version and publish time (a reproduction takes the original's and matches byte for byte).
 */
/** The stages a run took stored work for, in order, each once (the list's reasons can be several links). */
const reusedStages = (published: Published) => [
  ...new Set(published.manifest.lineage?.reused.map((artifact) => artifact.stage)),
];

const outputs = (published: Published) =>
  Object.fromEntries(
    published.manifest.outputs.map((output) => [
      output.file,
      output.file === 'report.html' ? reportBody(published) : output.sha256,
    ]),
  );

function reportBody(published: Published): string {
  const { month, version } = published.manifest.snapshot;
  const html = readFileSync(join(published.path, 'report.html'), 'utf8');
  expect(html).toContain(`version ${version}`);
  return sha256(html.replace(/<header>[\s\S]*?<\/header>/, '<header/>') + month);
}

describe('stage reuse', () => {
  let store: StoreConfig;
  let params: Record<string, unknown>;
  let cold: Published;

  beforeAll(async () => {
    ({ store, params, cold } = await coldRunInNewStore({ partitions: 1, reuse: true }));
  });

  it('stores a cold run output and names its key in the manifest', async () => {
    expect(cold.reused).toBe(false);
    expect(cold.reason).toBe('no stored output for this key');
    expect(cold.manifest.lineage?.reused).toEqual([]);
    const [artifact] = await listCache(store);
    expect(artifact).toMatchObject({
      stage: LOAD_FEATURES_STAGE,
      key: cold.manifest.lineage?.stageKey,
      month: '2026-06',
    });
    expect(artifact.usedBy).toEqual(['2026-06/v1']);
  });

  it('publishes byte-identical files when reusing, with 1 and 2 partitions, and cold with 2', async () => {
    const reused = await runPipeline(store, 'reuse-1', params, { partitions: 1, reuse: true });
    expect(reused.reused).toBe(true);
    expect(outputs(reused)).toEqual(outputs(cold));
    const [artifact] = reused.manifest.lineage?.reused ?? [];
    expect(artifact).toMatchObject({
      stage: LOAD_FEATURES_STAGE,
      key: cold.manifest.lineage?.stageKey,
      producedBy: { workflowId: 'cache-test', runId: 'cold' },
    });
    expect(artifact.files.map((f) => f.file)).toEqual(['run.duckdb', 'features.parquet']);
    // a reproduction recomputes cold, from the manifest alone, and gives the reused run's bytes
    const reproduced = await reproduceSnapshot(store, { month: '2026-06', version: reused.manifest.snapshot.version });
    expect(reproduced.files.length).toBeGreaterThan(0);
    expect(reproduced.identical).toBe(true);

    const reusedSplit = await runPipeline(store, 'reuse-2', params, { partitions: 2, reuse: true });
    expect(reusedSplit.reused).toBe(true);
    expect(outputs(reusedSplit)).toEqual(outputs(cold));
    const coldSplit = await runPipeline(store, 'cold-2', params, { partitions: 2, reuse: false });
    expect(coldSplit.reused).toBe(false);
    expect(coldSplit.reason).toMatch(/--no-reuse/);
    expect(coldSplit.manifest.lineage?.reused).toEqual([]);
    expect(outputs(coldSplit)).toEqual(outputs(cold));
  });

  it('reuses for model-only parameters (k, treeDepth) with the same bytes as a cold run of them', async () => {
    const analyst = { ...params, k: 5, treeDepth: 4, treeMinLeaf: 30, seed: 3 };
    const reused = await runPipeline(store, 'analyst', analyst, { partitions: 1, reuse: true });
    expect(reused.reused).toBe(true);
    const coldAnalyst = await runPipeline(store, 'analyst-cold', analyst, { partitions: 1, reuse: false });
    expect(outputs(reused)).toEqual(outputs(coldAnalyst));
    expect(outputs(reused)['subscribers.parquet']).not.toBe(outputs(cold)['subscribers.parquet']);
  });

  it('reuses for value-label parameters (high-value threshold, key-customer share) with the same bytes as a cold run of them', async () => {
    const labels = { ...params, highValueThreshold: 50, keyCustomerRevenueShare: 0.5 };
    const reused = await runPipeline(store, 'labels', labels, { partitions: 1, reuse: true });
    expect(reused.reused).toBe(true);
    const coldLabels = await runPipeline(store, 'labels-cold', labels, { partitions: 1, reuse: false });
    expect(outputs(reused)).toEqual(outputs(coldLabels));
    expect(outputs(reused)['subscribers.parquet']).not.toBe(outputs(cold)['subscribers.parquet']);
  });

  it('changes the key with every parameter the load and feature SQL read, and with the inputs', async () => {
    const keyOf = async (changes: Record<string, unknown>) =>
      stageKey(await planLoad(store, { workflowId: 'key', runId: 'k' }, { ...params, ...changes }));
    const base = await keyOf({});
    expect(base).toBe(cold.manifest.lineage?.stageKey);
    expect(await keyOf({ k: 7, treeDepth: 3, kMin: 2, holdoutShare: 0.3, maxQuarantineShare: 0.2 })).toBe(base);
    // value labels, set when publishing
    expect(await keyOf({ highValueThreshold: 2500, keyCustomerRevenueShare: 0.4 })).toBe(base);
    for (const changes of [{ historyMonths: 7 }, { month: '2026-05' }])
      expect(await keyOf(changes), JSON.stringify(changes)).not.toBe(base);
  });

  it('does not use an artifact whose files no longer match their hashes', async () => {
    const dir = cacheDir(store, LOAD_FEATURES_STAGE, cold.manifest.lineage?.stageKey ?? '');
    const file = join(dir, 'run.duckdb');
    const original = await readFile(file);
    await chmod(dir, 0o755);
    await chmod(file, 0o644);
    await writeFile(file, Buffer.concat([original, Buffer.from('x')]));
    const plan = await planLoad(store, { workflowId: 'damaged', runId: 'd' }, params);
    const result = await reuseStages(store, plan, true);
    expect(result.reused).toBeNull();
    expect(result.reason).toMatch(/run\.duckdb does not match its hash/);
    await writeFile(file, original);
    await chmod(file, 0o444);
    await chmod(dir, 0o555);
  });

  it('stops a load whose input file was rewritten after the plan hashed it, storing nothing from it; a touched file passes', async () => {
    const dir = await tempDir();
    const input = join(dir, 'usage');
    await cp(String(params.input), input, { recursive: true });
    const june = join(input, 'usage_month=2026-06', 'part_0.parquet');
    const original = await readFile(june);
    const rewritten = join(dir, 'june-v2.parquet');
    await writeParquet(
      { outDir: dirname(String(params.input)) } as SampleSummary,
      rewritten,
      'SELECT * REPLACE (spend * 2 AS spend) FROM {june}',
    );
    // a store of its own: the suite's prune tests count the shared store's artifacts
    const racing = storeIn(dir);
    const cache = (runId: string) => ({ store: racing, run: { workflowId: 'racing', runId }, allowed: true });
    // a plan hashes June's file (its sha256 goes into every key), then a corrected extract is
    // written over it, as many rows and other amounts, before a partition reads it
    const plan = await planLoad(racing, cache('rewritten').run, { ...params, input }, 2);
    await writeFile(june, await readFile(rewritten));
    await expect(loadReusingMonths(cache('rewritten'), plan, 0)).rejects.toThrow(
      /usage_month=2026-06\/part_0\.parquet changed while the run read it/,
    );
    // nothing of its rows: only the plan's reading of the input (plan-cache.ts), stored by the plan
    expect((await listCache(racing)).filter((a) => a.stage !== PLAN_STAGE)).toEqual([]);
    // the same bytes written again (a new modification time) are the file the plan hashed
    await writeFile(june, original);
    const touched = await planLoad(racing, cache('touched').run, { ...params, input }, 1);
    await writeFile(june, original);
    await utimes(june, new Date(), new Date(Date.now() + 60_000));
    const part = await loadReusingMonths(cache('touched'), touched, 0);
    expect(part.rowsLoaded).toBeGreaterThan(0);
  });

  it('prunes by age and size, never an artifact a published snapshot points at', async () => {
    // an artifact no snapshot names: stored by a run that did not publish
    const plan = await planLoad(store, { workflowId: 'unpublished', runId: 'u' }, { ...params, historyMonths: 7 });
    const parts = [await loadPartition(plan, 0)];
    const load = await combineLoad(plan, parts);
    const features = await computeFeatures(load.dbPath, load.params, load);
    const stored = await storeStages(store, { workflowId: 'unpublished', runId: 'u' }, stageKey(plan), load, features);
    expect(stored.stored).toBe(true);
    const old = new Date('2020-01-01T00:00:00Z');
    // the plans' readings of the input (plan-cache.ts) no snapshot names: pruned as any such artifact
    for (const artifact of await listCache(store))
      if (artifact.stage === PLAN_STAGE) await rm(artifact.path, { recursive: true, force: true });
    for (const artifact of await listCache(store)) await utimes(artifact.path, old, old);

    const listed = await listCache(store);
    expect(listed).toHaveLength(2);
    const orphan = listed.find((a) => a.usedBy.length === 0);
    expect(orphan?.key).toBe(stageKey(plan));

    const dry = await pruneCache(store, { olderThanMs: 24 * 3600_000, dryRun: true });
    expect(dry.removed.map((a) => a.key)).toEqual([orphan?.key]);
    expect(dry.protectedArtifacts.map((a) => a.key)).toEqual([cold.manifest.lineage?.stageKey]);
    expect(await listCache(store)).toHaveLength(2);

    const bySize = await pruneCache(store, { maxBytes: 0 });
    expect(bySize.removed.map((a) => a.key)).toEqual([orphan?.key]);
    expect(bySize.bytesFreed).toBe(orphan?.bytes);
    expect((await listCache(store)).map((a) => a.key)).toEqual([cold.manifest.lineage?.stageKey]);
    expect((await pruneCache(store, { olderThanMs: 0 })).removed).toEqual([]);
  });

  it('lists and prunes through the command line', async () => {
    const env = { ...process.env, SEGFLOW_STORE: store.storeDir, SEGFLOW_WORK: store.workDir };
    const segflow = async (...args: string[]) =>
      JSON.parse((await promisify(execFile)(join(REPO_ROOT, 'bin', 'segflow'), args, { env })).stdout) as unknown;
    expect(await segflow('cache', 'list', '--json')).toMatchObject([
      { key: cold.manifest.lineage?.stageKey, usedBy: [1, 2, 3, 4, 5, 6, 7, 8].map((v) => `2026-06/v${v}`) },
    ]);
    expect(await segflow('cache', 'prune', '--older-than', '1d', '--max-size', '0', '--json')).toMatchObject({
      removed: [],
      protectedArtifacts: [{ key: cold.manifest.lineage?.stageKey }],
    });
    // a size limit the pinned outputs alone exceed: said, with what to do
    const { stdout } = await promisify(execFile)(
      join(REPO_ROOT, 'bin', 'segflow'),
      ['cache', 'prune', '--max-size', '0', '--dry-run'],
      { env },
    );
    // wrapped to 100 columns
    expect(stdout.replace(/\n {2}/g, ' ')).toMatch(
      /still [\d.]+ MiB, over --max-size 0\.0 MiB: [\d.]+ MiB of it is what published snapshots point at/,
    );
    expect(parseDuration('30d')).toBe(30 * 86_400_000);
    expect(parseDuration('12h')).toBe(12 * 3_600_000);
    expect(parseSize('5GB')).toBe(5 * 2 ** 30);
    expect(parseSize('800mb')).toBe(800 * 2 ** 20);
    expect(parseSize('5GiB')).toBe(5 * 2 ** 30);
    expect(parseSize('0')).toBe(0);
    expect(() => parseSize('5G')).toThrow('must look like');
    expect(() => parseSize('10XB')).toThrow('must look like');
    expect(() => parseDuration('30')).toThrow(/30d/);
    expect(() => parseSize('lots')).toThrow(/5GB/);
  });

  it('marks what older code stored, and prunes it with --older-code, never what a snapshot points at', async () => {
    const env = { ...process.env, SEGFLOW_STORE: store.storeDir, SEGFLOW_WORK: store.workDir };
    const segflow = (...args: string[]) => promisify(execFile)(join(REPO_ROOT, 'bin', 'segflow'), args, { env });
    const pinnedKey = cold.manifest.lineage?.stageKey ?? '';
    const pinned = cacheDir(store, LOAD_FEATURES_STAGE, pinnedKey);
    const current = JSON.parse(await readFile(join(pinned, 'artifact.json'), 'utf8')).code as string;
    const older = 'f'.repeat(64);
    /** The artifact in `dir` stamped with `code`, last used at `usedAt`. */
    const stamp = async (dir: string, code: string | undefined, usedAt: string) => {
      await chmod(dir, 0o755);
      await chmod(join(dir, 'artifact.json'), 0o644);
      const artifact = JSON.parse(await readFile(join(dir, 'artifact.json'), 'utf8'));
      await writeFile(join(dir, 'artifact.json'), JSON.stringify({ ...artifact, key: basename(dir), code }));
      await chmod(join(dir, 'artifact.json'), 0o444);
      await chmod(dir, 0o555);
      await utimes(dir, new Date(usedAt), new Date(usedAt));
    };
    // copies of the pinned artifact under other keys
    const copyAs = async (key: string, code: string | undefined, usedAt: string) => {
      const dir = cacheDir(store, LOAD_FEATURES_STAGE, key);
      await cp(pinned, dir, { recursive: true });
      await stamp(dir, code, usedAt);
    };
    const recorded = await readFile(join(pinned, 'artifact.json'), 'utf8');
    // the pinned one stored by older code too: a published snapshot points at it, so it stays
    await stamp(pinned, older, '2020-06-01T00:00:00Z');
    await copyAs('a'.repeat(64), older, '2020-01-01T00:00:00Z'); // superseded: removed
    await copyAs('b'.repeat(64), undefined, '2020-01-01T00:00:00Z'); // before codes were recorded
    await copyAs('c'.repeat(64), current, '2025-01-01T00:00:00Z'); // this segflow's, used last in 2025
    await copyAs('d'.repeat(64), older, '2025-06-01T00:00:00Z'); // other code used since: a worker of another version
    const listed = JSON.parse((await segflow('cache', 'list', '--json')).stdout) as { key: string; codeIs: string }[];
    expect(Object.fromEntries(listed.map((a) => [a.key, a.codeIs]))).toEqual({
      [pinnedKey]: 'older',
      ['a'.repeat(64)]: 'older',
      ['b'.repeat(64)]: 'unknown',
      ['c'.repeat(64)]: 'current',
      ['d'.repeat(64)]: 'other',
    });
    // its notes wrap at 100 columns, continuing indented by two
    const text = (await segflow('cache', 'list')).stdout.replaceAll('\n  ', ' ');
    expect(text).toMatch(
      /^2 \([\d.]+ MiB\) stored by older code, which no run has used since this segflow's code ran: 'segflow cache prune --older-code'/m,
    );
    expect(text).toMatch(/^1 \([\d.]+ MiB\) stored by other code used as recently as this segflow's/m);
    expect(text).toMatch(/^1 \([\d.]+ MiB\) stored before segflow recorded the code/m);
    const pruned = JSON.parse((await segflow('cache', 'prune', '--older-code', '--json')).stdout) as {
      removed: { key: string }[];
      protectedArtifacts: { key: string }[];
    };
    expect(pruned.removed.map((a) => a.key)).toEqual(['a'.repeat(64)]);
    expect(pruned.protectedArtifacts.map((a) => a.key)).toEqual([pinnedKey]);
    expect((await listCache(store)).map((a) => a.key).sort()).toEqual(
      ['b'.repeat(64), 'c'.repeat(64), 'd'.repeat(64), pinnedKey].sort(),
    );
    await segflow('cache', 'prune', '--older-than', '0m');
    expect((await listCache(store)).map((a) => a.key)).toEqual([pinnedKey]);
    await chmod(pinned, 0o755);
    await chmod(join(pinned, 'artifact.json'), 0o644);
    await writeFile(join(pinned, 'artifact.json'), recorded);
    await chmod(join(pinned, 'artifact.json'), 0o444);
    await chmod(pinned, 0o555);
  });
});

/** What a rerun that keeps the features, the readable tree's and the ensemble's inputs takes from the store, in lineage order. */
const TREE_AND_ENSEMBLE_REUSED = [LOAD_FEATURES_STAGE, TREE_STAGE, ENSEMBLE_STAGE, SCORES_STAGE, REASONS_STAGE];

describe('churn ensemble reuse', () => {
  let store: StoreConfig;
  let params: Record<string, unknown>;
  let cold: Published;
  const withCache = (reuse: boolean) => ({ partitions: 1, reuse, ensembleCache: true });

  beforeAll(async () => {
    ({ store, params, cold } = await coldRunInNewStore(withCache(true)));
  });

  it('stores the trained ensemble and its scores under their keys, named in the manifest and protected by it', async () => {
    const [ensembleKey, scoredKey] = cold.manifest.lineage?.churnKeys ?? [];
    expect(ensembleKey).toMatch(/^[0-9a-f]{64}$/);
    expect(scoredKey).toMatch(/^[0-9a-f]{64}$/);
    expect(cold.manifest.lineage?.reused).toEqual([]);
    const listed = await listCache(store);
    expect(listed.find((a) => a.stage === ENSEMBLE_STAGE)).toMatchObject({
      key: ensembleKey,
      month: '2026-06',
      usedBy: ['2026-06/v1'],
    });
    expect(listed.find((a) => a.stage === SCORES_STAGE)).toMatchObject({ key: scoredKey, usedBy: ['2026-06/v1'] });
    expect(cold.manifest.timings.ensembleTrainSeconds).toBeGreaterThan(0);
    // what the churn stage asks before it starts a thread early (none for a month with a stored ensemble)
    expect(await holdsEnsembleFor(store, '2026-06')).toBe(true);
    expect(await holdsEnsembleFor(store, '2026-07')).toBe(false);
  });

  it('reuses both for a rerun that changes k and the tree depth, with the bytes of a run that computes them', async () => {
    const analyst = { ...params, k: 5, treeDepth: 4 };
    const reused = await runPipeline(store, 'analyst', analyst, withCache(true));
    expect(reused.manifest.lineage?.reused.map((a) => a.stage)).toEqual([
      LOAD_FEATURES_STAGE,
      ENSEMBLE_STAGE,
      SCORES_STAGE,
      REASONS_STAGE,
    ]);
    expect(reused.manifest.lineage?.reused[1]).toMatchObject({
      key: cold.manifest.lineage?.churnKeys?.[0],
      producedBy: { workflowId: 'cache-test', runId: 'cold' },
      files: [{ file: 'ensemble.json' }],
    });
    expect(reused.manifest.timings).toMatchObject({ ensembleTrainSeconds: 0, ensembleScoreSeconds: 0 });
    const computed = await runPipeline(store, 'analyst-cold', analyst, withCache(false));
    expect(computed.manifest.lineage?.reused).toEqual([]);
    expect(computed.manifest.timings.ensembleTrainSeconds).toBeGreaterThan(0);
    expect(outputs(reused)).toEqual(outputs(computed));
    // every metric, to the last digit: the segment profiles' averages too (cluster.ts sums them on one thread)
    expect(reused.manifest.metrics).toEqual(computed.manifest.metrics);
    expect(outputs(reused)['churn_model_xgboost.json']).toBe(outputs(cold)['churn_model_xgboost.json']);
    // a reproduction computes everything again, from the manifest alone, and gives the reused run's bytes
    const reproduced = await reproduceSnapshot(store, { month: '2026-06', version: reused.manifest.snapshot.version });
    expect(reproduced.identical).toBe(true);
  });

  it("reports the readable tree's training as its own step after checking the stored ensemble", async () => {
    const run = { workflowId: 'cache-test', runId: 'progress' };
    const plan = await planLoad(store, run, { ...params, treeDepth: 3 }, 1);
    const cache = await reuseStages(store, plan, true);
    if (!cache.reused) throw new Error(`the stored load and features were not reused: ${cache.reason}`);
    const { load, features } = cache.reused;
    const environment = new MockActivityEnvironment();
    const steps: string[] = [];
    environment.on('heartbeat', ({ stage }: CheckpointDetails) => {
      if (steps.at(-1) !== stage) steps.push(stage);
    });
    await environment.run(() =>
      trainAndScoreChurn(
        load.dbPath,
        load.params,
        features.skippedFeatures.map((s) => s.feature),
        undefined,
        { store, run, allowed: true, featuresKey: cache.key },
      ),
    );
    const checked = steps.indexOf('reuse: checking stored output');
    expect(checked).toBeGreaterThanOrEqual(0);
    expect(steps.indexOf('churn: training')).toBe(checked + 1);
  });

  it('reuses the readable tree too for a rerun that changes only k and the value labels, with the bytes of a run that trains it', async () => {
    const analyst = { ...params, k: 5, highValueThreshold: 120 };
    const reused = await runPipeline(store, 'k-only', analyst, withCache(true));
    expect(reusedStages(reused)).toEqual(TREE_AND_ENSEMBLE_REUSED);
    expect(reused.manifest.lineage?.treeKey).toBe(cold.manifest.lineage?.treeKey);
    expect(reused.manifest.lineage?.reused[1]).toMatchObject({
      producedBy: { workflowId: 'cache-test', runId: 'cold' },
      files: [{ file: 'tree.json' }],
    });
    expect(reused.manifest.timings.treeTrainSeconds).toBe(0);
    const computed = await runPipeline(store, 'k-only-cold', analyst, withCache(false));
    expect(computed.manifest.lineage?.reused).toEqual([]);
    expect(computed.manifest.timings.treeTrainSeconds).toBeGreaterThan(0);
    expect(outputs(reused)).toEqual(outputs(computed));
    expect(reused.manifest.metrics).toEqual(computed.manifest.metrics);
    const reproduced = await reproduceSnapshot(store, { month: '2026-06', version: reused.manifest.snapshot.version });
    expect(reproduced.identical).toBe(true);
  });

  it("takes the dispatch list's exact reasons stored for the same scores, explaining only subscribers new on the list, with the bytes of a run that explains all", async () => {
    /** A run, and how many subscribers its publishing explained itself (its progress: none when all were stored). */
    const publishedExplaining = async (runId: string, runParams: Record<string, unknown>, reuse: boolean) => {
      const environment = new MockActivityEnvironment();
      let explained = 0;
      environment.on('heartbeat', ({ stage, rowsTotal }: CheckpointDetails) => {
        if (stage === 'publish: dispatch list reasons' && rowsTotal !== undefined) explained = rowsTotal;
      });
      const published = (await environment.run(() =>
        runPipeline(store, runId, runParams, withCache(reuse)),
      )) as Published;
      return { published, explained };
    };
    const listed = (published: Published) =>
      withConnection(':memory:', async (conn) => {
        const file = join(published.path, 'dispatch.parquet');
        const rows = await queryRows<{ id: string }>(conn, `SELECT subscriber_id AS id FROM '${file}'`);
        return new Set(rows.map((row) => row.id));
      });
    expect(cold.manifest.lineage?.reasonsKey).toMatch(/^[0-9a-f]{64}$/);
    expect(cold.reasonsReuse?.stored[0]).toMatchObject({ stored: true });
    const before = await listed(cold);

    // another k: the same list, every reason taken
    const kOnly = await publishedExplaining('reasons-k', { ...params, k: 5 }, true);
    expect(kOnly.published.manifest.lineage?.reused.at(-1)).toMatchObject({
      stage: REASONS_STAGE,
      key: cold.manifest.lineage?.reasonsKey,
      producedBy: { workflowId: 'cache-test', runId: 'cold' },
    });
    expect(kOnly.explained).toBe(0);
    expect(kOnly.published.reasonsReuse).toEqual({
      computed: 0,
      reason: 'the scores and this code unchanged',
      stored: [],
    });
    expect(await listed(kOnly.published)).toEqual(before);

    // a key-customer share of 90% of revenue puts the unstable between 60% and 90% on the list (priority 1)
    const wider = { ...params, k: 5, keyCustomerRevenueShare: 0.9 };
    const reused = await publishedExplaining('reasons-wider', wider, true);
    const computed = await publishedExplaining('reasons-wider-cold', wider, false);
    const after = await listed(reused.published);
    const newOnList = [...after].filter((id) => !before.has(id)).length;
    expect(newOnList).toBeGreaterThan(0);
    expect(reused.published.manifest.metrics.churnReasonsExact).toBe(after.size);
    expect(reused.explained).toBe(newOnList);
    expect(reused.published.reasonsReuse?.computed).toBe(newOnList);
    expect(reused.published.manifest.lineage?.reused.map((a) => a.stage)).toContain(REASONS_STAGE);
    expect(computed.published.manifest.lineage?.reused).toEqual([]);
    expect(computed.explained).toBe(after.size);
    expect(outputs(reused.published)).toEqual(outputs(computed.published));
    expect(reused.published.manifest.metrics).toEqual(computed.published.manifest.metrics);
    // those new on the list are stored as the chain's next link
    const firstKey = cold.manifest.lineage?.reasonsKey ?? '';
    expect(reused.published.manifest.lineage?.reasonsKey).toBe(nextReasonsKey(firstKey));
    expect(reused.published.reasonsReuse).toMatchObject({
      computed: newOnList,
      reason: `the scores and this code unchanged; ${newOnList} subscribers new on the list explained here and stored`,
      stored: [{ stored: true }],
    });

    // the same list again: every reason taken, from both links
    const again = await publishedExplaining('reasons-wider-again', wider, true);
    expect(again.explained).toBe(0);
    expect(again.published.reasonsReuse).toEqual({
      computed: 0,
      reason: 'the scores and this code unchanged',
      stored: [],
    });
    const reasonsTaken = again.published.manifest.lineage?.reused.filter((a) => a.stage === REASONS_STAGE);
    expect(reasonsTaken?.map((a) => [a.key, a.producedBy.runId])).toEqual([
      [firstKey, 'cold'],
      [nextReasonsKey(firstKey), 'reasons-wider'],
    ]);
    expect(outputs(again.published)).toEqual(outputs(computed.published));
    // back to the first list: nothing new on it, nothing stored
    const back = await publishedExplaining('reasons-k-again', { ...params, k: 5 }, true);
    expect(back.explained).toBe(0);
    expect(outputs(back.published)).toEqual(outputs(kOnly.published));

    // the first link pruned: stored again whole beside the later link, which overlaps it now;
    // each subscriber's reasons are taken once, as a run that explains all publishes them
    const first = cacheDir(store, REASONS_STAGE, firstKey);
    await chmod(first, 0o755);
    await rm(first, { recursive: true, force: true });
    const relinked = await publishedExplaining('reasons-relinked', wider, true);
    expect(relinked.explained).toBe(after.size);
    const overlapping = await publishedExplaining('reasons-overlapping', wider, true);
    expect(overlapping.explained).toBe(0);
    expect(overlapping.published.manifest.lineage?.reused.filter((a) => a.stage === REASONS_STAGE)).toHaveLength(2);
    expect(outputs(overlapping.published)).toEqual(outputs(computed.published));
  });

  it('takes a stored tree and scores whose holdout held no churner (no ROC AUC) with the bytes of a run that computes them', async () => {
    // a holdout of ~1 subscriber: no churner in it, so its ROC AUC and PR AUC are undefined (NaN)
    const tiny = { ...params, holdoutShare: 0.001 };
    const first = await runPipeline(store, 'tiny-holdout', tiny, withCache(true));
    expect(first.manifest.metrics.churnHoldout.rocAuc).toBeNull(); // JSON's word for NaN
    const rerun = { ...tiny, k: 5 };
    const reused = await runPipeline(store, 'tiny-holdout-k5', rerun, withCache(true));
    expect(reusedStages(reused)).toEqual(TREE_AND_ENSEMBLE_REUSED);
    const computed = await runPipeline(store, 'tiny-holdout-k5-cold', rerun, withCache(false));
    expect(outputs(reused)).toEqual(outputs(computed));
    // the report says the measure is undefined, in words a reader knows, not "NaN"
    const report = readFileSync(join(reused.path, 'report.html'), 'utf8');
    expect(report).not.toMatch(/NaN|undefined|null/);
    expect(report).toContain('AUC –');
    // so do `snapshots show` and `snapshots list`, from the manifest, where JSON made it null
    const manifest = await readManifest(store, '2026-06', reused.manifest.snapshot.version);
    expect(snapshotSummary(manifest, {}, false, join(reused.path, 'manifest.json'))).toContain('holdout ROC AUC –');
    const [listed] = (await listSnapshots(store)).filter((s) => s.version === reused.manifest.snapshot.version);
    expect(snapshotsTable([listed])).toContain(' – ');
  });

  it('keys the readable tree by its rows, the split, its options and features', () => {
    const task: TreeTask = {
      columns: [Float64Array.from([1, 2, 3, 4])],
      labels: Uint8Array.from([0, 1, 0, 1]),
      trainRows: Uint32Array.from([0, 1, 2]),
      holdoutRows: Uint32Array.from([3]),
      options: { maxDepth: 3, minLeafSize: 1 },
      features: [{ name: 'arpu', source: 'derived', categorical: false }],
    };
    const key = treeKey(task);
    expect(treeKey({ ...task, columns: [Float64Array.from([1, 2, 3, 4])] })).toBe(key);
    expect(treeKey({ ...task, columns: [Float64Array.from([1, 2, 3, 5])] })).not.toBe(key);
    expect(treeKey({ ...task, labels: Uint8Array.from([1, 1, 0, 1]) })).not.toBe(key);
    expect(treeKey({ ...task, trainRows: Uint32Array.from([0, 1, 3]), holdoutRows: Uint32Array.from([2]) })).not.toBe(
      key,
    );
    expect(treeKey({ ...task, options: { maxDepth: 4, minLeafSize: 1 } })).not.toBe(key);
    expect(treeKey({ ...task, options: { maxDepth: 3, minLeafSize: 2 } })).not.toBe(key);
    expect(treeKey({ ...task, features: [{ name: 'arpu', source: 'user', categorical: false }] })).not.toBe(key);
  });

  it('trains again when a parameter the ensemble reads changes', async () => {
    const other = await runPipeline(store, 'leaf', { ...params, treeMinLeaf: 30 }, withCache(true));
    expect(other.manifest.lineage?.reused.map((a) => a.stage)).toEqual([LOAD_FEATURES_STAGE]);
    expect(other.manifest.lineage?.churnKeys?.[0]).not.toBe(cold.manifest.lineage?.churnKeys?.[0]);
  });

  it('keys the stored scores by what fixed the features table, the columns read, the ensemble and the category labels the reasons name', () => {
    const scoring: ScoringRows = {
      features: `stage:${'a'.repeat(64)}`,
      expressions: [
        ['plan', 'list_position(getvariable(\'levels_0\'), "user_0") - 1'],
        ['arpu', '"arpu"'],
      ],
      rows: 3,
    };
    const meta: FeatureMeta[] = [
      { name: 'plan', source: 'user', categorical: true, categories: ['basic', 'gold'] },
      { name: 'arpu', source: 'derived', categorical: false },
    ];
    const key = scoredOutputKey('e'.repeat(64), scoring, meta, 3);
    expect(scoredOutputKey('e'.repeat(64), { ...scoring }, meta, 3)).toBe(key);
    const renamed = [{ ...meta[0], categories: ['basic', 'gold plus'] }, meta[1]];
    expect(scoredOutputKey('e'.repeat(64), scoring, renamed, 3)).not.toBe(key);
    expect(scoredOutputKey('f'.repeat(64), scoring, meta, 3)).not.toBe(key);
    expect(scoredOutputKey('e'.repeat(64), scoring, meta, 2)).not.toBe(key);
    expect(scoredOutputKey('e'.repeat(64), { ...scoring, features: `stage:${'b'.repeat(64)}` }, meta, 3)).not.toBe(key);
    expect(scoredOutputKey('e'.repeat(64), { ...scoring, rows: 4 }, meta, 3)).not.toBe(key);
    const reordered = { ...scoring, expressions: [...scoring.expressions].reverse() };
    expect(scoredOutputKey('e'.repeat(64), reordered, meta, 3)).not.toBe(key);
  });

  /** Runs `change` on a stored file with write access, then puts the artifact's modes back. */
  async function damage(stage: string, key: string, file: string, change: (text: Buffer) => Buffer): Promise<Buffer> {
    const dir = cacheDir(store, stage, key);
    const original = await readFile(join(dir, file));
    await chmod(dir, 0o755);
    await chmod(join(dir, file), 0o644);
    await writeFile(join(dir, file), change(original));
    await chmod(join(dir, file), 0o444);
    await chmod(dir, 0o555);
    return original;
  }

  it('does not use stored scores or a stored ensemble whose files no longer match their hashes', async () => {
    const [ensembleKey, scoredKey] = cold.manifest.lineage?.churnKeys ?? [];
    await damage(SCORES_STAGE, scoredKey, 'scores.parquet', (bytes) => Buffer.concat([bytes, Buffer.from('x')]));
    const rescored = await runPipeline(store, 'damaged-scores', params, withCache(true));
    // scored again by the same ensemble: the same scores' key, so the list's reasons are taken (every
    // link stored under it: the first list's, and those later lists of the tests above added)
    expect(reusedStages(rescored)).toEqual([LOAD_FEATURES_STAGE, TREE_STAGE, ENSEMBLE_STAGE, REASONS_STAGE]);
    expect(outputs(rescored)).toEqual(outputs(cold));

    const original = await damage(ENSEMBLE_STAGE, ensembleKey, 'ensemble.json', (bytes) =>
      Buffer.from(bytes.toString().replace('"bestRound":', '"bestRound": ')),
    );
    const treeKeyOfCold = cold.manifest.lineage?.treeKey as string;
    await damage(TREE_STAGE, treeKeyOfCold, 'tree.json', (bytes) => Buffer.from(bytes.toString().replace('{', '{ ')));
    const retrained = await runPipeline(store, 'damaged', params, withCache(true));
    // trained again, the same ensemble: its scores' key, and the list's reasons stored under it, are the same
    expect(reusedStages(retrained)).toEqual([LOAD_FEATURES_STAGE, REASONS_STAGE]);
    expect(retrained.manifest.timings.treeTrainSeconds).toBeGreaterThan(0);
    expect(outputs(retrained)).toEqual(outputs(cold));
    // each run stored a sound artifact in place of the damaged one: the same model, its own training time
    const found = await findEnsemble(store, ensembleKey, true);
    expect(found.reason).toMatch(/unchanged/);
    expect(found.trained?.model).toEqual((JSON.parse(original.toString()) as TrainedEnsemble).model);
    const again = await runPipeline(store, 'sound-again', params, withCache(true));
    expect(reusedStages(again)).toEqual(TREE_AND_ENSEMBLE_REUSED);
    expect(outputs(again)).toEqual(outputs(cold));
  });

  /** Someone who can write the store halves every stored score and records the new file's hash; returns the undo. */
  async function halveStoredScores(scoredKey: string): Promise<() => Promise<void>> {
    const dir = cacheDir(store, SCORES_STAGE, scoredKey);
    const scores = join(dir, 'scores.parquet');
    const [originalScores, originalArtifact] = [await readFile(scores), await readFile(join(dir, 'artifact.json'))];
    const forged = join(await tempDir(), 'scores.parquet');
    await withConnection(':memory:', (conn) =>
      conn.run(
        `COPY (SELECT * REPLACE (churn_score / 2 AS churn_score) FROM '${scores}') TO '${forged}' (FORMAT parquet)`,
      ),
    );
    const bytes = await readFile(forged);
    await damage(SCORES_STAGE, scoredKey, 'scores.parquet', () => bytes);
    await damage(SCORES_STAGE, scoredKey, 'artifact.json', (text) => {
      const artifact = JSON.parse(text.toString()) as { files: { file: string; sha256: string; bytes: number }[] };
      const file = artifact.files.find((f) => f.file === 'scores.parquet');
      if (!file) throw new Error('no scores.parquet in the artifact');
      Object.assign(file, { sha256: sha256(bytes), bytes: bytes.length });
      return Buffer.from(JSON.stringify(artifact, null, 2) + '\n');
    });
    return async () => {
      await damage(SCORES_STAGE, scoredKey, 'scores.parquet', () => originalScores);
      await damage(SCORES_STAGE, scoredKey, 'artifact.json', () => originalArtifact);
    };
  }

  it('takes stored scores rewritten with their recorded hashes, and reproduce recomputes and names the stored work', async () => {
    const scoredKey = cold.manifest.lineage?.churnKeys?.[1] ?? '';
    const restore = await halveStoredScores(scoredKey);
    try {
      const taken = await runPipeline(store, 'forged-scores', { ...params, k: 5 }, withCache(true));
      expect(reusedStages(taken)).toContain(SCORES_STAGE);
      const report = await reproduceSnapshot(store, { month: '2026-06', version: taken.manifest.snapshot.version });
      expect(report.identical).toBe(false);
      // stored by the run that replaced the damaged artifact above
      const stored = report.reused.find((artifact) => artifact.stage === SCORES_STAGE);
      expect(stored).toMatchObject({ key: scoredKey, producedBy: { workflowId: 'cache-test' } });
      expect(reusedNote(report.reused)).toContain(`churn-scores ${scoredKey.slice(0, 12)} (stored by cache-test)`);
      expect(reusedNote(report.reused)).toContain(
        'A stored artifact altered after it was stored gives such differences',
      );
    } finally {
      await restore();
    }
  }, 300_000);

  it("with a signing key, signs what it stores and takes only what its key signed: not unsigned work, nor another key's, nor scores rewritten with their hashes", async () => {
    const { signer } = keyPair();
    const signed: StoreConfig = { ...store, signer };
    // everything stored so far was stored without a key: computed again, and stored signed in its place
    const first = await runPipeline(signed, 'signed-1', params, withCache(true));
    expect(reusedStages(first)).toEqual([]);
    expect(first.reason).toMatch(/^stored output is not signed .* computing again$/);
    expect(outputs(first)).toEqual(outputs(cold));
    const storedSigned = (await listCache(store)).filter(
      (a) => a.producedBy.runId === 'signed-1' && a.stage !== PLAN_STAGE,
    );
    expect(storedSigned.map((a) => a.stage).sort()).toEqual([...TREE_AND_ENSEMBLE_REUSED].sort());
    for (const artifact of storedSigned) expect(artifact.signedBy).toBe(signer.keyId);
    // the stage cache as the churn stage hands it to publishing, in a file: without the key
    const explainer = await readFile(
      join(runDir(store, { workflowId: 'cache-test', runId: 'signed-1' }), 'churn-ensemble-explainer.json'),
      'utf8',
    );
    expect(explainer).toContain(store.storeDir);
    expect(explainer).not.toContain('signer');

    const second = await runPipeline(signed, 'signed-2', params, withCache(true));
    expect(reusedStages(second)).toEqual(TREE_AND_ENSEMBLE_REUSED);
    expect(second.manifest.lineage?.reused.map((a) => a.signedBy)).toEqual(
      second.manifest.lineage?.reused.map(() => signer.keyId),
    );
    expect(outputs(second)).toEqual(outputs(cold));
    // a worker without a key takes signed work as it took unsigned work
    const scoredKey = second.manifest.lineage?.churnKeys?.[1] ?? '';
    expect(await lookUpArtifact(store, SCORES_STAGE, scoredKey, true, ['churn'])).toHaveProperty('artifact');

    const restore = await halveStoredScores(scoredKey);
    try {
      expect(await lookUpArtifact(signed, SCORES_STAGE, scoredKey, true, ['churn'])).toEqual({
        missing: `stored output's signature does not verify with this worker's key ${signer.keyId} (signed by key ${signer.keyId}, or artifact.json rewritten after signing): computing again`,
      });
      const forged = await runPipeline(signed, 'signed-forged', params, withCache(true));
      expect(reusedStages(forged)).not.toContain(SCORES_STAGE);
      expect(outputs(forged)).toEqual(outputs(cold));
    } finally {
      await restore();
    }

    const otherKey = keyPair().signer;
    const other = await runPipeline({ ...store, signer: otherKey }, 'other-key', params, withCache(true));
    expect(reusedStages(other)).toEqual([]);
    expect(other.reason).toContain(`signed by key ${signer.keyId}`);
    expect(outputs(other)).toEqual(outputs(cold));
  }, 300_000);
});

/** Parameters with their defaults, as a run has them. */
function runParams(input: Record<string, unknown>): RunParams {
  const parsed = parseRunParams(input);
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return parsed.params;
}

describe('segments reuse', () => {
  let store: StoreConfig;
  let params: Record<string, unknown>;
  let cold: Published;
  const withSegments = (reuse: boolean) => ({ partitions: 1, reuse, segmentsCache: true });

  beforeAll(async () => {
    ({ store, params, cold } = await coldRunInNewStore(withSegments(true)));
  });

  it('stores the segments under their key, named in the manifest and protected by it', async () => {
    const key = cold.manifest.lineage?.segmentsKey;
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(cold.manifest.lineage?.reused).toEqual([]);
    expect(cold.manifest.timings.kmeansSeconds).toBeGreaterThan(0);
    const listed = (await listCache(store)).find((artifact) => artifact.stage === SEGMENTS_STAGE);
    expect(listed).toMatchObject({ key, month: '2026-06', usedBy: ['2026-06/v1'] });
  });

  it('reuses them for a rerun that changes the value labels and the tree depth, with the bytes of a run that clusters', async () => {
    const analyst = { ...params, highValueThreshold: 120, keyCustomerRevenueShare: 0.3, treeDepth: 4 };
    const reused = await runPipeline(store, 'labels', analyst, withSegments(true));
    expect(reused.manifest.lineage?.reused.map((a) => a.stage)).toEqual([LOAD_FEATURES_STAGE, SEGMENTS_STAGE]);
    expect(reused.manifest.lineage?.reused[1]).toMatchObject({
      key: cold.manifest.lineage?.segmentsKey,
      producedBy: { workflowId: 'cache-test', runId: 'cold' },
      files: [{ file: 'segments.parquet' }, { file: 'cluster.json' }],
    });
    expect(reused.manifest.lineage?.segmentsKey).toBe(cold.manifest.lineage?.segmentsKey);
    expect(reused.manifest.timings.kmeansSeconds).toBe(0);
    const computed = await runPipeline(store, 'labels-cold', analyst, withSegments(false));
    expect(computed.manifest.lineage?.reused).toEqual([]);
    expect(computed.manifest.timings.kmeansSeconds).toBeGreaterThan(0);
    expect(outputs(reused)).toEqual(outputs(computed));
    // every metric, to the last digit: the centroids, silhouettes and segment profiles the summary holds
    expect(reused.manifest.metrics).toEqual(computed.manifest.metrics);
    const reproduced = await reproduceSnapshot(store, { month: '2026-06', version: reused.manifest.snapshot.version });
    expect(reproduced.identical).toBe(true);
  });

  it('clusters again when k changes, and when the stored files no longer match their hashes', async () => {
    const other = await runPipeline(store, 'k5', { ...params, k: 5 }, withSegments(true));
    expect(other.manifest.lineage?.reused.map((a) => a.stage)).toEqual([LOAD_FEATURES_STAGE]);
    expect(other.manifest.lineage?.segmentsKey).not.toBe(cold.manifest.lineage?.segmentsKey);

    const key = cold.manifest.lineage?.segmentsKey as string;
    const dir = cacheDir(store, SEGMENTS_STAGE, key);
    await chmod(dir, 0o755);
    await chmod(join(dir, 'cluster.json'), 0o644);
    await writeFile(
      join(dir, 'cluster.json'),
      (await readFile(join(dir, 'cluster.json'), 'utf8')).replace('"k":4', '"k":3'),
    );
    await chmod(join(dir, 'cluster.json'), 0o444);
    await chmod(dir, 0o555);
    const again = await runPipeline(store, 'damaged', params, withSegments(true));
    expect(again.manifest.lineage?.reused.map((a) => a.stage)).toEqual([LOAD_FEATURES_STAGE]);
    expect(again.manifest.metrics.kmeans.k).toBe(4);
    expect(outputs(again)).toEqual(outputs(cold));
    // the run stored a sound artifact in place of the damaged one
    const sound = await runPipeline(store, 'sound', params, withSegments(true));
    expect(sound.manifest.lineage?.reused.map((a) => a.stage)).toEqual([LOAD_FEATURES_STAGE, SEGMENTS_STAGE]);
    expect(outputs(sound)).toEqual(outputs(cold));
  });

  it("clusters again when last month's latest snapshot changes: its centroids fix the segment ids", async () => {
    const withHistory = { ...withSegments(true), previousMonth: true };
    await runPipeline(store, 'may', { ...params, month: '2026-05' }, withHistory);
    const june = await runPipeline(store, 'june', params, withHistory);
    expect(june.manifest.metrics.previousSnapshot).toEqual({ month: '2026-05', version: 1 });
    expect(june.manifest.lineage?.segmentsKey).not.toBe(cold.manifest.lineage?.segmentsKey);
    const labels = { ...params, highValueThreshold: 120 };
    const again = await runPipeline(store, 'june-labels', labels, withHistory);
    expect(again.manifest.lineage?.reused.map((a) => a.stage)).toEqual([LOAD_FEATURES_STAGE, SEGMENTS_STAGE]);
    expect(again.manifest.lineage?.segmentsKey).toBe(june.manifest.lineage?.segmentsKey);
    // a new version of May, clustered with another k: June's ids are matched to it, so June clusters
    await runPipeline(store, 'may-k5', { ...params, month: '2026-05', k: 5 }, withHistory);
    const rematched = await runPipeline(store, 'june-rematched', labels, withHistory);
    expect(rematched.manifest.metrics.previousSnapshot).toEqual({ month: '2026-05', version: 2 });
    expect(rematched.manifest.lineage?.reused.map((a) => a.stage)).toEqual([LOAD_FEATURES_STAGE]);
    const computed = await runPipeline(store, 'june-rematched-cold', labels, { ...withHistory, reuse: false });
    expect(outputs(rematched)).toEqual(outputs(computed));
  });

  it('never writes through the stored segments file: a retried attempt that clusters writes a file of its own', async () => {
    const run = { workflowId: 'cache-test', runId: 'retried' };
    const plan = await planLoad(store, run, params, 1);
    const cache = await reuseStages(store, plan, true);
    if (!cache.reused) throw new Error(`the stored load and features were not reused: ${cache.reason}`);
    const { load, features } = cache.reused;
    const skipped = features.skippedFeatures.map((s) => s.feature);
    const access = (allowed: boolean) => ({ store, run, allowed, featuresKey: cache.key });
    const first = await clusterSubscribers(load.dbPath, load.params, null, skipped, [], access(true));
    expect(first.cache?.reused.map((a) => a.stage)).toEqual([SEGMENTS_STAGE]);
    const stored = join(cacheDir(store, SEGMENTS_STAGE, first.cache?.key as string), 'segments.parquet');
    const before = await stat(stored);
    expect((await stat(join(dirname(load.dbPath), 'segments.parquet'))).ino).toBe(before.ino); // linked in
    // the same run folder, clustering this time (as an attempt that may not reuse would)
    const retried = await clusterSubscribers(load.dbPath, load.params, null, skipped, [], access(false));
    expect(retried.cache?.reused).toEqual([]);
    expect((await stat(join(dirname(load.dbPath), 'segments.parquet'))).ino).not.toBe(before.ino);
    expect(await stat(stored)).toMatchObject({ ino: before.ino, size: before.size, mtimeMs: before.mtimeMs });
    expect((await listCache(store)).find((a) => a.key === first.cache?.key)).toBeDefined();
  });

  it("keys the segments by the features table, the parameters clustering reads and last month's segments", () => {
    const inputs = {
      params: runParams({ month: '2026-06', input: 'usage', k: 4 }),
      previous: null,
      skippedFeatures: [],
      userFeatures: [],
    };
    const key = segmentsKey('a'.repeat(64), inputs);
    expect(
      segmentsKey('a'.repeat(64), {
        ...inputs,
        params: runParams({ month: '2026-06', input: 'usage', k: 4, treeDepth: 3 }),
      }),
    ).toBe(key);
    expect(segmentsKey('b'.repeat(64), inputs)).not.toBe(key);
    expect(
      segmentsKey('a'.repeat(64), {
        ...inputs,
        params: runParams({ month: '2026-06', input: 'usage', k: 4, seed: 8 }),
      }),
    ).not.toBe(key);
    const previous = {
      month: '2026-05',
      version: 1,
      featureNames: ['log_arpu'],
      centroids: [{ segmentId: 1, values: [1] }],
    };
    expect(segmentsKey('a'.repeat(64), { ...inputs, previous })).not.toBe(key);
    expect(segmentsKey('a'.repeat(64), { ...inputs, skippedFeatures: ['sms'] })).not.toBe(key);
  });

  it('names every parameter the clustering code reads', () => {
    const read = new Set<string>();
    for (const file of ['activities/cluster.ts', 'activities/ml/kmeans.ts', 'activities/ml/match-centroids.ts'])
      for (const [, name] of readFileSync(join(REPO_ROOT, file), 'utf8').matchAll(/\bparams\.(\w+)/g)) read.add(name);
    expect(read.size).toBeGreaterThan(5);
    for (const name of read) if (name !== 'month') expect(CLUSTER_PARAMS, name).toContain(name);
  });
});

/**
 * What no stage's output depends on, outside each code hash's list: the code check, the lock file
 * and commit reader, heartbeats, the artifact format and the errors.
 */
const SHAPES_NO_STAGE = [
  'activities/code-identity.ts',
  'activities/code-version.ts',
  'activities/context.ts',
  'activities/artifact-store.ts',
  'domain/errors.ts',
];

describe('stage code hash', () => {
  it('covers every module the load and feature stages import, except those that do not shape rows', async () => {
    // heartbeats, errors and their wording, paths, hashing, file links, the code check, the lock file reader and the artifact format do not change the stored tables
    const outside = new Set([
      ...SHAPES_NO_STAGE,
      'domain/schema-problems.ts',
      // the "did you mean" of an error message
      'domain/closest-name.ts',
      // what to do when the month before holds nobody: an error message
      'domain/training-history.ts',
      // the contact log's header, checked by the plan; publishing reads the log
      'activities/contact-log.ts',
      'store/layout.ts',
      'store/hashing.ts',
      'store/files.ts',
      'store/stage-cache.ts',
      // signs and checks stored artifacts
      'store/signing.ts',
      // the names of the run's copies of the labels file and the mapping
      'activities/run-copies.ts',
      // stores and finds what an earlier plan read, under a key naming this code (stage-code.ts)
      'activities/plan-cache.ts',
      'activities/stage-code.ts',
      'store/exact-json.ts',
    ]);
    const seen = await reachableModules(['activities/load.ts', 'activities/features.ts'], outside);
    for (const file of seen) expect(STAGE_CODE_FILES, file).toContain(file);
  });

  it('covers every module clustering imports, except those that do not shape the segments', async () => {
    const outside = new Set([
      ...SHAPES_NO_STAGE,
      'activities/memory.ts',
      'activities/segments-cache.ts',
      'store/layout.ts',
      'store/hashing.ts',
      'store/files.ts',
      'store/stage-cache.ts',
    ]);
    const seen = await reachableModules(['activities/cluster.ts'], outside);
    // activities/ml is hashed whole (ml/code-hash.ts)
    for (const file of seen) if (!file.startsWith('activities/ml/')) expect(CLUSTER_CODE_FILES, file).toContain(file);
  });
});

describe('churn scoring code hash', () => {
  it('covers every module the churn stage imports, except those that do not shape its scores and reasons', async () => {
    // heartbeats, memory, errors and their wording, the audit log, paths, hashing, signing and the cache's own keys
    const outside = new Set([
      ...SHAPES_NO_STAGE,
      'activities/memory.ts',
      'activities/ensemble-cache.ts',
      'domain/schema-problems.ts',
      'domain/closest-name.ts',
      'domain/progress.ts',
      // what to do when the month before holds nobody: an error message
      'domain/training-history.ts',
    ]);
    const seen = await reachableModules(['activities/churn.ts'], outside);
    // activities/ml is hashed whole (ml/code-hash.ts); the store's modules keep and sign files
    for (const file of seen)
      if (!file.startsWith('activities/ml/') && !file.startsWith('store/'))
        expect(SCORING_CODE_FILES, file).toContain(file);
    // and the SQL the churn stage reads (readSql), which no import names: every file under activities/churn/
    const hashedSql = sqlFilesUnder(new URL('../../', import.meta.url), ['activities/churn']);
    const read = [
      ...readFileSync(join(REPO_ROOT, 'activities/churn.ts'), 'utf8').matchAll(
        /readSql\(import\.meta\.url, '\.\/([^']+)'\)/g,
      ),
    ];
    expect(read.length).toBeGreaterThan(1);
    for (const [, file] of read) expect(hashedSql).toContain(`activities/${file}`);
  });
});

describe('feature months across runs (next month)', () => {
  let store: StoreConfig;
  let sample: SampleSummary;
  let previous: Published;
  const params = (month: string) => ({ month, input: join(sample.outDir, 'usage'), k: 4 });
  const options = { partitions: 1, reuse: true, featureMonths: true, usageMonths: true };

  beforeAll(async () => {
    const dir = await tempDir();
    sample = await smallSample(dir, 3_000, 9);
    store = storeIn(dir);
    previous = await runPipeline(store, 'may', params('2026-05'), options);
  });

  it("stores the scoring month's rows, named in the manifest and protected by it", async () => {
    const months = previous.features.monthReuse;
    expect(months?.reused).toEqual([]);
    expect(months?.reason).toBe('2026-04: no stored output for its window');
    expect(months?.stored?.stored).toBe(true);
    expect(previous.manifest.lineage?.featureMonthKeys).toEqual([months?.trainKey, months?.scoreKey]);
    const stored = (await listCache(store)).find((artifact) => artifact.stage === FEATURE_MONTH_STAGE);
    expect(stored).toMatchObject({ key: months?.scoreKey, month: '2026-05', usedBy: ['2026-05/v1'] });
    const artifact = JSON.parse(await readFile(join(stored?.path ?? '', 'artifact.json'), 'utf8')) as {
      files: { file: string; rows: number }[];
    };
    expect(artifact.files).toMatchObject([
      { file: 'subscriber-features.parquet', rows: previous.features.scoringRows },
    ]);
  });

  it('next month trains on them, with the bytes of a run that computes both months; reproduce matches', async () => {
    const next = await runPipeline(store, 'june', params('2026-06'), options);
    const months = next.features.monthReuse;
    expect(months?.trainKey).toBe(previous.features.monthReuse?.scoreKey);
    expect(months?.reason).toMatch(/^2026-05's features taken from the run that scored it/);
    expect(months?.reused).toHaveLength(1);
    expect(months?.reused[0]).toMatchObject({
      stage: FEATURE_MONTH_STAGE,
      producedBy: { workflowId: 'cache-test', runId: 'may' },
    });
    // the load took the six months it shares with May's window (checked rows), the features May's rows
    expect(next.manifest.lineage?.reused.map((artifact) => artifact.stage)).toEqual([
      ...Array<string>(6).fill(USAGE_MONTH_STAGE),
      FEATURE_MONTH_STAGE,
    ]);
    expect(next.manifest.lineage?.usageMonthKeys).toHaveLength(7);
    expect(next.features.trainingRows).toBeGreaterThan(1_000);

    const cold = await runPipeline(store, 'june-cold', params('2026-06'), { ...options, reuse: false });
    expect(cold.features.monthReuse?.reused).toEqual([]);
    expect(cold.features.monthReuse?.reason).toMatch(/--no-reuse/);
    expect(outputs(next)).toEqual(outputs(cold));
    expect(next.features).toMatchObject({
      scoringRows: cold.features.scoringRows,
      trainingRows: cold.features.trainingRows,
      trainingChurnRate: cold.features.trainingChurnRate,
    });
    expect(next.manifest.metrics).toEqual(cold.manifest.metrics);
    const reproduced = await reproduceSnapshot(store, { month: '2026-06', version: next.manifest.snapshot.version });
    expect(reproduced.identical).toBe(true);
    // two partitions, cold, and each taking its share of the stored month: the same bytes again
    const split = await runPipeline(store, 'june-split', params('2026-06'), {
      ...options,
      partitions: 2,
      reuse: false,
    });
    expect(split.features.monthReuse).toMatchObject({ reused: [], scoreKey: months?.scoreKey });
    expect(outputs(split)).toEqual(outputs(cold));
    const splitTaken = await runPipeline(store, 'june-split-2', params('2026-06'), {
      ...options,
      partitions: 2,
      stageReuse: false,
    });
    expect(splitTaken.reused).toBe(false);
    expect(splitTaken.features.monthReuse?.reused).toHaveLength(1);
    expect(splitTaken.features.monthReuse?.reason).toMatch(/^2026-05's features taken/);
    expect(outputs(splitTaken)).toEqual(outputs(cold));
    // aggregated in several passes (each bucket's rows in a file), the stored month taken: the same bytes
    const bucketed = await runPipeline(store, 'june-buckets', params('2026-06'), {
      ...options,
      stageReuse: false,
      rowsPerBucket: 5_000,
    });
    expect(bucketed.features.monthReuse?.reused).toHaveLength(1);
    expect(outputs(bucketed)).toEqual(outputs(cold));
    const runFolder = join(store.workDir, 'runs', 'cache-test__june-buckets');
    expect((await readdir(runFolder)).filter((file) => file.includes('subscriber-features'))).toEqual([]);
  });

  it('a subscriber whose run-month rows were all quarantined is not labelled a churner, with or without the stored month', async () => {
    // June as the sample has it, but its first 40 rows break the contract (a negative spend)
    const input = join(dirname(sample.outDir), 'june-unreadable');
    await cp(join(sample.outDir, 'usage'), input, { recursive: true });
    await writeParquet(
      sample,
      join(input, 'usage_month=2026-06', 'part_0.parquet'),
      'SELECT * REPLACE (CASE WHEN row_number() OVER () <= 40 THEN -1.0 ELSE spend END AS spend) FROM {june}',
    );
    const labels = (runId: string) =>
      withConnection(':memory:', (conn) =>
        queryRows<{ subscriber_id: string; churned: boolean | null }>(
          conn,
          `SELECT subscriber_id, churned_next_month AS churned FROM read_parquet($file) WHERE purpose = 'train' ORDER BY subscriber_id`,
          { file: featuresFile(join(runDir(store, { workflowId: 'cache-test', runId }), 'work.duckdb')) },
        ),
      );
    const unreadable = (
      await withConnection(':memory:', (conn) =>
        queryRows<{ subscriber_id: string }>(conn, `SELECT subscriber_id FROM read_parquet($file) LIMIT 40`, {
          file: join(sample.outDir, 'usage', 'usage_month=2026-06', 'part_0.parquet'),
        }),
      )
    ).map((row) => row.subscriber_id);
    // May from the same folder (its input root is part of the key): June's run takes May's stored rows
    await runPipeline(store, 'may-unreadable', { ...params('2026-05'), input }, options);
    const next = await runPipeline(store, 'june-unreadable', { ...params('2026-06'), input }, options);
    expect(next.features.monthReuse?.reused).toHaveLength(1);
    const cold = await runPipeline(
      store,
      'june-unreadable-cold',
      { ...params('2026-06'), input },
      { ...options, reuse: false },
    );
    const clean = await runPipeline(store, 'june-clean-cold', params('2026-06'), { ...options, reuse: false });
    expect(outputs(next)).toEqual(outputs(cold));
    const [taken, recomputed, whole] = await Promise.all(
      ['june-unreadable', 'june-unreadable-cold', 'june-clean-cold'].map(labels),
    );
    expect(taken).toEqual(recomputed);
    const label = (rows: typeof taken, id: string) => rows.find((row) => row.subscriber_id === id)?.churned;
    const inMay = unreadable.filter((id) => label(whole, id) !== undefined);
    expect(inMay.length).toBeGreaterThan(30);
    for (const id of inMay) {
      expect(label(whole, id), id).toBe(false); // active in June: no churner
      expect(label(taken, id), id).toBe(null); // unreadable in June: unknown, not trained on
    }
    // every other subscriber keeps its label, and the churners are the same ones
    expect(taken.filter((row) => !inMay.includes(row.subscriber_id))).toEqual(
      whole.filter((row) => !inMay.includes(row.subscriber_id)),
    );
    expect(next.features.trainingChurnRate).toBeCloseTo(
      (clean.features.trainingChurnRate * clean.features.trainingRows) / (clean.features.trainingRows - inMay.length),
      12,
    );
  });

  it('stores a month aggregated in several passes as the passes wrote it; next month trains on it with the same bytes', async () => {
    const own = storeIn(await tempDir());
    const may = await runPipeline(own, 'may-buckets', params('2026-05'), { ...options, rowsPerBucket: 5_000 });
    expect(outputs(may)).toEqual(outputs(previous)); // several passes, the bytes of one
    const stored = (await listCache(own)).find((artifact) => artifact.stage === FEATURE_MONTH_STAGE);
    const artifact = JSON.parse(await readFile(join(stored?.path ?? '', 'artifact.json'), 'utf8')) as {
      files: { file: string; rows: number }[];
    };
    expect(artifact.files.length).toBeGreaterThan(1);
    expect(artifact.files.reduce((sum, file) => sum + file.rows, 0)).toBe(may.features.scoringRows);
    const mayFolder = join(own.workDir, 'runs', 'cache-test__may-buckets');
    expect((await readdir(mayFolder)).filter((file) => file.includes('subscriber-features'))).toEqual([]);

    const cold = await runPipeline(own, 'june-cold', params('2026-06'), { ...options, reuse: false });
    for (const [runId, rowsPerBucket] of [
      ['june', undefined],
      ['june-buckets', 5_000],
    ] as const) {
      const next = await runPipeline(own, runId, params('2026-06'), { ...options, stageReuse: false, rowsPerBucket });
      expect(next.features.monthReuse?.reused).toHaveLength(1);
      expect(outputs(next)).toEqual(outputs(cold));
    }
  });

  it('keys a month by the files of its window only, and refuses inputs where a month could come from elsewhere', async () => {
    const run = { workflowId: 'key', runId: 'k' };
    const plan = await planLoad(store, run, params('2026-06'));
    const parts = [await loadPartition(plan, 0)];
    const load = await combineLoad(plan, parts);
    expect(load.rowsOutsideMonthFolder).toBe(0);
    const keyOf = (changed: typeof load) => {
      const keyed = featureMonthKey(changed, '2026-05');
      return 'key' in keyed ? keyed.key : keyed.ineligible;
    };
    const base = keyOf(load);
    expect(base).toBe(previous.features.monthReuse?.scoreKey);
    const withFile = (month: string, sha: string) => ({
      ...load,
      inputFiles: load.inputFiles.map((file) => (file.path.includes(`=${month}/`) ? { ...file, sha256: sha } : file)),
    });
    // the month's 6-month window is 2025-12..2026-05; 2026-06 is after it
    expect(keyOf(withFile('2026-06', 'changed'))).toBe(base);
    expect(keyOf(withFile('2025-12', 'changed'))).not.toBe(base);
    expect(keyOf(withFile('2026-05', 'changed'))).not.toBe(base);
    expect(keyOf({ ...load, readingHash: 'other mapping' })).not.toBe(base);
    expect(keyOf({ ...load, params: { ...load.params, historyMonths: 7 } })).not.toBe(base);
    expect(keyOf({ ...load, rowsOutsideMonthFolder: 2 })).toBe("2 valid row(s) are not in their month's folder");
    expect(keyOf({ ...load, format: 'snapshot' })).toMatch(/single month/);
    const flat = { ...load, inputFiles: [{ ...load.inputFiles[0], path: '/data/usage.parquet' }] };
    expect(keyOf(flat)).toMatch(/not in month folders/);
  });

  it("counts valid rows that lie in another month's folder, which makes the months ineligible", async () => {
    const dir = await tempDir();
    const input = join(dir, 'usage');
    await cp(join(sample.outDir, 'usage'), input, { recursive: true });
    // a May row for a new subscriber, in June's folder
    await writeParquet(
      sample,
      join(input, 'usage_month=2026-06', 'late.parquet'),
      "SELECT * REPLACE ('S-LATE' AS subscriber_id, DATE '2026-05-01' AS \"month\") FROM {june} LIMIT 1",
    );
    const run = { workflowId: 'late', runId: 'l' };
    const plan = await planLoad(store, run, { ...params('2026-06'), input });
    const load = await combineLoad(plan, [await loadPartition(plan, 0)]);
    expect(load.rowsOutsideMonthFolder).toBe(1);
    const features = await computeFeatures(
      load.dbPath,
      load.params,
      { format: load.format, inputColumns: load.inputColumns },
      {},
      { store, run, allowed: true, load },
    );
    expect(features.monthReuse).toMatchObject({
      trainKey: null,
      scoreKey: null,
      reused: [],
      stored: null,
      reason: "1 valid row(s) are not in their month's folder",
    });
  });
});
