/**
 * The activities a segflow worker registers. Each stage is a plain function of (paths, params)
 * tested on its own; this module binds them to the store and keeps heartbeats going while a
 * long DuckDB statement runs off the event loop.
 */
import { rm } from 'node:fs/promises';
import { Context } from '@temporalio/activity';
import { runDir, type RunRef, type StoreConfig } from '../domain/store-layout';
import { recordAudit, type AuditRecordRequest } from './audit';
import { trainAndScoreChurn } from './churn';
import { clusterSubscribers } from './cluster';
import { computeFeatures } from './features';
import { loadUsage, type LoadSummary } from './load';
import { publishSnapshot, type PublishRequest } from './publish';

/** How often an activity heartbeats while it waits on DuckDB (the server throttles anyway). */
const KEEPALIVE_MS = 5_000;

async function withKeepalive<T>(work: () => Promise<T>): Promise<T> {
  const context = Context.current();
  const timer = setInterval(() => context.heartbeat(), KEEPALIVE_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

export function createActivities(store: StoreConfig) {
  return {
    loadUsage: (run: RunRef, params: unknown) => withKeepalive(() => loadUsage(store, run, params)),
    computeFeatures: (load: LoadSummary) => withKeepalive(() => computeFeatures(load.dbPath, load.params)),
    clusterSubscribers: (load: LoadSummary) => withKeepalive(() => clusterSubscribers(load.dbPath, load.params)),
    trainAndScoreChurn: (load: LoadSummary) => withKeepalive(() => trainAndScoreChurn(load.dbPath, load.params)),
    publishSnapshot: (run: RunRef, request: PublishRequest) => withKeepalive(() => publishSnapshot(store, run, request)),
    recordAudit: async (request: AuditRecordRequest) => {
      await recordAudit(store, request);
    },
    /** Removes the run's scratch database once its snapshot is published. */
    removeRunWorkspace: async (run: RunRef) => {
      await rm(runDir(store, run), { recursive: true, force: true });
    },
  };
}

export type SegflowActivities = ReturnType<typeof createActivities>;
