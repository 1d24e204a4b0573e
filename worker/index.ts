import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities } from '../activities';
import { loadSigner } from '../store/signing';
import { connectionOptions, type SegflowConfig } from './config';

export interface SegflowWorkerOptions {
  config: SegflowConfig;
  /** Reuse a workflow bundle (tests build it once); default: bundle workflows/ at start. */
  workflowBundle?: WorkflowBundleWithSourceMap;
  /** Default 2: stages are CPU-heavy and a machine has few cores. */
  maxConcurrentActivities?: number;
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
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? 2,
  });
  return { worker, connection };
}
