import { realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Metadata, TLSConfig } from '@temporalio/client';
import { type ClientConfigProfile, loadClientConfigProfile, toClientOptions } from '@temporalio/envconfig';
import { InfrastructureError, UsageError } from '../domain/errors';
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
    /** The profile's address (TEMPORAL_ADDRESS), default 127.0.0.1:7233 (the local dev server). */
    address: string;
    /** The profile's namespace (TEMPORAL_NAMESPACE), default "default". */
    namespace: string;
    /** SEGFLOW_TASK_QUEUE, default "segflow". */
    taskQueue: string;
    /**
     * The Temporal client profile as the `temporal` CLI reads it: the TOML file (TEMPORAL_CONFIG_FILE,
     * default ~/.config/temporalio/temporal.toml) and profile (TEMPORAL_PROFILE), overridden by
     * TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS and TEMPORAL_TLS_* variables.
     * Without one: plain gRPC to `address`.
     */
    profile?: ClientConfigProfile;
  };
}

/**
 * segflow's own TLS variable names before it read the standard ones; still honoured (the standard
 * name wins when both are set) with a deprecation warning, and dropped in the next release.
 */
const DEPRECATED_TLS_VARIABLES: Readonly<Record<string, string>> = {
  TEMPORAL_TLS_CERT: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  TEMPORAL_TLS_KEY: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
  TEMPORAL_TLS_CA: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
};

/** Connection options shared by the client and the worker: address, TLS, API key and gRPC metadata. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
  metadata?: Metadata;
}

export function connectionOptions(config: SegflowConfig): TemporalConnectionOptions {
  const { tls, apiKey, metadata } = toClientOptions(config.temporal.profile ?? {}).connectionOptions;
  return {
    address: config.temporal.address,
    ...(tls != null ? { tls } : {}),
    ...(apiKey !== undefined ? { apiKey } : {}),
    ...(metadata !== undefined ? { metadata } : {}),
  };
}

/** The port of a Temporal address that names none, as the SDK connects to it. */
const DEFAULT_TEMPORAL_PORT = 7233;

/**
 * The host and port of a Temporal address: `host:port` or `[IPv6 address]:port`, or without the
 * port (7233) unless `portRequired` (a dev server to start needs one). Anything else, a URL above
 * all (`http://host:port`, which Temporal does not read), is a usage error, given before any
 * connection: as an unreachable server it read "start one with: segflow server" and exit 3.
 */
export function temporalAddress(address: string, portRequired = false): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]/\s]+))(?::(\d{1,5}))?$/.exec(address);
  const port = match?.[3] === undefined ? (portRequired ? NaN : DEFAULT_TEMPORAL_PORT) : Number(match[3]);
  if (!match || !(port >= 1 && port <= 65_535))
    throw new UsageError(
      `a Temporal address is host:port or [IPv6 address]:port, without a scheme such as http://, got ${JSON.stringify(address)} (TEMPORAL_ADDRESS, or the address of the Temporal profile)`,
    );
  return { host: match[1] ?? match[2], port };
}

/**
 * A failed connection to Temporal in the words every command uses: where, why, and how to start
 * one. The worker's native connection reports a refusal as a Rust error's debug text
 * (`tonic::transport::Error(Transport, ConnectError(...))`): its two messages are kept.
 */
export function unreachableTemporal(address: string, error: Error): InfrastructureError {
  const native = /ConnectError\("([^"]+)"[\s\S]*?message: "([^"]+)"/.exec(error.message);
  const why = native ? `${native[1]}: ${native[2]}` : error.message;
  return new InfrastructureError(`cannot reach Temporal at ${address} (${why}); start one with: segflow server`);
}

/** What a worker's identity says after its pid and host: the store its activities publish into. */
const STORE_MARK = ' segflow-store:';

/**
 * The identity a worker gives Temporal: the SDK's default (pid@host) and the store it publishes
 * into, so a command can tell from a task queue's pollers whether they serve its own store (a
 * run goes to whichever worker polls, and publishes into that worker's store). `runs show` lists
 * it per activity. The store's real path: a symlinked home names the same store.
 */
export function workerIdentity(store: StoreConfig): string {
  return `${process.pid}@${hostname()}${STORE_MARK}${storeKey(store)}`;
}

/** The store a worker's identity names; undefined for a worker that does not say (an older segflow, another program). */
export function storeOfWorker(identity: string): string | undefined {
  const at = identity.indexOf(STORE_MARK);
  return at < 0 ? undefined : identity.slice(at + STORE_MARK.length);
}

/**
 * The store as workers name it: its real path. A store not created yet is named by its nearest
 * folder that exists, made real, and the rest of its path: a worker started before the first
 * run names it as a command does after (a symlinked /tmp or home).
 */
export function storeKey(store: StoreConfig): string {
  const rest: string[] = [];
  for (let dir = store.storeDir; ; dir = dirname(dir)) {
    try {
      return join(realpathSync(dir), ...rest);
    } catch {
      if (dirname(dir) === dir) return store.storeDir;
      rest.unshift(basename(dir));
    }
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): SegflowConfig {
  const home = resolve(env.SEGFLOW_HOME ?? join(REPO_ROOT, '.segflow'));
  const profile = loadClientConfigProfile({ overrideEnvVars: withStandardTlsNames(env) });
  return {
    home,
    store: {
      storeDir: resolve(env.SEGFLOW_STORE ?? join(home, 'store')),
      workDir: resolve(env.SEGFLOW_WORK ?? join(home, 'work')),
      ...(env.SEGFLOW_DATA_ROOT ? { dataRoot: resolve(env.SEGFLOW_DATA_ROOT) } : {}),
    },
    ...(env.SEGFLOW_SIGNING_KEY ? { signingKeyPath: resolve(env.SEGFLOW_SIGNING_KEY) } : {}),
    temporal: {
      address: profile.address ?? '127.0.0.1:7233',
      namespace: profile.namespace ?? 'default',
      taskQueue: env.SEGFLOW_TASK_QUEUE ?? 'segflow',
      profile,
    },
  };
}

const warned = new Set<string>();

/** The environment with each deprecated TLS variable copied to its standard name (unless that is set). */
function withStandardTlsNames(env: NodeJS.ProcessEnv): Record<string, string> {
  const standard: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) standard[name] = value;
  for (const [deprecated, name] of Object.entries(DEPRECATED_TLS_VARIABLES)) {
    const value = env[deprecated];
    if (value === undefined || value === '') continue;
    standard[name] ??= value;
    if (!warned.has(deprecated)) {
      warned.add(deprecated);
      process.emitWarning(`${deprecated} is deprecated and will be removed in the next release; set ${name}`, {
        type: 'DeprecationWarning',
        code: 'SEGFLOW_DEPRECATED_ENV',
      });
    }
  }
  return standard;
}
