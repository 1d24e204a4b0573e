import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from '@commander-js/extra-typings';
import { InputFileError, InvalidParamsError, UnreadInputFilesError, UsageError } from '../../domain/errors';
import { backfillRange, monthsWithoutInput, NoInputForMonthsError } from '../../domain/input-months';
import { addMonths, monthBefore } from '../../domain/month';
import { DEFAULT_SCHEDULE_ID, defaultScheduleId, SCHEDULE_DEFAULTS } from '../../domain/schedules';
import type { RunParams } from '../../domain/params';
import { loadConfig, type SegflowConfig } from '../../worker/config';
import type { ScheduledMonths, ScheduleSummary, Triggered } from '../../pipelines/schedules';
import type { AuditEntry } from '../../store/audit-log';
import type { RunProgress } from '../../workflows/monthly-segmentation';
import type { ProgressDisplay } from '../progress';
import { elapsed } from '../format';
import { jsonOption } from '../json-option';
import { CHECK_MAX_CSV, checkLoadPlan, deniedToThisUser } from '../load-plan-check';
import { paramsHelp } from '../params-help';
import { paramsFromOptions, validatedParams, warnWhenNoWorker, withAbsolutePaths } from './run';
import {
  checkedDuration,
  EXIT,
  monthArg,
  output,
  paramOption,
  partitionsOption,
  positiveInt,
  previousMonth,
  timeZoneArg,
  required,
  wrappedNote,
  recordedName,
} from '../options';

function hourArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 23) throw new InvalidArgumentError('must be an hour, 0-23');
  return n;
}

/**
 * A client and the schedule operations, loaded by the actions that use them (cli/program.ts), and
 * the key the audit entries are signed with (SEGFLOW_SIGNING_KEY, as the workers sign theirs).
 */
async function connected(config: SegflowConfig) {
  const [{ connectClient }, schedules, { loadSigner }] = await Promise.all([
    import('../../pipelines/client'),
    import('../../pipelines/schedules'),
    import('../../store/signing'),
  ]);
  const signer = config.signingKeyPath ? loadSigner(config.signingKeyPath) : undefined;
  return { client: await connectClient(config), schedules, signer };
}

/**
 * --id, whose default depends on SEGFLOW_TASK_QUEUE (domain/schedules.ts defaultScheduleId): read
 * in the action with the config (scheduleIdOf), so the help says the rule.
 */
const idOption = () =>
  new Option(
    '--id <scheduleId>',
    `schedule id (default: ${DEFAULT_SCHEDULE_ID} on the default task queue "segflow", ${DEFAULT_SCHEDULE_ID}-<SEGFLOW_TASK_QUEUE> on another: schedule ids are shared by every store on a Temporal server)`,
  ).argParser(recordedName('--id'));

/** The schedule a command acts on: --id, or this task queue's default. */
function scheduleIdOf(id: string | undefined, config: SegflowConfig): string {
  return id ?? defaultScheduleId(config.temporal.taskQueue);
}

/**
 * The schedule `id` as existingSchedule gives it (one of another task queue refused, exit 2,
 * before anything is changed or recorded), with a note on stderr when it was created from another
 * store on this task queue.
 */
async function described(
  { client, schedules }: Awaited<ReturnType<typeof connected>>,
  config: SegflowConfig,
  id: string,
) {
  const found = await schedules.existingSchedule(client, id, config);
  const note = schedules.otherStoreNote(id, found.description, config);
  if (note) console.error(note);
  return found;
}

/** `segflow schedule create|describe|pause|unpause|trigger|delete|backfill`. */
export function registerSchedule(program: Command): void {
  const schedule = program
    .command('schedule')
    .description('The monthly run as a Temporal Schedule: each run processes the month before its scheduled time.');
  addCreate(schedule);
  addDescribe(schedule);
  addPauseUnpause(schedule);
  addTrigger(schedule);
  addDelete(schedule);
  addBackfill(schedule);
}

function addCreate(schedule: Command): void {
  schedule
    .command('create')
    .description('Create the monthly schedule (recorded in the audit log).')
    .option('--input <path>', 'usage Parquet/CSV folder the runs read (required)')
    .addOption(idOption())
    .addOption(
      new Option('--day-of-month <n>', 'day the run starts (2-28)')
        .argParser(positiveInt)
        .default(SCHEDULE_DEFAULTS.dayOfMonth),
    )
    .addOption(
      new Option('--hour <h>', 'hour the run starts (0-23)').argParser(hourArg).default(SCHEDULE_DEFAULTS.hour),
    )
    .option('--timezone <tz>', 'IANA time zone of the calendar', timeZoneArg, SCHEDULE_DEFAULTS.timezone)
    .addOption(
      new Option('--overlap <policy>', 'when the previous run is still going')
        .choices(['skip', 'buffer'] as const)
        .default(SCHEDULE_DEFAULTS.overlap),
    )
    .option(
      '--catchup-window <duration>',
      'missed starts older than this are not caught up after downtime',
      SCHEDULE_DEFAULTS.catchupWindow,
    )
    .option('--pause-on-failure', 'pause the schedule when a run fails', false)
    .addOption(paramOption())
    .option('--params <file.json>', 'run parameters from a JSON file')
    .addOption(partitionsOption())
    .addHelpText('after', () => paramsHelp())
    .action(async (options) => {
      await checkedDuration('--catchup-window', options.catchupWindow);
      const input = resolve(required(options.input, '--input <path>'));
      if (!existsSync(input)) throw new UsageError(`--input: no such file or folder: ${input}`);
      // absolute, as the runs' worker (maybe elsewhere) reads them, and checked as stored
      const params = withAbsolutePaths(paramsFromOptions(options));
      // one month's list: each later month's run would stop on it as a list not of its month before
      if (params.dispatched !== undefined)
        throw new UsageError(
          `dispatched names one month's dispatch list (${JSON.stringify(params.dispatched)}): a schedule's runs measure the month before's latest list, so leave it out (docs/campaigns.md)`,
        );
      // checked as a run of last month would take them: a bad one would fail every scheduled run
      const config = loadConfig();
      const checked = await validatedParams(
        { ...params, month: previousMonth(), input },
        { monthlyFiles: 'later', store: config.store },
      );
      const id = scheduleIdOf(options.id, config);
      // and the input read as a run's load reads it: one lacking a contract column stops every run at once
      await assertInputMeetsContract(id, checked, config.store.dataRoot);
      const { client, schedules, signer } = await connected(config);
      // this task queue's schedule from before the default id named the task queue: a second one
      // beside it, on the same queue, would publish every month twice
      if (options.id === undefined && id !== DEFAULT_SCHEDULE_ID) {
        const old = await schedules.ownerOfSchedule(client, DEFAULT_SCHEDULE_ID);
        if (old?.taskQueue === config.temporal.taskQueue)
          throw new UsageError(
            `this task queue ("${config.temporal.taskQueue}") has its schedule already: ${DEFAULT_SCHEDULE_ID}, created before the default id named the task queue ('segflow schedule describe --id ${DEFAULT_SCHEDULE_ID}'). A second schedule beside it would run every month twice; pass --id ${DEFAULT_SCHEDULE_ID} to its commands, or --id ${id} to create a second one all the same. Nothing was created`,
          );
      }
      await schedules.createMonthlySchedule(client, config, {
        signer,
        scheduleId: id,
        input,
        params,
        partitions: options.partitions,
        dayOfMonth: options.dayOfMonth,
        hour: options.hour,
        minute: 0,
        timezone: options.timezone,
        overlap: options.overlap,
        catchupWindow: options.catchupWindow,
        pauseOnFailure: options.pauseOnFailure,
      });
      console.log(`created schedule ${id}`);
      // a note, not a check: a server that will not list its schedules does not undo the creation
      const others = await schedules
        .schedulesOnOtherInputs(client, config.temporal.taskQueue, id, input)
        .catch(() => []);
      const note = otherSchedulesNote(id, input, others, config.temporal.taskQueue);
      if (note) console.error(note);
    });
}

/**
 * Where a backfill stands, in a line: e.g. "2 of 6 months ended (2026-01 v1, 2026-02 failed);
 * running: 2026-03, 2026-04; waiting for a worker: 2026-05".
 */
export function backfillProgressLine(state: ScheduledMonths): string {
  const ended = [
    ...[...state.published].map(([month, version]) => `${month} v${version}`),
    ...[...state.failed.keys()].map((month) => `${month} failed`),
    ...state.cancelled.map((month) => `${month} cancelled`),
  ].sort();
  const total = ended.length + state.missing.length;
  const running = runningMonths(state);
  const notStarted = state.missing.filter((month) => !state.workflowIds.has(month));
  return [
    `${ended.length} of ${total} months ended${ended.length ? ` (${ended.join(', ')})` : ''}`,
    ...(running.length ? [`running: ${running.join(', ')}`] : []),
    ...(state.waiting.length ? [`waiting for a worker: ${state.waiting.join(', ')}`] : []),
    ...(notStarted.length ? [`not started yet: ${notStarted.join(', ')}`] : []),
  ].join('; ');
}

/** The months whose run has started and not ended, a worker on it (one at a time, as a backfill runs them). */
function runningMonths(state: ScheduledMonths): string[] {
  return state.missing.filter((month) => state.workflowIds.has(month) && !state.waiting.includes(month));
}

/** The running month's run as a backfill shows it: its display and the progress it last showed. */
interface ShownRun {
  workflowId: string;
  display: ProgressDisplay;
  last?: RunProgress;
}

/**
 * What `schedule backfill` says on stderr while it waits: where the months stand
 * (backfillProgressLine) each time that changes, and the running month's stage and rows from its
 * run's `progress` query, at most one query at a time, shown by `display` as `segflow run` shows
 * its own (cli/progress.ts: bars on a terminal; otherwise a line as a stage starts and rows every
 * few seconds). `query` gives what to show since the progress last shown, each stage passed
 * between two queries included (pipelines/client.ts progressSince). A query that fails (the run
 * between two workers, or just ended) shows nothing and fails nothing: the next read of the
 * months asks again.
 */
export class BackfillProgress {
  private line = '';
  private shown: ShownRun | undefined;
  private asking = false;

  constructor(
    private readonly query: (workflowId: string, last: RunProgress | undefined) => Promise<RunProgress[]>,
    private readonly display: (month: string) => ProgressDisplay,
    private readonly print: (line: string) => void,
  ) {}

  /** Told each time the months are read again (waitForScheduledMonths' onProgress); settles when its query has. */
  update(state: ScheduledMonths): Promise<void> {
    const month = runningMonths(state).at(0);
    const workflowId = month === undefined ? undefined : state.workflowIds.get(month);
    if (this.shown?.workflowId !== workflowId) this.stop();
    const line = backfillProgressLine(state);
    if (line !== this.line) {
      // a terminal's bars stop before a line is printed below them; a month still running keeps the
      // progress it showed (a waiting month's line changes beside it) and says its stage again beneath
      this.shown?.display.stop();
      this.print(`${elapsed()}  ${line}`);
      this.line = line;
      if (this.shown && month !== undefined) {
        this.shown.display = this.display(month);
        if (this.shown.last) this.shown.display.update(this.shown.last);
      }
    }
    if (month === undefined || workflowId === undefined) return Promise.resolve();
    this.shown ??= { workflowId, display: this.display(month) };
    return this.ask(this.shown);
  }

  private async ask(shown: ShownRun): Promise<void> {
    if (this.asking) return;
    this.asking = true;
    try {
      const steps = await this.query(shown.workflowId, shown.last);
      // a month that ended meanwhile keeps its last line
      if (this.shown !== shown) return;
      for (const step of steps) shown.display.update(step);
      shown.last = steps.at(-1) ?? shown.last;
    } catch {
      // nothing to show this time
    } finally {
      this.asking = false;
    }
  }

  stop(): void {
    this.shown?.display.stop();
    this.shown = undefined;
  }
}

/**
 * Refuses a schedule whose runs would stop at their load on the input as it is (exit 2, before it
 * connects): a required column of the contract missing (`lacks required column(s): spend`), a
 * file the load cannot read, a mapping that does not fit. Read by the run's own load plan
 * (cli/load-plan-check.ts checkLoadPlan, as `run` checks its input), on the files of the input's
 * newest month folder up to the month a run now would take (a later one may be a delivery still
 * arriving) and any outside month folders (those every run reads): nothing is cached or recorded.
 * Over CHECK_MAX_CSV of CSV among those files, nothing is read (a note says so), as `run` does.
 * The labels file and the contact log are left to each run, as they may be written before it. The
 * input is listed as `schedule backfill` lists it (assertInputHoldsMonths): one that cannot be
 * listed is refused in the load's words; a file it cannot read stops only the runs whose window
 * holds it. Anything else going wrong in the check is noted, not refused: the runs' loads will say it.
 */
export async function assertInputMeetsContract(
  scheduleId: string,
  params: RunParams,
  dataRoot?: string,
): Promise<void> {
  const { findInputFiles, monthFolderOf } = await import('../../activities/load');
  const refused = (error: Error) =>
    new UsageError(`schedule ${scheduleId}'s runs would stop at their load: ${error.message}; nothing was created`);
  let files: string[];
  try {
    ({ files } = await findInputFiles(params.input, '0001-01', '9999-12', dataRoot));
  } catch (error) {
    if (error instanceof UnreadInputFilesError) return;
    // a schedule created before the first delivery: its runs' loads say so if none comes
    if (error instanceof InputFileError && error.message.startsWith('no .parquet or .csv files under')) {
      console.error(`note: ${error.message} yet; each scheduled run reads the input when it starts`);
      return;
    }
    // the scheduled runs' worker, another process and often another user, may read what this one may not
    if (deniedToThisUser(error)) {
      console.error(`note: ${error.message.split('\n')[0]}; each scheduled run's load checks the input when it starts`);
      return;
    }
    if (error instanceof InputFileError || error instanceof InvalidParamsError) throw refused(error);
    throw error;
  }
  // the newest month a run now would read: a later folder may be a delivery still arriving
  const newest = files
    .flatMap((file) => monthFolderOf(file) ?? [])
    .filter((month) => month <= params.month)
    .sort()
    .at(-1);
  const read = files.filter((file) => [undefined, newest].includes(monthFolderOf(file)));
  if (read.length === 0) return;
  const { labels: _labels, ...runParams } = params;
  const checked = await checkLoadPlan({ ...runParams, month: newest ?? params.month }, { dataRoot, files: read });
  if ('stop' in checked) throw refused(checked.stop);
  if ('tooMuchCsv' in checked)
    console.error(
      wrappedNote(
        `note: the input files a run now reads hold over ${CHECK_MAX_CSV}: not read before the schedule is created (each run's load plan reads and checks them; a mistake there fails that run)`,
      ),
    );
  if ('unchecked' in checked)
    console.error(
      `note: the input could not be read as a run's load reads it (${checked.unchecked}); each run's load checks it`,
    );
}

/** Where a schedule on another input belongs: the store's months have one latest each. */
const ANOTHER_STORE =
  "a schedule on another input belongs in another SEGFLOW_HOME, with its own SEGFLOW_TASK_QUEUE (docs/cli.md, 'Schedules')";

/**
 * What `schedule create` says when other schedules on the same task queue (the same workers, so
 * the same store) read another input: their runs and this one's publish the same months, each
 * month's latest is whichever published last, and the next month's run matches its segment ids to
 * it. Undefined when there are none.
 */
export function otherSchedulesNote(
  id: string,
  input: string,
  others: { scheduleId: string; input: string }[],
  taskQueue: string,
): string | undefined {
  if (others.length === 0) return undefined;
  const named = others.map((other) => `${other.scheduleId} (${other.input})`).join(', ');
  return `note: ${others.length === 1 ? 'schedule' : 'schedules'} ${named} on task queue "${taskQueue}" ${others.length === 1 ? 'reads' : 'read'} another input than ${id} (${input}) and ${others.length === 1 ? 'publishes' : 'publish'} into the same store: each month's latest is whichever run published it last, and the next month's run of either matches its segment ids (migration, campaign follow-up) to it. Schedules cannot publish experiments: ${ANOTHER_STORE}`;
}

/**
 * What `schedule backfill` and `trigger` say before they start runs of `months` when a month's
 * latest snapshot came from another input than the schedule's (`found`, from
 * latestsFromOtherInputs): the month before the first, whose latest the first run matches its
 * segment ids to, and each month run, whose latest the run replaces. Undefined when none.
 */
export function otherInputLatestNote(
  id: string,
  input: string,
  months: string[],
  found: { month: string; version: number; input: string }[],
): string | undefined {
  if (found.length === 0) return undefined;
  const lines = found.map(({ month, version, input: theirs }) =>
    months.includes(month)
      ? `note: ${month}'s latest, v${version}, was built from another input (${theirs}); schedule ${id}'s run reads ${input} and, published, becomes ${month}'s latest in its place, which next month's run, campaigns and '${month}' in every command then mean`
      : `note: ${month}'s latest, v${version}, was built from another input (${theirs}); schedule ${id}'s run of ${addMonths(month, 1)} reads ${input} and matches its segment ids (migration, campaign follow-up) to it, as every run does to the month before's latest`,
  );
  return `${lines.join('\n')}\n(${ANOTHER_STORE})`;
}

function formatDuration(ms: number): string {
  const units: [string, number][] = [
    ['day', 86_400_000],
    ['hour', 3_600_000],
    ['minute', 60_000],
  ];
  const [unit, size] = units.find(([, unitMs]) => ms >= unitMs && ms % unitMs === 0) ?? ['second', 1000];
  const count = ms / size;
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

/** The schedule as a person reads it: state, calendar, what the runs read and compute, next and recent runs. */
export function scheduleText(s: ScheduleSummary): string {
  const pad = (n: unknown) => String(n).padStart(2, '0');
  const params = Object.entries(s.paramsDifferingFromDefaults)
    .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
    .join(' ');
  return [
    `Schedule ${s.scheduleId}: ${s.paused ? 'PAUSED' : 'active'}${s.note ? ` (note: ${s.note})` : ''}`,
    `  runs           ${s.calendar ? `day ${s.calendar.dayOfMonth} of each month at ${pad(s.calendar.hour)}:${pad(s.calendar.minute)} ${s.timezone}` : '(no calendar)'}, processing the month before`,
    `  input          ${s.input ?? '(unknown)'}`,
    `  parameters     ${params || 'defaults'}`,
    `  partitions     ${s.partitions}`,
    `  policies       overlap ${s.overlap.toLowerCase()}; catch-up window ${formatDuration(s.catchupWindowMs)}; pause on failure ${s.pauseOnFailure ? 'yes' : 'no'}`,
    `  next runs      ${s.nextRuns.map((time) => `${time} (${monthBefore(new Date(time))})`).join(', ') || '-'}${s.paused && s.nextRuns.length ? "; paused: none starts until 'segflow schedule unpause'" : ''}`,
    `  recent runs    ${s.recentRuns.length ? `(the last ${s.recentRuns.length}; segflow runs list shows them all)` : '-'}`,
    ...s.recentRuns.map(
      (r) =>
        `    ${r.month}  scheduled ${r.scheduledAt}  ${r.workflowId}  ${r.outcome}${/^(failed|cancelled)/.test(r.outcome) ? ` (segflow runs show ${r.workflowId})` : ''}`,
    ),
    `  running        ${s.runningWorkflows.join(', ') || '-'}`,
  ].join('\n');
}

function addDescribe(schedule: Command): void {
  schedule
    .command('describe')
    .description('Show the schedule: state, calendar, input and parameters, next and recent runs.')
    .addOption(idOption())
    .addOption(jsonOption())
    .action(async (options) => {
      const config = loadConfig();
      const connection = await connected(config);
      const { client, schedules } = connection;
      const { description } = await described(connection, config, scheduleIdOf(options.id, config));
      const { readAuditLog } = await import('../../store/audit-log');
      // the runs' outcomes come from the log; a log that cannot be read leaves them to Temporal, and says so
      const entries = await readAuditLog(config.store).catch((error: unknown) => {
        const why = (error instanceof Error ? error.message : String(error)).split('\n')[0].slice(0, 160);
        process.stderr.write(
          `warning: the audit log could not be read (${why}): the recent runs' outcomes are Temporal's, without the versions they published\n`,
        );
        return [];
      });
      const summary = await schedules.withWorkflowStatus(
        schedules.summariseSchedule(description, entries),
        async ({ workflowId, runId }) => (await client.workflow.getHandle(workflowId, runId).describe()).status.name,
      );
      output(options.json, summary, scheduleText);
    });
}

function addPauseUnpause(schedule: Command): void {
  for (const [change, description] of [
    [
      'pause',
      'Pause the schedule (runs stop starting); recorded in the audit log with the note. A paused schedule is left as it is, its note kept: the command says since when, by whom and why.',
    ],
    [
      'unpause',
      'Unpause the schedule; recorded in the audit log with the note. A schedule that is not paused is left as it is.',
    ],
  ] as const) {
    schedule
      .command(change)
      .description(description)
      .addOption(idOption())
      .option('--note <text>', 'why, shown by describe and kept in the audit log')
      .action(async (options) => {
        const config = loadConfig();
        const id = scheduleIdOf(options.id, config);
        const connection = await connected(config);
        const { client, schedules, signer } = connection;
        const { description: now } = await described(connection, config, id);
        // already so: nothing is changed or recorded, and a pause's note (why) is not overwritten
        if (now.state.paused === (change === 'pause')) {
          const { readAuditLog } = await import('../../store/audit-log');
          // a log that cannot be read is said to be so, not taken for one without a pause
          const log = await readAuditLog(config.store).catch((error: unknown) =>
            error instanceof Error ? error : new Error(String(error)),
          );
          const schedule = { note: now.state.note, pauseOnFailure: now.policies.pauseOnFailure };
          console.log(unchangedText(change, id, schedule, log));
          return;
        }
        await schedules.changeSchedule(client, config, { scheduleId: id, change, note: options.note, signer });
        console.log(`${change}d schedule ${id}`);
      });
  }
}

const PAUSE_EVENTS = new Set(['schedule.created', 'schedule.paused', 'schedule.unpaused']);

/**
 * What `schedule pause` of a paused schedule (or `unpause` of one not paused) says instead of
 * changing it: its state, its note (the one Temporal holds), and since when and by whom from the
 * schedule's last pause, unpause or creation in the audit log `log`. A pause with no entry since
 * the last unpause or creation was made outside segflow: by Temporal on a failed run only when
 * the schedule pauses on failure (`pauseOnFailure`), else in Temporal's UI or CLI. A log that
 * could not be read (`log` the error) is said to be so, with why: since when is then not known.
 */
export function unchangedText(
  change: 'pause' | 'unpause',
  id: string,
  schedule: { note?: string; pauseOnFailure: boolean },
  log: readonly AuditEntry[] | Error,
): string {
  const noted = schedule.note ? ` (note: ${schedule.note})` : '';
  const unread =
    log instanceof Error
      ? `the audit log could not be read (${log.message.split('\n')[0].slice(0, 160)}), so since when and by whom is not known`
      : undefined;
  const last =
    log instanceof Error ? undefined : log.findLast((e) => e.run.workflowId === id && PAUSE_EVENTS.has(e.event));
  if (change === 'pause') {
    const outside = schedule.pauseOnFailure
      ? "it was paused outside segflow: by Temporal, as the schedule pauses when a run it started fails (--pause-on-failure), or in Temporal's UI or CLI"
      : "it was paused outside segflow (in Temporal's UI or CLI, say: the schedule does not pause on failure)";
    const since = unread
      ? `${noted}; ${unread}`
      : last?.event === 'schedule.paused'
        ? `, since ${last.at} by ${last.actor}${noted}`
        : `${noted}; the audit log has no pause of it since it was ${last ? `${last.event === 'schedule.created' ? 'created' : 'last unpaused'} (${last.at}, by ${last.actor})` : 'created'}: ${outside}${schedule.note ? '' : ' (Temporal holds no note of why)'}`;
    return `schedule ${id} is already paused${since}. Nothing changed and its note is kept ('segflow schedule unpause --id ${id}' resumes it; to give another note, unpause it and pause it again)`;
  }
  const since = unread
    ? `; ${unread}`
    : last?.event === 'schedule.unpaused'
      ? `, unpaused since ${last.at} by ${last.actor}${noted}`
      : last?.event === 'schedule.created'
        ? `, running since it was created (${last.at}, by ${last.actor})`
        : '';
  return `schedule ${id} is not paused${since}. Nothing changed`;
}

function addTrigger(schedule: Command): void {
  schedule
    .command('trigger')
    .description('Start a run now; it processes the month before today.')
    .addOption(idOption())
    .addHelpText(
      'after',
      `\nUnder the schedule's overlap policy: with 'skip' and a run of it still going, Temporal skips the start: nothing starts and it exits ${EXIT.skipped}; with 'buffer' the run starts when that one ends (exit 0), unless a start is already buffered: Temporal drops this one (exit ${EXIT.skipped}). Told from what Temporal reports after the trigger.`,
    )
    .action(async (options) => {
      const config = loadConfig();
      const id = scheduleIdOf(options.id, config);
      const connection = await connected(config);
      const { client, schedules, signer } = connection;
      const { input } = schedules.scheduledParams((await described(connection, config, id)).description);
      // the run processes last month, matched to the month before's latest
      const month = previousMonth();
      if (input !== undefined) {
        const months = [month];
        const found = await schedules.latestsFromOtherInputs(config.store, input, [addMonths(month, -1), month]);
        const note = otherInputLatestNote(id, input, months, found);
        if (note) console.error(note);
      }
      const triggered = await schedules.triggerSchedule(client, config, id, { signer });
      console.log(triggeredText(id, triggered));
      // a script can tell a trigger Temporal skipped (or dropped) from one that started or buffered a run
      if (triggered.behind?.overlap === 'skipped') process.exit(EXIT.skipped);
    });
}

/** What `schedule trigger` says Temporal did: started a run, skipped or buffered the start, or nothing yet. */
export function triggeredText(id: string, started: Triggered): string {
  const { behind, policy } = started;
  const run = behind?.workflowId ? `its run ${behind.workflowId}` : 'a run of it';
  const follow = behind?.workflowId ? ` ('segflow runs follow ${behind.workflowId}' follows it)` : '';
  return [
    behind
      ? behind.overlap === 'skipped'
        ? policy === 'BUFFER_ONE'
          ? `schedule ${id}: nothing started: Temporal dropped the start, as ${run} is still going and a start is already buffered behind it, and the schedule's overlap policy buffers one${follow}`
          : `schedule ${id}: nothing started: Temporal skipped it, as ${run} is still going and the schedule's overlap policy skips a start meanwhile${follow}`
        : `triggered schedule ${id}: the run starts when ${run} ends (the schedule's overlap policy buffers it)`
      : started.workflowId
        ? `triggered schedule ${id}: workflow ${started.workflowId} processes ${started.month} ('segflow runs follow ${started.workflowId}' follows it)`
        : `triggered schedule ${id}; Temporal has not yet said whether it started, buffered or skipped the run (see 'segflow schedule describe')`,
    // a trigger runs a paused schedule's action all the same (Temporal's rule): said, as it was paused on purpose
    ...(started.paused
      ? [
          `note: the schedule is paused: this one run started; its calendar stays paused ('segflow schedule unpause' resumes it)`,
        ]
      : []),
  ].join('\n');
}

function addDelete(schedule: Command): void {
  schedule
    .command('delete')
    .description('Delete the schedule (published snapshots stay); recorded in the audit log.')
    .addOption(idOption())
    .action(async (options) => {
      const config = loadConfig();
      const id = scheduleIdOf(options.id, config);
      const connection = await connected(config);
      const { client, schedules, signer } = connection;
      await described(connection, config, id);
      await schedules.changeSchedule(client, config, { scheduleId: id, change: 'delete', signer });
      console.log(`deleted schedule ${id}`);
    });
}

/**
 * A backfill's outcome, a line per month: published, failed, cancelled, or missing with what to
 * look at: its run still going, its run waiting in Temporal for a worker (`waiting`), or no run
 * yet (behind the run of a month before it, as a backfill's months run one at a time, or none at all).
 */
export function backfillLines(
  r: {
    published: Record<string, number>;
    failed: Record<string, string>;
    cancelled: string[];
    missing: string[];
    workflowIds: Record<string, string>;
    waiting?: string[];
  },
  context: { timeoutMinutes: number; taskQueue: string; scheduleId: string; input?: string },
): string {
  const ended = (month: string) => `(workflow ${r.workflowIds[month]}; segflow runs show ${r.workflowIds[month]})`;
  /** The first month whose run has not ended: the months after it wait behind it. */
  const going = r.missing.find((month) => r.workflowIds[month] !== undefined);
  return [
    ...Object.entries(r.published).map(
      ([month, version]) => `  ${month}  published v${version}  (workflow ${r.workflowIds[month]})`,
    ),
    ...Object.entries(r.failed).flatMap(([month, error]) => [
      `  ${month}  FAILED ${error}  ${ended(month)}`,
      ...(/--param\b/.test(error) ? [scheduleParamAdvice(month, error, context)] : []),
    ]),
    ...r.cancelled.map((month) => `  ${month}  CANCELLED  ${ended(month)}`),
    ...r.missing.map((month) => {
      const id = r.workflowIds[month];
      const waited = `no snapshot after ${context.timeoutMinutes} min`;
      if (id && r.waiting?.includes(month))
        return `  ${month}  MISSING: ${waited}; its run ${id} waits in Temporal for a worker, as none has taken it up: is a worker polling ${context.taskQueue}? ('segflow runs cancel ${id}' stops it)`;
      if (id)
        return `  ${month}  MISSING: ${waited}; its run ${id} has not ended ('segflow runs show ${id}' shows where it is, 'segflow runs cancel ${id}' stops it)`;
      if (going !== undefined && going < month)
        return `  ${month}  MISSING: ${waited}; no run of it has started: it waits behind ${going}'s run ${r.workflowIds[going]}, as a backfill's months run one at a time`;
      return `  ${month}  MISSING: ${waited}; no run of it has started: is a worker polling ${context.taskQueue}? ('segflow schedule describe --id ${context.scheduleId}' shows the schedule's runs)`;
    }),
  ].join('\n');
}

/**
 * Under a failure that advises a `--param` (`minRunMonthShare=0.3`, `treeMinLeaf=…`): where a
 * scheduled month takes one. Backfill and trigger take none: a schedule's runs take the
 * parameters it was created with (`schedule create --param`, no update), and `run` takes them for
 * one month.
 */
export function scheduleParamAdvice(
  month: string,
  error: string,
  context: { scheduleId: string; input?: string },
): string {
  const param = /--param [^\s,;()]+/.exec(error)?.[0] ?? 'that --param';
  return `           a schedule's runs take the parameters it was created with (backfill and trigger take no --param): for ${month} alone, 'segflow run --month ${month} --input ${context.input ?? '<its input>'}' with the schedule's parameters ('segflow schedule describe --id ${context.scheduleId}') and ${param}; for every month, delete the schedule and create it again with ${param}`;
}

/**
 * Refuses a backfill of months the schedule's input has no files for (NoInputForMonthsError,
 * exit 2), all of them named with the months the input has, before Temporal starts any: each such
 * run would stop at its load. So too when the input has no files for the month the first month
 * asked trains on (the month before it; a snapshot input, `format` "snapshot", trains on its own
 * month): that run could not train. The input is listed as the load lists it (findInputFiles,
 * wide open, and each file's month folder); an input with a file outside month folders holds its
 * months in its rows, which only the load reads: not checked here. Months further back in a
 * run's history window are not checked (domain/input-months.ts monthsWithoutInput). An input that
 * cannot be listed at all stops every run's load: refused too, in its words.
 */
export async function assertInputHoldsMonths(
  scheduleId: string,
  input: string,
  months: string[],
  dataRoot?: string,
  format: 'long' | 'snapshot' = 'long',
): Promise<void> {
  const { findInputFiles, monthFolderOf } = await import('../../activities/load');
  let files: string[];
  try {
    ({ files } = await findInputFiles(input, '0001-01', '9999-12', dataRoot));
  } catch (error) {
    // a file it cannot read stops only the runs whose window holds it: their loads name it
    if (error instanceof UnreadInputFilesError) return;
    if (error instanceof InputFileError || error instanceof InvalidParamsError)
      throw new UsageError(`schedule ${scheduleId}'s input: ${error.message}; nothing was backfilled`);
    throw error;
  }
  const found = monthsWithoutInput(months, files, monthFolderOf, format);
  if (found && (found.missing.length > 0 || found.untrained.length > 0))
    throw new NoInputForMonthsError(scheduleId, input, found.missing, found.held, months, found.untrained);
}

/**
 * The format of the mapping a schedule's runs read their input with ("long" without one): it
 * tells which month a run trains on. A mapping that cannot be read or is not valid stops every
 * run's load: refused in the load's words.
 */
export async function mappingFormat(scheduleId: string, mapping: string | undefined): Promise<'long' | 'snapshot'> {
  if (mapping === undefined) return 'long';
  const [{ readFile }, { parseMapping }] = await Promise.all([
    import('node:fs/promises'),
    import('../../domain/mapping'),
  ]);
  const text = await readFile(mapping, 'utf8').catch((error: Error) => {
    throw new UsageError(
      `schedule ${scheduleId}'s runs cannot read the mapping file ${mapping}: ${error.message}; nothing was backfilled`,
    );
  });
  const parsed = parseMapping(text);
  if (!parsed.ok)
    throw new UsageError(
      `schedule ${scheduleId}'s mapping file ${mapping} is not valid:\n${parsed.problems.join('\n')}\nnothing was backfilled`,
    );
  return parsed.mapping.format;
}

function addBackfill(schedule: Command): void {
  schedule
    .command('backfill')
    .description(
      "Run the schedule for past months, one after another in month order (each finds the month before it), then wait until every month has its snapshot, saying on stderr where the months stand and the running month's stage.",
    )
    .addOption(idOption())
    .option('--from <YYYY-MM>', 'first month to process (required)', monthArg)
    .option('--to <YYYY-MM>', 'last month to process (required)', monthArg)
    .addOption(
      new Option('--timeout <minutes>', 'how long to wait for the snapshots').argParser(positiveInt).default(60),
    )
    .option('--no-wait', 'request the backfill and return')
    .addOption(jsonOption())
    .action(async (options) => {
      const [from, to] = [required(options.from, '--from <YYYY-MM>'), required(options.to, '--to <YYYY-MM>')];
      const months = backfillRange(from, to);
      const config = loadConfig();
      const id = scheduleIdOf(options.id, config);
      const connection = await connected(config);
      const { client, schedules, signer } = connection;
      // described once: its input and mapping here, its handle for the backfill
      const { handle, description } = await described(connection, config, id);
      const { input, mapping } = schedules.scheduledParams(description);
      if (input !== undefined)
        await assertInputHoldsMonths(id, input, months, config.store.dataRoot, await mappingFormat(id, mapping));
      if (input !== undefined) {
        const found = await schedules.latestsFromOtherInputs(config.store, input, [addMonths(from, -1), ...months]);
        const note = otherInputLatestNote(id, input, months, found);
        if (note) console.error(note);
      }
      const since = new Date();
      await schedules.backfillMonths(client, config, id, from, to, { signer, handle });
      if (!options.wait)
        return output(options.json, { requested: months }, (v) => `backfill requested for ${v.requested.join(', ')}`);
      if (!options.json) console.log(`backfill requested for ${months.join(', ')}; waiting for their snapshots`);
      const { taskQueue } = config.temporal;
      const [{ progressSince, runProgress, taskQueueHasPollers }, { progressDisplay }] = await Promise.all([
        import('../../pipelines/client'),
        import('../progress'),
      ]);
      // the runs wait in Temporal for a worker: said within seconds, not after --timeout
      const noWorker = warnWhenNoWorker(
        taskQueue,
        () => taskQueueHasPollers(client, taskQueue),
        5_000,
        ': the backfilled runs start when one does',
      );
      // a line each time a month ends or starts (a backfill of a year at 10M takes hours), and the running month's stage
      const progress = new BackfillProgress(
        async (workflowId, last) => progressSince(last, await runProgress(client, workflowId)),
        (month) => progressDisplay(process.stderr, month),
        (line) => console.error(line),
      );
      // Temporal tells too: a run that failed before it wrote to the audit log, a run no worker took up
      const outcome = await schedules
        .waitForScheduledMonths(
          config,
          id,
          months,
          since,
          options.timeout * 60_000,
          schedules.temporalScheduledRuns(client, id, since),
          (state) => void progress.update(state),
        )
        .finally(() => {
          noWorker.progressed();
          progress.stop();
        });
      const report = {
        published: Object.fromEntries(outcome.published),
        failed: Object.fromEntries(outcome.failed),
        cancelled: outcome.cancelled,
        missing: outcome.missing,
        workflowIds: Object.fromEntries(outcome.workflowIds),
        waiting: outcome.waiting,
      };
      output(options.json, report, (r) =>
        backfillLines(r, {
          timeoutMinutes: options.timeout,
          taskQueue: config.temporal.taskQueue,
          scheduleId: id,
          input,
        }),
      );
      const { failed, cancelled, missing } = outcome;
      process.exit(failed.size + cancelled.length + missing.length === 0 ? EXIT.ok : EXIT.failed);
    });
}
