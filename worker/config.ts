import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TLSConfig } from '@temporalio/client';
import { fileURLToPath } from 'node:url';
import type { StoreConfig } from '../store/layout';

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Everything segflow reads from the environment, with the defaults a clone runs on. */
export interface SegflowConfig {
  /** SEGFLOW_HOME: state folder (default .segflow/ in the clone, git-ignored). */
  home: string;
  store: StoreConfig;
  /**
   * SEGFLOW_SIGNING_KEY: an Ed25519 private key file (PEM). When set, the worker signs every audit
   * entry and manifest it writes; the key is read on the worker only, never sent anywhere.
   */
  signingKeyPath?: string;
  temporal: {
    /** TEMPORAL_ADDRESS, default 127.0.0.1:7233 (the local dev server). */
    address: string;
    /** TEMPORAL_NAMESPACE, default "default". */
    namespace: string;
    /** SEGFLOW_TASK_QUEUE, default "segflow". */
    taskQueue: string;
    /** mTLS files for a Temporal cluster: TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY, TEMPORAL_TLS_CA, TEMPORAL_TLS_SERVER_NAME. */
    tls?: { certPath?: string; keyPath?: string; caPath?: string; serverName?: string };
    /** TEMPORAL_API_KEY (Temporal Cloud API keys imply TLS). */
    apiKey?: string;
  };
}

/** Connection options shared by the client and the worker: address, TLS and API key from the config. */
export function connectionOptions(config: SegflowConfig): {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
} {
  const { address, tls, apiKey } = config.temporal;
  const options: { address: string; tls?: TLSConfig | boolean; apiKey?: string } = { address };
  if (tls) {
    options.tls = {
      ...(tls.certPath && tls.keyPath
        ? { clientCertPair: { crt: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) } }
        : {}),
      ...(tls.caPath ? { serverRootCACertificate: readFileSync(tls.caPath) } : {}),
      ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
    };
  }
  if (apiKey) {
    options.apiKey = apiKey;
    options.tls ??= true;
  }
  return options;
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
    ...(env.SEGFLOW_SIGNING_KEY ? { signingKeyPath: resolve(env.SEGFLOW_SIGNING_KEY) } : {}),
    temporal: {
      address: env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
      namespace: env.TEMPORAL_NAMESPACE ?? 'default',
      taskQueue: env.SEGFLOW_TASK_QUEUE ?? 'segflow',
      ...(env.TEMPORAL_TLS_CERT || env.TEMPORAL_TLS_CA
        ? {
            tls: {
              certPath: env.TEMPORAL_TLS_CERT,
              keyPath: env.TEMPORAL_TLS_KEY,
              caPath: env.TEMPORAL_TLS_CA,
              serverName: env.TEMPORAL_TLS_SERVER_NAME,
            },
          }
        : {}),
      ...(env.TEMPORAL_API_KEY ? { apiKey: env.TEMPORAL_API_KEY } : {}),
    },
  };
}
