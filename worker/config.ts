import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StoreConfig } from '../domain/store-layout';

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Everything segflow reads from the environment, with the defaults a clone runs on. */
export interface SegflowConfig {
  /** SEGFLOW_HOME: state folder (default .segflow/ in the clone, git-ignored). */
  home: string;
  store: StoreConfig;
  temporal: {
    /** TEMPORAL_ADDRESS, default 127.0.0.1:7233 (the local dev server). */
    address: string;
    /** TEMPORAL_NAMESPACE, default "default". */
    namespace: string;
    /** SEGFLOW_TASK_QUEUE, default "segflow". */
    taskQueue: string;
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): SegflowConfig {
  const home = resolve(env.SEGFLOW_HOME ?? join(REPO_ROOT, '.segflow'));
  return {
    home,
    store: {
      storeDir: resolve(env.SEGFLOW_STORE ?? join(home, 'store')),
      workDir: resolve(env.SEGFLOW_WORK ?? join(home, 'work')),
      ...(env.SEGFLOW_DATA_ROOT ? { dataRoot: resolve(env.SEGFLOW_DATA_ROOT) } : {}),
    },
    temporal: {
      address: env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
      namespace: env.TEMPORAL_NAMESPACE ?? 'default',
      taskQueue: env.SEGFLOW_TASK_QUEUE ?? 'segflow',
    },
  };
}
