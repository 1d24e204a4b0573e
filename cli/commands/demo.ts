import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { Option, type Command } from '@commander-js/extra-typings';
import { loadConfig, type SegflowConfig } from '../../worker/config';
import { hashFile, paramsHash } from '../../store/hashing';
import { latestVersion, listVersions, readManifest } from '../../store/snapshots';
import { elapsed, printResult } from '../format';
import { EXIT, positiveInt, previousMonth, sampleMonthsOption, uiPortOption } from '../options';

export const DEMO_DEFAULTS = { subscribers: 20_000, months: 12, seed: 42 };
/** How the demo's runs name who asked: `<user> (demo)`. */
const DEMO_REQUESTER = ' (demo)';

export function sampleDir(config: SegflowConfig): string {
  return join(config.home, 'data', 'sample');
}

/** Generates the demo sample unless one with the same shape is already there. */
export async function ensureSample(
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
    // the demo keeps one sample: the snapshots computed from the one replaced lose their input
    console.log(
      `${elapsed()}  replacing the sample of ${meta.subscribers.toLocaleString('en-US')} subscribers x ${meta.months} months to ${meta.lastMonth} (seed ${meta.seed}): snapshots computed from it can no longer be reproduced ('segflow generate --out <folder>' keeps a sample of its own)`,
    );
  }
  console.log(
    `${elapsed()}  generating sample: ${shape.subscribers.toLocaleString('en-US')} subscribers x ${shape.months} months -> ${dir}`,
  );
  const { generateSample } = await import('../../data/generate');
  const summary = await generateSample({ outDir: dir, ...shape });
  console.log(
    `${elapsed()}  ${summary.usageRows.toLocaleString('en-US')} usage rows in ${summary.seconds.toFixed(1)}s`,
  );
  return summary.lastMonth;
}

/**
 * The newest version of `month` computed from these parameters and the same input bytes, if
 * any: running the demo again would publish an identical new version of it.
 */
export async function identicalSnapshot(config: SegflowConfig, params: Record<string, unknown>) {
  const { parseRunParams } = await import('../../domain/params');
  const parsed = parseRunParams(params);
  if (!parsed.ok) return undefined;
  const month = parsed.params.month;
  for (const version of (await listVersions(config.store, month)).reverse()) {
    const manifest = await readManifest(config.store, month, version).catch(() => undefined);
    if (!manifest || manifest.paramsHash !== paramsHash(parsed.params)) continue;
    const unchanged = await Promise.all(
      manifest.inputs.map((file) =>
        hashFile(file.path).then(
          (now) => now.sha256 === file.sha256,
          () => false,
        ),
      ),
    );
    if (unchanged.every(Boolean)) return version;
  }
  return undefined;
}

/**
 * The month's latest version when an analyst chose it: published from other parameters or another
 * input than the demo's. The demo then publishes an experiment, so the month keeps meaning that
 * version to next month's run, campaigns and every command (undefined: no latest, or the demo's).
 */
export async function latestChosenElsewhere(
  config: SegflowConfig,
  params: Record<string, unknown>,
): Promise<number | undefined> {
  const { parseRunParams } = await import('../../domain/params');
  const parsed = parseRunParams(params);
  if (!parsed.ok) return undefined;
  const latest = await latestVersion(config.store, parsed.params.month);
  if (latest === undefined) return undefined;
  const manifest = await readManifest(config.store, parsed.params.month, latest).catch(() => undefined);
  // the demo's own, even of an older segflow whose parameters hash otherwise (a parameter added since)
  if (!manifest || manifest.requestedBy.endsWith(DEMO_REQUESTER)) return undefined;
  return manifest.paramsHash !== paramsHash(parsed.params) ? latest : undefined;
}

async function demo(options: {
  subscribers: number;
  months: number;
  keepRunning: boolean;
  uiPort?: number;
}): Promise<number> {
  const config = loadConfig();
  const lastMonth = await ensureSample(config, {
    subscribers: options.subscribers,
    months: options.months,
    lastMonth: previousMonth(),
    seed: DEMO_DEFAULTS.seed,
  });
  const params = { month: lastMonth, input: join(sampleDir(config), 'usage') };
  const same = await identicalSnapshot(config, params);
  const chosen = await latestChosenElsewhere(config, params);
  for (const note of demoRerunNotes(lastMonth, same, chosen)) console.log(`${elapsed()}  note: ${note}`);

  const { describeRunFailure, followRun, startMonthlyRun } = await import('../../pipelines/client');
  const { withLocalStack } = await import('../local-stack');
  const { progressDisplay } = await import('../progress');
  let exitCode: number = EXIT.ok;
  const outcome = await withLocalStack(config, { uiPort: options.uiPort }, async ({ client, server }) => {
    const { handle } = await startMonthlyRun(client, config, {
      params,
      requestedBy: `${userInfo().username}${DEMO_REQUESTER}`,
      ...(chosen !== undefined ? { experiment: true } : {}),
    });
    console.log(`${elapsed()}  started workflow ${handle.workflowId}`);
    try {
      const display = progressDisplay();
      const result = await followRun(handle, (progress) => display.update(progress)).finally(() => display.stop());
      // the link is dead once the command stops a server it started
      const uiUrl = options.keepRunning || !server.started ? server.uiUrl : undefined;
      printResult(result, { uiUrl, workflowId: handle.workflowId, namespace: config.temporal.namespace });
      console.log(
        `\n${options.subscribers.toLocaleString('en-US')} subscribers were generated over ${options.months} months; the ${result.subscribers.toLocaleString('en-US')} with usage in ${result.month} were scored (the others left before it).`,
      );
    } catch (error) {
      console.error(`\nrun failed: ${describeRunFailure(error)}`);
      exitCode = EXIT.failed;
    }
    if (options.keepRunning) {
      console.log(`\nServer and worker keep running (Web UI ${server.uiUrl}); press Ctrl-C to stop.`);
      await new Promise<never>(() => {}); // until Ctrl-C ends withLocalStack
    }
  });
  // Ctrl-C after the run (--keep-running) is the normal way out; during the run it is an interruption
  return outcome.interrupted && !options.keepRunning ? EXIT.interrupted : exitCode;
}

/**
 * What the demo says before it starts when the month has versions already: that it publishes an
 * experiment when an analyst's version is the latest, and that a version computed from the same
 * sample and parameters exists (to promote again, or to reproduce instead of publishing a twin).
 */
export function demoRerunNotes(month: string, same: number | undefined, chosen: number | undefined): string[] {
  const notes: string[] = [];
  if (chosen !== undefined)
    notes.push(
      `${month}'s latest is v${chosen}, published with other parameters or input than the demo's: this run publishes an experiment, so ${month} keeps meaning v${chosen} ('segflow snapshots promote' adopts the demo's instead)`,
    );
  if (same !== undefined)
    notes.push(
      chosen !== undefined
        ? `${month}/v${same} was computed from this sample with these parameters: 'segflow snapshots promote ${month}/v${same} --reason …' makes it the latest again without a run`
        : `${month}/v${same} was computed from this sample with these parameters; this run publishes an identical new version (a rerun never overwrites). 'segflow snapshots reproduce ${month}/v${same}' checks a version without publishing one.`,
    );
  return notes;
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
    .addOption(sampleMonthsOption().default(DEMO_DEFAULTS.months))
    .option('--keep-running', 'leave the server and worker up to explore the Web UI', false)
    .addOption(uiPortOption())
    .action(async (options) => process.exit(await demo(options)));
}
