import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { generateSample } from '../data/generate';
import { addMonths } from '../domain/month';
import { parseRunParams } from '../domain/params';
import { loadConfig, type SegflowConfig } from '../worker/config';
import { createSegflowWorker } from '../worker';
import { installLogger } from '../worker/logger';
import { UsageError, connectClient, describeRunFailure, followRun, startMonthlyRun } from './client';
import { ensureDevServer } from './dev-server';
import { elapsed, printProgress, printResult } from './format';

/** Exit codes: 0 success, 1 the run failed, 2 bad usage or parameters, 3 infrastructure unreachable. */
const EXIT = { ok: 0, runFailed: 1, usage: 2, infrastructure: 3 } as const;

const DEMO_DEFAULTS = { subscribers: 20_000, months: 12, seed: 42 };

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** --param k=8 --param treeDepth=5: values parse as JSON when they can (numbers, booleans), else text. */
function collectParam(pair: string, previous: Record<string, unknown>): Record<string, unknown> {
  const at = pair.indexOf('=');
  if (at < 1) throw new InvalidArgumentError(`expected name=value, got "${pair}"`);
  const raw = pair.slice(at + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // not JSON: keep the text
  }
  return { ...previous, [pair.slice(0, at)]: value };
}

function previousMonth(): string {
  const now = new Date();
  return addMonths(`${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`, -1);
}

function sampleDir(config: SegflowConfig): string {
  return join(config.home, 'data', 'sample');
}

/** Generates the demo sample unless one with the same shape is already there. */
async function ensureSample(config: SegflowConfig, shape: { subscribers: number; months: number; lastMonth: string; seed: number }): Promise<string> {
  const dir = sampleDir(config);
  const metaPath = join(dir, 'sample.json');
  if (existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as typeof shape;
    if (meta.subscribers === shape.subscribers && meta.months === shape.months && meta.lastMonth === shape.lastMonth && meta.seed === shape.seed) {
      console.log(`${elapsed()}  sample data present: ${dir}`);
      return meta.lastMonth;
    }
  }
  console.log(`${elapsed()}  generating sample: ${shape.subscribers.toLocaleString('en-US')} subscribers x ${shape.months} months -> ${dir}`);
  const summary = await generateSample({ outDir: dir, ...shape });
  console.log(`${elapsed()}  ${summary.usageRows.toLocaleString('en-US')} usage rows in ${summary.seconds.toFixed(1)}s`);
  return summary.lastMonth;
}

async function demo(options: { subscribers: number; months: number; keepRunning: boolean }): Promise<number> {
  installLogger('warn');
  const config = loadConfig();
  const lastMonth = await ensureSample(config, { subscribers: options.subscribers, months: options.months, lastMonth: previousMonth(), seed: DEMO_DEFAULTS.seed });

  console.log(`${elapsed()}  Temporal dev server at ${config.temporal.address}`);
  const server = await ensureDevServer({ address: config.temporal.address, stateDir: join(config.home, 'temporal') });
  console.log(`${elapsed()}  ${server.started ? 'started' : 'reusing running server'}; starting worker on task queue "${config.temporal.taskQueue}"`);
  const { worker, connection } = await createSegflowWorker({ config });
  const workerRun = worker.run();
  let exitCode: number = EXIT.ok;
  try {
    const client = await connectClient(config);
    const { handle } = await startMonthlyRun(client, config, {
      params: { month: lastMonth, input: join(sampleDir(config), 'usage') },
      requestedBy: `${userInfo().username} (demo)`,
    });
    console.log(`${elapsed()}  started workflow ${handle.workflowId}`);
    try {
      const result = await followRun(handle, printProgress);
      printResult(result, { uiUrl: server.uiUrl, workflowId: handle.workflowId, namespace: config.temporal.namespace });
    } catch (error) {
      console.error(`\nrun failed: ${describeRunFailure(error)}`);
      exitCode = EXIT.runFailed;
    }
    if (options.keepRunning) {
      console.log(`\nServer and worker keep running (Web UI ${server.uiUrl}); press Ctrl-C to stop.`);
      await new Promise<void>((resolveStop) => process.once('SIGINT', () => resolveStop()));
    }
  } finally {
    worker.shutdown();
    await workerRun;
    await connection.close();
    await server.stop();
  }
  return exitCode;
}

async function runCommand(options: {
  month: string;
  input?: string;
  param: Record<string, unknown>;
  params?: string;
  requestedBy: string;
  wait: boolean;
  json: boolean;
}): Promise<number> {
  const config = loadConfig();
  const fromFile = options.params ? (JSON.parse(readFileSync(options.params, 'utf8')) as Record<string, unknown>) : {};
  const params = { ...fromFile, ...options.param, month: options.month, input: resolve(options.input ?? join(sampleDir(config), 'usage')) };
  const client = await connectClient(config);
  const { handle } = await startMonthlyRun(client, config, { params, requestedBy: options.requestedBy });
  if (!options.wait) {
    console.log(options.json ? JSON.stringify({ workflowId: handle.workflowId }) : `started ${handle.workflowId}`);
    return EXIT.ok;
  }
  if (!options.json) console.log(`${elapsed()}  started workflow ${handle.workflowId}`);
  try {
    const result = await followRun(handle, options.json ? () => {} : printProgress);
    if (options.json) console.log(JSON.stringify({ workflowId: handle.workflowId, ...result }, null, 2));
    else printResult(result, { workflowId: handle.workflowId, namespace: config.temporal.namespace });
    return EXIT.ok;
  } catch (error) {
    const message = describeRunFailure(error);
    if (options.json) console.log(JSON.stringify({ workflowId: handle.workflowId, error: message }));
    else console.error(`run failed: ${message}`);
    return EXIT.runFailed;
  }
}

/** The run parameters with their defaults, from the params schema itself. */
function paramsHelp(): string {
  const parsed = parseRunParams({ month: '2000-01', input: '.' });
  if (!parsed.ok) return '';
  const rows = Object.entries(parsed.params)
    .filter(([name]) => name !== 'month' && name !== 'input')
    .map(([name, value]) => `  ${name.padEnd(26)} default ${JSON.stringify(value)}`);
  return `\nRun parameters (--param name=value), ranges in domain/params.ts:\n${rows.join('\n')}`;
}

export function buildProgram(): Command {
  const program = new Command('segflow')
    .description('Monthly telecom segmentation, churn scoring and retention actions as versioned snapshots, orchestrated by Temporal.')
    .showHelpAfterError();

  program
    .command('demo')
    .description('Install-free end-to-end run: sample data, local Temporal dev server, worker, one monthly run.')
    .addOption(new Option('--subscribers <n>', 'sample subscribers').argParser(positiveInt).default(DEMO_DEFAULTS.subscribers))
    .addOption(new Option('--months <n>', 'sample months').argParser(positiveInt).default(DEMO_DEFAULTS.months))
    .option('--keep-running', 'leave the server and worker up to explore the Web UI', false)
    .action(async (options) => process.exit(await demo(options)));

  program
    .command('run')
    .description('Start a monthly run on the connected Temporal server (needs a worker: segflow worker).')
    .requiredOption('--month <YYYY-MM>', 'month to segment and score')
    .option('--input <path>', 'usage Parquet file or folder (default: the demo sample)')
    .option('--param <name=value>', 'run parameter, repeatable (listed below)', collectParam, {})
    .option('--params <file.json>', 'run parameters from a JSON file (--param wins)')
    .option('--requested-by <name>', 'who asked for the run, for the audit log', userInfo().username)
    .option('--no-wait', 'print the workflow id and return')
    .option('--json', 'machine-readable output', false)
    .addHelpText('after', paramsHelp())
    .action(async (options) => process.exit(await runCommand(options)));

  program
    .command('worker')
    .description('Run a worker on the segflow task queue until interrupted.')
    .action(async () => {
      installLogger('info');
      const { worker } = await createSegflowWorker({ config: loadConfig() });
      await worker.run();
    });

  program
    .command('server')
    .description('Start the local Temporal dev server (SQLite under .segflow/temporal) until interrupted.')
    .action(async () => {
      const config = loadConfig();
      const server = await ensureDevServer({ address: config.temporal.address, stateDir: join(config.home, 'temporal') });
      console.log(`Temporal dev server ${server.started ? 'started' : 'already running'} at ${server.address}; Web UI ${server.uiUrl}`);
      if (!server.started) return;
      await new Promise<void>((resolveStop) => process.once('SIGINT', () => resolveStop()));
      await server.stop();
    });

  program
    .command('generate')
    .description('Write a deterministic synthetic usage sample (Parquet) with ground truth.')
    .requiredOption('--out <dir>', 'output folder (replaced)')
    .addOption(new Option('--subscribers <n>', 'subscribers').argParser(positiveInt).default(DEMO_DEFAULTS.subscribers))
    .addOption(new Option('--months <n>', 'months').argParser(positiveInt).default(DEMO_DEFAULTS.months))
    .option('--last-month <YYYY-MM>', 'last month of the sample', previousMonth())
    .addOption(new Option('--seed <n>', 'random seed').argParser(positiveInt).default(DEMO_DEFAULTS.seed))
    .action(async (options) => {
      const summary = await generateSample({ outDir: resolve(options.out), subscribers: options.subscribers, months: options.months, lastMonth: options.lastMonth, seed: options.seed });
      console.log(JSON.stringify(summary, null, 2));
    });

  return program;
}

buildProgram()
  .parseAsync()
  .catch((error: unknown) => {
    console.error(`segflow: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(error instanceof UsageError ? EXIT.usage : error instanceof Error && /cannot reach Temporal/.test(error.message) ? EXIT.infrastructure : EXIT.runFailed);
  });
