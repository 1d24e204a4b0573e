import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import { createActivities } from '../activities';
import { codeVersion } from '../activities/code-version';
import { duckdbMemoryLimit, duckdbThreads } from '../activities/duckdb';
import { UsageError } from '../domain/errors';
import { loadSigner } from '../store/signing';
import { connectionOptions, temporalAddress, unreachableTemporal, workerIdentity, type SegflowConfig } from './config';
import { releaseMemoryAfterActivities } from './release-memory';
import { cachedWorkflowBundle } from './workflow-bundle';

export interface SegflowWorkerOptions {
  config: SegflowConfig;
  /** Reuse a workflow bundle (tests build it once); default: the stored bundle of workflows/ while it is current (workflow-bundle.ts). */
  workflowBundle?: WorkflowBundle;
  /** Default: defaultMaxActivities(). */
  maxConcurrentActivities?: number;
}

/**
 * Activities a worker runs at once unless told: one per core this process may use, at most 2.
 * Stages are CPU-heavy (DuckDB takes every core inside one activity): a one-core worker that took
 * two partitions would run both at half speed while another worker idled.
 */
export function defaultMaxActivities(): number {
  return Math.min(2, availableParallelism());
}

/**
 * How often a heartbeat may reach the server. A cancelled run's stages learn of it from a
 * heartbeat's answer, and the run awaits them before it records run.cancelled: the SDK's default
 * (0.8 x the 30 s heartbeat timeout) kept a cancelled stage running for up to 24 s. At most one
 * short call a second per running activity is nothing to the server. (The default interval is for
 * an activity without a heartbeat timeout; every stage sets one.)
 */
export const HEARTBEAT_THROTTLE = {
  maxHeartbeatThrottleInterval: '1s',
  defaultHeartbeatThrottleInterval: '1s',
} as const;

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** SEGFLOW_DUCKDB_MEMORY_LIMIT and SEGFLOW_DUCKDB_THREADS as a worker starts: a usage error (exit 2) when either is malformed. */
function checkDuckdbSettings(): void {
  try {
    duckdbMemoryLimit();
    duckdbThreads();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** A worker on the segflow task queue with every workflow and activity registered. */
export async function createSegflowWorker(
  options: SegflowWorkerOptions,
): Promise<{ worker: Worker; connection: NativeConnection }> {
  const { config } = options;
  // the commit a manifest names is the one whose TypeScript this process loaded: read now, not at
  // the first publish, which a checkout pulled under a running worker would name instead
  codeVersion();
  temporalAddress(config.temporal.address); // a malformed one: a usage error, not an unreachable server
  checkDuckdbSettings(); // read by every activity: a bad one failed each stage five times before the run did
  // before the bundle: no server fails the start at once, not after seconds of bundling
  const connection = await NativeConnection.connect(connectionOptions(config)).catch((error: Error) => {
    throw unreachableTemporal(config.temporal.address, error);
  });
  try {
    const workflowBundle = options.workflowBundle ?? (await storedWorkflowBundle(config));
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      // names its store: `run --local` refuses a task queue whose workers publish elsewhere
      identity: workerIdentity(config.store),
      workflowBundle,
      activities: createActivities(config.store, undefined, {
        ...(config.signingKeyPath ? { signer: loadSigner(config.signingKeyPath) } : {}),
      }),
      maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? defaultMaxActivities(),
      ...HEARTBEAT_THROTTLE,
      interceptors: { activity: [releaseMemoryAfterActivities()] },
    });
    return { worker, connection };
  } catch (error) {
    await connection.close();
    throw error;
  }
}

/**
 * workflows/ bundled, or the bundle stored under $SEGFLOW_HOME while it is current. Bundled with
 * no option but the workflows' path: an option given here (interceptors, a payload converter)
 * would have to enter workflow-bundle.ts's key, or a stored bundle without it would be loaded.
 */
async function storedWorkflowBundle(config: SegflowConfig): Promise<WorkflowBundle> {
  const { logger } = Runtime.instance();
  const { code, reused } = await cachedWorkflowBundle(WORKFLOWS_PATH, join(config.home, 'worker'), logger);
  if (reused) logger.debug('workflow bundle unchanged since it was stored: not bundled again');
  return { code };
}
