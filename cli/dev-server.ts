import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { InfrastructureError, UsageError } from '../domain/errors';
import { missingSearchAttributes, tcpProbe } from '../pipelines/client';
import { temporalAddress } from '../worker/config';
import { searchAttributeFlags, temporalCliPath } from './temporal-cli';

export interface DevServerHandle {
  address: string;
  uiUrl: string;
  /** False when a server was already listening and is left alone. */
  started: boolean;
  /**
   * Settles when the server this command started exits without `stop` asking it to (killed,
   * crashed): how it ended. Never, for a server it did not start or once `stop` was called.
   */
  exitedUnasked: Promise<DevServerExit>;
  stop(): Promise<void>;
}

/** How a dev server this command started ended on its own, and where its log is. */
export interface DevServerExit {
  pid: number;
  address: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  logPath: string;
  /** The last lines this server wrote to its log ('' when it wrote none). */
  logTail: string;
}

/** A dev server's unasked exit in words: its pid, exit code or signal, and its log. */
export function describeServerExit(exit: DevServerExit): string {
  const how = exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code ?? '?'}`;
  const log = exit.logTail
    ? `its last lines in ${exit.logPath}:\n${exit.logTail}`
    : `it wrote nothing to its log, ${exit.logPath}`;
  return `the Temporal dev server this command started at ${exit.address} (pid ${exit.pid}) stopped without being asked to: ${how}; ${log}`;
}

/** Never settles: the exit of a server this command did not start is not its to tell. */
const NEVER = new Promise<never>(() => {});

/** A loopback address on a port no one listens on, for a private dev server (tests, the benchmark). */
export async function freeLocalAddress(): Promise<string> {
  return new Promise((resolveAddress) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolveAddress(`127.0.0.1:${port}`));
    });
  });
}

/** True when nothing listens on host:port (the dev server could bind it). */
async function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const probe = createServer()
      .once('error', () => resolveFree(false))
      .listen(port, host, () => probe.close(() => resolveFree(true)));
  });
}

/**
 * True when something accepts a TCP connection at host:port: a refusal comes back at once,
 * where a Temporal client asking a port no one listens on waits out its whole connect timeout.
 */
async function isListening(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return (await tcpProbe(host, port, timeoutMs)) === 'listening';
}

/** The host and port of `host:port` or `[IPv6 address]:port` (TEMPORAL_ADDRESS): a dev server needs the port. */
export function hostAndPort(address: string): { host: string; port: number } {
  return temporalAddress(address, true);
}

/** True when a Temporal frontend answers at `address` within `connectTimeoutMs` (at once false where nothing listens). */
export async function isServerUp(address: string, connectTimeoutMs = 1_000): Promise<boolean> {
  const { host, port } = hostAndPort(address);
  if (!(await isListening(host, port, connectTimeoutMs))) return false;
  try {
    const connection = await Connection.connect({ address, connectTimeout: connectTimeoutMs });
    try {
      await connection.workflowService.getSystemInfo({});
      return true;
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}

/**
 * Starts `temporal server start-dev` with SQLite persistence in `stateDir` unless a server
 * already answers at `address`. The Web UI listens on `uiPort` (default: the gRPC port + 1000).
 */
export async function ensureDevServer(options: {
  address: string;
  stateDir: string;
  timeoutMs?: number;
  headless?: boolean;
  uiPort?: number;
}): Promise<DevServerHandle> {
  const { address, stateDir } = options;
  const { host, port } = hostAndPort(address);
  const uiPort = options.uiPort ?? port + 1000;
  const uiUrl = `http://${host === '127.0.0.1' ? 'localhost' : host.includes(':') ? `[${host}]` : host}:${uiPort}`;
  if (await isListening(host, port)) {
    // a dev server another command has just started answers within seconds
    if (await answersWithin(address, 2_000)) {
      await registerSearchAttributes(address);
      return { address, uiUrl, started: false, exitedUnasked: NEVER, stop: async () => {} };
    }
    // the dev server's own message for a taken port is buried in its log: say it first
    throw new InfrastructureError(
      `port ${port} on ${host} is in use by something that is not a Temporal server: stop it or set TEMPORAL_ADDRESS to another port`,
    );
  }
  if (!options.headless && !(await isPortFree(host, uiPort)))
    throw new InfrastructureError(
      `the Web UI port ${uiPort} on ${host} is in use (another Temporal dev server?): stop it or choose another with --ui-port`,
    );

  mkdirSync(stateDir, { recursive: true });
  const claim = await claimDatabase(stateDir, address);
  // a server no claim names: started by a segflow from before the claims, or by hand
  const unclaimed = claim === 'starting' ? null : serverOnDatabase(join(stateDir, 'temporal.db'));
  if (claim !== 'starting' && unclaimed) {
    claim.release();
    throw inUse(unclaimed, stateDir);
  }
  if (claim === 'starting') {
    // another command is starting a server at this address on this database: use it
    if (await answersWithin(address, options.timeoutMs ?? 60_000)) {
      await registerSearchAttributes(address);
      return { address, uiUrl, started: false, exitedUnasked: NEVER, stop: async () => {} };
    }
    throw new InfrastructureError(`another command's Temporal dev server did not come up at ${address}`);
  }
  const logPath = join(stateDir, 'server.log');
  const args = [
    'server',
    'start-dev',
    '--db-filename',
    join(stateDir, 'temporal.db'),
    '--ip',
    host,
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--log-level',
    'warn',
  ];
  args.push(...searchAttributeFlags());
  if (options.headless) args.push('--headless');
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const cli = temporalCliPath();
  let child: ChildProcess;
  let logStart: number;
  for (let start = 1; ; start++) {
    const log = openSync(logPath, 'a');
    logStart = statSync(logPath).size;
    // its own process group: a terminal's Ctrl-C reaches this command alone, which stops its worker
    // and then the server, in that order (in the group, the server died first and the worker
    // retried its calls against it for seconds)
    child = spawn(cli, args, { stdio: ['ignore', log, log], detached: true });
    closeSync(log);
    const outcome = await untilUp(child, address, deadline);
    if (outcome === 'up') break;
    child.kill('SIGKILL');
    // The dev server picks its internal ports (HTTP API, metrics, cluster membership) itself, and
    // one taken by another program between its pick and its bind makes it exit at start: start
    // it again, unless its own port is what is taken now.
    if (outcome === 'exited' && start < DEV_SERVER_STARTS && !(await isListening(host, port)) && Date.now() < deadline)
      continue;
    claim.release();
    // only what this start wrote: older lines in the log belong to earlier servers
    const tail = logTail(logPath, logStart, 15);
    const tries = start > 1 ? ` after ${start} starts` : '';
    throw new InfrastructureError(
      `Temporal dev server did not come up at ${address}${tries} (log: ${logPath}):\n${tail}`,
    );
  }
  await registerSearchAttributes(address);
  let stopping = false;
  const server = child;
  const from = logStart;
  // a server killed or crashed while this command relied on it: told to the command, which
  // otherwise ended as if nothing had happened (its last reference to the event loop gone)
  const exitedUnasked = new Promise<DevServerExit>((resolveExit) => {
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      if (stopping) return;
      resolveExit({ pid: server.pid ?? 0, address, code, signal, logPath, logTail: logTail(logPath, from) });
    };
    if (server.exitCode !== null || server.signalCode !== null) onExit(server.exitCode, server.signalCode);
    else server.once('exit', onExit);
  });
  return {
    address,
    uiUrl,
    started: true,
    exitedUnasked,
    stop: async () => {
      stopping = true;
      await stopProcess(server);
      claim.release();
    },
  };
}

/** The last lines written to a log since `from` (a byte offset): older lines belong to earlier servers. */
function logTail(logPath: string, from: number, lines = 10): string {
  try {
    return readFileSync(logPath).subarray(from).toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Which command's dev server uses the state folder's database: that command's pid and the server's address. */
const ownerFile = (stateDir: string) => join(stateDir, 'server.json');

interface Owner {
  pid: number;
  address: string;
}

/**
 * Claims the state folder's database for a server this command is about to start: the record is
 * created before the spawn, exclusively, so of two commands starting at once one wins. Another
 * command's live claim at another address is refused (two servers on one SQLite file mix their
 * histories); at the same address its server is the one to use ('starting'); a claim whose command
 * is gone is stale and replaced. `release` removes the record if it is still this command's.
 */
async function claimDatabase(stateDir: string, address: string): Promise<{ release: () => void } | 'starting'> {
  const file = ownerFile(stateDir);
  const mine: Owner = { pid: process.pid, address };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(file, JSON.stringify(mine) + '\n', { flag: 'wx' });
      return { release: () => releaseClaim(file) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = readOwner(file);
    if (owner && isAlive(owner.pid)) {
      if (owner.address === address) return 'starting';
      throw inUse(owner, stateDir, 'started by ');
    }
    rmSync(file, { force: true }); // stale: its command is gone
  }
  throw new InfrastructureError(
    `cannot claim ${join(stateDir, 'temporal.db')} for a dev server (${file} keeps changing)`,
  );
}

/** The refusal of a second server on the state folder's database, naming the one that uses it. */
function inUse(owner: Owner, stateDir: string, started = ''): UsageError {
  return new UsageError(
    `a Temporal dev server (${started}pid ${owner.pid}) at ${owner.address} uses ${join(stateDir, 'temporal.db')}: ` +
      `set TEMPORAL_ADDRESS=${owner.address} to use it, stop it, or give this command another SEGFLOW_HOME`,
  );
}

/**
 * A running dev server (`temporal server start-dev`) on the database `dbPath`, found by its
 * command line and the file it names (the same device and inode, seen from that process's own
 * root and folder: a container's path or a symlinked home is no false match): its pid and
 * address. Linux's /proc only, and only processes this user may inspect; elsewhere none is found,
 * and the claim file alone guards the database.
 */
export function serverOnDatabase(dbPath: string): Owner | null {
  let ours: { dev: number; ino: number };
  let pids: string[];
  try {
    ours = statSync(dbPath); // no database yet: no server uses it
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid);
  } catch {
    return null;
  }
  for (const pid of pids) {
    let args: string[];
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone meanwhile
    }
    if (!args.includes('start-dev')) continue;
    const flag = (...names: string[]) => {
      for (const [i, arg] of args.entries()) {
        if (names.includes(arg)) return args[i + 1];
        const withValue = names.find((name) => arg.startsWith(`${name}=`));
        if (withValue) return arg.slice(withValue.length + 1);
      }
      return undefined;
    };
    const db = flag('--db-filename', '-f');
    if (db === undefined) continue;
    try {
      const theirs = statSync(isAbsolute(db) ? `/proc/${pid}/root${db}` : `/proc/${pid}/cwd/${db}`);
      if (theirs.dev !== ours.dev || theirs.ino !== ours.ino) continue;
    } catch {
      continue; // another user's process, or its file is gone
    }
    return { pid: Number(pid), address: `${flag('--ip') ?? 'localhost'}:${flag('--port', '-p') ?? 7233}` };
  }
  return null;
}

function readOwner(file: string): Owner | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Owner;
  } catch {
    return null; // half written by a command claiming it this instant, or unreadable: treated as stale once more
  }
}

function releaseClaim(file: string): void {
  if (readOwner(file)?.pid === process.pid) rmSync(file, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** How often a dev server that exits before it answers is started again. */
const DEV_SERVER_STARTS = 3;

/** Waits until the server answers, its process exits, or the deadline passes. */
async function untilUp(child: ChildProcess, address: string, deadline: number): Promise<'up' | 'exited' | 'timed out'> {
  let exited = child.exitCode !== null || child.signalCode !== null;
  child.once('exit', () => (exited = true));
  // asked often and briefly: the server answers about a second after its start
  while (!(await isServerUp(address, 250))) {
    if (exited) return 'exited';
    if (Date.now() > deadline) return 'timed out';
    await sleep(50);
  }
  return 'up';
}

async function answersWithin(address: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  do {
    if (await isServerUp(address)) return true;
    await sleep(250);
  } while (Date.now() < deadline);
  return false;
}

const INDEXED_VALUE_TYPE = {
  KEYWORD: proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  INT: proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
} as const;

/**
 * Adds segflow's search attributes the server lacks. `--search-attribute` flags only take
 * effect on a fresh database, so a dev server reusing an older one is brought up to date here.
 */
async function registerSearchAttributes(address: string, namespace = 'default'): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    const missing = await missingSearchAttributes(connection, namespace);
    if (missing.length === 0) return;
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(
        missing.map((key) => [key.name, INDEXED_VALUE_TYPE[key.type as keyof typeof INDEXED_VALUE_TYPE]]),
      ),
    });
  } finally {
    await connection.close();
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  child.kill('SIGTERM');
  // the grace timer is cancelled once the server exits, or it would hold the process for its full 10 s
  const grace = new AbortController();
  const timedOut = await Promise.race([
    exited.then(() => false),
    sleep(10_000, true, { signal: grace.signal }).catch(() => false),
  ]);
  grace.abort();
  if (timedOut) {
    child.kill('SIGKILL');
    await exited;
  }
}
