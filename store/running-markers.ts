import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunRef, StoreConfig } from './layout';

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
  // named by its workflow: a reader need not read a file that may be being written
  const path = join(dir, `${encodeURIComponent(run.workflowId)}.${randomUUID()}`);
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
 * The workflows with an attempt running at `now`: a marker written within RUNNING_MARKER_FRESH_MS
 * (either way: the worker's clock may run ahead of this one's). `removeStale` removes the others,
 * left by workers that died.
 */
export async function workflowsRunning(store: StoreConfig, now: number, removeStale: boolean): Promise<Set<string>> {
  const dir = runningDir(store);
  const running = new Set<string>();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (!info) continue; // removed as its attempt ended
    const workflowId = markerWorkflow(name);
    if (workflowId === undefined) continue; // not a marker: nothing of prune's
    if (Math.abs(now - info.mtimeMs) < RUNNING_MARKER_FRESH_MS) running.add(workflowId);
    else if (removeStale) await rm(path, { force: true }).catch(() => undefined);
  }
  return running;
}

/** The workflow a marker's name gives (markAttemptRunning), or undefined for a name it did not write. */
function markerWorkflow(name: string): string | undefined {
  const at = name.lastIndexOf('.');
  if (at < 1) return undefined;
  try {
    return decodeURIComponent(name.slice(0, at));
  } catch {
    return undefined;
  }
}
