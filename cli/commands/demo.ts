import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { generateSample } from '../../data/generate';
import { loadConfig, type SegflowConfig } from '../../worker/config';
import { createSegflowWorker } from '../../worker';
import { installLogger } from '../../worker/logger';
import { connectClient, describeRunFailure, followRun, startMonthlyRun } from '../../pipelines/client';
import { ensureDevServer } from '../dev-server';
import { untilInterrupted } from '../os-signals';
import { elapsed, printResult } from '../format';
import { progressDisplay } from '../progress';
import { EXIT, positiveInt, previousMonth } from '../options';

export const DEMO_DEFAULTS = { subscribers: 20_000, months: 12, seed: 42 };

export function sampleDir(config: SegflowConfig): string {
  return join(config.home, 'data', 'sample');
}

/** Generates the demo sample unless one with the same shape is already there. */
async function ensureSample(
  config: SegflowConfig,
  shape: { subscribers: number; months: number; lastMonth: string; seed: number },
): Promise<string> {
  const dir = sampleDir(config);
  const metaPath = join(dir, 'sample.json');
  if (existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as typeof shape;
    if (
      meta.subscribers === shape.subscribers &&
      meta.months === shape.months &&
      meta.lastMonth === shape.lastMonth &&
      meta.seed === shape.seed
    ) {
      console.log(`${elapsed()}  sample data present: ${dir}`);
      return meta.lastMonth;
    }
  }
  console.log(
    `${elapsed()}  generating sample: ${shape.subscribers.toLocaleString('en-US')} subscribers x ${shape.months} months -> ${dir}`,
  );
  const summary = await generateSample({ outDir: dir, ...shape });
  console.log(
    `${elapsed()}  ${summary.usageRows.toLocaleString('en-US')} usage rows in ${summary.seconds.toFixed(1)}s`,
  );
  return summary.lastMonth;
}

async function demo(options: { subscribers: number; months: number; keepRunning: boolean }): Promise<number> {
  installLogger('warn');
  const config = loadConfig();
  const lastMonth = await ensureSample(config, {
    subscribers: options.subscribers,
    months: options.months,
    lastMonth: previousMonth(),
    seed: DEMO_DEFAULTS.seed,
  });

  console.log(`${elapsed()}  Temporal dev server at ${config.temporal.address}`);
  const server = await ensureDevServer({ address: config.temporal.address, stateDir: join(config.home, 'temporal') });
  console.log(
    `${elapsed()}  ${server.started ? 'started' : 'reusing running server'}; starting worker on task queue "${config.temporal.taskQueue}"`,
  );
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
      const display = progressDisplay();
      const result = await followRun(handle, (progress) => display.update(progress)).finally(() => display.stop());
      printResult(result, { uiUrl: server.uiUrl, workflowId: handle.workflowId, namespace: config.temporal.namespace });
    } catch (error) {
      console.error(`\nrun failed: ${describeRunFailure(error)}`);
      exitCode = EXIT.failed;
    }
    if (options.keepRunning) {
      console.log(`\nServer and worker keep running (Web UI ${server.uiUrl}); press Ctrl-C to stop.`);
      await untilInterrupted();
    }
  } finally {
    worker.shutdown();
    await workerRun;
    await connection.close();
    await server.stop();
  }
  return exitCode;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'End-to-end run on an embedded default: sample data, local Temporal dev server, worker, one monthly run.',
    )
    .addOption(
      new Option('--subscribers <n>', 'sample subscribers').argParser(positiveInt).default(DEMO_DEFAULTS.subscribers),
    )
    .addOption(new Option('--months <n>', 'sample months').argParser(positiveInt).default(DEMO_DEFAULTS.months))
    .option('--keep-running', 'leave the server and worker up to explore the Web UI', false)
    .action(async (options) => process.exit(await demo(options)));
}
