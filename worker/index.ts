import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities } from '../activities';
import { loadSigner } from '../store/signing';
import { connectionOptions, type SegflowConfig } from './config';
import { releaseMemoryAfterActivities } from './release-memory';

export interface SegflowWorkerOptions {
  config: SegflowConfig;
  /** Reuse a workflow bundle (tests build it once); default: bundle workflows/ at start. */
  workflowBundle?: WorkflowBundleWithSourceMap;
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

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** A worker on the segflow task queue with every workflow and activity registered. */
export async function createSegflowWorker(
  options: SegflowWorkerOptions,
): Promise<{ worker: Worker; connection: NativeConnection }> {
  const { config } = options;
  const connection = await NativeConnection.connect(connectionOptions(config));
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    activities: createActivities(config.store, undefined, {
      ...(config.signingKeyPath ? { signer: loadSigner(config.signingKeyPath) } : {}),
    }),
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? defaultMaxActivities(),
    interceptors: { activity: [releaseMemoryAfterActivities()] },
  });
  return { worker, connection };
}
