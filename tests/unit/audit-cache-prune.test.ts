import { utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { commandUser } from '../../activities/audit';
import { listRuns } from '../../pipelines/runs';
import { readAuditLog } from '../../store/audit-log';
import { verifyAudit } from '../../store/audit-verify';
import type { StoreConfig } from '../../store/layout';
import { listCache, pruneCache } from '../../store/stage-cache';
import { AUDIT_MONTH as MONTH, storeFakeArtifact, storeWithVersions } from '../audit-store';

const LONG_AGO = new Date('2020-01-01T00:00:00Z');
const key = (c: string) => c.repeat(64);
const problemsOf = async (store: StoreConfig) =>
  (await verifyAudit(store)).problems.map((p) => `${p.where}: ${p.problem}`);

/** A stored artifact of run `runId`, last used long ago unless `usedAt` says otherwise. */
async function artifact(store: StoreConfig, c: string, runId: string, createdAt: string, usedAt = LONG_AGO) {
  const dir = await storeFakeArtifact(store, { key: key(c), runId, createdAt });
  await utimes(dir, usedAt, usedAt);
  return dir;
}

describe('cache prune records what it removes in the audit log', () => {
  it("a prune after the log's tail was cut leaves the evidence: verify names the pruned artifacts' unrecorded run", async () => {
    const store = await storeWithVersions(3);
    await artifact(store, 'a', 'run-2', '2026-01-01T00:00:00.000Z');
    // run 4 stored its segments and published v4; the log was cut back to run 3 and v4's folder removed
    await artifact(store, 'b', 'run-4', '2999-01-01T00:00:00.000Z');
    expect(await problemsOf(store)).toEqual([expect.stringContaining('STORED BY A RUN THE LOG DOES NOT RECORD')]);

    const result = await pruneCache(store, { olderThanMs: 0 });
    expect(result.removed.map((a) => a.key).sort()).toEqual([key('a'), key('b')]);
    expect(result.auditSeq).toBe(10);
    const entry = (await readAuditLog(store)).at(-1)!;
    expect(entry).toMatchObject({
      seq: 10,
      event: 'cache.pruned',
      run: { workflowId: 'cache', runId: '' },
      month: '',
      actor: commandUser().osUser,
      details: {
        host: hostname(),
        asked: { olderThanMs: 0 },
        bytesFreed: 0,
        removed: expect.arrayContaining([
          expect.objectContaining({
            stage: 'segments',
            key: key('b'),
            month: MONTH,
            createdAt: '2999-01-01T00:00:00.000Z',
            producedBy: { workflowId: 'wf-run-4', runId: 'run-4' },
          }),
        ]),
      },
    });
    expect(await listCache(store)).toEqual([]);

    // the artifact is gone, its removal is not: named by the entry that recorded it
    expect(await problemsOf(store)).toEqual([
      `audit seq 10: PRUNED ARTIFACTS OF A RUN THE LOG DOES NOT RECORD: cache prune by ${entry.actor} at ${entry.at} removed cache/segments/bbbbbbbbbbbb…, stored by run wf-run-4 (run-4) for ${MONTH} at 2999-01-01T00:00:00.000Z, and no entry before the prune names that run: its entries were cut from the log before the prune (with whatever it published), or the artifacts were copied in from another store`,
    ]);
    // a prune entry is no run
    expect((await listRuns(store, undefined, { limit: 10 }, () => undefined)).map((r) => r.runId)).toEqual([
      'run-1',
      'run-2',
      'run-3',
    ]);
  });

  it('a prune of artifacts whose runs the log records verifies OK; a dry run, or nothing removed, writes no entry', async () => {
    const store = await storeWithVersions(2);
    await artifact(store, 'a', 'run-1', '2026-01-01T00:00:00.000Z');
    expect((await pruneCache(store, { olderThanMs: 0, dryRun: true })).auditSeq).toBeNull();
    expect((await readAuditLog(store)).length).toBe(6);
    expect((await pruneCache(store, { olderThanMs: 0 })).auditSeq).toBe(7);
    expect((await pruneCache(store, { olderThanMs: 0 })).auditSeq).toBeNull();
    expect((await readAuditLog(store)).length).toBe(7);
    expect(await verifyAudit(store)).toMatchObject({ ok: true, entries: 7, published: 2 });
  });
});
