/**
 * segflow's benchmark: generates inputs at several sizes, runs the monthly workflow on each
 * through a real Temporal dev server and a worker process, and runs peers on the same data in
 * the same run: the same steps in Python (DuckDB + scikit-learn, bench/peer.py) and raw
 * ml-kmeans / ml-cart where they finish within a cap. Prints tables and ratios.
 *
 *   npm run bench -- [--sizes 100000,1000000] [--months 12] [--skip-peer]
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, totalmem, tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { kmeans } from 'ml-kmeans';
import { DecisionTreeClassifier } from 'ml-cart';
import { CLUSTER_FEATURES } from '../activities/cluster';
import { codeVersion } from '../activities/code-version';
import { queryOne, setVariable, withConnection } from '../activities/duckdb';
import { readColumns } from '../activities/ml/columns';
import { standardisation } from '../activities/ml/kmeans';
import { readManifest } from '../activities/publish';
import { generateSample } from '../data/generate';
import { startMonthlyRun } from '../pipelines/client';
import { ensureDevServer } from '../pipelines/dev-server';
import { activityAttempts } from '../pipelines/runs';
import { REPO_ROOT, type SegflowConfig } from '../worker/config';
import type { MonthlySegmentationResult } from '../workflows/monthly-segmentation';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : fallback;
};
const sizes = option('sizes', '100000,1000000').split(',').map(Number);
const months = Number(option('months', '12'));
const skipPeer = args.includes('--skip-peer');
const MODEL = { k: 6, treeDepth: 6, treeMinLeaf: 50, seed: 42 };
const LAST_MONTH = '2026-10';
const RAW_CAP_SECONDS = 60;

const benchHome = join(REPO_ROOT, '.segflow', 'bench');
const python = join(REPO_ROOT, '.segflow', 'bench-venv', 'bin', 'python');

async function freePort(): Promise<number> {
  return new Promise((resolvePort) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolvePort(port));
    });
  });
}

/** Reuses a generated sample of the same shape. */
async function sample(subscribers: number): Promise<string> {
  const dir = join(benchHome, `data-${subscribers}x${months}`);
  const meta = join(dir, 'sample.json');
  if (!existsSync(meta)) {
    process.stderr.write(`generating ${subscribers.toLocaleString('en-US')} subscribers x ${months} months... `);
    const summary = await generateSample({ outDir: dir, subscribers, months, lastMonth: LAST_MONTH, seed: 7 });
    process.stderr.write(`${summary.seconds.toFixed(1)} s\n`);
  }
  return join(dir, 'usage');
}

/** Peak resident set size (VmHWM) of a live process, in MB. */
function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

function ensurePeer(): void {
  if (existsSync(python)) return;
  process.stderr.write('installing the Python peer (DuckDB, scikit-learn) into .segflow/bench-venv...\n');
  execFileSync('python3', ['-m', 'venv', join(REPO_ROOT, '.segflow', 'bench-venv')], { stdio: 'inherit' });
  execFileSync(python, ['-m', 'pip', 'install', '-q', '-r', join(REPO_ROOT, 'bench', 'requirements.txt')], { stdio: 'inherit' });
}

interface SegflowRun {
  rows: number;
  subscribersFile: string;
  totalSeconds: number;
  stageSeconds: Record<string, number>;
  peakRssMb: number;
  treeTrainSeconds: number;
  kmeansSeconds: number;
  rocAuc: number;
  inertia: number;
}

async function runSegflow(client: Client, config: SegflowConfig, input: string): Promise<SegflowRun> {
  // a fresh worker process per size, so its peak RSS belongs to this size alone
  const worker = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'pipelines', 'cli.ts'), 'worker'], {
    cwd: REPO_ROOT,
    stdio: 'ignore',
    env: { ...process.env, TEMPORAL_ADDRESS: config.temporal.address, SEGFLOW_TASK_QUEUE: config.temporal.taskQueue, SEGFLOW_STORE: config.store.storeDir, SEGFLOW_WORK: config.store.workDir, SEGFLOW_LOG_LEVEL: 'error' },
  });
  try {
    await sleep(5_000); // bundling workflows takes a few seconds; the run would wait for it anyway
    const started = performance.now();
    const { handle } = await startMonthlyRun(client, config, { params: { month: LAST_MONTH, input, ...MODEL }, requestedBy: 'bench' });
    const result = (await handle.result()) as MonthlySegmentationResult;
    const totalSeconds = (performance.now() - started) / 1000;
    const rss = peakRssMb(worker.pid as number);
    const stageSeconds: Record<string, number> = {};
    for (const { activity, outcome, seconds } of activityAttempts(await handle.fetchHistory())) {
      if (outcome !== 'completed') continue;
      stageSeconds[activity] = (stageSeconds[activity] ?? 0) + seconds;
    }
    const manifest = await readManifest(config.store, result.month, result.version);
    return {
      rows: manifest.rowCounts.inputRows,
      subscribersFile: join(result.snapshotPath, 'subscribers.parquet'),
      totalSeconds,
      stageSeconds,
      peakRssMb: rss,
      treeTrainSeconds: manifest.timings.treeTrainSeconds,
      kmeansSeconds: manifest.timings.kmeansSeconds,
      rocAuc: result.churnRocAuc,
      inertia: manifest.metrics.kmeans.inertia,
    };
  } finally {
    worker.kill('SIGTERM');
  }
}

interface PeerRun {
  timings: Record<string, number>;
  rows: number;
  kmeans_inertia: number;
  tree_holdout_auc: number;
  peak_rss_mb: number;
  versions: Record<string, string>;
}

function runPeer(input: string): PeerRun {
  const out = execFileSync(python, [join(REPO_ROOT, 'bench', 'peer.py'), '--input', input, '--month', LAST_MONTH, '--k', String(MODEL.k), '--depth', String(MODEL.treeDepth), '--min-leaf', String(MODEL.treeMinLeaf), '--seed', String(MODEL.seed)], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').at(-1) as string) as PeerRun;
}

/**
 * Raw ml-kmeans on the run's own subscribers (the clustering inputs, read back from the published
 * subscribers.parquet and standardised), on every row when that fits in the cap; raw ml-cart on
 * 5,000 rows, since its quadratic train is past the cap from about 20,000.
 */
async function runRawLibraries(subscribersFile: string, subscribers: number): Promise<{ kmeans: string; cart: string }> {
  let kmeansResult = `> ${RAW_CAP_SECONDS} s: not run on ${subscribers.toLocaleString('en-US')} rows (15.8 s at 1M in perf-notes, linear in rows)`;
  if (subscribers <= 200_000) {
    const data = await withConnection(':memory:', async (conn) => {
      const { rows } = await queryOne<{ rows: number }>(conn, 'SELECT count(*) AS rows FROM read_parquet($file)', { file: subscribersFile });
      await setVariable(conn, 'subscribers_file', subscribersFile);
      return readColumns(conn, Object.entries(CLUSTER_FEATURES), "FROM read_parquet(getvariable('subscribers_file'))", rows);
    });
    const { means, stdDevs } = standardisation(data.columns);
    const rows = Array.from({ length: data.rows }, (_, i) => data.columns.map((column, c) => (column[i] - means[c]) / stdDevs[c]));
    const t = performance.now();
    const fit = kmeans(rows, MODEL.k, { initialization: 'kmeans++', seed: MODEL.seed });
    kmeansResult = `${((performance.now() - t) / 1000).toFixed(2)} s on all ${data.rows.toLocaleString('en-US')} subscribers (${fit.iterations} iterations)`;
  }
  const next = ((seed: number) => () => ((seed = (seed * 16807) % 2147483647) / 2147483647))(3);
  const cartRows = 5_000;
  const rows = Array.from({ length: cartRows }, () => Array.from({ length: 12 }, () => next()));
  const labels = rows.map((row) => (row[0] < 0.3 && next() < 0.6 ? 1 : 0));
  const t = performance.now();
  new DecisionTreeClassifier({ maxDepth: MODEL.treeDepth, minNumSamples: MODEL.treeMinLeaf, gainThreshold: 0 }).train(rows, labels);
  const cartSeconds = (performance.now() - t) / 1000;
  return { kmeans: kmeansResult, cart: `${cartSeconds.toFixed(2)} s on ${cartRows.toLocaleString('en-US')} synthetic rows; quadratic, so > ${RAW_CAP_SECONDS} s from about 20,000 rows` };
}

const fmt = (n: number, digits = 1) => n.toFixed(digits);

async function main(): Promise<void> {
  if (!skipPeer) ensurePeer();
  const state = await mkdtemp(join(tmpdir(), 'segflow-bench-'));
  const address = `127.0.0.1:${await freePort()}`;
  const server = await ensureDevServer({ address, stateDir: join(state, 'temporal'), headless: true });
  const client = new Client({ connection: await Connection.connect({ address }) });
  const config: SegflowConfig = { home: state, store: { storeDir: join(state, 'store'), workDir: join(state, 'work') }, temporal: { address, namespace: 'default', taskQueue: 'bench' } };
  const lines: string[] = [];
  try {
    const code = codeVersion();
    lines.push(`Machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}; segflow ${code.commit.slice(0, 12)}; ${Object.entries(code.dependencies).map(([n, v]) => `${n} ${v}`).join(', ')}`);
    lines.push(`Model settings for every system: k=${MODEL.k}, tree depth ${MODEL.treeDepth}, min leaf ${MODEL.treeMinLeaf}, ${months} months of input, run window 7 months.`, '');
    lines.push('| subscribers | rows in window | segflow total s | load | features | cluster | churn | publish | orchestration share | peak RSS MB | rows/s | peer total s | ratio (peer / segflow) | peer RSS MB |');
    lines.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    const quality: string[] = ['', '| subscribers | segflow tree AUC | peer tree AUC | segflow tree train s | peer tree train s | segflow k-means s (fit on 50k sample + assign all) | peer KMeans s (all rows) | segflow inertia | peer inertia | raw ml-kmeans | raw ml-cart |', '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |'];
    for (const size of sizes) {
      const input = await sample(size);
      process.stderr.write(`segflow on ${size.toLocaleString('en-US')}... `);
      const ours = await runSegflow(client, config, input);
      process.stderr.write(`${fmt(ours.totalSeconds)} s\n`);
      const peer = skipPeer ? undefined : runPeer(input);
      const raw = await runRawLibraries(ours.subscribersFile, size);
      const stage = (name: string) => fmt(ours.stageSeconds[name] ?? 0);
      const overhead = 1 - (ours.stageSeconds.loadUsage + ours.stageSeconds.computeFeatures + ours.stageSeconds.clusterSubscribers + ours.stageSeconds.trainAndScoreChurn + ours.stageSeconds.publishSnapshot) / ours.totalSeconds;
      lines.push(
        `| ${size.toLocaleString('en-US')} | ${ours.rows.toLocaleString('en-US')} | ${fmt(ours.totalSeconds)} | ${stage('loadUsage')} | ${stage('computeFeatures')} | ${stage('clusterSubscribers')} | ${stage('trainAndScoreChurn')} | ${stage('publishSnapshot')} | ${(overhead * 100).toFixed(1)}% | ${fmt(ours.peakRssMb, 0)} | ${Math.round(ours.rows / ours.totalSeconds).toLocaleString('en-US')} | ${peer ? fmt(peer.timings.total) : '-'} | ${peer ? fmt(peer.timings.total / ours.totalSeconds, 2) : '-'} | ${peer ? fmt(peer.peak_rss_mb, 0) : '-'} |`,
      );
      quality.push(
        `| ${size.toLocaleString('en-US')} | ${ours.rocAuc.toFixed(4)} | ${peer ? peer.tree_holdout_auc.toFixed(4) : '-'} | ${fmt(ours.treeTrainSeconds, 2)} | ${peer ? fmt(peer.timings.tree_train, 2) : '-'} | ${fmt(ours.kmeansSeconds, 2)} | ${peer ? fmt(peer.timings.cluster, 2) : '-'} | ${Math.round(ours.inertia).toLocaleString('en-US')} | ${peer ? Math.round(peer.kmeans_inertia).toLocaleString('en-US') : '-'} | ${raw.kmeans} | ${raw.cart} |`,
      );
      if (peer && size === sizes[0]) lines.unshift(`Peer: Python ${Object.entries(peer.versions).map(([n, v]) => `${n} ${v}`).join(', ')} (bench/peer.py: same Parquet, same feature SQL, KMeans on all rows, DecisionTreeClassifier)`);
    }
    console.log([...lines, ...quality].join('\n'));
    console.log('\nsegflow total = workflow start to result through the server (server already up); stages = activity start to completion; orchestration share = the rest (audit records, scheduling, payloads). Peer total = its script from load to scores, no orchestration, no validation, no publishing.');
  } finally {
    await client.connection.close();
    await server.stop();
    await rm(state, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
