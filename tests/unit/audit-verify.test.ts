import { chmod, cp, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recordAudit } from '../../store/audit-record';
import { promoteSnapshot } from '../../pipelines/promote';
import { retireSnapshot } from '../../pipelines/retire';
import { entryHash, formatHead, parseHead, readAuditLog, recomputeHash, type AuditEntry } from '../../store/audit-log';
import { verifyAudit } from '../../store/audit-verify';
import { sha256 } from '../../store/hashing';
import { auditLogPath, monthDir, snapshotsDir, versionDir, type StoreConfig } from '../../store/layout';
import { signText, type Signer } from '../../store/signing';
import {
  latestVersion,
  listSnapshots,
  listVersions,
  nextVersion,
  readNamedManifest,
  resolveSnapshot,
} from '../../store/snapshots';
import { snapshotsTable } from '../../cli/snapshot-text';
import { reproduceSnapshot } from '../../pipelines/reproduce';
import { diffSnapshots } from '../../pipelines/diff';
import { AUDIT_MONTH, keyPair, publishFake, storeFakeArtifact, storeWithVersions } from '../audit-store';
import { endedWhilePublishing } from '../../pipelines/audit-crosscheck';
import { storeIn, tempDir } from '../helpers';

const MONTH = AUDIT_MONTH;

/** What someone with write access to the store (and no key, or their own) can do: rewrite lines and re-chain them. */
async function rewriteLog(store: StoreConfig, edit: (entry: AuditEntry) => AuditEntry, resignWith?: Signer) {
  let prevHash = '0'.repeat(64);
  const lines = (await readAuditLog(store)).map((original) => {
    const entry = { ...edit(original), prevHash };
    entry.hash = recomputeHash(entry);
    if (resignWith) entry.signature = { keyId: resignWith.keyId, value: signText(resignWith, entry.hash) };
    prevHash = entry.hash;
    return JSON.stringify(entry);
  });
  await writeFile(auditLogPath(store), lines.join('\n') + '\n');
}

const problemsOf = async (...args: Parameters<typeof verifyAudit>) =>
  (await verifyAudit(...args)).problems.map((p) => `${p.where}: ${p.problem}`);

describe('audit verify: completeness', () => {
  it('a clean store of nine versions is OK, and says signatures were not checked', async () => {
    const store = await storeWithVersions(9);
    const report = await verifyAudit(store);
    expect(report).toMatchObject({ ok: true, entries: 27, snapshots: 9, published: 9, retired: 0 });
    expect(report.signatures).toBe('not checked');
    expect(report.head?.seq).toBe(27);
  });

  it('deleted snapshot folders are named as missing published snapshots', async () => {
    const store = await storeWithVersions(9);
    await rm(versionDir(store, MONTH, 2), { recursive: true });
    await rm(versionDir(store, MONTH, 3), { recursive: true });
    const report = await verifyAudit(store);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.where)).toEqual([`snapshots/${MONTH}/v2`, `snapshots/${MONTH}/v3`]);
    expect(report.problems[0].problem).toMatch(/^PUBLISHED SNAPSHOT MISSING: published \(audit seq 6, run run-2\)/);
  });

  it("a snapshot deleted with every entry of its run (the log's tail cut) is named by what its run left in the stage cache", async () => {
    const store = await storeWithVersions(3);
    const artifact = (stage: string, key: string, runId: string, createdAt: string) =>
      storeFakeArtifact(store, { stage, key, runId, createdAt });
    // run 2's artifact: its run is in the log
    await artifact('segments', 'a'.repeat(64), 'run-2', '2026-01-01T00:00:00.000Z');
    expect(await problemsOf(store)).toEqual([]);
    // run 4 stored its segments, published v4; the log was cut back to run 3's last entry and v4's folder removed
    await artifact('segments', 'b'.repeat(64), 'run-4', '2999-01-01T00:00:00.000Z');
    const [problem] = await problemsOf(store);
    expect(problem).toMatch(
      new RegExp(
        `^cache/segments/${'b'.repeat(64)}: STORED BY A RUN THE LOG DOES NOT RECORD: run wf-run-4 \\(run-4\\) stored it for ${MONTH} at 2999-01-01T00:00:00.000Z, after the log's last entry \\(seq 9, .*\\): entries after it were cut, with whatever that run published$`,
      ),
    );
  });

  it('a reference to a deleted version says the log records it published, and that no retirement explains it', async () => {
    const store = await storeWithVersions(3);
    await rm(versionDir(store, MONTH, 2), { recursive: true });
    await expect(resolveSnapshot(store, `${MONTH}/v2`)).rejects.toThrow(
      new RegExp(
        `^${MONTH} has no version 2 \\(versions: v1, v3\\); the audit log records ${MONTH}/v2 published on \\d{4}-\\d{2}-\\d{2} \\(audit seq 6, run run-2\\) and no retirement of it: its folder was removed outside segflow \\(segflow audit verify\\)$`,
      ),
    );
    // the month's only versions' folders gone: the month itself says so, naming the last one
    const alone = await storeWithVersions(1);
    await rm(versionDir(alone, MONTH, 1), { recursive: true });
    await expect(resolveSnapshot(alone, MONTH)).rejects.toThrow(
      new RegExp(
        `^no snapshot published for ${MONTH} \\(the store .* has none yet\\); the audit log records ${MONTH}/v1 published on \\d{4}-\\d{2}-\\d{2} \\(audit seq 3, run run-1\\) and no retirement of it: its folder was removed outside segflow \\(segflow audit verify\\)$`,
      ),
    );
    // a version never published: the listing alone
    await expect(resolveSnapshot(store, `${MONTH}/v9`)).rejects.toThrow(
      new RegExp(`^${MONTH} has no version 9 \\(versions: v1, v3\\)$`),
    );
    // a month whose versions were all retired: said so, not listed as a month with snapshots
    for (const version of [1, 3])
      await retireSnapshot(store, { month: MONTH, version }, { reason: 'storage limit', actor: 'ops' });
    await expect(resolveSnapshot(store, MONTH)).rejects.toThrow(
      `${MONTH} has no snapshot left: v1, v3 were retired (segflow snapshots show ${MONTH}/v3 says when and why)`,
    );
  });

  it("a snapshot deleted with its run.published line (the log's tail cut) is named by its publish stage's entry", async () => {
    const store = await storeWithVersions(3);
    // run 4 published v4: its publish stage's entry stands, its run.published line and folder are gone
    const run = { workflowId: 'wf-run-4', runId: 'run-4' };
    for (const event of ['run.requested', 'stage.finished'] as const)
      await recordAudit(store, {
        event,
        run,
        month: MONTH,
        actor: 'ana',
        ...(event === 'stage.finished' ? { subject: 'publish', details: { version: 4, alreadyPublished: false } } : {}),
      });
    expect(await problemsOf(store)).toEqual([
      `snapshots/${MONTH}/v4: PUBLISHED SNAPSHOT MISSING: its run's publish stage finished (audit seq 11, run run-4) but its folder is gone, and no run.published entry follows (the log's tail cut?) nor a snapshot.retired entry`,
    ]);
  });

  it("a run whose end was cut from the log's tail with the snapshot it published is named, also once its number is published again", async () => {
    const store = await storeWithVersions(3);
    const hoursAgo = new Date(Date.now() - 2 * 3600_000).toISOString();
    await rewriteLog(store, (entry) => ({ ...entry, at: hoursAgo }));
    // run 3's stage.finished and run.published cut, its folder removed and latest.json moved back
    const lines = (await readFile(auditLogPath(store), 'utf8')).trimEnd().split('\n');
    await writeFile(auditLogPath(store), lines.slice(0, -2).join('\n') + '\n');
    await rm(versionDir(store, MONTH, 3), { recursive: true });
    await writeFile(join(monthDir(store, MONTH), 'latest.json'), JSON.stringify({ month: MONTH, version: 2 }));
    const runWithoutEnd = `audit seq 7: RUN WITHOUT AN END: run wf-run-3 (run-3) of ${MONTH}, requested at ${hoursAgo} (audit seq 7), last wrote run.requested at ${hoursAgo} (audit seq 7), and no run.published, run.failed or run.cancelled follows: entries after it were cut from the log (with whatever the run published), or it was terminated, timed out or is stuck in Temporal (segflow runs show wf-run-3)`;
    expect(await problemsOf(store)).toEqual([runWithoutEnd]);
    // the number given again to another run's snapshot
    await publishFake(store, 3, undefined, 'run-5');
    expect(await problemsOf(store)).toEqual([runWithoutEnd]);
    // a later run of the same workflow (a reset) takes the cut one's place, and is judged itself:
    // one whose only entry is its end too (it failed before its first stage)
    const reset = { workflowId: 'wf-run-3', runId: 'run-3-reset' };
    await recordAudit(store, { event: 'run.failed', run: reset, month: MONTH, actor: 'worker' });
    expect(await problemsOf(store)).toEqual([]);
    // an activity of the earlier run that writes late (its attempt outlived the reset) changes nothing
    await recordAudit(store, {
      event: 'stage.attempt-failed',
      run: { workflowId: 'wf-run-3', runId: 'run-3' },
      month: MONTH,
      actor: 'worker',
      subject: 'churn#1 (activity 5)',
    });
    expect(await problemsOf(store)).toEqual([]);
  });

  it("a reset run without an end is named with its workflow's request, whatever the earlier run writes late", async () => {
    const store = await storeWithVersions(1);
    const hoursAgo = new Date(Date.now() - 2 * 3600_000).toISOString();
    const first = { workflowId: 'wf-x', runId: 'x-1' };
    const reset = { workflowId: 'wf-x', runId: 'x-2' };
    await recordAudit(store, { event: 'run.requested', run: first, month: MONTH, actor: 'ana' });
    await recordAudit(store, { event: 'stage.finished', run: reset, month: MONTH, actor: 'worker', subject: 'load' });
    await recordAudit(store, {
      event: 'stage.attempt-failed',
      run: first,
      month: MONTH,
      actor: 'worker',
      subject: 'features#1 (activity 3)',
    });
    await rewriteLog(store, (entry) => ({ ...entry, at: hoursAgo }));
    // the reset run wrote no run.requested: its workflow's request stands for it
    expect(await problemsOf(store)).toEqual([
      `audit seq 5: RUN WITHOUT AN END: run wf-x (x-2) of ${MONTH}, requested at ${hoursAgo} (audit seq 4), last wrote stage.finished load at ${hoursAgo} (audit seq 5), and no run.published, run.failed or run.cancelled follows: entries after it were cut from the log (with whatever the run published), or it was terminated, timed out or is stuck in Temporal (segflow runs show wf-x)`,
    ]);
  });

  it('a run with no end whose last entry is within the grace is no finding, and the OK says so', async () => {
    const store = await storeWithVersions(2);
    await recordAudit(store, {
      event: 'run.requested',
      run: { workflowId: 'wf-going', runId: 'going' },
      month: MONTH,
      actor: 'ana',
    });
    const report = await verifyAudit(store);
    expect(report).toMatchObject({ ok: true });
    expect(report.unended).toEqual([
      expect.stringMatching(/^run wf-going \(going\) of 2026-06, last wrote run\.requested at /),
    ]);
  });

  it('a snapshot folder or file replaced by a symbolic link to a copy elsewhere is named (it can change outside the store)', async () => {
    const store = await storeWithVersions(3);
    const elsewhere = join(await tempDir(), 'copy');
    await cp(versionDir(store, MONTH, 2), elsewhere, { recursive: true });
    await rm(versionDir(store, MONTH, 2), { recursive: true });
    await symlink(elsewhere, versionDir(store, MONTH, 2));
    const file = join(versionDir(store, MONTH, 3), 'subscribers.parquet');
    const copied = join(await tempDir(), 'subscribers-3.parquet');
    await cp(file, copied);
    await rm(file);
    await symlink(copied, file);
    expect(await problemsOf(store)).toEqual([
      `snapshots/${MONTH}/v2: is a symbolic link to ${elsewhere}: the published snapshot no longer sits in the store, and what it points at can change outside it`,
      `snapshots/${MONTH}/v3/subscribers.parquet: is a symbolic link to ${copied}: the published file no longer sits in the store, and what it points at can change outside it`,
    ]);
  });

  it("a month's folder, or the snapshots' folder, replaced by a symbolic link to a copy elsewhere is named", async () => {
    const store = await storeWithVersions(2);
    const month = join(await tempDir(), 'month');
    await cp(monthDir(store, MONTH), month, { recursive: true });
    await rm(monthDir(store, MONTH), { recursive: true });
    await symlink(month, monthDir(store, MONTH));
    expect(await problemsOf(store)).toEqual([
      `snapshots/${MONTH}: is a symbolic link to ${month}: the month's published snapshots no longer sit in the store, and what it points at can change outside it`,
    ]);
    const all = join(await tempDir(), 'snapshots');
    await cp(snapshotsDir(store), all, { recursive: true, verbatimSymlinks: true });
    await rm(snapshotsDir(store), { recursive: true });
    await symlink(all, snapshotsDir(store));
    expect((await problemsOf(store))[0]).toBe(
      `snapshots: is a symbolic link to ${all}: the published snapshots no longer sit in the store, and what it points at can change outside it`,
    );
  });

  it('show, diff and reproduce refuse a folder rebuilt from another snapshot, not check the other and call it sound', async () => {
    const store = await storeWithVersions(3);
    await rm(versionDir(store, MONTH, 2), { recursive: true });
    await cp(versionDir(store, MONTH, 3), versionDir(store, MONTH, 2), { recursive: true });
    const refused = `the folder of ${MONTH}/v2 holds the manifest of ${MONTH}/v3: another snapshot was moved or copied into its place`;
    const v2 = { month: MONTH, version: 2 };
    await expect(readNamedManifest(store, v2)).rejects.toMatchObject({
      name: 'SnapshotStoreError',
      message: expect.stringContaining(refused),
    });
    await expect(reproduceSnapshot(store, v2)).rejects.toThrow(refused);
    await expect(diffSnapshots(store, { month: MONTH, version: 1 }, v2)).rejects.toThrow(refused);
    expect((await readNamedManifest(store, { month: MONTH, version: 3 })).snapshot.version).toBe(3);
    // a folder whose manifest is gone: named, and listed as such (this store's manifests are
    // too thin to list; every folder's is removed)
    for (const version of [1, 2, 3]) {
      const manifest = join(versionDir(store, MONTH, version), 'manifest.json');
      await chmod(dirname(manifest), 0o755);
      await rm(manifest, { force: true });
    }
    await expect(readNamedManifest(store, { month: MONTH, version: 1 })).rejects.toThrow(
      `the folder of ${MONTH}/v1 holds no readable manifest.json (it is gone): removed or damaged after publishing`,
    );
    const listed = await listSnapshots(store, MONTH);
    expect(listed.map((r) => [r.version, r.damaged])).toEqual([
      [1, true],
      [2, true],
      [3, true],
    ]);
    expect(snapshotsTable(listed)).toMatch(new RegExp(`^${MONTH}/v1 \\(!\\)\\s+-`, 'm'));
    expect(snapshotsTable(listed)).toContain('(!) its folder holds no readable manifest.json');
  });

  it("another snapshot moved into a version's place is named as such", async () => {
    const store = await storeWithVersions(3);
    await rm(versionDir(store, MONTH, 1), { recursive: true });
    await rename(versionDir(store, MONTH, 3), versionDir(store, MONTH, 1));
    // said once, not also as v1's manifest modified (it is v3's, as the log records v3's)
    expect(await problemsOf(store)).toEqual([
      `snapshots/${MONTH}/v3: PUBLISHED SNAPSHOT MISSING: published (audit seq 9, run run-3) but its folder is gone, and no snapshot.retired entry explains it`,
      `snapshots/${MONTH}/latest.json: latest.json points to v3, which is missing`,
      `snapshots/${MONTH}/v1: holds snapshot ${MONTH}/v3 (run wf-run-3), not v1: another snapshot was moved into its place`,
    ]);
    // and its manifest edited too: checked against the log's record of the snapshot it names
    const manifest = join(versionDir(store, MONTH, 1), 'manifest.json');
    await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('"wf-run-3"', '"wf-run-x"'));
    expect(await problemsOf(store)).toContain(
      `snapshots/${MONTH}/v1/manifest.json: manifest.json (of ${MONTH}/v3) was modified after publishing (its hash differs from the audit log's for that snapshot)`,
    );
  });

  it('a deleted snapshot published again under its number is named as rebuilt; a new run gets the next number', async () => {
    const store = await storeWithVersions(2);
    await rm(versionDir(store, MONTH, 2), { recursive: true });
    // what an older segflow did after the folder was deleted: give v2 again
    await publishFake(store, 2, undefined, 'run-again');
    expect(await problemsOf(store)).toEqual([
      `snapshots/${MONTH}/v2: PUBLISHED SNAPSHOT REBUILT: published by run run-2 (audit seq 6) and again by run run-again (audit seq 9): the first one's folder was removed and its number given again`,
    ]);
    // the log remembers v2 even when its folder is gone: the next snapshot is v3
    await rm(versionDir(store, MONTH, 2), { recursive: true });
    expect(await nextVersion(store, MONTH)).toBe(3);
    // also past a damaged line (which verify names): the other lines still count
    const lines = (await readFile(auditLogPath(store), 'utf8')).trimEnd().split('\n');
    await writeFile(auditLogPath(store), [lines[0], '{"seq": 2, "cut', ...lines.slice(1)].join('\n') + '\n');
    expect(await nextVersion(store, MONTH)).toBe(3);
  });

  it('a snapshot in place whose run has not recorded run.published yet is publishing, not a finding (for an hour)', async () => {
    const store = await storeWithVersions(1);
    await publishFake(store, 2);
    // the moment between the snapshot's rename into place and its run.published entry
    const lines = (await readFile(auditLogPath(store), 'utf8')).trimEnd().split('\n');
    await writeFile(auditLogPath(store), lines.slice(0, -1).join('\n') + '\n');
    const manifestPath = join(versionDir(store, MONTH, 2), 'manifest.json');
    const publishedAt = async (at: Date) => {
      const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
      manifest.snapshot.publishedAt = at.toISOString();
      await writeFile(manifestPath, JSON.stringify(manifest));
    };
    await publishedAt(new Date());
    expect(await verifyAudit(store)).toMatchObject({ ok: true, publishing: [`${MONTH}/v2`], snapshots: 2 });
    const notRecorded = `snapshots/${MONTH}/v2: not recorded as published in the audit log`;
    await publishedAt(new Date(Date.now() - 2 * 3600_000));
    expect(await problemsOf(store)).toEqual([notRecorded]);
    // a publish time in the future does not stretch the grace
    await publishedAt(new Date(Date.now() + 365 * 24 * 3600_000));
    expect(await problemsOf(store)).toEqual([notRecorded]);
    // a run that ended without recording it never will
    await publishedAt(new Date());
    await recordAudit(store, {
      event: 'run.failed',
      run: { workflowId: 'wf-run-2', runId: 'run-2' },
      month: MONTH,
      actor: 'worker',
    });
    expect(await problemsOf(store)).toEqual([notRecorded]);
    // a folder naming a run the log never requested (a schedule's empty run id, one made up) is
    // not being published, whatever its publish time
    // (the log has entries of both, as a schedule's events and a made-up run's would be, but no request)
    await recordAudit(store, {
      event: 'schedule.created',
      run: { workflowId: 'monthly', runId: '' },
      month: '',
      actor: 'ops',
    });
    await recordAudit(store, {
      event: 'stage.finished',
      run: { workflowId: 'monthly', runId: 'made-up' },
      month: MONTH,
      actor: 'x',
    });
    const naming = async (run: { workflowId: string; runId: string }) => {
      const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
      manifest.run = run;
      manifest.snapshot.publishedAt = new Date().toISOString();
      await writeFile(manifestPath, JSON.stringify(manifest));
    };
    for (const runId of ['', 'made-up']) {
      await naming({ workflowId: 'monthly', runId });
      expect(await problemsOf(store), runId).toEqual([notRecorded]);
      await expect(
        promoteSnapshot(store, { month: MONTH, version: 1 }, { reason: 'rollback', actor: 'ops' }),
        runId,
      ).resolves.toBeDefined();
    }
    // a workflow reset in Temporal publishes under a new run id, its request logged under the old one
    await recordAudit(store, {
      event: 'run.requested',
      run: { workflowId: 'wf-reset', runId: 'old' },
      month: MONTH,
      actor: 'ana',
    });
    await naming({ workflowId: 'wf-reset', runId: 'new' });
    expect(await verifyAudit(store)).toMatchObject({ ok: true, publishing: [`${MONTH}/v2`] });
    await expect(
      promoteSnapshot(store, { month: MONTH, version: 1 }, { reason: 'rollback', actor: 'ops' }),
    ).rejects.toThrow(/is being published/);
  });

  it('a store without an audit log does not verify (a wrong SEGFLOW_STORE, or a removed log)', async () => {
    const store = storeIn(join(await tempDir(), 'no-such-store'));
    expect(await verifyAudit(store)).toMatchObject({ ok: false, entries: 0 });
    expect(await problemsOf(store)).toEqual([
      `${auditLogPath(store)}: AUDIT LOG MISSING: there is no audit log here (is SEGFLOW_STORE the store you mean? or was the log removed?)`,
    ]);
    // emptied, with every snapshot removed too: nothing left to disagree with it
    await mkdir(dirname(auditLogPath(store)), { recursive: true });
    await writeFile(auditLogPath(store), '');
    expect(await verifyAudit(store)).toMatchObject({ ok: false, entries: 0 });
    expect(await problemsOf(store)).toEqual([
      `${auditLogPath(store)}: AUDIT LOG EMPTY: the audit log has no entry (is SEGFLOW_STORE the store you mean? a store segflow wrote to has at least its runs)`,
    ]);
  });

  it('a snapshot retired with a reason is accepted; latest.json moves back; its number is not reused', async () => {
    const store = await storeWithVersions(3);
    const result = await retireSnapshot(
      store,
      { month: MONTH, version: 3 },
      { reason: 'deletion request #12', actor: 'dpo' },
    );
    expect(result.latest).toBe(2);
    expect(result.entry).toMatchObject({ event: 'snapshot.retired', subject: `${MONTH}/v3`, actor: 'dpo' });
    expect(JSON.parse(await readFile(join(monthDir(store, MONTH), 'latest.json'), 'utf8'))).toMatchObject({
      version: 2,
    });
    expect(await verifyAudit(store)).toMatchObject({ ok: true, published: 3, retired: 1, snapshots: 2 });
    expect(await nextVersion(store, MONTH)).toBe(4);
    await expect(retireSnapshot(store, { month: MONTH, version: 1 }, { reason: ' ', actor: 'x' })).rejects.toThrow(
      /--reason/,
    );
    // its tombstone removed by hand is named
    const tombstone = join(monthDir(store, MONTH), 'v3.retired.json');
    const kept = await readFile(tombstone, 'utf8');
    await rm(tombstone);
    expect(await problemsOf(store)).toEqual([
      `snapshots/${MONTH}/v3.retired.json: retired (audit seq ${result.entry.seq}) but its tombstone is gone: a retire cut off before writing it (run segflow snapshots retire again), removed by hand, or the month's folder restored from a copy`,
    ]);
    await writeFile(tombstone, kept);
    // a tombstone that is not what retire writes still says the version was retired
    await writeFile(tombstone, '{}');
    await expect(resolveSnapshot(store, `${MONTH}/v3`)).rejects.toThrow(
      `${MONTH}/v3 was retired (its tombstone names no audit entry: segflow audit verify): its files are gone`,
    );
    await writeFile(tombstone, kept);
    // a command naming the retired version is told so, with when and why
    await expect(resolveSnapshot(store, `${MONTH}/v3`)).rejects.toThrow(
      new RegExp(
        `^${MONTH}/v3 was retired on \\d{4}-\\d{2}-\\d{2} \\(audit seq \\d+: "deletion request #12"\\): its files are gone \\(versions: v1, v2\\)$`,
      ),
    );
  });

  it('a log renumbered and re-chained from its start is named by its numbers', async () => {
    const store = await storeWithVersions(1);
    let prevHash = '0'.repeat(64);
    const renumbered = (await readAuditLog(store)).map(({ hash: _hash, signature: _signature, ...body }) => {
      const moved = { ...body, seq: body.seq + 8, prevHash };
      const entry = { ...moved, hash: entryHash(moved) };
      prevHash = entry.hash;
      return entry;
    });
    await writeFile(auditLogPath(store), renumbered.map((e) => JSON.stringify(e) + '\n').join(''));
    expect(await problemsOf(store)).toEqual([
      `${auditLogPath(store)}:1: entry seq 9 follows the start of the log: entries are numbered 1, 2, 3… (entries removed, or the log renumbered)`,
    ]);
  });

  it('a deleted latest.json is named', async () => {
    const store = await storeWithVersions(2);
    await rm(join(monthDir(store, MONTH), 'latest.json'));
    expect(await problemsOf(store)).toEqual([
      `snapshots/${MONTH}/latest.json: latest.json is missing although by the audit log v2 is the month's latest (folders present: v1, v2)`,
    ]);
  });

  it('a folder named like a version that is not one (v0, v01) is named, neither read as a version nor stopping the check', async () => {
    const store = await storeWithVersions(1);
    await mkdir(join(monthDir(store, MONTH), 'v0'));
    // a copy of v1 kept under another name, which would outlive v1's retirement
    await cp(join(monthDir(store, MONTH), 'v1'), join(monthDir(store, MONTH), 'v01'), { recursive: true });
    expect(await listVersions(store, MONTH)).toEqual([1]);
    expect(await verifyAudit(store)).toMatchObject({ ok: false, snapshots: 1 });
    expect(await problemsOf(store)).toEqual([
      `snapshots/${MONTH}/v0: a folder named like a version that is not one (versions are v1, v2, …): not published by segflow, and its files are not checked`,
      `snapshots/${MONTH}/v01: a folder named like v1 that is not it (versions are v1, v2, …): not published by segflow, and its files are not checked`,
    ]);
  });

  it('latest.json whose path names another version than its version is named', async () => {
    const store = await storeWithVersions(2);
    await writeFile(
      join(monthDir(store, MONTH), 'latest.json'),
      JSON.stringify({ month: MONTH, version: 2, path: 'v1' }),
    );
    expect(await problemsOf(store)).toEqual([
      `snapshots/${MONTH}/latest.json: latest.json names version 2 but path "v1"`,
    ]);
  });

  it('says the chain is broken, not chained, when a line was removed', async () => {
    const store = await storeWithVersions(2);
    expect(await verifyAudit(store)).toMatchObject({ chainIntact: true });
    const lines = (await readFile(auditLogPath(store), 'utf8')).trimEnd().split('\n');
    await writeFile(auditLogPath(store), [...lines.slice(0, 2), ...lines.slice(3)].join('\n') + '\n');
    expect(await verifyAudit(store)).toMatchObject({ ok: false, chainIntact: false, entries: 5 });
  });

  it('latest.json pointing at a missing or a retired version is named', async () => {
    const store = await storeWithVersions(3);
    const latestPath = join(monthDir(store, MONTH), 'latest.json');
    await writeFile(latestPath, JSON.stringify({ month: MONTH, version: 7 }));
    expect(await problemsOf(store)).toEqual([
      `snapshots/${MONTH}/latest.json: latest.json points to v7, which is missing`,
    ]);
    await retireSnapshot(store, { month: MONTH, version: 2 }, { reason: 'storage limit', actor: 'ops' });
    await writeFile(latestPath, JSON.stringify({ month: MONTH, version: 2 }));
    expect(await problemsOf(store)).toEqual([
      `snapshots/${MONTH}/latest.json: latest.json points to v2, which was retired`,
    ]);
  });
});

describe('audit verify: experiments and promotions', () => {
  const experiment = (store: StoreConfig, version: number) =>
    publishFake(store, version, undefined, `run-${version}`, { experiment: true });
  const latestJson = (store: StoreConfig, version: number) =>
    writeFile(join(monthDir(store, MONTH), 'latest.json'), JSON.stringify({ month: MONTH, version }));

  it('an experiment leaves the latest alone; only a promotion (recorded) makes it the latest; a later run moves it forward', async () => {
    const store = await storeWithVersions(2);
    await experiment(store, 3);
    expect(await latestVersion(store, MONTH)).toBe(2);
    expect(await resolveSnapshot(store, MONTH)).toEqual({ month: MONTH, version: 2 });
    expect(await verifyAudit(store)).toMatchObject({ ok: true, published: 3 });

    // latest.json moved to the experiment by hand: the log says otherwise
    await latestJson(store, 3);
    expect(await problemsOf(store)).toEqual([
      `snapshots/${MONTH}/latest.json: points to v3, but by the audit log the month's latest is v2 (an experiment or an older version becomes the latest only through segflow snapshots promote)`,
    ]);
    await latestJson(store, 2);

    const promoted = await promoteSnapshot(
      store,
      { month: MONTH, version: 3 },
      { reason: 'k=5 adopted', actor: 'ana' },
    );
    expect(promoted.previous).toBe(2);
    expect(promoted.entry).toMatchObject({
      event: 'snapshot.promoted',
      subject: expect.stringMatching(new RegExp(`^${MONTH}/v3 at 20`)),
      details: { version: 3, previous: 2 },
    });
    expect(await latestVersion(store, MONTH)).toBe(3);
    expect(await verifyAudit(store)).toMatchObject({ ok: true });
    expect(await promoteSnapshot(store, { month: MONTH, version: 3 }, { reason: 'again', actor: 'ana' })).toEqual({
      entry: null,
      previous: 3,
      builtOnOther: [],
    });

    // a rollback to v1, then the next run of the month moves latest.json forward past both
    await promoteSnapshot(store, { month: MONTH, version: 1 }, { reason: 'rollback', actor: 'ops' });
    expect(await verifyAudit(store)).toMatchObject({ ok: true });
    await publishFake(store, 4);
    expect(await latestVersion(store, MONTH)).toBe(4);
    expect(await verifyAudit(store)).toMatchObject({ ok: true });

    // retiring the latest moves latest.json to the newest eligible version left: v2, not v3, the
    // experiment the rollback moved away from
    expect(
      (await retireSnapshot(store, { month: MONTH, version: 4 }, { reason: 'storage', actor: 'ops' })).latest,
    ).toBe(2);
    expect(await verifyAudit(store)).toMatchObject({ ok: true });
    await expect(promoteSnapshot(store, { month: MONTH, version: 2 }, { reason: ' ', actor: 'x' })).rejects.toThrow(
      /--reason/,
    );
  });

  it('retiring the latest skips an experiment; a month of experiments alone has no latest', async () => {
    const store = await storeWithVersions(1);
    await experiment(store, 2);
    await publishFake(store, 3);
    expect(
      (await retireSnapshot(store, { month: MONTH, version: 3 }, { reason: 'storage', actor: 'ops' })).latest,
    ).toBe(1);
    expect(await verifyAudit(store)).toMatchObject({ ok: true });
    // no latest, but the experiment is left: the result says so
    expect(
      await retireSnapshot(store, { month: MONTH, version: 1 }, { reason: 'storage', actor: 'ops' }),
    ).toMatchObject({ latest: null, left: [2], builtOn: [] });
    expect(await latestVersion(store, MONTH)).toBeUndefined();
    expect(await verifyAudit(store)).toMatchObject({ ok: true });
    await expect(resolveSnapshot(store, MONTH)).rejects.toThrow(
      `${MONTH} has only experiments (v2), no latest: name one as ${MONTH}/vN, or make it the latest with segflow snapshots promote ${MONTH}/vN`,
    );
    // latest.json written for the experiment by hand is named
    await latestJson(store, 2);
    expect(await problemsOf(store)).toEqual([
      `snapshots/${MONTH}/latest.json: points to v2, but by the audit log the month's latest is none (only experiments were published) (an experiment or an older version becomes the latest only through segflow snapshots promote)`,
    ]);
  });
});

describe('audit verify: promotions over time', () => {
  const experiment = (store: StoreConfig, version: number) =>
    publishFake(store, version, undefined, `run-${version}`, { experiment: true });
  const promote = (store: StoreConfig, version: number, reason: string) =>
    promoteSnapshot(store, { month: MONTH, version }, { reason, actor: 'ops' });

  it('every promotion is its own entry: a second rollback to the same version too', async () => {
    const store = await storeWithVersions(2);
    // next month's run matched its segment ids to v2
    const next = versionDir(store, '2026-07', 1);
    await mkdir(next, { recursive: true });
    const pinned = { month: MONTH, version: 2 };
    await writeFile(join(next, 'manifest.json'), JSON.stringify({ metrics: { previousSnapshot: pinned } }));
    // and a second one measured v2's dispatch list too
    const measured = versionDir(store, '2026-07', 2);
    await mkdir(measured, { recursive: true });
    const campaigns = { measured: true, dispatchFrom: pinned };
    await writeFile(
      join(measured, 'manifest.json'),
      JSON.stringify({ metrics: { previousSnapshot: pinned, campaigns } }),
    );
    const first = await promote(store, 1, 'rollback of v2');
    expect(first.builtOnOther).toEqual([
      `2026-07/v1 (segment ids on ${MONTH}/v2)`,
      `2026-07/v2 (segment ids and campaign measurement on ${MONTH}/v2)`,
    ]);
    await rm(next, { recursive: true });
    await rm(measured, { recursive: true });
    await publishFake(store, 3);
    const second = await promote(store, 1, 'rollback of v3');
    expect(second.entry?.seq).toBeGreaterThan(first.entry!.seq);
    expect(second).toMatchObject({ previous: 3, entry: { details: { reason: 'rollback of v3', previous: 3 } } });
    expect(await latestVersion(store, MONTH)).toBe(1);
    expect(await verifyAudit(store)).toMatchObject({ ok: true });
  });

  it('an experiment rolled back away from is not the latest again when the version after it is retired', async () => {
    const store = await storeWithVersions(1);
    await experiment(store, 2);
    await promote(store, 2, 'k=4 adopted');
    await promote(store, 1, 'rollback to the first version');
    const retired = await retireSnapshot(store, { month: MONTH, version: 1 }, { reason: 'test', actor: 'ops' });
    expect(retired.latest).toBe(null);
    expect(await verifyAudit(store)).toMatchObject({ ok: true });
    // adopted and still adopted: retiring the run after it falls back to it
    await promote(store, 2, 'k=4 adopted after all');
    await publishFake(store, 3);
    expect((await retireSnapshot(store, { month: MONTH, version: 3 }, { reason: 'test', actor: 'ops' })).latest).toBe(
      2,
    );
    expect(await verifyAudit(store)).toMatchObject({ ok: true });
  });

  it('a rollback is remembered: retiring a later run falls back to the version rolled back to, not from', async () => {
    const store = await storeWithVersions(2);
    await promote(store, 1, 'v2 was wrong');
    await publishFake(store, 3);
    const retired = await retireSnapshot(store, { month: MONTH, version: 3 }, { reason: 'test', actor: 'ops' });
    expect(retired.latest).toBe(1);
    expect(await verifyAudit(store)).toMatchObject({ ok: true });
  });

  it('promote and retire wait for a version being published (latest.json moved, run.published not yet written)', async () => {
    const store = await storeWithVersions(2);
    await publishFake(store, 3, undefined, 'run-3', { publishedAt: new Date().toISOString() });
    const lines = (await readFile(auditLogPath(store), 'utf8')).trimEnd().split('\n');
    await writeFile(auditLogPath(store), lines.slice(0, -1).join('\n') + '\n');
    const publishing = new RegExp(`^${MONTH}/v3 is being published .* nothing can be (promoted|retired) in ${MONTH}`);
    await expect(promote(store, 1, 'rollback')).rejects.toThrow(publishing);
    await expect(
      retireSnapshot(store, { month: MONTH, version: 2 }, { reason: 'storage', actor: 'ops' }),
    ).rejects.toThrow(publishing);
    // its run still going (as Temporal says): still refused; a run that has ended (terminated after
    // its rename) never records it, and blocks nothing
    const asked: string[] = [];
    const temporalSays = (ended: boolean) => async (run: { runId: string }) => (asked.push(run.runId), ended);
    await expect(
      retireSnapshot(store, { month: MONTH, version: 3 }, { reason: 'x', actor: 'ops', runEnded: temporalSays(false) }),
    ).rejects.toThrow(/is being published/);
    expect(asked).toEqual(['run-3']);
    const ended = await storeWithVersions(2);
    await publishFake(ended, 3, undefined, 'run-3', { publishedAt: new Date().toISOString() });
    const endedLines = (await readFile(auditLogPath(ended), 'utf8')).trimEnd().split('\n');
    await writeFile(auditLogPath(ended), endedLines.slice(0, -1).join('\n') + '\n');
    const gone = await retireSnapshot(
      ended,
      { month: MONTH, version: 3 },
      { reason: 'its run was terminated', actor: 'ops', runEnded: temporalSays(true) },
    );
    expect(gone.latest).toBe(2);
    // a worker whose clock runs ahead stamps a publish time still to come here: being published too
    const ahead = await storeWithVersions(1);
    await publishFake(ahead, 2, undefined, 'run-2', { publishedAt: new Date(Date.now() + 60_000).toISOString() });
    const aheadLines = (await readFile(auditLogPath(ahead), 'utf8')).trimEnd().split('\n');
    await writeFile(auditLogPath(ahead), aheadLines.slice(0, -1).join('\n') + '\n');
    await expect(promoteSnapshot(ahead, { month: MONTH, version: 1 }, { reason: 'x', actor: 'ops' })).rejects.toThrow(
      /is being published/,
    );
    // a folder made for a run that stopped writing to the log hours ago blocks nothing, whatever
    // publish time its manifest gives
    const stale = await storeWithVersions(2);
    await publishFake(stale, 3, undefined, 'run-3', { publishedAt: new Date().toISOString() });
    const hoursAgo = new Date(Date.now() - 2 * 3600_000).toISOString();
    const staleLines = (await readFile(auditLogPath(stale), 'utf8')).trimEnd().split('\n').slice(0, -1);
    await writeFile(
      auditLogPath(stale),
      staleLines
        .map((line) => (line.includes('"run-3"') ? line.replace(/"at":"[^"]+"/, `"at":"${hoursAgo}"`) : line))
        .join('\n') + '\n',
    );
    expect(staleLines.some((line) => line.includes(hoursAgo))).toBe(false);
    expect((await readFile(auditLogPath(stale), 'utf8')).includes(hoursAgo)).toBe(true);
    await promote(stale, 1, 'rollback');
    // once it is recorded, both go ahead
    await writeFile(auditLogPath(store), lines.join('\n') + '\n');
    await promote(store, 1, 'rollback');
    expect(await verifyAudit(store)).toMatchObject({ ok: true });
  });

  it('a month whose latest.json is gone says so, not that it has only experiments', async () => {
    const store = await storeWithVersions(2);
    await rm(join(monthDir(store, MONTH), 'latest.json'));
    await expect(resolveSnapshot(store, MONTH)).rejects.toThrow(
      `${MONTH}'s latest.json is missing or unreadable although v1, v2 are published: name a version as ${MONTH}/vN, and run segflow audit verify`,
    );
  });
});

describe('audit verify: anchored head', () => {
  it('a truncated tail (and the snapshot it published removed) passes alone but fails --expect-head', async () => {
    const store = await storeWithVersions(3);
    const anchored = (await verifyAudit(store)).head!;
    expect(parseHead(formatHead(anchored))).toEqual(anchored);
    // remove the last run's three entries and its snapshot: nothing else in the store remembers them
    const lines = (await readFile(auditLogPath(store), 'utf8')).trimEnd().split('\n');
    await writeFile(auditLogPath(store), lines.slice(0, -3).join('\n') + '\n');
    await rm(versionDir(store, MONTH, 3), { recursive: true });
    await writeFile(join(monthDir(store, MONTH), 'latest.json'), JSON.stringify({ month: MONTH, version: 2 }));
    expect(await verifyAudit(store)).toMatchObject({ ok: true });
    expect(await problemsOf(store, { expectHead: anchored })).toEqual([
      `${auditLogPath(store)}: ANCHORED HEAD MISSING: entry ${formatHead(anchored)} is no longer in the log, which ends at seq 6 (its tail was truncated)`,
    ]);
  });

  it('a rewritten entry at the anchored seq is named', async () => {
    const store = await storeWithVersions(2);
    const anchored = (await verifyAudit(store)).head!;
    await rewriteLog(store, (entry) => (entry.seq === 6 ? { ...entry, actor: 'mallory' } : entry));
    expect(await problemsOf(store, { expectHead: anchored })).toEqual([
      expect.stringMatching(/ANCHORED HEAD CHANGED: entry seq 6 has hash/),
    ]);
  });
});

describe('audit verify: signatures', () => {
  it('a signed store verifies with the public key; an unsigned entry is named', async () => {
    const { signer, publicKey } = keyPair();
    const store = await storeWithVersions(2, signer);
    expect(await verifyAudit(store, { publicKey })).toMatchObject({ ok: true, signatures: 'checked' });
    await recordAudit(store, {
      event: 'run.requested',
      run: { workflowId: 'w', runId: 'r' },
      month: MONTH,
      actor: 'x',
    });
    expect(await problemsOf(store, { publicKey })).toEqual([
      `${auditLogPath(store)}:7: entry seq 7 (run.requested by x) is not signed`,
    ]);
  });

  it('a stored stage output signed and then rewritten, or signed by another key, is named; an unsigned one is not', async () => {
    const { signer, publicKey } = keyPair();
    const store = await storeWithVersions(2, signer);
    const artifact = (key: string, signWith?: Signer) => storeFakeArtifact(store, { key, runId: 'run-1' }, signWith);
    await artifact('a'.repeat(64), signer);
    await artifact('b'.repeat(64));
    expect(await verifyAudit(store, { publicKey })).toMatchObject({ ok: true });
    const rewritten = await artifact('c'.repeat(64), signer);
    await writeFile(
      join(rewritten, 'artifact.json'),
      JSON.stringify({ ...JSON.parse(await readFile(join(rewritten, 'artifact.json'), 'utf8')), files: [] }, null, 1),
    );
    const other = keyPair().signer;
    await artifact('d'.repeat(64), other);
    const because = "workers with the key compute it again; 'segflow cache prune' removes it";
    expect(await problemsOf(store, { publicKey })).toEqual([
      `cache/segments/${'c'.repeat(64)}/artifact.sig: stored stage output's signature does not verify with the given public key (signed by key ${signer.keyId}, or artifact.json rewritten after signing): ${because}`,
      `cache/segments/${'d'.repeat(64)}/artifact.sig: stored stage output's signature does not verify with the given public key (signed by key ${other.keyId}, or artifact.json rewritten after signing): ${because}`,
    ]);
    // without the key, signatures are not checked
    expect(await verifyAudit(store)).toMatchObject({ ok: true });
  });

  it('an audit entry edited and re-signed with another key is caught by the signature', async () => {
    const { signer, publicKey } = keyPair();
    const store = await storeWithVersions(2, signer);
    const other = keyPair().signer;
    await rewriteLog(store, (entry) => (entry.seq === 1 ? { ...entry, actor: 'mallory' } : entry), other);
    expect(await verifyAudit(store)).toMatchObject({ ok: true }); // the chain alone is consistent again
    const problems = await problemsOf(store, { publicKey });
    expect(problems).toHaveLength(6);
    expect(problems[0]).toBe(
      `${auditLogPath(store)}:1: entry seq 1 (run.requested by mallory): signature does not verify with the given public key (signed by key ${other.keyId}, or rewritten after signing)`,
    );
  });

  it('a manifest edited and its hash in the log edited to match is caught by the signatures', async () => {
    const { signer, publicKey } = keyPair();
    const store = await storeWithVersions(2, signer);
    const manifestPath = join(versionDir(store, MONTH, 1), 'manifest.json');
    const original = await readFile(manifestPath, 'utf8');
    const repin = (text: string) =>
      rewriteLog(store, (entry) =>
        entry.event === 'run.published' && entry.seq === 3
          ? { ...entry, details: { ...entry.details, manifestSha256: sha256(text) } }
          : entry,
      );
    // a manifest naming another run than the entries that pin it: the log and the manifest disagree
    const forgedRun = original.replace('"run-1"', '"run-forged"');
    await writeFile(manifestPath, forgedRun);
    await repin(forgedRun);
    expect(await problemsOf(store)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^snapshots/${MONTH}/v1: LOG AND MANIFEST DISAGREE: .*run: the manifest says wf-run-1 \\(run-forged\\), run.published \\(audit seq 3\\) wf-run-1 \\(run-1\\)`,
        ),
      ),
    ]);
    // what the log does not record (the publish time, an output's hash) rebuilt alike
    const edited = original.replace('2026-07-01T00:00:00Z', '2026-07-02T00:00:00Z');
    await writeFile(manifestPath, edited);
    await repin(edited);
    expect(await verifyAudit(store)).toMatchObject({ ok: true }); // without the key this rebuild is invisible
    const problems = await problemsOf(store, { publicKey });
    expect(problems).toContain(
      `snapshots/${MONTH}/v1/manifest.sig: manifest signature does not verify with the given public key (signed by key ${signer.keyId}, or manifest.json rewritten after signing)`,
    );
    expect(problems).toContainEqual(
      expect.stringMatching(/:3: entry seq 3 \(run.published by ana\): signature does not verify/),
    );
  });
});

describe('audit verify: a snapshot whose run ended before recording it', () => {
  it('is a finding once Temporal says its run has ended, and stays "being published" while it runs', async () => {
    const store = await storeWithVersions(2);
    await publishFake(store, 3, undefined, 'run-3', { publishedAt: new Date().toISOString() });
    const lines = (await readFile(auditLogPath(store), 'utf8')).trimEnd().split('\n');
    await writeFile(auditLogPath(store), lines.slice(0, -1).join('\n') + '\n');
    const report = await verifyAudit(store);
    expect(report).toMatchObject({ ok: true, publishing: [`${MONTH}/v3`] });
    const temporalSays = (status: string) =>
      ({
        workflow: { getHandle: () => ({ describe: async () => ({ status: { name: status } }) }) },
      }) as unknown as Parameters<typeof endedWhilePublishing>[0];
    expect(await endedWhilePublishing(temporalSays('RUNNING'), store, report.publishing)).toEqual([]);
    // completed: it recorded run.published after verify read the log; no answer: no finding either
    expect(await endedWhilePublishing(temporalSays('COMPLETED'), store, report.publishing)).toEqual([]);
    const silent = {
      workflow: { getHandle: () => ({ describe: () => Promise.reject(new Error('unavailable')) }) },
    } as unknown as Parameters<typeof endedWhilePublishing>[0];
    expect(await endedWhilePublishing(silent, store, report.publishing)).toEqual([]);
    expect(await endedWhilePublishing(temporalSays('TERMINATED'), store, report.publishing)).toEqual([
      {
        where: `snapshots/${MONTH}/v3`,
        problem: expect.stringMatching(/^NOT RECORDED AS PUBLISHED: its run .* has ended \(TERMINATED\)/),
      },
    ]);
  });
});
