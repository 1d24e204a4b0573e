import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Option, type Command } from '@commander-js/extra-typings';
import { InfrastructureError } from '../../domain/errors';
import { loadConfig } from '../../worker/config';
import { untilInterrupted } from '../os-signals';
import { DEMO_DEFAULTS } from './demo';
import { count } from '../../domain/decimals';
import { monthBefore, notEndedYet } from '../../domain/month';
import { jsonOption as json } from '../json-option';
import { monthArg, output, positiveInt, previousMonth, sampleMonthsOption, uiPortOption, required } from '../options';

export function registerInfra(program: Command): void {
  program
    .command('worker')
    .description(
      'Run a worker on SEGFLOW_TASK_QUEUE (default segflow), publishing into SEGFLOW_STORE, until interrupted (add more on other machines to share the work).',
    )
    .addOption(
      new Option(
        '--max-activities <n>',
        'activities run at once (default: the cores this process may use, at most 2)',
      ).argParser(positiveInt),
    )
    .action(async (options: { maxActivities?: number }) => {
      const [{ createSegflowWorker }, { installLogger }] = await Promise.all([
        import('../../worker'),
        import('../../worker/logger'),
      ]);
      const log = installLogger('info');
      const config = loadConfig();
      const { worker, connection } = await createSegflowWorker({
        config,
        ...(options.maxActivities ? { maxConcurrentActivities: options.maxActivities } : {}),
      });
      // what it serves, in a line: the task queue it polls and the store its runs publish into
      log.info(
        { taskQueue: config.temporal.taskQueue, address: config.temporal.address, store: config.store.storeDir },
        `segflow worker polling task queue "${config.temporal.taskQueue}" at ${config.temporal.address}, publishing into ${config.store.storeDir}`,
      );
      // a run names its files, and this worker reads them with its own rights: a file another user
      // may not read (a key, a password file) would be read, and its first lines quoted in errors
      if (!config.store.dataRoot)
        log.warn(
          `SEGFLOW_DATA_ROOT is not set: a run's input, labels, contact log and mapping may name any file this worker's user (${userInfo().username}) can read. A worker serving other users should confine them to a data folder: SEGFLOW_DATA_ROOT=/path/to/data (docs/configuration.md)`,
        );
      // the SDK stops the worker on Ctrl-C / SIGTERM; an open connection would keep the process alive
      await worker.run();
      await connection.close();
    });

  program
    .command('server')
    .description(
      'Start the local Temporal dev server at TEMPORAL_ADDRESS (SQLite under $SEGFLOW_HOME/temporal, search attributes registered) until interrupted; if the server stops without being asked to (killed, crashed), say how and exit 3.',
    )
    .addOption(uiPortOption())
    .action(async (options) => {
      const config = loadConfig();
      const { ensureDevServer } = await import('../dev-server');
      const server = await ensureDevServer({
        address: config.temporal.address,
        stateDir: join(config.home, 'temporal'),
        uiPort: options.uiPort,
      });
      console.log(
        `Temporal dev server ${server.started ? 'started' : 'already running'} at ${server.address}; Web UI ${server.uiUrl}`,
      );
      if (!server.started) return;
      const interrupted = untilInterrupted().then(() => undefined);
      const died = await Promise.race([interrupted, server.exitedUnasked]);
      // a service manager stopping the whole group signals the server and this command at once:
      // this command's own signal, just after, makes the server's end one that was asked for
      if (died && !(await Promise.race([interrupted.then(() => true), sleep(500, false)]))) {
        await server.stop(); // its record of the database, server.json
        const { describeServerExit } = await import('../dev-server');
        // not a clean stop: a supervisor restarting on failure must see one (exit 3)
        throw new InfrastructureError(
          `${describeServerExit(died)}\nits runs stay in SQLite and resume when 'segflow server' starts it again`,
        );
      }
      console.log('stopping the Temporal dev server (its runs stay in SQLite and resume when it starts again)');
      await server.stop();
    });

  program
    .command('generate')
    .description(
      'Write a deterministic synthetic usage sample (Parquet, partitioned by month) into <out>/usage, the input for segflow run, and its ground truth beside it.',
    )
    .option(
      '--out <dir>',
      "output folder: new, empty or an earlier sample's, whose usage/, truth.parquet and sample.json are replaced (required)",
    )
    .addOption(new Option('--subscribers <n>', 'subscribers').argParser(positiveInt).default(DEMO_DEFAULTS.subscribers))
    .addOption(sampleMonthsOption().default(DEMO_DEFAULTS.months))
    .option('--last-month <YYYY-MM>', 'last month of the sample (default: the month before this one)', monthArg)
    .addOption(new Option('--seed <n>', 'random seed').argParser(positiveInt).default(DEMO_DEFAULTS.seed))
    .addOption(json())
    .action(async (options) => {
      const out = resolve(required(options.out, '--out <dir>'));
      const { generateSample } = await import('../../data/generate');
      const summary = await generateSample({
        outDir: out,
        subscribers: options.subscribers,
        months: options.months,
        lastMonth: options.lastMonth ?? previousMonth(),
        seed: options.seed,
      });
      output(options.json, summary, (sample) =>
        [
          `wrote a sample of ${count(sample.subscribers)} subscribers over ${count(sample.months)} months (${sample.firstMonth} to ${sample.lastMonth}, seed ${sample.seed}): ${count(sample.usageRows)} usage rows, ${count(sample.churners)} churners, in ${sample.seconds.toFixed(1)} s`,
          `  usage          ${join(out, 'usage')}`,
          `  ground truth   ${join(out, 'truth.parquet')} (each subscriber's planted group and churn month)`,
        ].join('\n'),
      );
      // the folder also holds the ground truth, which is not usage: runs read its usage/ folder
      const notEnded = notEndedYet(summary.lastMonth);
      console.error(
        notEnded
          ? `note: ${notEnded}: segflow run takes its months up to ${monthBefore(new Date())} (--month), and ${summary.lastMonth} once it has ended; the usage is in ${join(out, 'usage')}`
          : `segflow run --month ${summary.lastMonth} --input ${join(out, 'usage')} reads this sample`,
      );
    });
}
