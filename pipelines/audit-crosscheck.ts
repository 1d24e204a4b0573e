import type { Client } from '@temporalio/client';
import { parseHead, type AuditEntry } from '../store/audit-log';
import type { AuditProblem } from '../store/audit-verify';
import type { MonthlySegmentationMemo, MonthlySegmentationResult } from '../workflows/monthly-segmentation';

export interface RetainedRunsCheck {
  /** Completed monthly runs Temporal still retains (within the namespace retention). */
  runs: number;
  problems: AuditProblem[];
}

/** What a completed run says it published: from its memo, or its result for runs without one. */
async function publishedClaim(
  client: Client,
  workflowId: string,
  runId: string,
  memo: Partial<MonthlySegmentationMemo> | undefined,
): Promise<{ month?: string; version: number; auditHead: string | null }> {
  if (memo?.published) return { month: memo.month, ...memo.published };
  const result = (await client.workflow.getHandle(workflowId, runId).result()) as MonthlySegmentationResult;
  return { month: result.month, version: result.version, auditHead: result.auditHead ?? null };
}

/**
 * The log against the runs Temporal still retains: every completed monthly run must have its
 * `run.published` entry for the version it reports, and the audit head it recorded after
 * publishing must still be in the chain. Names each run the log lacks.
 */
export async function crossCheckRetainedRuns(
  client: Client,
  entries: AuditEntry[],
  /** Only runs of this task queue: another deployment (its own store) may share the namespace. */
  taskQueue: string,
): Promise<RetainedRunsCheck> {
  const publishedByRun = new Map(
    entries.filter((e) => e.event === 'run.published').map((e) => [`${e.run.workflowId}|${e.run.runId}`, e]),
  );
  const bySeq = new Map(entries.map((e) => [e.seq, e]));
  const problems: AuditProblem[] = [];
  let runs = 0;
  const query = `WorkflowType = 'monthlySegmentation' AND ExecutionStatus = 'Completed' AND TaskQueue = ${JSON.stringify(taskQueue)}`;
  for await (const info of client.workflow.list({ query })) {
    runs += 1;
    const where = `temporal:${info.workflowId}/${info.runId}`;
    const claim = await publishedClaim(
      client,
      info.workflowId,
      info.runId,
      info.memo as Partial<MonthlySegmentationMemo> | undefined,
    );
    const entry = publishedByRun.get(`${info.workflowId}|${info.runId}`);
    // scheduled runs have no month in their memo
    const snapshot = `${claim.month ?? entry?.month ?? '?'}/v${claim.version}`;
    if (!entry)
      problems.push({
        where,
        problem: `RUN MISSING FROM THE LOG: this completed run published ${snapshot}, but the audit log has no run.published entry for it`,
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
  return { runs, problems };
}
