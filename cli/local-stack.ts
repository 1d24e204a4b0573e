import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { InfrastructureError, UsageError } from '../domain/errors';
import type { SegflowConfig } from '../worker/config';
import { connectClient, pollersOfOtherStores } from '../pipelines/client';
import { describeServerExit, ensureDevServer, type DevServerHandle } from './dev-server';
import { elapsed } from './format';
import { untilInterrupted } from './os-signals';

export interface LocalStack {
  client: Client;
  server: DevServerHandle;
}

/** What `withLocalStack` returns: the body's value, or that Ctrl-C / SIGTERM stopped it first. */
export type LocalStackOutcome<T> = { interrupted: false; value: T } | { interrupted: true };

/**
 * One command instead of three terminals (`segflow demo`, `segflow run --local`): starts the
 * embedded Temporal dev server (SQLite under $SEGFLOW_HOME/temporal) unless one already listens,
 * and a worker for this command; runs `body`; then stops what it started, in order, also on
 * Ctrl-C. The worker is ours to stop, so the SDK's own signal handling is turned off. A server
 * already running whose task queue has workers of another store is refused before the worker
 * starts: the run would be published into their store. When the server this command started
 * stops on its own (killed, crashed), the command stops too (InfrastructureError, exit 3), as
 * `segflow server` does: the worker's calls would otherwise retry, and warn, without end.
 */
export async function withLocalStack<T>(
  config: SegflowConfig,
  /** `json`: the command prints JSON on stdout, so these lines go to stderr. */
  options: { uiPort?: number; json?: boolean },
  body: (stack: LocalStack) => Promise<T>,
): Promise<LocalStackOutcome<T>> {
  const say = (line: string) => (options.json ? console.error(line) : console.log(line));
  const interrupted = untilInterrupted().then(() => ({ interrupted: true }) as const);
  say(`${elapsed()}  Temporal dev server at ${config.temporal.address}`);
  const serverUp = ensureDevServer({
    address: config.temporal.address,
    stateDir: join(config.home, 'temporal'),
    uiPort: options.uiPort,
  });
  // loaded while the server starts, and only by the commands that start a worker (cli/program.ts)
  const workerModules = Promise.all([import('../worker'), import('../worker/logger')]);
  workerModules.catch(() => undefined); // awaited once the server is up
  const server = await serverUp;
  try {
    const client = await connectClient(config);
    // a server this command started has no other workers yet
    if (!server.started) await refuseOtherStores(client, config, say);
    const [{ createSegflowWorker }, { installLogger, workerLogLine }] = await workerModules;
    installLogger('warn', {
      shutdownSignals: [],
      line: (entry) => {
        const text = workerLogLine(entry);
        return text === undefined ? undefined : `${elapsed()}  ${text}`;
      },
    });
    say(
      `${elapsed()}  ${server.started ? 'started it (stopped again at the end)' : 'reusing the server already running'}; starting a worker on task queue "${config.temporal.taskQueue}" for this command`,
    );
    const { worker, connection } = await createSegflowWorker({ config });
    const workerRun = worker.run();
    try {
      const finished = body({ client, server }).then((value) => ({ interrupted: false, value }) as const);
      finished.catch(() => {}); // once interrupted, a late failure of the body has no one to report to
      const serverDied = server.exitedUnasked.then((exit) => ({ serverDied: exit }) as const);
      const outcome = await Promise.race([finished, interrupted, serverDied]);
      if ('serverDied' in outcome) {
        say(
          `${elapsed()}  the Temporal dev server stopped on its own: stopping the worker (its calls in flight fail first)`,
        );
        throw new InfrastructureError(
          `${describeServerExit(outcome.serverDied)}\nwhat it had started stays in its SQLite database (${join(config.home, 'temporal')}) ` +
            `and goes on once a server runs on it again with a worker polling: 'segflow server' and 'segflow worker', then 'segflow runs list'`,
        );
      }
      return outcome;
    } finally {
      worker.shutdown();
      await workerRun;
      await connection.close();
    }
  } finally {
    if (server.started) say(`${elapsed()}  stopping the Temporal dev server this command started`);
    await server.stop();
  }
}

/**
 * Refuses a task queue that workers of another store poll (their identity names it, worker/config.ts):
 * Temporal gives a run to whichever worker polls, so the run would be published into that store,
 * and this command's worker could take the other store's stages. Workers that name no store are
 * only noted: a segflow from before identities named it may well be the user's own.
 */
async function refuseOtherStores(client: Client, config: SegflowConfig, say: (line: string) => void): Promise<void> {
  const { taskQueue, address } = config.temporal;
  const { others, unnamed } = await pollersOfOtherStores(client, taskQueue, config.store);
  if (others.length > 0) {
    const stores = [...new Set(others.map((other) => other.store))].join(', ');
    const workers = others.map((other) => other.identity.split(' ')[0]).join(', ');
    throw new UsageError(
      `task queue "${taskQueue}" at ${address} is polled by workers of another store (${stores}; workers ${workers}), ` +
        `not of this one (${config.store.storeDir}): a run started here would be published there. ` +
        `Stop those workers, or give this store its own task queue (SEGFLOW_TASK_QUEUE) or server (TEMPORAL_ADDRESS)`,
    );
  }
  if (unnamed.length > 0)
    say(
      `${elapsed()}  note: ${unnamed.length === 1 ? 'a worker' : `${unnamed.length} workers`} on task queue "${taskQueue}" (${unnamed.join(', ')}) ${unnamed.length === 1 ? 'does' : 'do'} not say which store ${unnamed.length === 1 ? 'it serves' : 'they serve'}: runs may be published into theirs`,
    );
}
