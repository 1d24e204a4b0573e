import { setTimeout as sleep } from 'node:timers/promises';
import {
  isGrpcServiceError,
  ServiceError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionInfo,
} from '@temporalio/client';
import { commandUser, recordAudit } from '../store/audit-record';
import { UsageError } from '../domain/errors';
import { monthBefore } from '../domain/month';
import { SEGFLOW_MONTH, TEMPORAL_SCHEDULED_BY_ID, TEMPORAL_SCHEDULED_START_TIME } from '../domain/search-attributes';
import type { temporal } from '@temporalio/proto';
import { chainBreak, readAuditLog, type AuditEntry } from '../store/audit-log';
import type { RunRef, StoreConfig } from '../store/layout';
import { FINAL_EVENTS, RUN_OWN_EVENTS } from '../store/snapshots';
import { storeKey, type SegflowConfig } from '../worker/config';
import type { MonthlySegmentationMemo } from '../workflows/monthly-segmentation';
import { ownerOfSchedule, storeOfMemo } from './run-owner';

export interface RunListing {
  workflowId: string;
  runId: string;
  month: string;
  requestedBy: string;
  requestedAt: string;
  /**
   * From the audit log: requested, running, published, failed or cancelled; NO_AUDIT_ENTRY (or,
   * while it runs, NO_AUDIT_ENTRY_YET) for a run Temporal knows that the log has nothing of.
   */
  outcome: string;
  version: number | null;
  /** From Temporal: RUNNING, COMPLETED, FAILED, ...; "gone" once history passed the namespace retention. */
  temporalStatus: string;
  /** False for a run only Temporal knows: the audit log has no entry of it. */
  inAuditLog: boolean;
}

const OUTCOME: Record<string, string> = {
  'run.requested': 'requested',
  'run.started': 'running',
  'stage.finished': 'running',
  'stage.reused': 'running',
  'stage.attempt-failed': 'retrying',
  'run.published': 'published',
  'run.failed': 'failed',
  'run.cancelled': 'cancelled',
  'snapshot.retired': 'published, since retired',
  'snapshot.promoted': 'published, since promoted',
  'run.cancel-requested': 'cancelling',
};

/** Statuses of a run that has ended without completing: such a run records nothing more. */
export const ENDED_UNCOMPLETED = ['FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT'];

/**
 * The status of the latest run of a workflow id (a reset carries on under a new run id, as the
 * grace rule goes by workflow id), or of run `runId` when given; undefined when Temporal does not
 * say (unreachable, gone).
 */
export async function latestRunStatus(client: Client, workflowId: string, runId?: string): Promise<string | undefined> {
  return client.workflow
    .getHandle(workflowId, runId)
    .describe()
    .then((description) => description.status.name)
    .catch(() => undefined);
}

/** Events that can only follow a run's publishing (FINAL_EVENTS end it). */
const AFTER_PUBLISHING = new Set(['snapshot.retired', 'snapshot.promoted']);

/**
 * A run's outcome from its audit entries: the last of its ending and later snapshot events once it
 * has one (an activity of a cancelled run may record a failed attempt after run.cancelled: it did
 * not retry), else its last event; without an ending while Temporal holds the run closed
 * (terminated, or its last record lost), "ended unrecorded".
 */
export function outcomeOf(entries: AuditEntry[], temporalStatus: string): string {
  const ended = entries.filter((entry) => FINAL_EVENTS.has(entry.event) || AFTER_PUBLISHING.has(entry.event)).at(-1);
  if (ended) return OUTCOME[ended.event] ?? ended.event;
  if (temporalStatus === 'COMPLETED' || ENDED_UNCOMPLETED.includes(temporalStatus)) return 'ended unrecorded';
  const last = entries[entries.length - 1];
  return OUTCOME[last.event] ?? last.event;
}

/** A run started with --experiment: its run.requested (or, from a run before it said so there, its run.published) says so. */
const isExperiment = (entries: AuditEntry[]) =>
  entries.some((entry) => (entry.details as { experiment?: boolean } | undefined)?.experiment === true);

/** Where `runs list` and `runs show` say what the reader should know of what they show: stderr, so --json stays the data. */
export type Warn = (text: string) => void;
const toStderr: Warn = (text) => console.error(text);

/**
 * The audit log's entries, checked as they are read: a chain that no longer holds (an entry
 * edited without re-hashing, one removed) is said through `warn`, naming where, and the entries
 * are shown all the same (`segflow audit verify` is the check; these commands only read).
 */
async function readCheckedLog(store: StoreConfig, warn: Warn): Promise<AuditEntry[]> {
  const entries = await readAuditLog(store);
  const broken = chainBreak(entries);
  if (broken)
    warn(
      `warning: the audit log's chain is broken at seq ${broken.seq} (${broken.problem}): entries from there on may not be what segflow recorded ('segflow audit verify' names it)`,
    );
  return entries;
}

/** The outcome `runs list` gives a run Temporal knows that the audit log has no entry of. */
export const NO_AUDIT_ENTRY = 'no audit entry';
/** The same, for a run still running: no worker has taken it up yet, or its first entry could not be written yet. */
export const NO_AUDIT_ENTRY_YET = 'no audit entry yet';

/**
 * Runs from the audit log (the long-term record), joined with Temporal's view when it still has
 * them, and, when `client` is given, the runs Temporal holds (within its retention) of task queue
 * `filter.taskQueue` that the log has no entry of: a run that failed before it wrote its first
 * one (a store its worker cannot write) was listed nowhere. Newest last.
 */
export async function listRuns(
  store: StoreConfig,
  client: Client | undefined,
  filter: { month?: string; limit: number; taskQueue?: string },
  warn: Warn = toStderr,
): Promise<RunListing[]> {
  const byRun = new Map<string, AuditEntry[]>();
  const inLog = new Set<string>();
  for (const entry of await readCheckedLog(store, warn)) {
    inLog.add(`${entry.run.workflowId}\u0000${entry.run.runId}`);
    // a schedule's changes and cache prunes are no runs
    if (entry.event.startsWith('schedule.') || entry.event.startsWith('cache.')) continue;
    if (filter.month && entry.month !== filter.month) continue;
    const key = `${entry.run.workflowId}\u0000${entry.run.runId}`;
    byRun.set(key, [...(byRun.get(key) ?? []), entry]);
  }
  const runs = [...byRun.values()].slice(-filter.limit);
  const logged = await Promise.all(
    runs.map(async (entries) => {
      const first = entries[0];
      const published = entries.find((e) => e.event === 'run.published');
      const { status, startedAt, requestedBy } = await temporalView(client, first.run.workflowId, first.run.runId);
      // a worker writes run.requested when it takes the run, which may be long after it was asked
      // for (no worker polled yet): Temporal's start says when, while Temporal retains the run
      const requested = entries.find((e) => e.event === 'run.requested');
      return {
        workflowId: first.run.workflowId,
        runId: first.run.runId,
        month: entries.find((entry) => entry.month)?.month ?? first.month,
        requestedBy: requested?.actor ?? requestedBy ?? first.actor,
        requestedAt: startedAt ?? requested?.at ?? first.at,
        outcome: `${outcomeOf(entries, status)}${isExperiment(entries) ? ' (experiment)' : ''}`,
        version: published ? Number((published.details as { version: number }).version) : null,
        temporalStatus: status,
        inAuditLog: true,
      };
    }),
  );
  if (!client) return logged;
  const unlogged = await runsNotInLog(client, inLog, storeKey(store), filter, warn).catch((error: unknown) => {
    warn(
      `note: Temporal's list of runs could not be read (${error instanceof Error ? error.message : String(error)}): runs the audit log has no entry of are not shown ('segflow runs show <workflow id>' shows one)`,
    );
    return [];
  });
  return mergeByRequestedAt(logged, unlogged).slice(-filter.limit);
}

/** How many of Temporal's newest runs `runs list` looks through for runs the audit log lacks, at most. */
const TEMPORAL_RUNS_SCANNED = 500;

/**
 * The monthly runs Temporal holds that the audit log has no entry of (`inLog`: workflow id and
 * run id, joined by NUL), newest `limit` of the month asked, if any. Their month and who asked are
 * what the run started with: the memo `segflow run` gives it, or a schedule's time and id. A run
 * another store started on the same task queue (its memo, or its schedule's, names that store)
 * is left out, and counted in a note.
 */
async function runsNotInLog(
  client: Client,
  inLog: Set<string>,
  ourStore: string,
  filter: { month?: string; limit: number; taskQueue?: string },
  warn: Warn,
): Promise<RunListing[]> {
  const query =
    `WorkflowType = 'monthlySegmentation'` +
    (filter.taskQueue === undefined ? '' : ` AND TaskQueue = ${JSON.stringify(filter.taskQueue)}`);
  const found: RunListing[] = [];
  const otherStores = new Set<string>();
  let othersRuns = 0;
  const storeOfSchedule = new Map<string, Promise<string | undefined>>();
  let scanned = 0;
  for await (const execution of client.workflow.list({ query })) {
    if (++scanned > TEMPORAL_RUNS_SCANNED) break;
    if (inLog.has(`${execution.workflowId}\u0000${execution.runId}`)) continue;
    const theirs = await storeOfRun(client, execution, storeOfSchedule);
    if (theirs !== undefined && theirs !== ourStore) {
      otherStores.add(theirs);
      othersRuns += 1;
      continue;
    }
    const listing = unloggedListing(execution);
    if (filter.month && listing.month !== filter.month) continue;
    found.push(listing);
  }
  if (othersRuns > 0)
    warn(
      `note: ${othersRuns} ${othersRuns === 1 ? 'run' : 'runs'} on this task queue ${othersRuns === 1 ? 'belongs' : 'belong'} to another store (${[...otherStores].join(', ')}) and ${othersRuns === 1 ? 'is' : 'are'} not listed: SEGFLOW_HOME names the store whose runs are listed`,
    );
  return found.sort((a, b) => a.requestedAt.localeCompare(b.requestedAt)).slice(-filter.limit);
}

/**
 * The store a run Temporal holds was started for: its memo's (`segflow run`, and schedules
 * created since the runs' memos named it), else its schedule's (one described per schedule);
 * undefined when neither says.
 */
async function storeOfRun(
  client: Client,
  execution: WorkflowExecutionInfo,
  storeOfSchedule: Map<string, Promise<string | undefined>>,
): Promise<string | undefined> {
  const own = storeOfMemo(execution.memo);
  if (own !== undefined) return own;
  const scheduleId = execution.typedSearchAttributes.get(TEMPORAL_SCHEDULED_BY_ID);
  if (scheduleId === undefined) return undefined;
  if (!storeOfSchedule.has(scheduleId))
    storeOfSchedule.set(
      scheduleId,
      ownerOfSchedule(client, scheduleId).then((owner) => owner?.store),
    );
  return storeOfSchedule.get(scheduleId);
}

/** A run Temporal knows and the audit log does not, as `runs list` lists it. */
function unloggedListing(execution: WorkflowExecutionInfo): RunListing {
  const memo = execution.memo as Partial<MonthlySegmentationMemo> | undefined;
  const scheduledFor = execution.typedSearchAttributes.get(TEMPORAL_SCHEDULED_START_TIME);
  const scheduleId = execution.typedSearchAttributes.get(TEMPORAL_SCHEDULED_BY_ID);
  const month =
    typeof memo?.month === 'string'
      ? memo.month
      : (execution.typedSearchAttributes.get(SEGFLOW_MONTH) ?? (scheduledFor ? monthBefore(scheduledFor) : ''));
  const requestedBy =
    typeof memo?.requestedBy === 'string' ? memo.requestedBy : scheduleId ? `schedule:${scheduleId}` : '';
  const status = execution.status.name;
  return {
    workflowId: execution.workflowId,
    runId: execution.runId,
    month,
    requestedBy,
    requestedAt: execution.startTime.toISOString(),
    outcome: status === 'RUNNING' ? NO_AUDIT_ENTRY_YET : NO_AUDIT_ENTRY,
    version: null,
    temporalStatus: status,
    inAuditLog: false,
  };
}

/** The log's runs in their order, with Temporal's runs the log lacks placed among them by when they were requested. */
function mergeByRequestedAt(logged: RunListing[], unlogged: RunListing[]): RunListing[] {
  const merged: RunListing[] = [];
  let next = 0;
  for (const run of logged) {
    while (next < unlogged.length && unlogged[next].requestedAt < run.requestedAt) merged.push(unlogged[next++]);
    merged.push(run);
  }
  return [...merged, ...unlogged.slice(next)];
}

/** What Temporal says of a run: its status, and when and by whom it was started (its memo), while it has it. */
async function temporalView(
  client: Client | undefined,
  workflowId: string,
  runId: string,
): Promise<{ status: string; startedAt?: string; requestedBy?: string }> {
  if (!client) return { status: 'unknown (Temporal unreachable)' };
  try {
    const described = await client.workflow.getHandle(workflowId, runId).describe();
    const memo = described.memo as Partial<MonthlySegmentationMemo> | undefined;
    return {
      status: described.status.name,
      startedAt: described.startTime.toISOString(),
      ...(typeof memo?.requestedBy === 'string' ? { requestedBy: memo.requestedBy } : {}),
    };
  } catch {
    return { status: 'gone (past retention)' };
  }
}

/**
 * The workflow-history retention `temporal server start-dev` gives its namespaces (CLI 1.9:
 * 24 h), assumed when the namespace's own cannot be read.
 */
export const DEV_SERVER_RETENTION_MS = 24 * 3600_000;

/** How long Temporal keeps a closed run: the namespace's retention, or the dev server's when it cannot be read. */
async function namespaceRetention(client: Client): Promise<{ ms: number; read: boolean }> {
  try {
    const { config } = await client.workflowService.describeNamespace({ namespace: client.options.namespace });
    const ttl = config?.workflowExecutionRetentionTtl;
    const ms = Number(ttl?.seconds ?? 0) * 1000 + (ttl?.nanos ?? 0) / 1e6;
    if (ms > 0) return { ms, read: true };
  } catch {
    // a key without the right to describe the namespace: the dev server's retention is assumed
  }
  return { ms: DEV_SERVER_RETENTION_MS, read: false };
}

/** Events a monthly run writes about itself, its end included (an operator's entries name its run too, a schedule's its schedule). */
const RUN_WRITTEN = new Set([...RUN_OWN_EVENTS, ...FINAL_EVENTS]);

/** The log's monthly runs, each with its last entry of its own, oldest first. */
function logRuns(entries: AuditEntry[]): { run: RunRef; lastAt: string }[] {
  const runs = new Map<string, { run: RunRef; lastAt: string }>();
  for (const entry of entries) {
    if (!RUN_WRITTEN.has(entry.event) || entry.run.runId === '') continue;
    const key = `${entry.run.workflowId}\u0000${entry.run.runId}`;
    const known = runs.get(key);
    if (!known || entry.at > known.lastAt) runs.set(key, { run: entry.run, lastAt: entry.at });
  }
  return [...runs.values()].sort((a, b) => a.lastAt.localeCompare(b.lastAt));
}

/** gRPC's INVALID_ARGUMENT, as Temporal's ServiceError carries it. */
const isInvalidArgument = (error: unknown) =>
  error instanceof ServiceError && isGrpcServiceError(error.cause) && error.cause.code === 3;

/** Which of the log's runs Temporal should still know (within the retention), and how many it does. */
export interface LogRunsInTemporal {
  retentionHours: number;
  /** Whether the retention is the namespace's, as Temporal said; else the dev server's is assumed. */
  retentionRead: boolean;
  /** The log's runs whose last entry lies within the retention: Temporal keeps them (or keeps them running). */
  recent: number;
  /** Of those, the runs Temporal knows on this task queue: the ones the cross-check can witness. */
  known: number;
  /** Of those, runs Temporal knows on another task queue than the one verify asks about. */
  otherTaskQueue: number;
  /** The newest of the recent runs it does not know, to name. */
  newestUnknown: { run: RunRef; lastAt: string } | null;
}

/**
 * Asks Temporal about each of the log's runs recent enough for it to retain: a cross-check of a
 * server that knows none of them (a fresh history, another server, namespace or task queue)
 * finds nothing to compare, and so cannot witness a cut of the log's tail, however it reads.
 */
export async function logRunsInTemporal(
  client: Client,
  entries: AuditEntry[],
  taskQueue: string,
  now = Date.now(),
): Promise<LogRunsInTemporal> {
  const retention = await namespaceRetention(client);
  // a run closes after its last entry, and Temporal keeps it that long after: a margin for the
  // clocks of the worker, the server and this machine
  const within = retention.ms - Math.min(3600_000, retention.ms / 10);
  const recent = logRuns(entries).filter(({ lastAt }) => now - Date.parse(lastAt) < within);
  let known = 0;
  let otherTaskQueue = 0;
  let newestUnknown: LogRunsInTemporal['newestUnknown'] = null;
  for (const logged of recent) {
    const description = await client.workflow
      .getHandle(logged.run.workflowId, logged.run.runId)
      .describe()
      .catch((error: unknown) => {
        // a run id that is none of Temporal's (not a UUID) is refused as an invalid argument
        if (error instanceof WorkflowNotFoundError || isInvalidArgument(error)) return undefined;
        throw error;
      });
    if (description?.taskQueue === taskQueue) known += 1;
    else {
      if (description) otherTaskQueue += 1;
      newestUnknown = logged;
    }
  }
  return {
    retentionHours: Math.round((retention.ms / 3600_000) * 10) / 10,
    retentionRead: retention.read,
    recent: recent.length,
    known,
    otherTaskQueue,
    newestUnknown,
  };
}

export interface ActivityAttempt {
  activity: string;
  /** The attempt that closed it (earlier attempts leave no events of their own). */
  attempt: number;
  outcome: string;
  /** From its start to its close, by the server's clock. */
  seconds: number;
  /** Identity of the worker that ran the closing attempt. */
  worker: string;
  /** When the closing attempt started, seconds since the epoch (server clock). */
  startedAt: number;
}

/** Every activity of a workflow history, in the order they closed. */
export function activityAttempts(history: temporal.api.history.v1.IHistory): ActivityAttempt[] {
  const scheduled = new Map<string, string>();
  const started = new Map<string, { attempt: number; at: number; worker: string }>();
  const attempts: ActivityAttempt[] = [];
  for (const event of history.events ?? []) {
    const at = Number(event.eventTime?.seconds ?? 0) + (event.eventTime?.nanos ?? 0) / 1e9;
    if (event.activityTaskScheduledEventAttributes)
      scheduled.set(String(event.eventId), event.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
    if (event.activityTaskStartedEventAttributes) {
      const { scheduledEventId, attempt, identity } = event.activityTaskStartedEventAttributes;
      started.set(String(scheduledEventId), { attempt: attempt ?? 1, at, worker: identity ?? '?' });
    }
    const closed =
      (event.activityTaskCompletedEventAttributes && [
        'completed',
        event.activityTaskCompletedEventAttributes.scheduledEventId,
      ]) ||
      (event.activityTaskFailedEventAttributes && [
        `failed: ${event.activityTaskFailedEventAttributes.failure?.message ?? ''}`,
        event.activityTaskFailedEventAttributes.scheduledEventId,
      ]) ||
      (event.activityTaskTimedOutEventAttributes && [
        'timed out',
        event.activityTaskTimedOutEventAttributes.scheduledEventId,
      ]) ||
      (event.activityTaskCanceledEventAttributes && [
        'cancelled',
        event.activityTaskCanceledEventAttributes.scheduledEventId,
      ]);
    if (closed) {
      const scheduledId = String(closed[1]);
      const start = started.get(scheduledId);
      // an activity cancelled (or timed out) before any worker took it up has no start
      attempts.push({
        activity: scheduled.get(scheduledId) ?? '?',
        attempt: start?.attempt ?? 1,
        outcome: `${String(closed[0])}${start ? '' : ' before it started'}`,
        seconds: start ? at - start.at : 0,
        worker: start?.worker ?? '-',
        startedAt: start?.at ?? at,
      });
    }
  }
  return attempts;
}

/** temporal.api.enums.v1.PendingActivityState by number. */
const PENDING_STATES: Record<number, string> = {
  1: 'scheduled',
  2: 'started',
  3: 'cancel requested',
  4: 'paused',
  5: 'pause requested',
};

export interface RunDetail {
  audit: AuditEntry[];
  temporal: {
    status: string;
    /** The run Temporal shows: the workflow id's latest (a schedule's backfill reuses its ids, so earlier runs' entries may be in `audit`). */
    runId: string;
    /**
     * Why a run that failed, was terminated or timed out ended, in the words `runs follow` gives
     * it ("SnapshotStoreError: cannot write the audit log ..."); null for any other status.
     */
    failure: string | null;
    startTime: string;
    closeTime: string | null;
    searchAttributes: Record<string, unknown>;
    /** One line per activity attempt, from the event history. */
    activities: { activity: string; attempt: number; outcome: string; seconds: number; worker: string }[];
    /**
     * Activities scheduled or running now: their attempt, and the last one's failure (a worker
     * killed mid-stage leaves no event of its own: its attempt shows here as a heartbeat timeout).
     */
    running: { activity: string; state: string; attempt: number; lastFailure: string; worker: string }[];
  } | null;
}

/** Everything known about one run: its audit trail and, while Temporal keeps it, its history. */
export async function showRun(
  store: StoreConfig,
  client: Client | undefined,
  workflowId: string,
  warn: Warn = toStderr,
): Promise<RunDetail> {
  // with the schedule trigger that started it, which names who asked (the run's entries name the schedule)
  const audit = (await readCheckedLog(store, warn)).filter(
    (entry) =>
      entry.run.workflowId === workflowId ||
      (entry.event === 'schedule.triggered' && entry.details?.started === workflowId),
  );
  if (!client) return { audit, temporal: null };
  const handle = client.workflow.getHandle(workflowId);
  try {
    const description = await handle.describe();
    const activities = activityAttempts(await handle.fetchHistory()).map(
      ({ activity, attempt, outcome, seconds, worker }) => ({
        activity,
        attempt,
        outcome,
        seconds: Math.round(seconds * 100) / 100,
        worker,
      }),
    );
    return {
      audit,
      temporal: {
        status: description.status.name,
        runId: description.runId,
        failure: FAILED_STATUSES.has(description.status.name)
          ? await failureOf(client, workflowId, description.runId)
          : null,
        startTime: description.startTime.toISOString(),
        closeTime: description.closeTime?.toISOString() ?? null,
        searchAttributes: Object.fromEntries(
          description.typedSearchAttributes.getAll().map((pair) => [pair.key.name, pair.value]),
        ),
        activities,
        running: (description.raw.pendingActivities ?? []).map((pending) => ({
          activity: pending.activityType?.name ?? '?',
          state: PENDING_STATES[pending.state ?? 0] ?? String(pending.state),
          attempt: pending.attempt ?? 1,
          lastFailure: pending.lastFailure?.message?.split('\n')[0] ?? '',
          worker: pending.lastWorkerIdentity ?? '',
        })),
      },
    };
  } catch {
    return { audit, temporal: null };
  }
}

/**
 * Temporal's statuses of a run that ended without completing and without being cancelled: `runs
 * show` and `schedule backfill` say why.
 */
export const FAILED_STATUSES: ReadonlySet<string> = new Set(['FAILED', 'TERMINATED', 'TIMED_OUT']);

/**
 * Why run `runId` of `workflowId` ended, as `runs follow` says it (describeRunFailure of the
 * error its result throws: the innermost failure's type and message), or null when Temporal does
 * not say within 5 s. A run that failed before it wrote an audit entry has no other record of why:
 * `runs show` and `schedule backfill` ask it.
 */
export async function failureOf(client: Client, workflowId: string, runId: string): Promise<string | null> {
  const { describeRunFailure } = await import('./client');
  const timer = new AbortController();
  const told = client.workflow
    .getHandle(workflowId, runId, { followRuns: false })
    .result()
    .then(
      () => null,
      (error: unknown) => (error instanceof WorkflowFailedError ? describeRunFailure(error) : null),
    );
  return Promise.race([told, sleep(5_000, null, { signal: timer.signal }).catch(() => null)]).finally(() =>
    timer.abort(),
  );
}

/**
 * Cancels a running run. The audit log records who asked (run.cancel-requested) before the
 * run records its own run.cancelled; a run already publishing finishes (publishing is atomic).
 */
export async function cancelRun(
  client: Client,
  store: StoreConfig,
  workflowId: string,
  actor: string,
): Promise<{ runId: string; month: string }> {
  const handle = client.workflow.getHandle(workflowId);
  const description = await handle.describe().catch((error: unknown) => {
    if (error instanceof WorkflowNotFoundError)
      throw new UsageError(`no run ${workflowId} in Temporal ('segflow runs list' shows the runs)`);
    throw error;
  });
  if (description.status.name !== 'RUNNING')
    throw new UsageError(`run ${workflowId} is ${description.status.name.toLowerCase()}: nothing to cancel`);
  const run = { workflowId, runId: description.runId };
  const requested = (await readAuditLog(store)).find(
    (entry) => entry.run.workflowId === workflowId && entry.run.runId === run.runId,
  );
  // a run no worker has picked up has no audit entry yet: its month is in the memo it started with
  const memoMonth = (description.memo as { month?: unknown } | undefined)?.month;
  const month = requested?.month ?? (typeof memoMonth === 'string' ? memoMonth : '');
  // each request its own entry (the log keeps one per run, event and subject): two people asking are two
  await recordAudit(store, {
    event: 'run.cancel-requested',
    run,
    month,
    actor,
    subject: `by ${actor} at ${new Date().toISOString()}`,
    // --requested-by is whatever the caller typed: who ran the command, as the machine knows them
    details: commandUser(),
  });
  await handle.cancel();
  return { runId: run.runId, month };
}

/**
 * Whether a run has ended, asked of Temporal on first need (a connection of 2 s at most; unknown,
 * as when Temporal is unreachable, counts as not ended). For promote and retire, which a snapshot
 * its run never recorded as published would otherwise block for the grace's hour. `close` ends the
 * connection, if one was made.
 */
export function runEndedInTemporal(config: SegflowConfig): {
  runEnded: (run: RunRef) => Promise<boolean>;
  close: () => Promise<void>;
} {
  let client: Promise<Client | null> | undefined;
  const connect = () =>
    (client ??= import('./client').then(({ connectClient }) => connectClient(config, 2_000)).catch(() => null));
  return {
    runEnded: async (run) => {
      const connected = await connect();
      if (!connected) return false;
      // bounded: the caller holds the month's lock meanwhile
      const timer = new AbortController();
      const status = await Promise.race([
        latestRunStatus(connected, run.workflowId),
        sleep(5_000, undefined, { signal: timer.signal }).catch(() => undefined),
      ]).finally(() => timer.abort());
      return status !== undefined && ENDED_UNCOMPLETED.includes(status);
    },
    close: async () => {
      const connected = await client;
      await connected?.connection.close();
    },
  };
}
