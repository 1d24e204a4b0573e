import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Client } from '@temporalio/client';
import type { Command } from '@commander-js/extra-typings';
import {
  InfrastructureError,
  InputFileError,
  InvalidParamsError,
  SchemaContractError,
  UsageError,
} from '../../domain/errors';
import { isPassedOverName } from '../../data/contract';
import type { ContactsMapping } from '../../domain/contacts-mapping';
import { addMonths, notEndedYet } from '../../domain/month';
import type { RunParams } from '../../domain/params';
import { loadConfig, temporalAddress, type SegflowConfig } from '../../worker/config';
import type { MonthlyRunHandle } from '../../pipelines/client';
import { elapsed, printResult } from '../format';
import { CHECK_MAX_CSV, checkLoadPlan } from '../load-plan-check';
import { paramsHelp } from '../params-help';
import { manifestNotes } from '../snapshot-text';
import type { SnapshotManifest } from '../../store/manifest';
import type { StoreConfig } from '../../store/layout';
import { fromLatest, nextMonthBuiltOn } from '../../store/snapshots';
import type { MonthlySegmentationResult } from '../../workflows/monthly-segmentation';
import { sampleDir } from './demo';
import {
  checkedDuration,
  EXIT,
  monthArg,
  paramOption,
  partitionsOption,
  required,
  uiPortOption,
  wrappedNote,
  recordedName,
} from '../options';

/** What a published manifest says of the run's reuse, campaign measurement and follow-up, when this machine can read it. */
function manifestLinesOf(manifestPath: string): string | undefined {
  try {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as SnapshotManifest;
    const lines = manifestNotes(manifest);
    return lines.length ? lines.join('\n') : undefined;
  } catch {
    return undefined; // the worker's store may not be mounted here: the manifest and report still say it
  }
}

/**
 * A run's result as `run` (and `run --local`, `runs follow`) prints it: the result, then what its
 * manifest says of reuse, the campaign measurement and its follow-up, when this machine can read it.
 */
export function printRunResult(result: MonthlySegmentationResult, links: Parameters<typeof printResult>[1]): void {
  printResult(result, links);
  const more = manifestLinesOf(result.manifestPath);
  if (more) console.log(`\n${more}`);
}

/**
 * What `run` says before it starts when the month's latest snapshot measured a campaign and this
 * run, given no contact log, would take its place: next month's follow-up measures again the list
 * the latest measured (docs/campaigns.md, A month later), and this run measures none. Undefined
 * otherwise, and when this machine cannot read the store (the worker's may not be mounted here).
 */
export async function followUpEndsNote(
  store: StoreConfig,
  params: Pick<RunParams, 'month' | 'contacts'>,
  experiment: boolean,
): Promise<string | undefined> {
  if (experiment || params.contacts !== undefined) return undefined;
  const { month } = params;
  const latest = await fromLatest(store, month, (manifest) => manifest.metrics.campaigns);
  if (!latest?.value?.measured) return undefined;
  const { version, value: measured } = latest;
  const list = `${measured.dispatchFrom.month}/v${measured.dispatchFrom.version}`;
  return `note: ${month}/v${version} measured ${list}'s dispatch list against a contact log; this run is given none and, published, becomes ${month}'s latest, so ${addMonths(month, 1)}'s run will have no measurement to follow up a month later. Give --param contacts=<that log> to measure it again, or --experiment to publish beside it (docs/campaigns.md)`;
}

/**
 * What `run` says before it starts when the month's latest snapshot was built from another input
 * (an analyst trying an extract in the store the monthly runs publish into): published, this run
 * becomes the month's latest, which next month's run, campaigns and every `YYYY-MM` reference then
 * mean. Undefined for an experiment, the same input, or a store this machine cannot read.
 */
export async function otherInputNote(
  store: StoreConfig,
  params: Pick<RunParams, 'month' | 'input'>,
  experiment: boolean,
): Promise<string | undefined> {
  if (experiment) return undefined;
  const { month } = params;
  const latest = await fromLatest(store, month, (manifest) => manifest.params.input);
  if (latest?.value === undefined || resolve(latest.value) === resolve(params.input)) return undefined;
  const { version, value: input } = latest;
  return `note: ${month}'s latest, v${version}, was built from another input (${input}); published, this run becomes ${month}'s latest, which next month's run, campaigns and '${month}' in every command then mean. To try this input beside it, add --experiment (or use another SEGFLOW_HOME)`;
}

/** How many of next month's snapshots built on this month laterMonthNote names. */
const BUILT_ON_NAMED = 3;

/**
 * What `run` says before it starts when next month has snapshots built on a version of this month
 * (segment ids matched to it, its dispatch list measured): published, this run becomes the month's
 * latest, and they stay built on the version they were, as after a promote (an operator republished
 * a month once its late data came, and nothing said the month after must run again). Undefined for
 * an experiment, none, or a store this machine cannot read.
 */
export async function laterMonthNote(
  store: StoreConfig,
  params: Pick<RunParams, 'month'>,
  experiment: boolean,
): Promise<string | undefined> {
  if (experiment) return undefined;
  const built = await nextMonthBuiltOn(store, params.month).catch(() => []);
  if (built.length === 0) return undefined;
  const named = built
    .slice(-BUILT_ON_NAMED)
    .map(
      (b) => `${b.snapshot} on ${params.month}/v${b.on} (segment ids${b.measuredOn ? ', campaign measurement' : ''})`,
    );
  const more = built.length - named.length;
  return `note: ${named.join(', ')}${more > 0 ? ` and ${more} more` : ''} ${built.length === 1 ? 'was' : 'were'} built on ${params.month} as it stands; published, this run becomes ${params.month}'s latest and they stay as they are: run ${addMonths(params.month, 1)} again to build on it`;
}

/** Parameters from --params file.json, then --param pairs (which win). */
export function paramsFromOptions(options: {
  param: Record<string, unknown>;
  params?: string;
}): Record<string, unknown> {
  return { ...(options.params ? paramsFile(options.params) : {}), ...options.param };
}

/** A file a parameter or option names, or a usage error naming both. */
function readNamedFile(name: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`${name}: cannot read ${path}: ${(error as Error).message}`);
  }
}

/** The parameters in a --params file: a JSON object, or a usage error naming the file. */
function paramsFile(path: string): Record<string, unknown> {
  const text = readNamedFile('--params', path);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--params: ${path} is not JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new UsageError(`--params: ${path} must hold a JSON object of parameters, such as {"k": 6}`);
  return value as Record<string, unknown>;
}

/** The parameters with their files' paths made absolute: the worker may run elsewhere. */
export function withAbsolutePaths(params: Record<string, unknown>): Record<string, unknown> {
  const absolute = (name: 'mapping' | 'labels' | 'contacts' | 'contactsMapping') =>
    typeof params[name] === 'string' ? { [name]: resolve(params[name]) } : {};
  return {
    ...params,
    ...absolute('mapping'),
    ...absolute('labels'),
    ...absolute('contacts'),
    ...absolute('contactsMapping'),
  };
}

/**
 * Refuses an input folder that holds the store or its work folder (SEGFLOW_HOME inside --input): the
 * load would read the snapshots' Parquet files as usage, and stop on the audit log as a file it
 * cannot read, advising to move it out of the input folder.
 */
function assertStoreOutsideInput(store: StoreConfig, input: string): void {
  // a store not made yet: the real path of the nearest folder that is, links followed
  const real = (path: string): string => {
    try {
      return realpathSync(path);
    } catch {
      const parent = dirname(resolve(path));
      return parent === resolve(path) ? parent : join(real(parent), basename(path));
    }
  };
  const folder = real(input);
  for (const [what, path] of [
    ['store (SEGFLOW_STORE)', store.storeDir],
    ['work folder (SEGFLOW_WORK)', store.workDir],
  ] as const) {
    const inside = relative(folder, real(path));
    const outside = inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside);
    // the load passes over folders named .x or _x (.segflow, _tmp): a store in one is never read as usage
    const passedOver = inside.split(sep).some(isPassedOverName);
    if (!outside && !passedOver)
      throw new UsageError(
        `--input ${input} holds segflow's ${what}, ${path}: its snapshots and audit log would be read as usage. ` +
          'Give the folder of the usage files itself, or keep SEGFLOW_HOME outside the input',
      );
  }
}

/**
 * Reads the contact log's header as the run's plan will (its columns against the contract or its
 * mapping, its encoding): a log the run would stop on is said before a workflow starts and a
 * failed run is recorded (exit 2).
 */
async function assertContactLogReadable(
  path: string,
  encoding: string | undefined,
  mapping: ContactsMapping | undefined,
): Promise<void> {
  const [{ viewRawContacts }, { withConnection }, { mkdtemp, rm }] = await Promise.all([
    import('../../activities/contact-log'),
    import('../../activities/duckdb'),
    import('node:fs/promises'),
  ]);
  const workDir = await mkdtemp(join(tmpdir(), 'segflow-contacts-check-'));
  try {
    await withConnection(':memory:', (conn) => viewRawContacts(conn, path, { encoding, workDir, mapping }));
  } catch (error) {
    if (error instanceof InputFileError || error instanceof SchemaContractError || error instanceof InvalidParamsError)
      throw new UsageError(`contacts: ${error.message}`);
    throw error;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** The contact-log mapping at `path`, or a usage error (exit 2) for one that cannot be read or is invalid. */
async function readContactsMappingOrExit(path: string): Promise<ContactsMapping> {
  const { readContactsMapping } = await import('../../activities/contact-log');
  try {
    return (await readContactsMapping(path)).mapping;
  } catch (error) {
    if (error instanceof InvalidParamsError) throw new UsageError(`contactsMapping: ${error.message}`);
    throw error;
  }
}

/** Checks the parameters and that the input exists before anything connects or starts (exit 2). */
export async function validatedParams(
  params: Record<string, unknown>,
  options: { monthlyFiles?: 'now' | 'later'; store?: StoreConfig } = {},
): Promise<RunParams> {
  const { parseRunParams } = await import('../../domain/params');
  const parsed = parseRunParams(params);
  if (!parsed.ok) throw new UsageError(`invalid run parameters:\n  ${parsed.problems.join('\n  ')}`);
  for (const [name, path] of [
    ['--input', parsed.params.input],
    ['mapping', parsed.params.mapping],
  ] as const) {
    if (path !== undefined && !existsSync(path)) throw new UsageError(`${name}: no such file or folder: ${path}`);
  }
  // a schedule's labels and contact log are written anew before each month's run: they may not exist yet
  for (const [name, path] of [
    ['labels', parsed.params.labels],
    ['contacts', parsed.params.contacts],
  ] as const) {
    // one file: a folder of logs (each team's file) is not read as one
    if (name === 'contacts' && path !== undefined && statSync(path, { throwIfNoEntry: false })?.isDirectory())
      throw new UsageError(
        `contacts: ${path} is a folder: give one CSV or Parquet file holding every team's contacts (docs/campaigns.md, "The contact log")`,
      );
    if (path === undefined || existsSync(path)) continue;
    if (options.monthlyFiles !== 'later') throw new UsageError(`${name}: no such file or folder: ${path}`);
    console.error(`note: ${name} file ${path} does not exist yet; each scheduled run reads it when it starts`);
  }
  if (parsed.params.mapping !== undefined) {
    const { parseMapping } = await import('../../domain/mapping');
    const mapping = parseMapping(readNamedFile('mapping', parsed.params.mapping));
    if (!mapping.ok)
      throw new UsageError(`invalid mapping file ${parsed.params.mapping}:\n  ${mapping.problems.join('\n  ')}`);
  }
  if (options.store) assertStoreOutsideInput(options.store, parsed.params.input);
  // the contact log's mapping is one file for every month, a schedule's too: read now
  const contactsMapping =
    parsed.params.contactsMapping === undefined
      ? undefined
      : await readContactsMappingOrExit(parsed.params.contactsMapping);
  if (parsed.params.contacts !== undefined && existsSync(parsed.params.contacts)) {
    const checked = assertContactLogReadable(parsed.params.contacts, parsed.params.contactsEncoding, contactsMapping);
    // a schedule's log is written anew before each run: the file there now (a placeholder, last
    // year's) is said, not refused
    if (options.monthlyFiles !== 'later') await checked;
    else
      await checked.catch((error: unknown) => {
        if (!(error instanceof UsageError)) throw error;
        console.error(`note: ${error.message}; each scheduled run reads the file as it is when it starts`);
      });
  }
  // `segflow generate --out <dir>` writes the ground truth beside usage/: read as usage, it is a file without a month
  const { input } = parsed.params;
  if (existsSync(join(input, 'sample.json')) && existsSync(join(input, 'usage')))
    throw new UsageError(
      `--input ${input} is a sample folder written by segflow generate: its usage is in ${join(input, 'usage')} (truth.parquet beside it is the ground truth, not usage)`,
    );
  return parsed.params;
}

/** How long the input check runs before `run` says what it is waiting for. */
const CHECK_NOTED_AFTER_MS = 5_000;

/**
 * Refuses an input the run's plan would stop on (exit 2), before a workflow starts and a failed run
 * is recorded: a mapping naming a column the input lacks, a folder with no usage files, a file the
 * load cannot read (cli/load-plan-check.ts, the load's own plan). It takes the reading a run's plan
 * stored of the same files, as the run's plan will; a first run of new files is read by both, but
 * with `--local`, whose plan (this process) takes the check's reading.
 * Anything else going wrong in the check is noted, not refused: the run's plan will say it.
 */
async function assertLoadPlanPasses(
  store: StoreConfig,
  params: RunParams,
  partitions: number,
  /** The worker is this process (`--local`): what this user may not read, its plan may not either. */
  local: boolean,
): Promise<void> {
  // minutes on a large CSV read for the first time: said, or the command looks stuck
  const slow = setTimeout(
    () => console.error(`${elapsed()}  reading the input as the run's load plans it, before starting the run`),
    CHECK_NOTED_AFTER_MS,
  );
  const checked = await checkLoadPlan(params, {
    storeDir: store.storeDir,
    dataRoot: store.dataRoot,
    partitions,
    workerIsThisUser: local,
    handOver: local,
  }).finally(() => clearTimeout(slow));
  if ('stop' in checked)
    throw new UsageError(`the run would stop at its load: ${checked.stop.message}; nothing was started`);
  if ('tooMuchCsv' in checked)
    console.error(
      wrappedNote(
        `note: the input holds over ${CHECK_MAX_CSV}: not read before the start (the run's load plan reads and checks it; a mistake there fails the run, exit 1)`,
      ),
    );
  if ('unchecked' in checked)
    console.error(
      `note: the input could not be read as the run's load reads it (${checked.unchecked}); the run's load checks it`,
    );
}

/**
 * Every `everyMs` until the run progresses, says once when no worker polls the task queue and how
 * to start one (asked again: a worker stopped just before still counts for a minute or so).
 */
export function warnWhenNoWorker(
  taskQueue: string,
  hasPollers: () => Promise<boolean>,
  everyMs = 5_000,
  orElse = ", or use 'segflow run --local'",
): { progressed(): void } {
  let done = false;
  const timer = setInterval(() => {
    if (done) return clearInterval(timer);
    void hasPollers().then(
      (polled) => {
        if (polled || done) return;
        done = true;
        console.error(
          `${elapsed()}  waiting: no worker polls task queue "${taskQueue}". Start one with 'segflow worker' (same SEGFLOW_HOME and TEMPORAL_ADDRESS)${orElse}.`,
        );
      },
      () => {},
    );
  }, everyMs);
  timer.unref();
  return {
    progressed: () => {
      done = true;
      clearInterval(timer);
    },
  };
}

/**
 * What `run` says before it starts a run on a task queue that workers of another store poll. Not
 * a refusal, as `run --local` makes: a remote worker may mount this very store at another path.
 * Their store is where the snapshot will be, and with workers of both, the stages may be split.
 */
export function otherStoresNote(
  pollers: { others: { identity: string; store: string }[]; ours: string[] },
  config: SegflowConfig,
): string | undefined {
  if (pollers.others.length === 0) return undefined;
  const { taskQueue, address } = config.temporal;
  const stores = [...new Set(pollers.others.map((other) => other.store))];
  const workers = pollers.others.map((other) => other.identity.split(' ')[0]).join(', ');
  const where = `task queue "${taskQueue}" at ${address} is polled by workers of ${stores.length === 1 ? 'another store' : 'other stores'} (${stores.join(', ')}; workers ${workers})`;
  const remedy = `give each store its own SEGFLOW_TASK_QUEUE or TEMPORAL_ADDRESS (docs/configuration.md)`;
  if (pollers.ours.length > 0)
    return (
      `warning: ${where} as well as of this one (${config.store.storeDir}): Temporal gives each stage to whichever worker polls first, ` +
      `so this run may be published into the other store or fail between the two; ${remedy}`
    );
  return (
    `note: ${where}, and by none of this one (${config.store.storeDir}): the run will be published into ${stores.length === 1 ? 'that store' : 'one of them'}, ` +
    `not this one, unless it is this store mounted at another path. To publish here, start 'segflow worker' with this SEGFLOW_HOME, or ${remedy}`
  );
}

interface RunOptions {
  month: string;
  input?: string;
  param: Record<string, unknown>;
  params?: string;
  requestedBy: string;
  heartbeatTimeout: string;
  partitions: number;
  wait: boolean;
  json: boolean;
  reuse: boolean;
  experiment?: boolean;
  local?: boolean;
  uiPort?: number;
}

async function follow(
  handle: MonthlyRunHandle,
  client: Client,
  config: SegflowConfig,
  options: RunOptions,
  uiUrl?: string,
): Promise<number> {
  if (!options.json) console.log(`${elapsed()}  started workflow ${handle.workflowId}`);
  return followToItsEnd(handle, client, config, options, uiUrl);
}

/**
 * Shows a run's progress until it ends, then its result or why it failed; the exit code to give:
 * `run` after starting it, `runs follow` for one started elsewhere (a schedule's, a --no-wait).
 */
export async function followToItsEnd(
  handle: MonthlyRunHandle,
  client: Client,
  config: SegflowConfig,
  options: { json: boolean },
  uiUrl?: string,
): Promise<number> {
  const { describeRunFailure, followRun, taskQueueHasPollers } = await import('../../pipelines/client');
  const { progressDisplay } = await import('../progress');
  const { taskQueue } = config.temporal;
  const noWorker = warnWhenNoWorker(taskQueue, () => taskQueueHasPollers(client, taskQueue));
  try {
    const display = options.json ? undefined : progressDisplay();
    const result = await followRun(handle, (progress) => {
      noWorker.progressed();
      display?.update(progress);
    }).finally(() => display?.stop());
    if (options.json) console.log(JSON.stringify({ workflowId: handle.workflowId, ...result }, null, 2));
    else {
      printRunResult(result, { uiUrl, workflowId: handle.workflowId, namespace: config.temporal.namespace });
    }
    return EXIT.ok;
  } catch (error) {
    const ended = await runEndedOtherwise(error, handle.workflowId);
    if (options.json) console.log(JSON.stringify({ workflowId: handle.workflowId, error: describeRunFailure(error) }));
    else console.error(ended.text);
    return ended.exit;
  } finally {
    noWorker.progressed();
  }
}

/**
 * What following a run says when it did not publish, and the exit code (docs/cli.md): cancelled
 * ("run cancelled: …", 1; it said "run failed: CancelledFailure: …"), failed ("run failed: <type>:
 * <message>", 1), or the server gone while following (its ending unknown here, not a failure: 3).
 */
export async function runEndedOtherwise(error: unknown, workflowId: string): Promise<{ text: string; exit: number }> {
  const { describeRunFailure, isCancelledRun } = await import('../../pipelines/client');
  if (error instanceof InfrastructureError) return { text: describeRunFailure(error), exit: EXIT.infrastructure };
  if (isCancelledRun(error))
    return {
      text: `run cancelled: it published nothing ('segflow runs show ${workflowId}' says who asked)`,
      exit: EXIT.failed,
    };
  return { text: `run failed: ${describeRunFailure(error)}`, exit: EXIT.failed };
}

/** Ctrl-C stops following, not the run: said, or it looks stopped while it goes on to publish. */
export function stopFollowingOnCtrlC(id: string): void {
  process.once('SIGINT', () => {
    console.error(
      `\ninterrupted: the run goes on in Temporal; 'segflow runs follow ${id}' follows it again, 'segflow runs cancel ${id}' stops it`,
    );
    process.exit(EXIT.interrupted);
  });
}

async function run(options: RunOptions): Promise<number> {
  const config = loadConfig();
  // a malformed address is a typo to fix (exit 2), said before the input is read
  temporalAddress(config.temporal.address);
  const params = await validatedParams(
    {
      ...withAbsolutePaths(paramsFromOptions(options)),
      month: options.month,
      input: resolve(options.input ?? join(sampleDir(config), 'usage')),
    },
    { store: config.store },
  );
  // the demo's synthetic sample stands in for a forgotten --input: never unsaid
  if (options.input === undefined)
    console.error(`note: no --input: running on the demo's generated sample (${params.input}), not on your data`);
  await assertLoadPlanPasses(config.store, params, options.partitions, options.local === true);
  for (const note of [
    await otherInputNote(config.store, params, options.experiment === true),
    await followUpEndsNote(config.store, params, options.experiment === true),
    await laterMonthNote(config.store, params, options.experiment === true),
  ])
    if (note) console.error(note);
  const { connectClient, pollersOfOtherStores, startMonthlyRun, taskQueueHasPollers } =
    await import('../../pipelines/client');
  const start = (client: Client) =>
    startMonthlyRun(client, config, {
      params,
      requestedBy: options.requestedBy,
      heartbeatTimeout: options.heartbeatTimeout,
      partitions: options.partitions,
      reuse: options.reuse,
      experiment: options.experiment,
    });
  if (options.local) {
    const { withLocalStack } = await import('../local-stack');
    let exitCode: number = EXIT.ok;
    let workflowId: string | undefined;
    const outcome = await withLocalStack(config, { uiPort: options.uiPort, json: options.json }, async ({ client }) => {
      const { handle } = await start(client);
      workflowId = handle.workflowId;
      exitCode = await follow(handle, client, config, options);
    });
    if (!outcome.interrupted) return exitCode;
    console.error(
      workflowId
        ? `interrupted: the run stays in Temporal's history and resumes when a worker polls again; 'segflow runs cancel ${workflowId}' stops it`
        : 'interrupted before the run started: nothing was started',
    );
    return EXIT.interrupted;
  }
  const client = await connectClient(config);
  // a note, not a check: a server that will not describe the task queue does not stop the run
  const pollers = await pollersOfOtherStores(client, config.temporal.taskQueue, config.store).catch(() => undefined);
  const storesNote = pollers && otherStoresNote(pollers, config);
  if (storesNote) console.error(storesNote);
  if (options.uiPort !== undefined)
    console.error('note: --ui-port is for the dev server --local starts; this run uses the server at TEMPORAL_ADDRESS');
  const { handle } = await start(client);
  if (!options.wait) {
    console.log(options.json ? JSON.stringify({ workflowId: handle.workflowId }) : `started ${handle.workflowId}`);
    // what `run` says after five seconds of waiting, said before it returns: nothing will take the run yet
    const polled = await taskQueueHasPollers(client, config.temporal.taskQueue).catch(() => true);
    if (!polled)
      console.error(
        `note: no worker polls task queue "${config.temporal.taskQueue}": the run waits until one does. Start one with 'segflow worker' (same SEGFLOW_HOME and TEMPORAL_ADDRESS)`,
      );
    return EXIT.ok;
  }
  stopFollowingOnCtrlC(handle.workflowId);
  return follow(handle, client, config, options);
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description(
      'Start a monthly run (analyst rerun = a new snapshot version, never an overwrite), follow it, print the result.',
    )
    .option('--month <YYYY-MM>', 'month to segment and score (required)', monthArg)
    .option(
      '--input <path>',
      "usage Parquet/CSV file or folder, searched recursively, symlinks followed (default: the demo sample); read with the run's load plan before the run starts, and refused if the run would stop on it",
    )
    .addOption(paramOption())
    .option('--params <file.json>', 'run parameters from a JSON file (--param wins)')
    .option(
      '--requested-by <name>',
      'who asked for the run, for the audit log',
      recordedName('--requested-by'),
      userInfo().username,
    )
    .option('--heartbeat-timeout <duration>', 'how soon a stage on a dead worker is retried elsewhere', '30s')
    .addOption(partitionsOption())
    .option(
      '--no-reuse',
      'compute every stage again, taking nothing stored by earlier runs (it still stores its own; docs/reuse.md)',
    )
    .option(
      '--experiment',
      "publish without making it the month's latest: next month's run, campaigns and YYYY-MM keep to the latest (segflow snapshots promote makes it the latest)",
    )
    .option(
      '--local',
      'one command on your own file: start the embedded dev server (unless one listens) and a worker for this run, then stop them',
    )
    .addOption(uiPortOption())
    .option('--no-wait', 'print the workflow id and return')
    .option('--json', 'machine-readable output', false)
    .addHelpText('after', () => paramsHelp())
    .action(async (options) => {
      const month = required(options.month, '--month <YYYY-MM>');
      // the load would stop on it (no usage can have arrived): said before a workflow starts or an entry is written
      const notEnded = notEndedYet(month);
      if (notEnded) throw new UsageError(`--month ${notEnded}`);
      if (options.local && !options.wait) throw new UsageError('--local stops its worker at the end: drop --no-wait');
      await checkedDuration('--heartbeat-timeout', options.heartbeatTimeout);
      process.exit(await run({ ...options, month }));
    });
}
