import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunRef, StoreConfig } from './layout';
import { sha256 } from './hashing';

/**
 * Markers of the stage attempts running now, so that `cache prune` knows a run is still going
 * however long a stage runs without an audit entry: each attempt keeps a small file in
 * cache/.running/, written again every RUNNING_MARKER_REFRESH_MS while it runs and removed when
 * it ends. A worker that dies leaves its marker behind, which stops counting
 * RUNNING_MARKER_FRESH_MS after its last write (the next prune removes it).
 */
export const RUNNING_MARKER_REFRESH_MS = 30_000;

/** Ten refreshes: a worker busy enough to miss a few still counts as running. */
export const RUNNING_MARKER_FRESH_MS = 5 * 60_000;

function runningDir(store: StoreConfig): string {
  return join(store.storeDir, 'cache', '.running');
}

/** An attempt's marker, removed by `stop`. */
export interface RunningMarker {
  stop: () => Promise<void>;
}

/**
 * Marks an attempt of `run` running until `stop` (awaited before the attempt returns). The stage
 * starts without waiting for the first write: it runs far longer than the write takes.
 */
export function markAttemptRunning(store: StoreConfig, run: RunRef, stage: string): RunningMarker {
  const dir = runningDir(store);
  // named by its workflow's key: a reader need not read a file that may be being written
  const path = join(dir, `${markerKey(run.workflowId)}.${randomUUID()}`);
  const text = JSON.stringify({ run, stage }) + '\n';
  // written again, not touched: a prune that took it for stale (a blocked worker) gets it back.
  // A store that cannot take it fails nothing: the run is then held by its audit entries alone
  const write = () =>
    mkdir(dir, { recursive: true })
      .then(() => writeFile(path, text))
      .catch(() => undefined);
  let pending = write();
  const timer = setInterval(() => {
    pending = pending.then(write);
  }, RUNNING_MARKER_REFRESH_MS);
  timer.unref(); // a marker keeps no process alive
  return {
    stop: async () => {
      clearInterval(timer);
      await pending;
      await rm(path, { force: true }).catch(() => undefined);
    },
  };
}

/**
 * A workflow id as a marker's name begins: its sha256's first 32 hex digits, so that an id of any
 * length or script makes a name the file system takes (an id encoded whole passed 255 bytes from a
 * schedule id of 200 characters, or 25 Chinese ones, and its marker was silently not written).
 */
function markerKey(workflowId: string): string {
  return sha256(workflowId).slice(0, 32);
}

/** The workflows with an attempt running, asked by workflow id. */
export interface RunningWorkflows {
  has(workflowId: string): boolean;
}

/**
 * The workflows with an attempt running at `now`: a marker written within RUNNING_MARKER_FRESH_MS
 * (either way: the worker's clock may run ahead of this one's). `removeStale` removes the others,
 * left by workers that died.
 */
export async function workflowsRunning(
  store: StoreConfig,
  now: number,
  removeStale: boolean,
): Promise<RunningWorkflows> {
  const dir = runningDir(store);
  const running = new Set<string>();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (!info) continue; // removed as its attempt ended
    const key = /^([0-9a-f]{32})\.[0-9a-f-]{36}$/.exec(name)?.[1];
    if (key === undefined) continue; // not a marker: nothing of prune's
    if (Math.abs(now - info.mtimeMs) < RUNNING_MARKER_FRESH_MS) running.add(key);
    else if (removeStale) await rm(path, { force: true }).catch(() => undefined);
  }
  return { has: (workflowId) => running.has(markerKey(workflowId)) };
}
