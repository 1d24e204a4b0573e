import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { loadConfig } from '../../worker/config';
import { connectClient } from '../../pipelines/client';
import {
  backfillMonths,
  createMonthlySchedule,
  DEFAULT_SCHEDULE_ID,
  SCHEDULE_DEFAULTS,
  summariseSchedule,
  waitForScheduledMonths,
} from '../../pipelines/schedules';
import { paramsFromOptions, paramsHelp } from './run';
import { EXIT, collectParam, monthArg, output, partitionsOption, positiveInt } from '../options';

function hourArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 23) throw new Error('--hour must be 0..23');
  return n;
}

export function registerSchedule(program: Command): void {
  const schedule = program
    .command('schedule')
    .description('The monthly run as a Temporal Schedule: each run processes the month before its scheduled time.');
  const id = () => new Option('--id <scheduleId>', 'schedule id').default(DEFAULT_SCHEDULE_ID);

  schedule
    .command('create')
    .description('Create the monthly schedule.')
    .requiredOption('--input <path>', 'usage Parquet folder the runs read')
    .addOption(id())
    .addOption(
      new Option('--day-of-month <n>', 'day the run starts (2-28)')
        .argParser(positiveInt)
        .default(SCHEDULE_DEFAULTS.dayOfMonth),
    )
    .addOption(new Option('--hour <h>', 'hour the run starts').argParser(hourArg).default(SCHEDULE_DEFAULTS.hour))
    .option('--timezone <tz>', 'IANA time zone of the calendar', SCHEDULE_DEFAULTS.timezone)
    .addOption(
      new Option('--overlap <policy>', 'when the previous run is still going')
        .choices(['skip', 'buffer'])
        .default(SCHEDULE_DEFAULTS.overlap),
    )
    .option(
      '--catchup-window <duration>',
      'missed starts older than this are not caught up after downtime',
      SCHEDULE_DEFAULTS.catchupWindow,
    )
    .option('--pause-on-failure', 'pause the schedule when a run fails', false)
    .option('--param <name=value>', 'run parameter, repeatable', collectParam, {})
    .option('--params <file.json>', 'run parameters from a JSON file')
    .addOption(partitionsOption())
    .addHelpText('after', paramsHelp())
    .action(async (options) => {
      const config = loadConfig();
      const client = await connectClient(config);
      await createMonthlySchedule(client, config, {
        scheduleId: options.id,
        input: resolve(options.input),
        params: paramsFromOptions(options),
        partitions: options.partitions,
        dayOfMonth: options.dayOfMonth,
        hour: options.hour,
        minute: 0,
        timezone: options.timezone,
        overlap: options.overlap,
        catchupWindow: options.catchupWindow,
        pauseOnFailure: options.pauseOnFailure,
      });
      console.log(`created schedule ${options.id}`);
    });

  schedule
    .command('describe')
    .description('Show the schedule: calendar, policies, next and recent runs.')
    .addOption(id())
    .option('--json', 'machine-readable output', false)
    .action(async (options) => {
      const client = await connectClient(loadConfig());
      const summary = summariseSchedule(await client.schedule.getHandle(options.id).describe());
      output(options.json, summary, (s) => JSON.stringify(s, null, 2));
    });

  for (const [name, description] of [
    ['pause', 'Pause the schedule (runs stop starting).'],
    ['unpause', 'Unpause the schedule.'],
    ['trigger', 'Start a run now (it processes the previous month).'],
    ['delete', 'Delete the schedule (published snapshots stay).'],
  ] as const) {
    schedule
      .command(name)
      .description(description)
      .addOption(id())
      .option('--note <text>', 'note recorded with pause / unpause')
      .action(async (options: { id: string; note?: string }) => {
        const handle = (await connectClient(loadConfig())).schedule.getHandle(options.id);
        if (name === 'pause') await handle.pause(options.note);
        else if (name === 'unpause') await handle.unpause(options.note);
        else if (name === 'trigger') await handle.trigger();
        else await handle.delete();
        console.log(`${name}: ${options.id}`);
      });
  }

  schedule
    .command('backfill')
    .description(
      'Run the schedule for past months, then wait until every month has its snapshot (backfills can stall silently).',
    )
    .addOption(id())
    .requiredOption('--from <YYYY-MM>', 'first month to process', monthArg)
    .requiredOption('--to <YYYY-MM>', 'last month to process', monthArg)
    .addOption(
      new Option('--timeout <minutes>', 'how long to wait for the snapshots').argParser(positiveInt).default(60),
    )
    .option('--no-wait', 'request the backfill and return')
    .option('--json', 'machine-readable output', false)
    .action(async (options) => {
      const config = loadConfig();
      const client = await connectClient(config);
      const since = new Date();
      const months = await backfillMonths(client, options.id, options.from, options.to);
      if (!options.wait)
        return output(options.json, { requested: months }, (v) => `backfill requested for ${v.requested.join(', ')}`);
      if (!options.json) console.log(`backfill requested for ${months.join(', ')}; waiting for their snapshots`);
      const { published, failed, missing } = await waitForScheduledMonths(
        config,
        options.id,
        months,
        since,
        options.timeout * 60_000,
      );
      const report = { published: Object.fromEntries(published), failed: Object.fromEntries(failed), missing };
      output(options.json, report, (r) =>
        [
          ...Object.entries(r.published).map(([month, version]) => `  ${month}  published v${version}`),
          ...Object.entries(r.failed).map(([month, error]) => `  ${month}  FAILED ${error}`),
          ...r.missing.map(
            (month) =>
              `  ${month}  MISSING: no snapshot after ${options.timeout} min (check 'segflow schedule describe' and the worker)`,
          ),
        ].join('\n'),
      );
      process.exit(failed.size + missing.length === 0 ? EXIT.ok : EXIT.failed);
    });
}
