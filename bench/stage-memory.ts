/**
 * Where a cold run's memory goes, step by step: the worker's activities (createActivities, the
 * stage cache on a fresh store) called one after the other in this process, each inside a
 * MockActivityEnvironment, with its resident memory sampled every 250 ms and kept per heartbeat
 * step. Garbage is collected after an activity as the worker's interceptor does
 * (worker/release-memory.ts). What the worker adds is Temporal's share, and clustering beside the
 * churn stage up to 2M subscribers (here one after the other, unless --side-by-side).
 *
 *   node --expose-gc --import tsx bench/stage-memory.ts --input <usage folder> --month 2026-10
 *
 * With --partitions N the load and features run as N partitions, one after the other as a single
 * worker would take them (time one partition's load with --stop-after load).
 *
 * A second call on the same --store with --reuse (and other --k, --tree-depth) is an analyst's
 * rerun: the stored load, features, ensemble and scores are taken as the workflow takes them.
 *
 * prints, per step, when it started and how long it took (seconds), the CPU seconds of all the
 * process's threads in it (above the seconds where DuckDB or the ensemble ran on both cores, below
 * where a core sat idle) and its peak resident memory (MB), and at the end
 * the process's high-water mark (VmHWM). bench/run.ts measures the whole run's peak through the
 * worker; this names the step that sets it.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../activities';
import type { FeatureSummary, PartitionFeatures } from '../activities/features';
import type { LoadSummary, PartitionLoad } from '../activities/load';
import { COLLECT_ABOVE_BYTES } from '../worker/release-memory';
import { collectGarbage } from '../activities/memory';

const STAGES = ['load', 'features', 'cluster', 'churn', 'publish'] as const;
type Stage = (typeof STAGES)[number];

const options = new Command('stage-memory')
  .description("a cold run's activities in one process, peak memory per heartbeat step")
  .requiredOption('--input <folder>', 'usage files, as `segflow run --input` takes them')
  .requiredOption('--month <YYYY-MM>', 'the month to score')
  .option('--store <folder>', 'store and work folders (default: a new temporary folder, removed after)')
  .option('--stop-after <stage>', `the last stage to run: ${STAGES.join(', ')}`, 'publish')
  .option('--reuse', "reuse what the store holds (with --store: a second call is an analyst's rerun)")
  .option('--k <segments>', 'the number of segments (an analyst rerun changes it)')
  .option('--tree-depth <depth>', "the readable tree's depth (an analyst rerun changes it)")
  .option(
    '--partitions <n>',
    "partitions of the load and features, run one after the other as one worker would (the run's own with 1)",
    '1',
  )
  .option(
    '--side-by-side',
    'clustering and the churn stage at the same time, as the workflow runs them up to 2M subscribers',
  )
  .parse()
  .opts();
const last = STAGES.indexOf(options.stopAfter as Stage);
if (last < 0) throw new Error(`--stop-after must be one of ${STAGES.join(', ')}, got ${options.stopAfter}`);
if (typeof (globalThis as { gc?: unknown }).gc !== 'function')
  console.warn('node runs without --expose-gc: no collection between activities, unlike the worker');

const residentMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) / 1024;
const started = performance.now();
/** CPU seconds of every thread of the process so far (DuckDB's, the ensemble's, this one). */
const cpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};
const steps: { step: string; startedAt: number; cpuAt: number; peakMb: number }[] = [];
function enter(step: string): void {
  const current = steps.at(-1);
  if (current?.step === step) return;
  sample();
  steps.push({ step, startedAt: (performance.now() - started) / 1000, cpuAt: cpuSeconds(), peakMb: residentMb() });
}
function sample(): void {
  const current = steps.at(-1);
  if (current) current.peakMb = Math.max(current.peakMb, residentMb());
}
const sampler = setInterval(sample, 250);

const root = options.store ?? (await mkdtemp(join(tmpdir(), 'segflow-stage-memory-')));
const store = { storeDir: join(root, 'store'), workDir: join(root, 'work') };
const run = { workflowId: 'stage-memory', runId: `stage-memory-${Date.now()}` };
const activities = createActivities(store);

/** One activity as the worker runs it: in an activity context, its heartbeats named steps, garbage collected after. */
async function activity<T>(name: string, work: () => Promise<T>): Promise<T> {
  const env = new MockActivityEnvironment({ workflowExecution: run });
  env.on('heartbeat', (details: { stage?: string } | undefined) => {
    if (details?.stage) enter(`${name}: ${details.stage.replace(/\d+ of \d+/g, 'N of N')}`);
  });
  enter(name);
  try {
    return await env.run(work);
  } finally {
    if (process.memoryUsage().arrayBuffers > COLLECT_ABOVE_BYTES) collectGarbage();
  }
}

/** The features of every partition, one after the other, then combined; or the single partition's. */
async function computeFeatures(load: LoadSummary): Promise<FeatureSummary> {
  if (load.partitionDbPaths.length === 1)
    return activity('computeFeatures', () => activities.computeFeatures(load, reuse));
  const features: PartitionFeatures[] = [];
  for (const index of load.partitionDbPaths.keys())
    features.push(
      await activity('computePartitionFeatures', () => activities.computePartitionFeatures(load, index, reuse)),
    );
  return activity('combineFeatures', () => activities.combineFeatures(load, features));
}

const runs = (stage: Stage) => STAGES.indexOf(stage) <= last;
const partitions = Number(options.partitions);
const reuse = options.reuse === true;
const params = {
  month: options.month,
  input: options.input,
  ...(options.k ? { k: Number(options.k) } : {}),
  ...(options.treeDepth ? { treeDepth: Number(options.treeDepth) } : {}),
};
try {
  const plan = await activity('planLoad', () => activities.planLoad(run, params, partitions));
  const cache = await activity('reuseStages', () => activities.reuseStages(plan, reuse));
  const parts: PartitionLoad[] = [];
  if (!cache.reused)
    for (const index of plan.partitionDbPaths.keys())
      parts.push(await activity('loadPartition', () => activities.loadPartition(plan, index, reuse)));
  const load = cache.reused?.load ?? (await activity('combineLoad', () => activities.combineLoad(plan, parts)));
  if (runs('features')) {
    const features = cache.reused?.features ?? (await computeFeatures(load));
    if (!cache.reused) await activity('storeStages', () => activities.storeStages(run, cache.key, load, features));
    const clusterStage = () =>
      activity('clusterSubscribers', () => activities.clusterSubscribers(load, features, null, reuse, cache.key));
    const churnStage = () =>
      activity('trainAndScoreChurn', () => activities.trainAndScoreChurn(load, features, reuse, cache.key));
    let cluster = null;
    let churn = null;
    if (options.sideBySide && runs('churn')) {
      // their steps interleave in the table: the step after both is when they were done
      enter('clusterSubscribers + trainAndScoreChurn');
      [cluster, churn] = await Promise.all([clusterStage(), churnStage()]);
    } else {
      cluster = runs('cluster') ? await clusterStage() : null;
      churn = runs('churn') ? await churnStage() : null;
    }
    if (runs('publish') && cluster && churn)
      await activity('publishSnapshot', () =>
        activities.publishSnapshot(run, { requestedBy: 'stage-memory', load, features, cluster, churn }),
      );
  }
} finally {
  clearInterval(sampler);
  enter('end');
  console.log('| step | started s | seconds | CPU s | peak MB |\n| --- | ---: | ---: | ---: | ---: |');
  steps.forEach(({ step, startedAt, cpuAt, peakMb }, i) => {
    const next = steps[i + 1];
    const [seconds, cpu] = next ? [next.startedAt - startedAt, next.cpuAt - cpuAt] : [0, 0];
    console.log(
      `| ${step} | ${startedAt.toFixed(1)} | ${seconds.toFixed(2)} | ${cpu.toFixed(2)} | ${Math.round(peakMb).toLocaleString('en-US')} |`,
    );
  });
  const highWater = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) / 1024;
  console.log(`\nprocess peak (VmHWM): ${Math.round(highWater).toLocaleString('en-US')} MB`);
  if (!options.store) await rm(root, { recursive: true, force: true });
}
