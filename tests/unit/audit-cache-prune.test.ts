import { execFileSync } from 'node:child_process';
import { appendFile, mkdir, readdir, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import stringWidth from 'string-width';
import { describe, expect, it, vi } from 'vitest';
import { TEXT_WIDTH } from '../../cli/options';
import { commandUser, recordAudit } from '../../store/audit-record';
import { listRuns } from '../../pipelines/runs';
import { readAuditLog } from '../../store/audit-log';
import { verifyAudit } from '../../store/audit-verify';
import { auditLogPath, type RunRef, type StoreConfig } from '../../store/layout';
import { markAttemptRunning, workflowsRunning } from '../../store/running-markers';
import { listCache, pruneCache } from '../../store/stage-cache';
import { AUDIT_MONTH as MONTH, segflowOnStore, storeFakeArtifact, storeWithVersions } from '../audit-store';
import { storeIn, tempDir } from '../helpers';

/** tmpfs allocates a file's space a page at a time. */
const PAGE = 4096;
const LONG_AGO = new Date('2020-01-01T00:00:00Z');
const key = (c: string) => c.repeat(64);
/** The lines wider than `cache prune` prints, in terminal columns. */
const tooWide = (text: string) => text.split('\n').filter((line) => stringWidth(line) > TEXT_WIDTH);
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
        keptForRuns: [],
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
      `audit seq 10: PRUNED ARTIFACTS OF A RUN THE LOG DOES NOT RECORD: cache prune by ${entry.actor} (on ${hostname()}) at ${entry.at} removed cache/segments/bbbbbbbbbbbb…, stored by run wf-run-4 (run-4) for ${MONTH} at 2999-01-01T00:00:00.000Z, and no entry before the prune names that run: its entries were cut from the log before the prune (with whatever it published), or the artifacts were copied in from another store`,
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

describe('cache prune records its removal, or removes nothing', () => {
  it('on a damaged log, which takes no entry, removes nothing', async () => {
    const store = await storeWithVersions(1);
    await artifact(store, 'a', 'run-1', '2026-01-01T00:00:00.000Z');
    await appendFile(auditLogPath(store), 'not an entry\n');
    await expect(pruneCache(store, { olderThanMs: 0 })).rejects.toThrow(/cannot append to the audit log/);
    expect((await listCache(store)).map((a) => a.key)).toEqual([key('a')]);
  });

  it('on a full disk, removes first and records right after, in the space it freed', async () => {
    const store = storeIn(await tempDir());
    await mkdir(store.storeDir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', store.storeDir]);
    try {
      const run = { workflowId: 'wf-a', runId: 'a' };
      const log = auditLogPath(store);
      await recordAudit(store, { event: 'run.requested', run, month: MONTH, actor: 'ana', details: {} });
      await recordAudit(store, { event: 'run.failed', run, month: MONTH, actor: 'ana', details: {} });
      // the log ends on a page boundary, so that any entry appended needs a page of its own
      const grown = async (subject: string, filler: number) => {
        const before = (await stat(log)).size;
        const details = { filler: 'x'.repeat(filler) };
        await recordAudit(store, { event: 'stage.finished', run, month: MONTH, actor: 'ana', subject, details });
        return (await stat(log)).size - before;
      };
      const base = (await grown('s1', 100)) - 100;
      await grown('s2', (PAGE - (((await stat(log)).size + base) % PAGE)) % PAGE);
      expect((await stat(log)).size % PAGE).toBe(0);
      const dir = await artifact(store, 'a', 'a', '2026-01-01T00:00:00.000Z');
      // the disk filled up by the artifact's files, then one page freed: the lock file takes it
      const filler = join(dir, 'features.parquet');
      await writeFile(filler, '');
      await expect(
        (async () => {
          for (;;) await appendFile(filler, Buffer.alloc(1024));
        })(),
      ).rejects.toMatchObject({ code: 'ENOSPC' });
      await truncate(filler, (await stat(filler)).size - PAGE);
      const result = await pruneCache(store, { olderThanMs: 0 });
      expect(result.removed.map((a) => a.key)).toEqual([key('a')]);
      expect(result.auditSeq).toBe(5);
      expect((await readAuditLog(store)).at(-1)).toMatchObject({
        seq: 5,
        event: 'cache.pruned',
        details: { removed: [{ key: key('a') }] },
      });
      expect(await listCache(store)).toEqual([]);
    } finally {
      execFileSync('umount', [store.storeDir]);
    }
  });
});

describe('cache prune keeps what runs not ended yet stored or used', () => {
  it('keeps a run in flight its own artifacts and those it took, says so, and lets them go an hour after its last entry', async () => {
    const store = await storeWithVersions(1);
    const inFlight = { workflowId: 'wf-flying', runId: 'flying' };
    await recordAudit(store, { event: 'run.requested', run: inFlight, month: MONTH, actor: 'ana', details: {} });
    await recordAudit(store, {
      event: 'stage.finished',
      run: inFlight,
      month: MONTH,
      actor: 'ana',
      subject: 'features',
      details: {},
    });
    // used after the run was requested, a few seconds before the prune
    const used = new Date(Date.now() + 1_000);
    const now = new Date(Date.now() + 5_000);
    // its own: segments, tree, scores, reasons as the auditor's walkthrough lost them
    await artifact(store, 'c', 'flying', new Date().toISOString());
    // an ended run's, taken by the run in flight (a reuse refreshes the folder's time)
    await artifact(store, 'd', 'run-1', '2026-01-01T00:00:00.000Z', used);
    // nobody's
    await artifact(store, 'e', 'run-1', '2026-01-01T00:00:00.000Z');

    const result = await pruneCache(store, { olderThanMs: 0, maxBytes: 0, now });
    expect(result.removed.map((a) => a.key)).toEqual([key('e')]);
    expect(result.runsInFlight).toEqual([{ run: inFlight, month: MONTH, requestedAt: expect.any(String) }]);
    expect(result.heldForRuns.map((a) => [a.key, a.heldFor.runId, a.because])).toEqual([
      [key('d'), 'flying', 'used since it was requested'],
      [key('c'), 'flying', 'stored by it'],
    ]);
    expect((await readAuditLog(store)).at(-1)?.details).toMatchObject({
      keptForRuns: [
        { key: key('d'), heldFor: inFlight },
        { key: key('c'), heldFor: inFlight },
      ],
    });

    // on the command line: what was kept, and for which run. Once the use set a second ahead is
    // past: a use still in the future is not older than 0 minutes, so nothing would hold it
    await sleep(Math.max(0, used.getTime() - Date.now() + 50));
    const { stdout, code } = await segflowOnStore(store)('cache', 'prune', '--older-than', '0m', '--max-size', '0');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^removed 0 \(0\.0 MiB\), kept 2\n/);
    expect(tooWide(stdout)).toEqual([]);
    expect(stdout.replace(/\n {2}/g, ' ')).toContain(
      'kept because runs not ended yet stored them or used them since they were requested (their manifests will point at them; held until each records its end, while a stage of it is running or for an hour after its last audit entry):',
    );
    expect(stdout).toContain('wf-flying (stored by it)');
    expect(stdout).toContain('wf-flying (used since it was requested)');

    // once it ends, or an hour after its last entry (a run that never ends), nothing is held for it
    const later = await pruneCache(store, { olderThanMs: 0, now: new Date(Date.now() + 2 * 3600_000) });
    expect(later.runsInFlight).toEqual([]);
    expect(later.removed.map((a) => a.key).sort()).toEqual([key('c'), key('d')]);
  });

  it('a run that recorded its end holds nothing', async () => {
    const store = await storeWithVersions(1);
    await artifact(store, 'f', 'run-1', new Date().toISOString(), new Date(Date.now() + 1_000));
    const result = await pruneCache(store, { olderThanMs: 0, now: new Date(Date.now() + 5_000) });
    expect(result.runsInFlight).toEqual([]);
    expect(result.removed.map((a) => a.key)).toEqual([key('f')]);
  });
});

describe('cache prune keeps what a run holds while a stage of it runs, however long', () => {
  /** A run requested, with a stage finished: its last entry of its own, two hours before `now`. */
  async function runTwoHoursIn(store: StoreConfig, run: RunRef) {
    await recordAudit(store, { event: 'run.requested', run, month: MONTH, actor: 'ana', details: {} });
    const details = {};
    await recordAudit(store, { event: 'stage.finished', run, month: MONTH, actor: 'ana', subject: 'load', details });
    return new Date(Date.now() + 2 * 3600_000);
  }
  const markers = (store: StoreConfig) => join(store.storeDir, 'cache', '.running');
  /** The attempts' markers, as refreshed at `at` (the worker writes them every 30 s). */
  async function markersWrittenAt(store: StoreConfig, at: Date) {
    const dir = markers(store);
    const names = await readdir(dir);
    for (const name of names) await utimes(join(dir, name), at, at);
    return names;
  }

  it('keeps a run two hours past its last entry while its features stage runs; lets go once it ends', async () => {
    const store = await storeWithVersions(1);
    const run = { workflowId: 'wf-long', runId: 'long' };
    const now = await runTwoHoursIn(store, run);
    await artifact(store, 'g', 'long', new Date().toISOString());
    const features = markAttemptRunning(store, run, 'features');
    await vi.waitFor(async () => expect(await readdir(markers(store))).toHaveLength(1));
    await markersWrittenAt(store, new Date(now.getTime() - 30_000));
    // not listed by the cache, whatever its name
    expect((await listCache(store)).map((a) => a.key)).toEqual([key('g')]);

    const going = await pruneCache(store, { olderThanMs: 0, now });
    expect(going.removed).toEqual([]);
    expect(going.runsInFlight).toEqual([{ run, month: MONTH, requestedAt: expect.any(String) }]);
    expect(going.heldForRuns.map((a) => [a.key, a.heldFor.runId, a.because])).toEqual([
      [key('g'), 'long', 'stored by it'],
    ]);

    await features.stop();
    expect(await readdir(markers(store))).toEqual([]);
    expect((await pruneCache(store, { olderThanMs: 0, now })).removed.map((a) => a.key)).toEqual([key('g')]);
  });

  it('marks the run of a schedule with the longest id a schedule may have, or a Chinese one', async () => {
    // a schedule's runs are named by its id and their time: 258 bytes from a 200-character id,
    // over the 255 a file name may have when the id was its name
    for (const scheduleId of ['s'.repeat(200), '每月客户分群与流失预警'.repeat(4)]) {
      const store = await storeWithVersions(1);
      const run = { workflowId: `${scheduleId}-2026-06-02T03:00:00Z`, runId: 'r' };
      const attempt = markAttemptRunning(store, run, 'features');
      await vi.waitFor(async () => expect(await readdir(markers(store))).toHaveLength(1));
      expect((await workflowsRunning(store, Date.now(), false)).has(run.workflowId)).toBe(true);
      await attempt.stop();
    }
  });

  it("a dead worker's marker stops holding five minutes after its last write, and a prune removes it", async () => {
    const store = await storeWithVersions(1);
    const run = { workflowId: 'wf-dead', runId: 'dead' };
    const now = await runTwoHoursIn(store, run);
    await artifact(store, 'h', 'dead', new Date().toISOString());
    markAttemptRunning(store, run, 'features'); // never stopped: its worker was killed
    await vi.waitFor(async () => expect(await readdir(markers(store))).toHaveLength(1));
    await markersWrittenAt(store, new Date(now.getTime() - 6 * 60_000));

    const dry = await pruneCache(store, { olderThanMs: 0, now, dryRun: true });
    expect(dry.runsInFlight).toEqual([]);
    expect(dry.removed.map((a) => a.key)).toEqual([key('h')]);
    expect(await readdir(markers(store))).toHaveLength(1);
    expect((await pruneCache(store, { olderThanMs: 0, now })).removed.map((a) => a.key)).toEqual([key('h')]);
    expect(await readdir(markers(store))).toEqual([]);
  });

  it('a run that recorded its end holds nothing, whatever marker is left', async () => {
    const store = await storeWithVersions(1);
    const run = { workflowId: 'wf-ended', runId: 'ended' };
    const now = await runTwoHoursIn(store, run);
    await recordAudit(store, { event: 'run.failed', run, month: MONTH, actor: 'ana', details: {} });
    await artifact(store, 'i', 'ended', new Date().toISOString());
    markAttemptRunning(store, run, 'features');
    await vi.waitFor(async () => expect(await readdir(markers(store))).toHaveLength(1));
    await markersWrittenAt(store, now);
    const result = await pruneCache(store, { olderThanMs: 0, now });
    expect(result.runsInFlight).toEqual([]);
    expect(result.removed.map((a) => a.key)).toEqual([key('i')]);
  });
});
