import { readFile, realpath } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Client } from '@temporalio/client';
import { parseHead, type AuditEntry } from '../store/audit-log';
import type { AuditProblem } from '../store/audit-verify';
import { readManifest } from '../store/snapshots';
import { isWithin, type StoreConfig } from '../store/layout';
import { ENDED_UNCOMPLETED, latestRunStatus } from './runs';
import type { MonthlySegmentationMemo, MonthlySegmentationResult } from '../workflows/monthly-segmentation';

export interface RetainedRunsCheck {
  /** Completed monthly runs of this store Temporal still retains (within the namespace retention). */
  runs: number;
  /** Completed runs on the task queue that published into another store (another SEGFLOW_STORE), not checked. */
  otherStores: number;
  /** The snapshots (month/vN) the runs checked report as published. */
  completed: string[];
  problems: AuditProblem[];
}

/**
 * What a completed run says it published: from its memo, or its result for runs without one, or
 * without a month in it (a scheduled run's), or when the store it published into is asked for.
 */
async function publishedClaim(
  client: Client,
  workflowId: string,
  runId: string,
  memo: Partial<MonthlySegmentationMemo> | undefined,
  needsPath: boolean,
): Promise<{ month: string; version: number; auditHead: string | null; snapshotPath?: string }> {
  if (memo?.published && memo.month && !needsPath) return { month: memo.month, ...memo.published };
  const result = (await client.workflow.getHandle(workflowId, runId).result()) as MonthlySegmentationResult;
  return {
    month: result.month,
    version: result.version,
    auditHead: memo?.published?.auditHead ?? result.auditHead ?? null,
    snapshotPath: result.snapshotPath,
  };
}

/**
 * Whether a run that the log has no entry of published into this store: its snapshot folder lies
 * in `snapshotsDir` (links resolved on both sides: the worker and this command may reach the
 * store by other paths), or in a snapshots folder the log's own runs published into (a copy of the
 * store verified at another path, or the store moved), or this store holds its month and version
 * with a manifest naming the run.
 */
export async function publishedHere(
  snapshotsDir: string,
  run: { runId: string },
  claim: { month: string; version: number; snapshotPath?: string },
  /** The snapshots folders the log's run.published entries name (logSnapshotsDirs). */
  logSnapshotsDirs: readonly string[] = [],
): Promise<boolean> {
  const real = (path: string) => realpath(path).catch(() => path);
  if (claim.snapshotPath !== undefined && isWithin(await real(snapshotsDir), await real(claim.snapshotPath)))
    return true;
  const path = claim.snapshotPath;
  if (path !== undefined && logSnapshotsDirs.some((dir) => isWithin(dir, path))) return true;
  const manifest = await readFile(join(snapshotsDir, claim.month, `v${claim.version}`, 'manifest.json'), 'utf8').catch(
    () => undefined,
  );
  try {
    return manifest !== undefined && (JSON.parse(manifest) as { run?: { runId?: string } }).run?.runId === run.runId;
  } catch {
    return false; // a damaged manifest is verify's finding, not a sign of another store
  }
}

/** The snapshots folders the log's runs published into: each run.published entry's path without `<month>/v<N>`. */
export function logSnapshotsDirs(entries: readonly AuditEntry[]): string[] {
  const dirs = new Set<string>();
  for (const entry of entries) {
    const path = (entry.details as { path?: unknown } | undefined)?.path;
    if (entry.event === 'run.published' && typeof path === 'string') dirs.add(dirname(dirname(path)));
  }
  return [...dirs];
}

/**
 * The log against the runs Temporal still retains: every completed monthly run must have its
 * `run.published` entry for the version it reports, and the audit head it recorded after
 * publishing must still be in the chain. Names each run the log lacks. A run the log has no entry
 * of at all is this store's only if it published into `snapshotsDir`: another store may share
 * the server and task queue (the runs of `run --local` with another SEGFLOW_STORE).
 */
export async function crossCheckRetainedRuns(
  client: Client,
  entries: AuditEntry[],
  /** Only runs of this task queue: another deployment (its own store) may share the namespace. */
  taskQueue: string,
  /** This store's snapshots folder (store/layout.ts snapshotsDir). */
  snapshotsDir: string,
): Promise<RetainedRunsCheck> {
  const runsInLog = new Set(entries.map((e) => `${e.run.workflowId}|${e.run.runId}`));
  const ownSnapshotsDirs = logSnapshotsDirs(entries);
  const publishedByRun = new Map(
    entries.filter((e) => e.event === 'run.published').map((e) => [`${e.run.workflowId}|${e.run.runId}`, e]),
  );
  // the run.published entry of each snapshot (month/vN): a later publish of the same version is a rebuild
  const publishedBySnapshot = new Map(
    entries
      .filter((e) => e.event === 'run.published')
      .map((e) => [`${e.month}/v${String((e.details as { version?: number }).version)}`, e]),
  );
  const bySeq = new Map(entries.map((e) => [e.seq, e]));
  const problems: AuditProblem[] = [];
  let runs = 0;
  let otherStores = 0;
  const completed: string[] = [];
  const query = `WorkflowType = 'monthlySegmentation' AND ExecutionStatus = 'Completed' AND TaskQueue = ${JSON.stringify(taskQueue)}`;
  for await (const info of client.workflow.list({ query })) {
    const where = `temporal:${info.workflowId}/${info.runId}`;
    const inLog = runsInLog.has(`${info.workflowId}|${info.runId}`);
    const claim = await publishedClaim(
      client,
      info.workflowId,
      info.runId,
      info.memo as Partial<MonthlySegmentationMemo> | undefined,
      !inLog,
    );
    if (!inLog && !(await publishedHere(snapshotsDir, info, claim, ownSnapshotsDirs))) {
      otherStores += 1;
      continue;
    }
    runs += 1;
    const entry = publishedByRun.get(`${info.workflowId}|${info.runId}`);
    const snapshot = `${claim.month}/v${claim.version}`;
    completed.push(snapshot);
    if (!entry)
      problems.push({
        where,
        problem:
          (await rebuiltBy(snapshotsDir, claim, info.runId, publishedBySnapshot.get(snapshot))) ??
          `RUN MISSING FROM THE LOG: this completed run published ${snapshot}, but the audit log has no run.published entry for it`,
      });
    else if ((entry.details as { version?: number }).version !== claim.version)
      problems.push({
        where,
        problem: `the run published ${snapshot}, but its run.published entry (seq ${entry.seq}) says v${String((entry.details as { version?: number }).version)}`,
      });
    const head = claim.auditHead ? parseHead(claim.auditHead) : undefined;
    if (head && bySeq.get(head.seq)?.hash !== head.hash)
      problems.push({
        where,
        problem: `the run recorded audit head ${head.seq}:${head.hash.slice(0, 12)}… after publishing, and the log ${bySeq.has(head.seq) ? 'holds a different entry there (rewritten)' : `no longer reaches seq ${head.seq} (truncated)`}`,
      });
  }
  return { runs, otherStores, completed, problems };
}

/**
 * The finding for a completed run the log has no run.published of, when its snapshot was published
 * again by another run (the log's run.published of that month and version, or the folder's
 * manifest, names another run): its entries were cut from the log and the version rebuilt.
 * Undefined when neither does (the run is missing from the log, no more).
 */
async function rebuiltBy(
  snapshotsDir: string,
  claim: { month: string; version: number },
  runId: string,
  logged: AuditEntry | undefined,
): Promise<string | undefined> {
  const snapshot = `${claim.month}/v${claim.version}`;
  const folderRun = await readFile(join(snapshotsDir, claim.month, `v${claim.version}`, 'manifest.json'), 'utf8')
    .then((text) => (JSON.parse(text) as { run?: { workflowId?: string; runId?: string } }).run)
    .catch(() => undefined);
  const others = [
    ...(logged && logged.run.runId !== runId
      ? [`the log's run.published of ${snapshot} (seq ${logged.seq}) is run ${logged.run.workflowId}'s`]
      : []),
    ...(folderRun?.runId !== undefined && folderRun.runId !== runId
      ? [`the folder's manifest names run ${folderRun.workflowId ?? '?'} (${folderRun.runId})`]
      : []),
  ];
  if (others.length === 0) return undefined;
  return `PUBLISHED SNAPSHOT REBUILT: this completed run published ${snapshot} and the audit log has no entry of it, while ${others.join(', and ')}: ${snapshot} was published again after this run's entries were cut from the log, so what the store holds under that name is not what this run published`;
}

/**
 * Snapshots in place whose run has not recorded run.published, against Temporal: a run that has
 * ended without completing (terminated after its rename, failed as its audit write was refused)
 * will never record it, so its snapshot is a finding, not one "being published" for the grace's
 * hour. A completed run recorded it before completing (its entry came after verify read the log);
 * a status Temporal does not give is no finding either.
 */
export async function endedWhilePublishing(
  client: Client,
  store: StoreConfig,
  publishing: string[],
): Promise<AuditProblem[]> {
  const problems: AuditProblem[] = [];
  for (const ref of publishing) {
    const [month, version] = ref.split('/v');
    const { run } = await readManifest(store, month, Number(version));
    const status = await latestRunStatus(client, run.workflowId);
    if (status !== undefined && ENDED_UNCOMPLETED.includes(status))
      problems.push({
        where: `snapshots/${ref}`,
        problem: `NOT RECORDED AS PUBLISHED: its run ${run.workflowId} has ended (${status}) without recording run.published; it will never be: retire it (segflow snapshots retire ${ref}) or publish the month again`,
      });
  }
  return problems;
}

/** Of verify's findings about a run (RUN WITHOUT AN END), those whose run Temporal holds as running. */
export async function stillRunning(client: Client, problems: AuditProblem[]): Promise<AuditProblem[]> {
  const running: AuditProblem[] = [];
  for (const problem of problems) {
    if (!problem.run) continue;
    const status = await client.workflow
      .getHandle(problem.run.workflowId, problem.run.runId)
      .describe()
      .then((description) => description.status.name)
      .catch(() => undefined);
    if (status === 'RUNNING') running.push(problem);
  }
  return running;
}
