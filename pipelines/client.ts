import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type WorkflowHandle,
} from '@temporalio/client';
import { tsToMs } from '@temporalio/common';
import proto from '@temporalio/proto';
import { InfrastructureError, innermostFailure, UsageError } from '../domain/errors';
import { parseRunParams, type RunParams } from '../domain/params';
import { SEGFLOW_SEARCH_ATTRIBUTES } from '../domain/search-attributes';
import type { StoreConfig } from '../store/layout';
import { storeMemo } from './run-owner';
import {
  connectionOptions,
  storeKey,
  storeOfWorker,
  temporalAddress,
  unreachableTemporal,
  type SegflowConfig,
} from '../worker/config';
import {
  monthlySegmentation,
  progressQuery,
  STAGES,
  type MonthlySegmentationInput,
  type MonthlySegmentationMemo,
  type MonthlySegmentationResult,
  type RunProgress,
} from '../workflows/monthly-segmentation';

/** A started monthly run: its result and progress query are typed by the workflow function. */
export type MonthlyRunHandle = WorkflowHandle<typeof monthlySegmentation>;

export async function connectClient(config: SegflowConfig, connectTimeoutMs = 5_000): Promise<Client> {
  // a malformed address is the user's to fix (exit 2), not a server to start
  const { host, port } = temporalAddress(config.temporal.address);
  // nothing listening on this machine is told at once, in the worker's words, not after the
  // client's 5 s deadline; a remote server (TLS, a proxy, a name of several addresses) is left to gRPC
  if (directLocalConnection(config, host) && (await tcpProbe(host, port)) === 'refused')
    throw unreachableTemporal(config.temporal.address, new Error('tcp connect error: Connection refused'));
  const connection = await Connection.connect({ ...connectionOptions(config), connectTimeout: connectTimeoutMs }).catch(
    (error: Error) => {
      throw unreachableTemporal(config.temporal.address, error);
    },
  );
  return new Client({ connection, namespace: config.temporal.namespace });
}

/**
 * Whether the client connects straight to a loopback address (the local dev server): no TLS or API
 * key, no proxy gRPC would go through. Only there is a refused TCP connection the client's answer too.
 */
function directLocalConnection(config: SegflowConfig, host: string): boolean {
  const { tls, apiKey } = connectionOptions(config);
  const proxied = ['grpc_proxy', 'https_proxy', 'http_proxy'].some(
    (name) => process.env[name] || process.env[name.toUpperCase()],
  );
  const loopback = host === 'localhost' || host === '::1' || /^127\./.test(host);
  return loopback && !tls && apiKey === undefined && !proxied;
}

/**
 * A TCP connection to host:port, tried once: 'listening' when something accepts it, 'refused' when
 * nothing listens there (said at once, where a Temporal client waits out its connect timeout),
 * 'unanswered' on any other error or after `timeoutMs`.
 */
export function tcpProbe(
  host: string,
  port: number,
  timeoutMs = 1_000,
): Promise<'listening' | 'refused' | 'unanswered'> {
  return new Promise((resolveProbe) => {
    const socket = createConnection({ host, port });
    const done = (answer: 'listening' | 'refused' | 'unanswered') => {
      socket.destroy();
      resolveProbe(answer);
    };
    socket.setTimeout(timeoutMs, () => done('unanswered'));
    socket.once('connect', () => done('listening'));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      done(error.code === 'ECONNREFUSED' ? 'refused' : 'unanswered'),
    );
  });
}

/** Validates parameters, then starts a monthly run. Every run gets its own workflow id. */
export async function startMonthlyRun(
  client: Client,
  config: SegflowConfig,
  request: {
    params: Record<string, unknown>;
    requestedBy: string;
    workflowId?: string;
    indexed?: boolean;
    heartbeatTimeout?: string;
    partitions?: number;
    /** false: a cold run, without the stored load and feature output. */
    reuse?: boolean;
    /** Publish without moving the month's latest.json (`--experiment`). */
    experiment?: boolean;
  },
): Promise<{ handle: MonthlyRunHandle; params: RunParams }> {
  const parsed = parseRunParams(request.params);
  if (!parsed.ok) throw new UsageError(`invalid run parameters:\n  ${parsed.problems.join('\n  ')}`);
  const params = parsed.params;
  const input: MonthlySegmentationInput = {
    params,
    requestedBy: request.requestedBy,
    indexed: request.indexed ?? (await hasSearchAttributes(client)),
    ...(request.heartbeatTimeout ? { heartbeatTimeout: request.heartbeatTimeout } : {}),
    ...(request.partitions ? { partitions: request.partitions } : {}),
    ...(request.reuse === false ? { reuse: false } : {}),
    ...(request.experiment ? { experiment: true } : {}),
  };
  const start = (workflowId: string) =>
    client.workflow.start(monthlySegmentation, {
      taskQueue: config.temporal.taskQueue,
      workflowId,
      args: [input],
      // the store too: `runs list` of another store on this task queue leaves the run out
      memo: {
        ...({ month: params.month, requestedBy: request.requestedBy } satisfies MonthlySegmentationMemo),
        ...storeMemo(config.store),
      },
    });
  if (request.workflowId) return { handle: await start(request.workflowId), params };
  // named by its month and start time; two runs of a month started within the same millisecond
  // (two analysts, a script) would share that name, so the second takes a suffix
  const named = `segflow-${params.month}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  for (let attempt = 0; ; attempt++) {
    try {
      return { handle: await start(attempt === 0 ? named : `${named}-${randomBytes(3).toString('hex')}`), params };
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError) || attempt >= 3) throw error;
    }
  }
}

/** segflow's search attributes that a namespace has not registered. */
export async function missingSearchAttributes(
  connection: Pick<Connection, 'operatorService'>,
  namespace: string,
): Promise<typeof SEGFLOW_SEARCH_ATTRIBUTES> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  return SEGFLOW_SEARCH_ATTRIBUTES.filter((key) => !(customAttributes && key.name in customAttributes));
}

/** True when the server has segflow's search attributes registered (runs then set them). */
export async function hasSearchAttributes(client: Client): Promise<boolean> {
  return missingSearchAttributes(client.connection, client.options.namespace).then(
    (missing) => missing.length === 0,
    () => false,
  );
}

/**
 * What to show of a run last shown at `shown` (nothing yet: undefined) that is now at `progress`:
 * first each stage it passed between two polls (a short stage, or the churn stage ending beside
 * the clustering, which the progress names until it finishes), then `progress` unless it is what
 * was shown.
 */
export function progressSince(shown: RunProgress | undefined, progress: RunProgress): RunProgress[] {
  const passed: RunProgress[] = [];
  for (let done = (shown?.stagesDone ?? -1) + 1; done < progress.stagesDone; done++) {
    const percent = Math.round((100 * done) / progress.stagesTotal);
    passed.push({ ...progress, stage: STAGES[done], stagesDone: done, percent, detail: undefined });
  }
  return JSON.stringify(progress) === JSON.stringify(shown) ? passed : [...passed, progress];
}

/** Where a monthly run `workflowId` is now: its workflow's `progress` query (a query that fails rejects). */
export async function runProgress(client: Client, workflowId: string): Promise<RunProgress> {
  return (client.workflow.getHandle(workflowId) as MonthlyRunHandle).query(progressQuery);
}

/**
 * Waits for the result, calling `onProgress` for every stage the run enters, in order, whenever
 * the rows done within a stage move, and once with `done` before it returns. A short stage can
 * begin and end between two polls: it is still shown.
 */
export async function followRun(
  handle: MonthlyRunHandle,
  onProgress: (progress: RunProgress) => void,
): Promise<MonthlySegmentationResult> {
  let finished = false;
  // the result ends the wait between two polls at once, instead of after it (up to half a second)
  const resultIn = new AbortController();
  const result = resultAcrossRestarts(handle).finally(() => {
    finished = true;
    resultIn.abort();
  });
  let shown: RunProgress | undefined;
  const show = (progress: RunProgress) => {
    for (const step of progressSince(shown, progress)) onProgress(step);
    shown = progress;
  };
  const polling = (async () => {
    while (!finished) {
      const progress = await handle.query(progressQuery).catch(() => undefined);
      if (progress && !finished) show(progress);
      await sleep(500, undefined, { signal: resultIn.signal }).catch(() => undefined);
    }
  })();
  try {
    const value = await result;
    await polling;
    show({ month: value.month, stage: 'done', stagesDone: STAGES.length, stagesTotal: STAGES.length, percent: 100 });
    return value;
  } catch (error) {
    await polling;
    throw error;
  }
}

/** How long following a run waits for the server to answer again (a restart takes seconds). */
const RECONNECT_MS = 120_000;

/**
 * The run's result, asked for again while the server does not answer (restarted, or the network
 * between): the run goes on meanwhile, and calling it failed would have a script run it again.
 * Past RECONNECT_MS, an InfrastructureError that says so.
 */
async function resultAcrossRestarts(handle: MonthlyRunHandle): Promise<MonthlySegmentationResult> {
  /** Since when the server has not answered: counted from the first failure after it last did. */
  let awaySince: number | undefined;
  let failedWhileAnswering = 0;
  for (;;) {
    try {
      return await handle.result();
    } catch (error) {
      // failed, cancelled, terminated or timed out: the run's own ending; gone (another server): no run to wait for
      if (error instanceof WorkflowFailedError || error instanceof WorkflowNotFoundError) throw error;
      const answers = await handle.describe().then(
        () => true,
        () => false,
      );
      // the server answers, yet the result fails: not a restart, and asking again would not end
      if (answers && ++failedWhileAnswering > 3) throw error;
      awaySince = answers ? undefined : (awaySince ?? Date.now());
      if (awaySince !== undefined && Date.now() - awaySince > RECONNECT_MS)
        throw new InfrastructureError(
          `lost Temporal while following ${handle.workflowId} (${(error as Error).message.split('\n')[0]}); the run goes on on the server: 'segflow runs show ${handle.workflowId}' shows how it ends`,
        );
      await sleep(2_000);
    }
  }
}

/**
 * How recently a live worker has polled: a poll waits up to a minute for a task before the worker
 * polls again. The server lists a stopped worker's pollers for some minutes after its last poll.
 */
const POLLED_WITHIN_MS = 75_000;

/** True when at least one worker polls `taskQueue` for workflow tasks (seen by the server within POLLED_WITHIN_MS). */
export async function taskQueueHasPollers(client: Client, taskQueue: string, now = Date.now()): Promise<boolean> {
  return (await recentPollers(client, taskQueue, [TASK_QUEUE_TYPE.TASK_QUEUE_TYPE_WORKFLOW], now)).length > 0;
}

const TASK_QUEUE_TYPE = proto.temporal.api.enums.v1.TaskQueueType;

/** The identities of the workers seen polling `taskQueue` for the given kinds of task within POLLED_WITHIN_MS. */
async function recentPollers(
  client: Client,
  taskQueue: string,
  types: proto.temporal.api.enums.v1.TaskQueueType[],
  now: number,
): Promise<string[]> {
  const identities = new Set<string>();
  for (const taskQueueType of types) {
    const { pollers } = await client.workflowService.describeTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: taskQueue },
      taskQueueType,
    });
    for (const poller of pollers ?? [])
      if (poller.lastAccessTime && now - tsToMs(poller.lastAccessTime) < POLLED_WITHIN_MS)
        identities.add(poller.identity ?? '');
  }
  return [...identities];
}

/**
 * The workers polling `taskQueue` that do not serve `store`, by the store their identity names
 * (worker/config.ts workerIdentity): a run started there may be published into theirs, and a
 * worker of this store may take their runs' stages. `unnamed`: workers whose identity names no
 * store (a segflow from before identities named it, or another program), which may serve either.
 * `ours`: those that serve `store`.
 */
export async function pollersOfOtherStores(
  client: Client,
  taskQueue: string,
  store: StoreConfig,
  now = Date.now(),
): Promise<{ others: { identity: string; store: string }[]; unnamed: string[]; ours: string[] }> {
  const ourStore = storeKey(store);
  const identities = await recentPollers(
    client,
    taskQueue,
    [TASK_QUEUE_TYPE.TASK_QUEUE_TYPE_WORKFLOW, TASK_QUEUE_TYPE.TASK_QUEUE_TYPE_ACTIVITY],
    now,
  );
  const others: { identity: string; store: string }[] = [];
  const unnamed: string[] = [];
  const ours: string[] = [];
  for (const identity of identities) {
    const theirs = storeOfWorker(identity);
    if (theirs === undefined) unnamed.push(identity);
    else if (theirs !== ourStore) others.push({ identity, store: theirs });
    else ours.push(identity);
  }
  return { others, unnamed, ours };
}

/** A run's ending as the client sees it: cancelled (a WorkflowFailedError whose innermost cause is a CancelledFailure). */
export function isCancelledRun(error: unknown): boolean {
  return error instanceof WorkflowFailedError && innermostFailure(error).type === 'CancelledFailure';
}

/** The innermost failure of a failed run, e.g. the activity's typed error: "InputFileError: input not found ...". */
export function describeRunFailure(error: unknown): string {
  if (!(error instanceof WorkflowFailedError)) return error instanceof Error ? error.message : String(error);
  const { type, message } = innermostFailure(error);
  // "Workflow canceled" says neither that nothing was published nor where to look
  if (isCancelledRun(error))
    return `${type}: the run was cancelled and published nothing (segflow runs show, with its workflow id, says who asked)`;
  return `${type}: ${message}`;
}
