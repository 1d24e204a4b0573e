import { access, constants } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleHandle,
} from '@temporalio/client';
import { commandUser, recordAudit, unfinishedLastLine } from '../store/audit-record';
import { auditEntries, readAuditLog, readAuditText, type AuditEntry, type AuditEvent } from '../store/audit-log';
import { withFileLock } from '../store/file-lock';
import { FINAL_EVENTS, fromLatest } from '../store/snapshots';
import { auditLogPath, type StoreConfig } from '../store/layout';
import type { Signer } from '../store/signing';
import { addMonths, monthBefore } from '../domain/month';
import { TEMPORAL_SCHEDULED_BY_ID, TEMPORAL_SCHEDULED_START_TIME } from '../domain/search-attributes';
import { backfillRange } from '../domain/input-months';
import { changedParams, parseRunParams } from '../domain/params';
import { DEFAULT_SCHEDULE_ID, defaultScheduleId } from '../domain/schedules';
import { storeKey, type SegflowConfig } from '../worker/config';
import { type MonthlySegmentationInput, monthlySegmentation } from '../workflows/monthly-segmentation';
import { hasSearchAttributes, pollersOfOtherStores } from './client';
import { failureOf, FAILED_STATUSES } from './runs';
import { ownerOfSchedule, scheduleMemo, scheduleOwner, storeMemo } from './run-owner';

// the schedule commands' module names the owner of a schedule too
export { ownerOfSchedule } from './run-owner';
import { AuditLogFullError, isStoreFull, isStoreWriteFailure, SnapshotStoreError, UsageError } from '../domain/errors';

/**
 * This store's side of a schedule command (a SegflowConfig fits): the store its audit entries go
 * to, SEGFLOW_HOME, and the task queue this store's workers poll. A schedule's runs go to its
 * action's task queue and publish into the store of the workers polling it, so a command acts
 * only on the schedules of this task queue (existingSchedule).
 */
export interface ScheduleScope {
  store: StoreConfig;
  home?: string;
  temporal: { taskQueue: string };
}

/** Who asked for a schedule change, and the key its audit entry is signed with (SEGFLOW_SIGNING_KEY, when set). */
export interface ScheduleActor {
  actor?: string;
  signer?: Signer;
}

export interface MonthlyScheduleOptions extends ScheduleActor {
  scheduleId: string;
  /** Usage input folder the scheduled runs read. */
  input: string;
  /** Run parameters other than month and input. */
  params: Record<string, unknown>;
  /** Activities the load and per-subscriber features are split into (workflow input `partitions`). */
  partitions?: number;
  /** Day of the month the run starts (2-28): the previous month's data has landed by then. */
  dayOfMonth: number;
  hour: number;
  minute: number;
  timezone: string;
  /** What happens when a run is still going at the next start: skip it, or buffer one. */
  overlap: 'skip' | 'buffer';
  /** How far back missed starts are caught up after the server was down, e.g. "7 days". */
  catchupWindow: string;
  pauseOnFailure: boolean;
  /** Who created it, for the audit log (default: the OS user). */
  actor?: string;
}

/** Creates the monthly schedule. Each run processes the month before its scheduled time. */
export async function createMonthlySchedule(
  client: Client,
  config: SegflowConfig,
  options: MonthlyScheduleOptions,
): Promise<void> {
  if (!Number.isInteger(options.dayOfMonth) || options.dayOfMonth < 2 || options.dayOfMonth > 28) {
    throw new UsageError(
      '--day-of-month must be 2..28: the previous month must be complete, and every month has the day',
    );
  }
  const parsed = parseRunParams({ ...options.params, month: '2000-01', input: options.input });
  if (!parsed.ok) throw new UsageError(`invalid run parameters:\n  ${parsed.problems.join('\n  ')}`);
  const { month: _month, ...params } = parsed.params;
  const input: MonthlySegmentationInput = {
    params,
    requestedBy: `schedule:${options.scheduleId}`,
    indexed: await hasSearchAttributes(client),
    ...(options.partitions ? { partitions: options.partitions } : {}),
  };
  await assertAuditWritable(config.store);
  await createOrExplain(client, config, {
    scheduleId: options.scheduleId,
    // the store that created it, named to a command of another store that meets it (scheduleOwner)
    memo: scheduleMemo(config.store, config.home),
    spec: {
      calendars: [{ dayOfMonth: options.dayOfMonth, hour: options.hour, minute: options.minute }],
      timezone: options.timezone,
    },
    action: {
      type: 'startWorkflow',
      workflowType: monthlySegmentation,
      workflowId: options.scheduleId,
      taskQueue: config.temporal.taskQueue,
      args: [input],
      // each run names its store too, so `runs list` of another store on this queue leaves it out
      memo: storeMemo(config.store),
    },
    policies: {
      overlap: options.overlap === 'buffer' ? ScheduleOverlapPolicy.BUFFER_ONE : ScheduleOverlapPolicy.SKIP,
      catchupWindow: options.catchupWindow,
      pauseOnFailure: options.pauseOnFailure,
    },
  });
  await recordScheduleEvent(
    config.store,
    options.scheduleId,
    'schedule.created',
    options,
    {
      input: options.input,
      params: changedParams(params),
      partitions: options.partitions ?? 1,
      calendar: { dayOfMonth: options.dayOfMonth, hour: options.hour, minute: options.minute },
      timezone: options.timezone,
      overlap: options.overlap,
      catchupWindow: options.catchupWindow,
      pauseOnFailure: options.pauseOnFailure,
    },
    `schedule ${options.scheduleId} was created in Temporal`,
  );
}

/**
 * client.schedule.create, with a schedule of that id already there as the user's mistake, named:
 * schedule ids are one namespace for every store on the server, so one of another task queue is
 * said to be another store's, with whose it is.
 */
async function createOrExplain(
  client: Client,
  scope: ScheduleScope,
  options: Parameters<Client['schedule']['create']>[0],
): Promise<void> {
  try {
    await client.schedule.create(options);
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    const id = options.scheduleId;
    const theirs = await ownerOfSchedule(client, id);
    const ours = scope.temporal.taskQueue;
    if (theirs?.taskQueue !== undefined && theirs.taskQueue !== ours) {
      const free = defaultScheduleId(ours) !== id ? ` (this task queue's default is ${defaultScheduleId(ours)})` : '';
      throw new UsageError(
        `a schedule ${id} exists already on this Temporal server, and it is another store's: its runs go to task queue "${theirs.taskQueue}", not this store's "${ours}" (SEGFLOW_TASK_QUEUE), so it is served by ${await servedBy(client, theirs, scope.store)}. Schedule ids are shared by every store on the server: give this store's schedule another --id${free}. Nothing was created`,
      );
    }
    throw new UsageError(
      `a schedule ${id} exists already ('segflow schedule describe --id ${id}'): to change it, 'segflow schedule delete --id ${id}' and create it again; for a second one, give it another --id`,
    );
  }
}

/**
 * Who serves a schedule of another task queue, as a user sets it: `SEGFLOW_TASK_QUEUE=q
 * SEGFLOW_HOME=…` from its memo; for a schedule without one, the stores of the workers polling
 * its task queue now (their identities name them), or the SEGFLOW_HOME whose workers poll it.
 */
async function servedBy(client: Client, owner: ReturnType<typeof scheduleOwner>, store: StoreConfig): Promise<string> {
  const queue = `SEGFLOW_TASK_QUEUE=${owner.taskQueue}`;
  if (owner.home !== undefined) return `${queue} with SEGFLOW_HOME=${owner.home} (store ${owner.store})`;
  if (owner.store !== undefined) return `${queue} with the store ${owner.store}`;
  const polling = await pollersOfOtherStores(client, owner.taskQueue ?? '', store).catch(() => undefined);
  const stores = [...new Set(polling?.others.map((other) => other.store))];
  return stores.length > 0
    ? `${queue} with the store of the workers polling it now: ${stores.join(', ')}`
    : `${queue} with the SEGFLOW_HOME whose workers poll it (the schedule does not name its store: it was created before segflow recorded that)`;
}

/**
 * Refuses a schedule whose runs go to another task queue than this store's (UsageError, exit 2),
 * before anything is changed or recorded: its runs publish into the store of the workers polling
 * that queue, and an entry of this command would go to this store's audit log instead.
 */
async function assertScheduleOfThisQueue(
  client: Client,
  scheduleId: string,
  description: ScheduleDescription,
  scope: ScheduleScope,
): Promise<void> {
  const owner = scheduleOwner(description);
  const ours = scope.temporal.taskQueue;
  if (owner.taskQueue === undefined || owner.taskQueue === ours) return;
  const own = defaultScheduleId(ours);
  throw new UsageError(
    `schedule ${scheduleId} is another store's: its runs go to task queue "${owner.taskQueue}", not this store's "${ours}" (SEGFLOW_TASK_QUEUE), and publish into the store of the workers polling it. It is served by ${await servedBy(client, owner, scope.store)}: run the command with those to act on it. Nothing was changed or recorded${own !== scheduleId ? ` (this task queue's default schedule is ${own})` : ''}`,
  );
}

/**
 * A note when a schedule of this task queue was created from another store than this command's
 * (by its memo; none for one without): a remote machine may mount the same store at another path,
 * so it is not refused, but this command's audit entry goes to this store's log.
 */
export function otherStoreNote(
  scheduleId: string,
  description: Pick<ScheduleDescription, 'action' | 'memo'>,
  scope: ScheduleScope,
): string | undefined {
  const owner = scheduleOwner(description);
  const ours = storeKey(scope.store);
  if (owner.store === undefined || owner.store === ours) return undefined;
  return `note: schedule ${scheduleId} was created from the store ${owner.store}${owner.home ? ` (SEGFLOW_HOME=${owner.home})` : ''}, and this command's store is ${ours}: its runs publish into the store of the workers polling task queue "${scope.temporal.taskQueue}", and what this command changes is recorded in ${ours}'s audit log. If that is another store, not the same one mounted elsewhere, give it its own SEGFLOW_TASK_QUEUE`;
}

/**
 * A schedule change made in Temporal whose audit entry could not be written after it: the change
 * stands, unrecorded (exit 1). Before it is made, assertAuditWritable refuses a log it could not
 * be written to, so this is a log that failed in between (its disk filled, its mount changed).
 */
export class ScheduleChangeUnrecordedError extends Error {
  override name = 'ScheduleChangeUnrecordedError';
}

/**
 * Takes what a schedule change's audit entry needs (store/audit-record.ts recordAudit: the log's
 * folder, its lock, its entries to chain to, a file it may append to) before the change is made
 * in Temporal, where it cannot be undone: an audit log this command may not write is refused
 * with nothing changed, as `snapshots promote` takes its lock before it moves anything. The
 * lock is let go again (recordAudit takes it for the entry): a log that fails between the two is
 * said by recordScheduleEvent, naming the change made.
 */
export async function assertAuditWritable(store: StoreConfig): Promise<void> {
  const path = auditLogPath(store);
  try {
    await withFileLock(`${path}.lock`, async () => {
      const text = await readAuditText(store);
      // a damaged line, or a last line cut off, stops the append after it (recordAudit)
      const entries = auditEntries(text, path);
      if (unfinishedLastLine(text, entries.at(-1)) !== undefined)
        throw new SnapshotStoreError(
          `the audit log ends in an unfinished line after entry ${entries.at(-1)?.seq ?? 0}: a write cut off, or an edit ('segflow audit verify' names it)`,
        );
      // the lock file proved the folder writable; the log itself may not be (absent: created by the append)
      await access(path, constants.W_OK).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    });
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    const nothing =
      'nothing was changed in Temporal (a schedule change is made only where its audit entry can be written)';
    if (isStoreFull(error))
      throw new AuditLogFullError(
        `cannot write the audit log ${path}: ${reason}; ${nothing}. Free space on it, then run again`,
      );
    if (isStoreWriteFailure(error))
      throw new SnapshotStoreError(
        `cannot write the audit log ${path} (read-only or not permitted): ${reason}; ${nothing}. Give ${commandUser().osUser}, who runs this command, write access to ${dirname(path)} and the log in it, then run again`,
      );
    throw new SnapshotStoreError(`cannot append to the audit log ${path}: ${reason}; ${nothing}`);
  }
}

/** Schedule changes go to the audit log beside the runs they cause; run.workflowId holds the schedule id. */
async function recordScheduleEvent(
  store: StoreConfig,
  scheduleId: string,
  event: Extract<AuditEvent, `schedule.${string}`>,
  { actor, signer }: ScheduleActor,
  details: Record<string, unknown>,
  /** What was done, as a sentence's start: "schedule x was paused in Temporal". */
  done: string,
): Promise<void> {
  const at = new Date().toISOString();
  const by = commandUser();
  // the time as subject keeps two pauses of one schedule two entries (the log dedupes on run+event+subject)
  await recordAudit(
    store,
    {
      event,
      run: { workflowId: scheduleId, runId: '' },
      month: '',
      actor: actor ?? userInfo().username,
      subject: at,
      // who ran the command, beside the actor it was given
      details: { ...details, ...by },
    },
    signer,
  ).catch((error: unknown) => {
    // recordAudit's advice is a run's ("nothing is run unrecorded", "grant the worker"): this change
    // is made, so what failed is told from its cause
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const path = auditLogPath(store);
    const failed = (cause instanceof Error ? cause.message : String(cause)).split('\n')[0];
    const reason = isStoreFull(cause)
      ? `cannot write the audit log ${path}: ${failed}`
      : isStoreWriteFailure(cause)
        ? `cannot write the audit log ${path} (read-only or not permitted): ${failed}`
        : failed;
    const remedy = isStoreFull(cause)
      ? 'Free space on its disk so that the next changes are recorded'
      : isStoreWriteFailure(cause)
        ? `Give ${by.osUser}, who runs this command, write access to ${dirname(path)} and the log in it, so that the next changes are recorded`
        : "'segflow audit verify' names what is wrong with the log";
    throw new ScheduleChangeUnrecordedError(
      `${done}, but the audit log does not record it: ${reason}. Its ${event} entry (by ${actor ?? userInfo().username}, OS user ${by.osUser} on ${by.host}, at ${at}) is not written, so neither the log nor 'segflow audit verify' shows who did it. ${remedy}`,
    );
  });
}

/**
 * The schedule's handle and description, when its runs go to this store's task queue: one of
 * another task queue is another store's, refused (UsageError naming whose) before anything is
 * changed or recorded. Every command on an existing schedule takes it from here. A schedule that
 * does not exist is a UsageError naming the schedules that do, with their task queues: Temporal's
 * own answer names its internals.
 */
export async function existingSchedule(
  client: Client,
  scheduleId: string,
  scope: ScheduleScope,
): Promise<{ handle: ScheduleHandle; description: ScheduleDescription }> {
  const handle = client.schedule.getHandle(scheduleId);
  let description: ScheduleDescription;
  try {
    description = await handle.describe();
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
    throw new UsageError(await noScheduleText(client, scheduleId, scope.temporal.taskQueue));
  }
  await assertScheduleOfThisQueue(client, scheduleId, description, scope);
  return { handle, description };
}

/**
 * What a command on a schedule that does not exist says: the schedules that do, each with its
 * task queue, and, when the default id was asked on a task queue other than `segflow` and this
 * queue's schedule is the old default `segflow-monthly` (created before the default named the task
 * queue), to pass --id segflow-monthly.
 */
async function noScheduleText(client: Client, scheduleId: string, taskQueue: string): Promise<string> {
  const listed: { id: string; taskQueue?: string }[] = [];
  for await (const schedule of client.schedule.list()) {
    const owner = await ownerOfSchedule(client, schedule.scheduleId);
    listed.push({ id: schedule.scheduleId, taskQueue: owner?.taskQueue });
  }
  if (listed.length === 0)
    return `no schedule "${scheduleId}" (there are none yet: segflow schedule create --input <folder>)`;
  const named = listed
    .sort((a, b) => a.id.localeCompare(b.id))
    .map(({ id, taskQueue: queue }) =>
      queue === undefined ? id : `${id} (task queue "${queue}"${queue === taskQueue ? ", this store's" : ''})`,
    );
  const old = listed.find((s) => s.id === DEFAULT_SCHEDULE_ID && s.taskQueue === taskQueue);
  const upgrade =
    old && scheduleId === defaultScheduleId(taskQueue) && scheduleId !== DEFAULT_SCHEDULE_ID
      ? `. This task queue's schedule is ${DEFAULT_SCHEDULE_ID}, created before the default id named the task queue: pass --id ${DEFAULT_SCHEDULE_ID}`
      : '';
  return `no schedule "${scheduleId}" (schedules: ${named.join(', ')})${upgrade}`;
}

/** Pauses, unpauses or deletes a schedule and records who did it (and the note) in the audit log. */
export async function changeSchedule(
  client: Client,
  scope: ScheduleScope,
  request: { scheduleId: string; change: 'pause' | 'unpause' | 'delete'; note?: string } & ScheduleActor,
): Promise<void> {
  const { store } = scope;
  const { handle } = await existingSchedule(client, request.scheduleId, scope);
  const actor = request.actor ?? userInfo().username;
  // the SDK's default notes end in a stray quote: always pass one
  const note = request.note ?? `${request.change}d by ${actor} with segflow`;
  await assertAuditWritable(store).catch((error: Error) => {
    if (request.change !== 'pause') throw error;
    // a full or read-only store is when failing runs most need stopping: the way to, unrecorded
    error.message += `. To pause it anyway, unrecorded by segflow: temporal schedule toggle --schedule-id ${request.scheduleId} --pause --reason ${JSON.stringify(note)} (the reason is the schedule's note; no audit entry says who)`;
    throw error;
  });
  if (request.change === 'pause') await handle.pause(note);
  else if (request.change === 'unpause') await handle.unpause(note);
  else await handle.delete();
  const event = ({ pause: 'schedule.paused', unpause: 'schedule.unpaused', delete: 'schedule.deleted' } as const)[
    request.change
  ];
  await recordScheduleEvent(
    store,
    request.scheduleId,
    event,
    { actor, signer: request.signer },
    request.change === 'delete' ? {} : { note },
    `schedule ${request.scheduleId} was ${request.change}d in Temporal`,
  );
}

/** What `schedule trigger` did: the run it started, or the run it waits behind or was skipped for. */
export interface Triggered {
  workflowId?: string;
  month?: string;
  paused: boolean;
  /** The schedule's overlap policy the trigger ran under (SKIP, BUFFER_ONE, ...). */
  policy?: string;
  /**
   * What Temporal reported after the trigger when it started nothing: `skipped` (its count of
   * starts skipped for overlap went up: under `skip` a run was going, under `buffer` one was going
   * and another already buffered), or `buffered` (its buffer grew); with the run still going then.
   */
  behind?: { workflowId?: string; overlap: 'skipped' | 'buffered' };
}

/**
 * Starts the schedule's action now, under the schedule's own overlap policy (the SDK's trigger
 * defaults to allow-all: two runs of one month at once); resolves with what Temporal reports it
 * did: the run it started (it processes the month before now), a start it skipped or buffered, or
 * nothing yet after `timeoutMs`. Recorded in the audit log with who asked.
 */
export async function triggerSchedule(
  client: Client,
  scope: ScheduleScope,
  scheduleId: string,
  { timeoutMs = 10_000, ...who }: ScheduleActor & { timeoutMs?: number } = {},
): Promise<Triggered> {
  const { store } = scope;
  const { handle, description } = await existingSchedule(client, scheduleId, scope);
  const paused = description.state.paused;
  const overlap = description.policies.overlap ?? ScheduleOverlapPolicy.SKIP;
  await assertAuditWritable(store);
  await handle.trigger(overlap);
  const triggered = await whatTriggerDid(handle, triggerCounts(description), timeoutMs);
  // what happened, not only that someone asked: a skipped trigger started nothing
  await recordScheduleEvent(
    store,
    scheduleId,
    'schedule.triggered',
    who,
    {
      overlap,
      ...(triggered.workflowId ? { started: triggered.workflowId, month: triggered.month } : {}),
      ...(triggered.behind ? { [triggered.behind.overlap]: triggered.behind.workflowId ?? null } : {}),
    },
    `schedule ${scheduleId} was triggered in Temporal${triggered.workflowId ? ` (its run ${triggered.workflowId} processes ${triggered.month})` : ''}`,
  );
  return { ...triggered, paused, policy: overlap };
}

/**
 * What a schedule's description tells of the starts it made, skipped and buffered: the runs it
 * started (recent actions, by first run id), its count of starts skipped for overlap (a skip
 * under `skip`, a start dropped under `buffer` as one is already buffered), the starts in its
 * buffer (not in the SDK's ScheduleDescription: the server's ScheduleInfo.buffer_size, in the
 * raw response; undefined from a server without it), and its running runs.
 */
function triggerCounts(description: ScheduleDescription) {
  const bufferSize = description.raw?.info?.bufferSize;
  return {
    recent: description.info.recentActions,
    started: new Set(description.info.recentActions.map((action) => action.action.workflow.firstExecutionRunId)),
    skipped: description.info.numActionsSkippedOverlap,
    buffered: bufferSize === undefined || bufferSize === null ? undefined : Number(bufferSize),
    running: description.info.runningActions.map((action) => action.workflow.workflowId),
  };
}

/**
 * What a trigger did, from what the schedule reports after it against `before` (its counts
 * before the trigger): a run it started (a recent action not there before), a start skipped (the
 * count of skips went up), or buffered (the buffer grew). Not from whether a run was going before
 * the trigger: one that ended in between lets the trigger start its run. Temporal's scheduler
 * takes the trigger on its own time: asked again until `timeoutMs`, then nothing known.
 */
async function whatTriggerDid(
  handle: ScheduleHandle,
  before: ReturnType<typeof triggerCounts>,
  timeoutMs: number,
): Promise<Omit<Triggered, 'paused'>> {
  for (const deadline = Date.now() + timeoutMs; ;) {
    const after = triggerCounts(await handle.describe());
    const started = after.recent.find((action) => !before.started.has(action.action.workflow.firstExecutionRunId));
    if (started) return { workflowId: started.action.workflow.workflowId, month: monthBefore(started.scheduledAt) };
    const behind = after.running[0] ?? before.running[0];
    if (after.skipped > before.skipped) return { behind: { workflowId: behind, overlap: 'skipped' } };
    if (after.buffered !== undefined && after.buffered > (before.buffered ?? 0))
      return { behind: { workflowId: behind, overlap: 'buffered' } };
    if (Date.now() >= deadline) return {};
    await new Promise((resolveWait) => setTimeout(resolveWait, 250));
  }
}

export interface ScheduleSummary {
  scheduleId: string;
  paused: boolean;
  note: string | null;
  /** What every run reads and how it computes. */
  input: string | null;
  paramsDifferingFromDefaults: Record<string, unknown>;
  partitions: number;
  /** Each field as text: "2", or "1-5", "0-30/15" and "1,15" for ranges a schedule made elsewhere may hold. */
  calendar: { dayOfMonth: string; hour: string; minute: string } | null;
  timezone: string;
  overlap: string;
  catchupWindowMs: number;
  pauseOnFailure: boolean;
  nextRuns: string[];
  /** The last runs it started, each with its outcome as the audit log records it. */
  recentRuns: { scheduledAt: string; month: string; workflowId: string; runId: string; outcome: string }[];
  runningWorkflows: string[];
}

const NO_OUTCOME = 'no outcome in the audit log';

/**
 * A run's outcome by its final entry in the audit log: published (vN), failed (at a stage),
 * cancelled. By run id: a month backfilled again starts a workflow of the same id.
 */
function runOutcome(entries: AuditEntry[], run: { workflowId: string; runId: string }, running: boolean): string {
  const final = entries.findLast(
    (e) => e.run.workflowId === run.workflowId && e.run.runId === run.runId && FINAL_EVENTS.has(e.event),
  );
  if (!final) return running ? 'running' : NO_OUTCOME;
  const details = (final.details ?? {}) as { version?: number; stage?: string };
  if (final.event === 'run.published') return `published v${details.version}`;
  return `${final.event === 'run.failed' ? 'failed' : 'cancelled'}${details.stage ? ` at ${details.stage}` : ''}`;
}

/** The input folder and mapping file a schedule's runs read (each undefined when its action has none). */
export function scheduledParams(description: ScheduleDescription): { input?: string; mapping?: string } {
  const { params } = (description.action.args?.[0] as MonthlySegmentationInput | undefined) ?? {};
  return { input: params?.input, mapping: params?.mapping };
}

/**
 * The other schedules whose runs go to `taskQueue` (the same workers, so the same store) and read
 * another input than `input`: their runs and these publish the same months, and each month's
 * latest is whichever published last. A schedule that cannot be described is passed over.
 */
export async function schedulesOnOtherInputs(
  client: Client,
  taskQueue: string,
  scheduleId: string,
  input: string,
): Promise<{ scheduleId: string; input: string }[]> {
  const others: { scheduleId: string; input: string }[] = [];
  for await (const listed of client.schedule.list()) {
    if (listed.scheduleId === scheduleId) continue;
    const description = await client.schedule
      .getHandle(listed.scheduleId)
      .describe()
      .catch(() => undefined);
    const action = description?.action;
    if (!description || action?.type !== 'startWorkflow' || action.taskQueue !== taskQueue) continue;
    if (action.workflowType !== monthlySegmentation.name) continue;
    const theirs = scheduledParams(description).input;
    if (theirs !== undefined && resolve(theirs) !== resolve(input))
      others.push({ scheduleId: listed.scheduleId, input: theirs });
  }
  return others;
}

/**
 * Of `months`, those whose latest snapshot was built from another input than `input`, with its
 * version and input. A month without a latest, or whose latest.json or manifest this machine
 * cannot read (the worker's store may not be mounted here), is passed over, as `run` passes it
 * over (cli/commands/run.ts otherInputNote; both read it through store/snapshots.ts fromLatest).
 */
export async function latestsFromOtherInputs(
  store: StoreConfig,
  input: string,
  months: string[],
): Promise<{ month: string; version: number; input: string }[]> {
  const found: { month: string; version: number; input: string }[] = [];
  for (const month of months) {
    const latest = await fromLatest(store, month, (manifest) => manifest.params.input);
    if (latest?.value !== undefined && resolve(latest.value) !== resolve(input))
      found.push({ month, version: latest.version, input: latest.value });
  }
  return found;
}

/** A schedule as people read it, its recent runs' outcomes from the audit log's `entries`. */
export function summariseSchedule(description: ScheduleDescription, entries: AuditEntry[]): ScheduleSummary {
  const running = new Set(description.info.runningActions.map((action) => action.workflow.firstExecutionRunId));
  const calendar = description.spec.calendars?.[0];
  const input = description.action.args?.[0] as MonthlySegmentationInput | undefined;
  return {
    scheduleId: description.scheduleId,
    paused: description.state.paused,
    note: description.state.note ?? null,
    input: input?.params.input ?? null,
    paramsDifferingFromDefaults: input ? changedParams(input.params) : {},
    partitions: input?.partitions ?? 1,
    calendar: calendar
      ? {
          dayOfMonth: calendarText(calendar.dayOfMonth),
          hour: calendarText(calendar.hour),
          minute: calendarText(calendar.minute),
        }
      : null,
    timezone: description.spec.timezone ?? 'UTC',
    overlap: description.policies.overlap ?? 'SKIP',
    catchupWindowMs: description.policies.catchupWindow,
    pauseOnFailure: description.policies.pauseOnFailure,
    nextRuns: description.info.nextActionTimes.slice(0, 3).map((time) => time.toISOString()),
    recentRuns: description.info.recentActions.slice(-5).map((action) => ({
      scheduledAt: action.scheduledAt.toISOString(),
      month: monthBefore(action.scheduledAt),
      workflowId: action.action.workflow.workflowId,
      runId: action.action.workflow.firstExecutionRunId,
      outcome: runOutcome(
        entries,
        { workflowId: action.action.workflow.workflowId, runId: action.action.workflow.firstExecutionRunId },
        running.has(action.action.workflow.firstExecutionRunId),
      ),
    })),
    runningWorkflows: description.info.runningActions.map((action) => action.workflow.workflowId),
  };
}

/**
 * The recent runs the audit log has no outcome for and the schedule does not list as running,
 * as Temporal tells their status (`status`: the workflow's, e.g. RUNNING; undefined when unknown).
 * The schedule's running list lags a start: a run just triggered read as not running.
 */
export async function withWorkflowStatus(
  summary: ScheduleSummary,
  status: (run: { workflowId: string; runId: string }) => Promise<string | undefined>,
): Promise<ScheduleSummary> {
  const recentRuns = await Promise.all(
    summary.recentRuns.map(async (run) => {
      if (run.outcome !== NO_OUTCOME) return run;
      const now = await status(run).catch(() => undefined);
      if (now === undefined) return run;
      return {
        ...run,
        outcome: now === 'RUNNING' ? 'running' : `${now.toLowerCase().replaceAll('_', ' ')} (${NO_OUTCOME})`,
      };
    }),
  );
  const running = recentRuns.filter((run) => run.outcome === 'running').map((run) => run.workflowId);
  return { ...summary, recentRuns, runningWorkflows: [...new Set([...summary.runningWorkflows, ...running])] };
}

/**
 * A calendar field as Temporal describes it, a list of ranges ({ start, end, step }; one value is
 * a range of one), as text: "2", "1-5", "0-30/15", "1,15". A plain value (as created) reads as it is.
 */
export function calendarText(field: unknown): string {
  const ranges = Array.isArray(field) ? field : [field];
  return ranges
    .map((range) => {
      if (typeof range !== 'object' || range === null) return String(range);
      const { start, end = start, step = 1 } = range as { start: number; end?: number; step?: number };
      return `${start}${end !== start ? `-${end}` : ''}${step !== 1 ? `/${step}` : ''}`;
    })
    .join(',');
}

/**
 * Asks the schedule to run for every month from `from` to `to`: each scheduled time falls in
 * the month after the processed one (day 2-28), so the window is [from+1, to+2) in months.
 * The runs are buffered and run one after another in month order, so each month finds the one
 * before it published and matches its segment ids (migration) to it. The range is checked as the
 * CLI checks it (domain/input-months.ts backfillRange); `handle`, when the caller has described
 * the schedule already through existingSchedule (which refused one of another task queue),
 * spares describing it again.
 */
export async function backfillMonths(
  client: Client,
  scope: ScheduleScope,
  scheduleId: string,
  from: string,
  to: string,
  { handle: described, ...who }: ScheduleActor & { handle?: ScheduleHandle } = {},
): Promise<string[]> {
  const { store } = scope;
  const months = backfillRange(from, to);
  const handle = described ?? (await existingSchedule(client, scheduleId, scope)).handle;
  await assertAuditWritable(store);
  await handle.backfill({
    start: new Date(`${addMonths(from, 1)}-01T00:00:00Z`),
    end: new Date(`${addMonths(to, 2)}-01T00:00:00Z`),
    overlap: ScheduleOverlapPolicy.BUFFER_ALL,
  });
  // the runs' own entries name the schedule as their actor: this one names who asked for them
  await recordScheduleEvent(
    store,
    scheduleId,
    'schedule.backfilled',
    who,
    { from, to },
    `schedule ${scheduleId}'s backfill of ${months.join(', ')} was requested in Temporal, and its runs go on to publish ('segflow schedule describe --id ${scheduleId}' shows them)`,
  );
  return months;
}

/** How each month of a backfill ended, or that it has not, from the audit log and Temporal. */
export interface ScheduledMonths {
  published: Map<string, number>;
  /** The months whose latest run failed, with its error. */
  failed: Map<string, string>;
  /** The months whose latest run was cancelled. */
  cancelled: string[];
  missing: string[];
  /**
   * The workflow of each month's latest run, ended or still going (its id names the scheduled
   * time, not the month); a missing month without one has not started.
   */
  workflowIds: Map<string, string>;
  /**
   * Of the missing months, those whose run Temporal holds running while the audit log has no
   * entry of it: no worker has taken it up (its first task records `run.requested`).
   */
  waiting: string[];
}

/** A run a schedule started, as Temporal lists it. */
export interface ScheduledRun {
  /** The month it processes: the month before its scheduled time. */
  month: string;
  workflowId: string;
  runId: string;
  startTime: Date;
  /** Temporal's status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, ... */
  status: string;
}

/** What Temporal tells of a schedule's runs: those started since a time, and why one that ended did not publish. */
export interface ScheduledRuns {
  list(): Promise<ScheduledRun[]>;
  /** As `segflow run` says a failed run: "SnapshotStoreError: cannot write ..."; its status when Temporal does not say within 5 s. */
  failure(run: ScheduledRun): Promise<string>;
}

/**
 * The runs schedule `scheduleId` started since `since`, from Temporal's visibility (Temporal sets
 * TemporalScheduledById and TemporalScheduledStartTime on them): a backfill's months, whether or
 * not a worker has written anything of them to the audit log.
 */
export function temporalScheduledRuns(client: Client, scheduleId: string, since: Date): ScheduledRuns {
  const query = `${TEMPORAL_SCHEDULED_BY_ID.name} = '${scheduleId.replaceAll("'", "\\'")}' AND StartTime >= '${since.toISOString()}'`;
  return {
    async list() {
      const runs: ScheduledRun[] = [];
      for await (const execution of client.workflow.list({ query })) {
        const scheduledFor = execution.typedSearchAttributes.get(TEMPORAL_SCHEDULED_START_TIME);
        if (!scheduledFor) continue;
        runs.push({
          month: monthBefore(scheduledFor),
          workflowId: execution.workflowId,
          runId: execution.runId,
          startTime: execution.startTime,
          status: execution.status.name,
        });
      }
      return runs;
    },
    async failure(run) {
      return (await failureOf(client, run.workflowId, run.runId)) ?? `${run.status.toLowerCase()} in Temporal`;
    },
  };
}

/**
 * Backfills have been seen to stall without an error, so the CLI waits for every requested
 * month to end: its latest run from this schedule after `since` published, failed or was
 * cancelled (a run started again after one that failed is waited for). By the audit log, and,
 * given `temporal`, by Temporal too: a run that ended before it could write its ending to the log
 * (a worker that cannot write the store or the log) is told as soon as it ends, with Temporal's
 * failure, and a run that no worker has taken up yet is named with its workflow id.
 */
export async function waitForScheduledMonths(
  config: SegflowConfig,
  scheduleId: string,
  months: string[],
  since: Date,
  timeoutMs: number,
  temporal?: ScheduledRuns,
  /** Told each time the months are read again (about every second), until they have all ended. */
  onProgress: (months: ScheduledMonths) => void = () => {},
): Promise<ScheduledMonths> {
  const deadline = Date.now() + timeoutMs;
  /** Temporal's failure of each run that ended unrecorded, asked once (by run id). */
  const failures = new Map<string, Promise<string>>();
  for (;;) {
    // Temporal first: a run it has seen end has written all it writes to the log read after
    const told = await temporal?.list().catch(() => undefined);
    const published = new Map<string, number>();
    const ended = new Map<string, { failed: string } | 'cancelled'>();
    const workflowIds = new Map<string, string>();
    /** The run id of each month's latest run in the log, and every run the log has an entry of. */
    const loggedRun = new Map<string, string>();
    const logged = new Set<string>();
    for (const entry of await readAuditLog(config.store)) {
      if (entry.actor !== `schedule:${scheduleId}` || new Date(entry.at) < since || !months.includes(entry.month))
        continue;
      const { month, run } = entry;
      const details = (entry.details ?? {}) as { version?: number; error?: { type: string; message: string } };
      // a run's first entries make it the month's run: one started after another that failed or
      // was cancelled is waited for
      if (entry.event === 'run.requested' || entry.event === 'run.started' || !loggedRun.has(month)) {
        if (loggedRun.get(month) !== run.runId || entry.event === 'run.started') ended.delete(month);
        loggedRun.set(month, run.runId);
        workflowIds.set(month, run.workflowId);
      }
      logged.add(run.runId);
      if (entry.event === 'run.published') published.set(month, Number(details.version));
      // a late entry of a run before the month's latest does not end the month
      if (loggedRun.get(month) !== run.runId) continue;
      if (entry.event === 'run.failed')
        ended.set(month, { failed: `${details.error?.type}: ${details.error?.message}` });
      // a cancelled run publishes nothing: waiting on it until the timeout would tell nothing more
      if (entry.event === 'run.cancelled') ended.set(month, 'cancelled');
    }
    const waiting: string[] = [];
    const listed = new Set((told ?? []).map((run) => run.runId));
    for (const run of latestRunOfEachMonth(told ?? [], months)) {
      const { month } = run;
      if (published.has(month)) continue;
      const inLog = loggedRun.get(month);
      if (inLog !== undefined && inLog !== run.runId) {
        // a run the listing does not show yet (it lags a start) is newer: the log's word
        if (!listed.has(inLog)) continue;
        // a run newer than the one the log has is the month's run now
        ended.delete(month);
      } else if (ended.has(month)) continue; // the log's ending of this run, in the run's own words
      workflowIds.set(month, run.workflowId);
      if (run.status === 'RUNNING') {
        if (!logged.has(run.runId)) waiting.push(month);
      } else if (run.status === 'CANCELLED') ended.set(month, 'cancelled');
      else if (FAILED_STATUSES.has(run.status)) {
        if (!failures.has(run.runId))
          failures.set(run.runId, temporal?.failure(run) ?? Promise.resolve(run.status.toLowerCase()));
        ended.set(month, {
          failed: `${await failures.get(run.runId)} (as Temporal tells it: the audit log has no ending of this run)`,
        });
      } else if (run.status === 'COMPLETED')
        ended.set(month, {
          failed: `the run completed in Temporal, but the audit log has no run.published of it ('segflow audit verify' checks the log)`,
        });
    }
    for (const month of published.keys()) ended.delete(month);
    const failed = new Map(
      [...ended].flatMap(([month, end]) => (end === 'cancelled' ? [] : [[month, end.failed] as [string, string]])),
    );
    const cancelled = [...ended].flatMap(([month, end]) => (end === 'cancelled' ? [month] : []));
    const missing = months.filter((month) => !published.has(month) && !ended.has(month));
    const state = {
      published,
      failed,
      cancelled,
      missing,
      workflowIds,
      waiting: waiting.filter((m) => missing.includes(m)),
    };
    if (missing.length === 0 || Date.now() > deadline) return state;
    // a listing that failed says nothing of the runs Temporal holds: no progress told from it
    if (!temporal || told !== undefined) onProgress(state);
    await new Promise((resolveWait) => setTimeout(resolveWait, 1_000));
  }
}

/** Of `runs`, each month's (among `months`) latest by start time. */
function latestRunOfEachMonth(runs: ScheduledRun[], months: string[]): ScheduledRun[] {
  const latest = new Map<string, ScheduledRun>();
  for (const run of runs) {
    const seen = latest.get(run.month);
    if (months.includes(run.month) && (!seen || run.startTime > seen.startTime)) latest.set(run.month, run);
  }
  return [...latest.values()];
}
