import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  caveats,
  otherTaskQueueNames,
  unwitnessedRuns,
  verifyText,
  type TemporalCheck,
} from '../../cli/commands/audit';
import type { LogRunsInTemporal } from '../../pipelines/runs';
import { recordAudit } from '../../store/audit-record';
import { readAuditLog } from '../../store/audit-log';
import { headToAnchor, unendedNote, verifyAudit, type UnendedRun } from '../../store/audit-verify';
import { auditLogPath, versionDir, type StoreConfig } from '../../store/layout';
import { AUDIT_MONTH, keyPair, storeFakeArtifact, storeWithVersions } from '../audit-store';
import { storeIn, tempDir } from '../helpers';

/** What an auditor's walkthrough found `audit verify` and `audit head` say of a tampered store (session 47). */

const MONTH = AUDIT_MONTH;

const problemsOf = async (...args: Parameters<typeof verifyAudit>) =>
  (await verifyAudit(...args)).problems.map((p) => `${p.where}: ${p.problem}`);

/** The log's line `seq` (1-based) changed by `edit`, its hash left as it was: an edit without re-hashing. */
async function editLine(store: StoreConfig, seq: number, edit: (line: string) => string): Promise<void> {
  const lines = (await readFile(auditLogPath(store), 'utf8')).trimEnd().split('\n');
  lines[seq - 1] = edit(lines[seq - 1]);
  await writeFile(auditLogPath(store), lines.join('\n') + '\n');
}

describe('audit head gives an anchor only from a log whose chain holds', () => {
  it('refuses a log with an edited entry, the last one or one before it, naming it', async () => {
    const store = await storeWithVersions(3);
    expect(await headToAnchor(store)).toEqual({ head: { seq: 9, hash: (await readAuditLog(store))[8].hash } });
    await editLine(store, 9, (line) => line.replace('"version":3', '"version":9'));
    expect(await headToAnchor(store)).toEqual({
      refused: expect.stringMatching(
        /^the audit log's chain is broken at seq 9 \(entry seq 9 was edited: its content no longer matches its hash\): no head is printed from it/,
      ),
    });
    const earlier = await storeWithVersions(3);
    await editLine(earlier, 4, (line) => line.replace('"actor":"ana"', '"actor":"mallory"'));
    await editLine(earlier, 9, (line) => line.replace('"version":3', '"version":9'));
    expect(await headToAnchor(earlier)).toEqual({
      refused: expect.stringMatching(
        /^the audit log's chain is broken at seq 4 \(entry seq 4 was edited: .*\), and its last entry, seq 9, was edited too: /,
      ),
    });
  });

  it('says a missing log is missing and an empty one empty', async () => {
    const store = storeIn(await tempDir());
    expect(await headToAnchor(store)).toEqual({
      refused: expect.stringMatching(/^there is no audit log at .*audit\.jsonl: no head to anchor/),
    });
    const emptied = await storeWithVersions(1);
    await writeFile(auditLogPath(emptied), '');
    expect(await headToAnchor(emptied)).toEqual({ refused: expect.stringMatching(/audit\.jsonl is empty: no entry/) });
  });

  it('waits for a last line still being appended, refuses one cut short, and takes a whole entry that lost its newline', async () => {
    const store = await storeWithVersions(2);
    const path = auditLogPath(store);
    const whole = await readFile(path, 'utf8');
    const lines = whole.trimEnd().split('\n');
    // a line cut short that stays so: a cut, not an append in progress
    await writeFile(path, lines.slice(0, 5).join('\n') + '\n' + lines[5].slice(0, 40));
    const started = Date.now();
    expect(await headToAnchor(store, 300)).toEqual({
      refused: expect.stringMatching(
        /ends in an unfinished line 6 after entry seq 5 \(.*\), still without its newline after 0\.3 s: not an append in progress but a write cut off/,
      ),
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    // an append that completes while head waits: the entry it completes is the head
    const finishing = setTimeout(() => void appendFile(path, lines[5].slice(40) + '\n'), 150);
    expect(await headToAnchor(store, 1_000)).toMatchObject({ head: { seq: 6 } });
    clearTimeout(finishing);
    // a whole entry without its newline: the writer and verify take it as the last entry
    const last = (await readAuditLog(store)).at(-1)!;
    await writeFile(path, whole.trimEnd());
    expect(await headToAnchor(store, 200)).toEqual({
      head: { seq: 6, hash: last.hash },
      note: expect.stringMatching(/^note: the audit log's last entry \(seq 6, line 6\) has no newline after it/),
    });
  });
});

describe('audit verify: a signed store checked without the key', () => {
  it('says in its verdict that signatures were not checked, and names an unsigned entry after signed ones', async () => {
    const { signer } = keyPair();
    const store = await storeWithVersions(2, signer);
    const report = await verifyAudit(store);
    expect(report).toMatchObject({ ok: true, signed: { entries: 6, keyIds: [signer.keyId] } });
    const full = { ...report, temporal: { notChecked: '--no-temporal' }, expectHead: true } as const;
    expect(caveats(full)).toEqual([
      `signatures NOT checked: all 6 entries are signed (key ${signer.keyId}): an entry forged or rewritten by someone without the key is not caught without --public-key <the store's public key>`,
    ]);
    expect(verifyText(full)).toMatch(/^OK, signatures NOT checked: all 6 entries are signed/);
    expect(verifyText(full)).toContain(
      `signatures: NOT checked (no --public-key): all 6 entries are signed (key ${signer.keyId})`,
    );
    // both caveats on one verdict line
    expect(verifyText({ ...full, expectHead: false })).toMatch(
      /^OK, Temporal NOT cross-checked \(--no-temporal\): a log cut at its tail is not caught without it or --expect-head; signatures NOT checked: all 6 entries/,
    );
    // an unsigned store says nothing of signatures in its verdict
    const unsigned = await verifyAudit(await storeWithVersions(1));
    expect(caveats({ ...unsigned, temporal: { notChecked: 'x' }, expectHead: true })).toEqual([]);

    // a forged entry appended by someone without the key chains like any other: unsigned, it is named
    await recordAudit(store, {
      event: 'snapshot.retired',
      run: { workflowId: '', runId: '' },
      month: MONTH,
      actor: 'root',
      subject: `${MONTH}/v9`,
      details: { version: 9, reason: 'deletion request #43' },
    });
    // (its tombstone, not forged here, is missing too)
    expect(await problemsOf(store)).toContain(
      `${auditLogPath(store)}:7: entry seq 7 (snapshot.retired by root) is not signed, though the log's entries are signed from seq 1 on (key ${signer.keyId}): appended or rewritten by someone without the signing key, or written by a command run without SEGFLOW_SIGNING_KEY ('--public-key' checks every signature)`,
    );
    expect((await verifyAudit(store)).signed).toEqual({ entries: 6, keyIds: [signer.keyId] });
  });
});

describe('audit verify: findings derived from an edited entry say so', () => {
  it("an edited run.published's version: the missing snapshot, latest.json and the unrecorded folder are by that entry", async () => {
    const store = await storeWithVersions(3);
    await editLine(store, 9, (line) => line.replace('"version":3', '"version":9'));
    const problems = await problemsOf(store);
    expect(problems).toEqual([
      `${auditLogPath(store)}:9: entry seq 9 was edited: its content no longer matches its hash`,
      `snapshots/${MONTH}/v9: by entry seq 9, which was edited: PUBLISHED SNAPSHOT MISSING: published (audit seq 9, run run-3) but its folder is gone, and no snapshot.retired entry explains it`,
      `snapshots/${MONTH}/latest.json: by entry seq 9, which was edited: points to v3, but by the audit log the month's latest is v9 (an experiment or an older version becomes the latest only through segflow snapshots promote)`,
      `snapshots/${MONTH}/v3: by entry seq 9, which was edited: not recorded as published in the audit log`,
    ]);
  });
});

describe('audit verify: a public key under which nothing verifies', () => {
  it('is one finding naming both keys, not one per signature with advice to prune', async () => {
    const { signer } = keyPair();
    const store = await storeWithVersions(2, signer);
    await storeFakeArtifact(store, { key: 'a'.repeat(64), runId: 'run-1' }, signer);
    const wrong = keyPair();
    const report = await verifyAudit(store, { publicKey: wrong.publicKey });
    expect(report.problems).toEqual([
      {
        where: '--public-key',
        problem: `SIGNED BY ANOTHER KEY: every signature in the store (6 entries, 2 manifests, 1 stored stage output) is by key ${signer.keyId}, and none verifies with the key given, key ${wrong.signer.keyId}: is it the right public key? Check again with the public key of ${signer.keyId} if it is the store's; if the key given is the one the workers sign with, everything was re-signed with another key`,
      },
    ]);
    // an unsigned entry is named whatever the key
    await recordAudit(store, {
      event: 'run.requested',
      run: { workflowId: 'w', runId: 'r' },
      month: MONTH,
      actor: 'x',
    });
    expect(await problemsOf(store, { publicKey: wrong.publicKey })).toEqual([
      expect.stringMatching(/^--public-key: SIGNED BY ANOTHER KEY: every signature in the store \(6 entries/),
      `${auditLogPath(store)}:7: entry seq 7 (run.requested by x) is not signed`,
    ]);
  });

  it('signatures by the given key among them: each one that does not verify is named as before', async () => {
    const { signer, publicKey } = keyPair();
    const store = await storeWithVersions(1, signer);
    await editLine(store, 1, (line) =>
      line.replace(/"value":"[^"]+"/, `"value":"${Buffer.from('x').toString('base64')}"`),
    );
    expect(await problemsOf(store, { publicKey })).toEqual([
      `${auditLogPath(store)}:1: entry seq 1 (run.requested by ana): signature does not verify with the given public key (signed by key ${signer.keyId}, or rewritten after signing)`,
    ]);
  });
});

describe('audit verify: a damaged manifest says how', () => {
  it('missing, not JSON, or JSON that is no manifest', async () => {
    const store = await storeWithVersions(3);
    const manifest = (version: number) => join(versionDir(store, MONTH, version), 'manifest.json');
    await rm(manifest(1));
    await writeFile(manifest(2), '{"snapshot":');
    await writeFile(manifest(3), 'null');
    const problems = await problemsOf(store);
    expect(problems).toContain(
      `snapshots/${MONTH}/v1: manifest.json is missing: the folder cannot be checked against what was published`,
    );
    expect(problems).toContainEqual(
      expect.stringMatching(
        new RegExp(`^snapshots/${MONTH}/v2: manifest.json is not valid JSON \\(.+\\): edited or cut after publishing$`),
      ),
    );
    expect(problems).toContain(
      `snapshots/${MONTH}/v3: manifest.json is valid JSON but no manifest (it lists no outputs): edited after publishing`,
    );
  });
});

describe('audit verify: what Temporal says, in the notes and findings', () => {
  const unended: UnendedRun = {
    run: { workflowId: 'wf-a', runId: 'a' },
    month: MONTH,
    lastEvent: 'stage.finished publish',
    lastAt: '2026-07-10T12:00:00Z',
  };

  it("a run with no end yet is 'still going' only when Temporal was not asked or holds it running", () => {
    expect(unendedNote(unended)).toMatch(/: still going, or its end was cut from the log; verify again after it ends/);
    expect(unendedNote(unended, 'RUNNING')).toMatch(/: running in Temporal; verify again after it ends/);
    const completed = unendedNote(unended, 'COMPLETED');
    expect(completed).not.toMatch(/still going|running/);
    expect(completed).toMatch(
      /though Temporal holds it as COMPLETED .*: its end was cut from the log, or written after verify read it/,
    );
    expect(unendedNote(unended, 'TERMINATED')).toMatch(/though Temporal holds it as ended \(TERMINATED\)/);
  });

  it('names the task queue Temporal knows the runs on', async () => {
    const coverage: LogRunsInTemporal = {
      retentionHours: 24,
      retentionRead: true,
      recent: 3,
      known: 0,
      otherTaskQueue: 2,
      newestUnknown: { run: { workflowId: 'wf-c', runId: 'c' }, lastAt: '2026-07-10T12:00:00Z' },
    };
    const queues: Record<string, string> = { a: 'segflow-old', b: 'segflow-old' };
    const client = {
      workflow: {
        getHandle: (_workflowId: string, runId: string) => ({
          describe: async () => {
            if (!(runId in queues)) throw new Error('not found');
            return { taskQueue: queues[runId] };
          },
        }),
      },
    } as unknown as Parameters<typeof otherTaskQueueNames>[0];
    const entries = ['a', 'b', 'c'].map(
      (runId) => ({ event: 'run.requested', run: { workflowId: `wf-${runId}`, runId } }) as never,
    );
    const names = await otherTaskQueueNames(client, entries, 'segflow', coverage);
    expect(names).toEqual(['segflow-old']);
    const target = { address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'segflow' };
    expect(unwitnessedRuns(coverage, target, names)?.problem).toContain(
      'Temporal knows none of them on task queue segflow (2 on another task queue, "segflow-old")',
    );
    const report = { ...(await verifyAudit(await storeWithVersions(1))), expectHead: true };
    const temporal: TemporalCheck = {
      runs: 0,
      otherStores: 0,
      completed: [],
      problems: [],
      coverage: { ...coverage, known: 1, otherTaskQueue: 1 },
      otherQueues: ['segflow-old'],
    };
    expect(verifyText({ ...report, temporal })).toContain('(1 on another task queue, "segflow-old")');
  });
});
