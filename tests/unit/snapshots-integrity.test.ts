import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffSnapshots } from '../../pipelines/diff';
import { promoteSnapshot } from '../../pipelines/promote';
import { reproduceSnapshot, type ReproduceReport } from '../../pipelines/reproduce';
import { retireSnapshot } from '../../pipelines/retire';
import { promotionLine, reproduceText, showWarnings } from '../../cli/commands/snapshots';
import { snapshotsTable } from '../../cli/snapshot-text';
import { compareCode, type CodeVersion } from '../../activities/code-version';
import { paramsHash, sha256 } from '../../store/hashing';
import { recordAudit } from '../../store/audit-record';
import { auditLogPath, monthDir, snapshotsDir, versionDir, type StoreConfig } from '../../store/layout';
import type { SnapshotManifest } from '../../store/manifest';
import { listSnapshots, promotedToLatest, readManifest, readStoreLog } from '../../store/snapshots';
import { AUDIT_MONTH as MONTH, publishFake, segflowOnStore, storeWithVersions } from '../audit-store';
import { storeIn, tempDir } from '../helpers';

const v = (version: number) => ({ month: MONTH, version });

/**
 * Snapshot `version` as a run leaves it for what `snapshots list` and `diff` read first: the two
 * files diff reads, a manifest listing them with what list shows, its run's audit entries pinning
 * the manifest's sha256. Not Parquet: every check here stops before a file is read.
 */
async function publishListed(store: StoreConfig, version: number): Promise<void> {
  const run = { workflowId: `wf-run-${version}`, runId: `run-${version}` };
  const dir = versionDir(store, MONTH, version);
  await mkdir(dir, { recursive: true });
  const outputs = [];
  for (const name of ['subscribers.parquet', 'dispatch.parquet']) {
    const content = `${name} of v${version}`;
    await writeFile(join(dir, name), content);
    outputs.push({ file: name, sha256: sha256(content), bytes: content.length });
  }
  const manifest = {
    snapshot: { month: MONTH, version, publishedAt: '2026-07-01T00:00:00Z' },
    run,
    requestedBy: 'ana',
    paramsHash: 'f'.repeat(64),
    rowCounts: { subscribers: 1000 * version },
    metrics: { churnHoldout: { rocAuc: 0.8 }, segments: [{}, {}] },
    outputs,
  };
  const text = JSON.stringify(manifest, null, 2) + '\n';
  await writeFile(join(dir, 'manifest.json'), text);
  await writeFile(join(monthDir(store, MONTH), 'latest.json'), JSON.stringify({ month: MONTH, version }));
  const details = { month: MONTH, version, manifestSha256: sha256(text) };
  for (const event of ['run.requested', 'stage.finished', 'run.published'] as const)
    await recordAudit(store, { event, run, month: MONTH, actor: 'ana', details });
}

async function storeListing(count: number): Promise<StoreConfig> {
  const store = storeIn(await tempDir());
  for (let version = 1; version <= count; version++) await publishListed(store, version);
  return store;
}

/** An auditor's walkthrough of the snapshot commands on a store altered by hand. */
describe('snapshots diff reads only what was published', () => {
  it("refuses a file copied over from another snapshot, naming it, before reading it (exit 1, not a diff of another's data)", async () => {
    const store = await storeListing(2);
    const path = (version: number) => join(versionDir(store, MONTH, version), 'subscribers.parquet');
    await copyFile(path(2), path(1));
    const refused = `snapshots/${MONTH}/v1/subscribers.parquet was changed after publishing: its sha256`;
    await expect(diffSnapshots(store, v(1), v(2))).rejects.toMatchObject({
      name: 'SnapshotIntegrityError',
      message: expect.stringContaining(refused),
    });
    const cli = await segflowOnStore(store)('snapshots', 'diff', `${MONTH}/v1`, `${MONTH}/v2`);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain(refused);
    expect(cli.stderr).toContain("'segflow audit verify' names every file that changed");
    expect(cli.stdout).toBe('');
  });

  it("refuses a damaged file and a file gone, as such, not with DuckDB's error", async () => {
    const store = await storeListing(2);
    const path = join(versionDir(store, MONTH, 2), 'subscribers.parquet');
    const bytes = await readFile(path);
    bytes[3] ^= 0xff;
    await writeFile(path, bytes);
    await expect(diffSnapshots(store, v(1), v(2))).rejects.toThrow(
      `snapshots/${MONTH}/v2/subscribers.parquet was changed after publishing`,
    );
    await rm(path);
    await expect(diffSnapshots(store, v(1), v(2))).rejects.toThrow(
      `snapshots/${MONTH}/v2/subscribers.parquet is gone, though its manifest lists it`,
    );
  });

  it('refuses a file its manifest does not list (dispatch.parquet is not in these thin snapshots)', async () => {
    const store = await storeWithVersions(2);
    await expect(diffSnapshots(store, v(1), v(2))).rejects.toThrow(
      `snapshots/${MONTH}/v1/dispatch.parquet is not among the files its manifest lists`,
    );
  });

  it('refuses a manifest edited after publishing, naming the audit entry it contradicts', async () => {
    const store = await storeWithVersions(2);
    const manifest = join(versionDir(store, MONTH, 1), 'manifest.json');
    await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('"run-1"', '"run-x"'));
    await expect(diffSnapshots(store, v(1), v(2))).rejects.toMatchObject({
      name: 'SnapshotIntegrityError',
      message: expect.stringMatching(
        new RegExp(
          `^snapshots/${MONTH}/v1/manifest.json was edited after publishing: its sha256 [0-9a-f]{12}… is not the [0-9a-f]{12}… audit entry seq 3 \\(run.published\\) recorded\\. Nothing is read from it`,
        ),
      ),
    });
  });
});

describe('snapshots reproduce of an edited manifest', () => {
  it('stops before recomputing, naming the run.published entry, with no stage cache note', async () => {
    const store = await storeWithVersions(1);
    const manifest = join(versionDir(store, MONTH, 1), 'manifest.json');
    await writeFile(
      manifest,
      (await readFile(manifest, 'utf8')).replace('"2026-07-01T00:00:00Z"', '"2026-07-02T00:00:00Z"'),
    );
    const refused = reproduceSnapshot(store, v(1));
    await expect(refused).rejects.toMatchObject({ name: 'SnapshotIntegrityError' });
    await expect(refused).rejects.toThrow(
      /manifest\.json was edited after publishing: .* audit entry seq 3 \(run\.published\) recorded\. Nothing is recomputed from it: restore it from a copy of the store; 'segflow audit verify' checks the whole store$/,
    );
    const cli = await segflowOnStore(store)('snapshots', 'reproduce', `${MONTH}/v1`);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('audit entry seq 3 (run.published) recorded');
    expect(cli.stdout + cli.stderr).not.toContain('stage cache');
  });
});

const code: CodeVersion = {
  segflow: '0.1.0',
  commit: 'c'.repeat(40),
  node: 'v20.0.0',
  dependencies: {},
  stageCode: '5'.repeat(64),
};
const [A, B] = ['a'.repeat(64), 'b'.repeat(64)];

/** A reproduction whose recomputation matches the manifest everywhere, by the same code. */
function report(files: ReproduceReport['files'], more: Partial<ReproduceReport> = {}): ReproduceReport {
  return {
    ref: v(1),
    changedInputs: [],
    changes: [],
    inputFolderNow: [],
    notes: [],
    manifestInLog: { seq: 3 },
    previousSnapshotGone: false,
    monthBeforeGone: false,
    codeNow: code.commit,
    codeThen: code.commit,
    stageCodeNow: code.stageCode ?? '',
    stageCodeThen: code.stageCode ?? null,
    code: compareCode(code, code),
    files,
    manifestDifferences: [],
    identical: false,
    reused: [{ stage: 'churn-scores', key: 'f'.repeat(64), producedBy: { workflowId: 'wf', runId: 'r' } }],
    ...more,
  };
}

describe('snapshots reproduce of a published file changed after publishing', () => {
  it('says the file was altered and the recomputation matches the manifest, and blames no stored work', () => {
    const text = reproduceText(
      report([
        { file: 'subscribers.parquet', expected: A, actual: A, published: B, identical: false },
        { file: 'segments.parquet', expected: B, actual: B, published: B, identical: true },
      ]),
    );
    expect(text.split('\n')[1]).toBe(
      "the published subscribers.parquet was altered after publishing: the recomputation matches the manifest, the published file does not. Restore it from a copy of the store ('segflow audit verify' names every file changed).",
    );
    expect(text).not.toContain('stage cache');
    const gone = reproduceText(
      report([{ file: 'dispatch.parquet', expected: A, actual: A, published: null, identical: false }]),
    );
    expect(gone).toContain('the published dispatch.parquet (gone) was altered after publishing');
  });

  it('says a manifest checked against the log was not edited, and when the log records none, that it was not checked', () => {
    const differs = report([{ file: 'subscribers.parquet', expected: A, actual: A, published: A, identical: true }], {
      manifestDifferences: ['metrics.churnHoldout'],
    });
    expect(reproduceText(differs)).toContain(
      "the manifest records otherwise than the recomputation: metrics.churnHoldout (its manifest is the one audit entry seq 3 recorded, not edited since; 'segflow audit verify' checks the manifest's hash)",
    );
    expect(reproduceText({ ...differs, manifestInLog: null })).toContain(
      "note: the audit log records no run.published of it with its manifest's sha256 (or cannot be read): its manifest was not checked",
    );
  });
});

describe('snapshots retire of a version whose tombstone was lost', () => {
  it('writes the tombstone again from the retirement entry, adds no entry, and no message denies the retirement', async () => {
    const store = await storeWithVersions(2);
    await retireSnapshot(store, v(1), { reason: 'deletion request #42', actor: 'ana' });
    const tombstone = join(monthDir(store, MONTH), 'v1.retired.json');
    const written = await readFile(tombstone, 'utf8');
    await rm(tombstone);
    const log = await readFile(auditLogPath(store), 'utf8');
    const segflow = segflowOnStore(store);
    const show = await segflow('snapshots', 'show', `${MONTH}/v1`);
    expect(show.code).toBe(2);
    expect(show.stderr).toMatch(
      new RegExp(
        `the audit log records ${MONTH}/v1 retired on \\d{4}-\\d{2}-\\d{2} \\(audit seq 7: "deletion request #42"\\), but its tombstone v1.retired.json is gone: segflow snapshots retire ${MONTH}/v1 --reason <text> writes it again`,
      ),
    );
    expect(show.stderr).not.toContain('no retirement');
    const again = await segflow('snapshots', 'retire', `${MONTH}/v1`, '--reason', 'again');
    expect(again).toMatchObject({ code: 0, stderr: '' });
    expect(again.stdout).toContain(`${MONTH}/v1 was retired already (audit seq 7, `);
    expect(again.stdout).toContain('its tombstone v1.retired.json was gone and is written again from that entry');
    expect(await readFile(tombstone, 'utf8')).toBe(written);
    expect(await readFile(auditLogPath(store), 'utf8')).toBe(log);
    // retired with its tombstone: said as before
    expect((await segflow('snapshots', 'show', `${MONTH}/v1`)).stderr).toContain(`${MONTH}/v1 was retired on `);
  });
});

describe('snapshots list of a store altered by hand', () => {
  it('lists a version the log records published whose folder is gone, and one holding another snapshot', async () => {
    const store = await storeListing(3);
    await rm(versionDir(store, MONTH, 2), { recursive: true });
    await rm(join(versionDir(store, MONTH, 1), 'manifest.json'));
    await copyFile(
      join(versionDir(store, MONTH, 3), 'manifest.json'),
      join(versionDir(store, MONTH, 1), 'manifest.json'),
    );
    const listed = await listSnapshots(store, MONTH);
    expect(listed.map((r) => [r.version, r.holds, r.missing?.auditSeq])).toEqual([
      [1, `${MONTH}/v3`, undefined],
      [2, undefined, 6],
      [3, undefined, undefined],
    ]);
    const text = snapshotsTable(listed);
    expect(text).toMatch(new RegExp(`^${MONTH}/v1 \\(!\\)\\s+holds ${MONTH}/v3\\s+-`, 'm'));
    expect(text).toMatch(new RegExp(`^${MONTH}/v2 \\(!\\)\\s+folder missing\\s+-`, 'm'));
    // a month whose folder went whole is listed too
    await rm(snapshotsDir(store), { recursive: true });
    expect((await listSnapshots(store)).map((r) => [r.version, r.missing?.auditSeq])).toEqual([
      [1, 3],
      [2, 6],
      [3, 9],
    ]);
  });

  it('says the store has no audit log, instead of (none)', async () => {
    const store = storeIn(await tempDir());
    const list = await segflowOnStore(store)('snapshots', 'list');
    expect(list.code).toBe(0);
    expect(list.stdout).not.toContain('(none)');
    expect(list.stdout).toContain(
      `no snapshot: the store ${store.storeDir} has no audit log (${auditLogPath(store)}), so nothing was ever published into it. If you expected snapshots, SEGFLOW_STORE (or SEGFLOW_HOME) names another folder than your store`,
    );
  });
});

describe('snapshots show', () => {
  it('warns of a manifest edited after publishing and of a params hash its parameters do not give', async () => {
    const store = storeIn(await tempDir());
    const params = { month: MONTH, input: '/data', k: 5 };
    await publishFake(store, 1, undefined, 'run-1', { params });
    const manifest = (await readManifest(store, MONTH, 1)) as SnapshotManifest;
    expect(await showWarnings(store, v(1), manifest, await readStoreLog(store))).toEqual([]);
    const edited = {
      ...manifest,
      params: { ...params, k: 6 },
      paramsHash: paramsHash(params as never),
    } as SnapshotManifest;
    await writeFile(join(versionDir(store, MONTH, 1), 'manifest.json'), JSON.stringify(edited));
    const warnings = await showWarnings(store, v(1), edited, await readStoreLog(store));
    expect(warnings).toEqual([
      expect.stringMatching(
        new RegExp(
          `^snapshots/${MONTH}/v1/manifest.json was edited after publishing: .* audit entry seq 3 \\(run.published\\) recorded: what is shown is not what was published`,
        ),
      ),
      expect.stringMatching(/^the parameters shown are not the ones its params hash [0-9a-f]{12} was made from/),
    ]);
  });

  it('says who made a promoted or rolled-back version the latest, and when', async () => {
    const store = await storeWithVersions(2);
    await promoteSnapshot(store, v(1), { reason: 'rollback: v2 mislabelled', actor: 'jane' });
    const promotion = promotedToLatest(await readStoreLog(store), v(1));
    expect(promotion).toMatchObject({ previous: 2, entry: { actor: 'jane', seq: 7 } });
    expect(promotionLine(1, promotion!)).toMatch(
      /^ {2}latest since {2}\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC by jane: rolled back from v2 \(snapshots promote, audit seq 7: "rollback: v2 mislabelled"\)$/,
    );
    // a run's publish since moves the latest on: no promotion made it
    await publishFake(store, 3);
    expect(promotedToLatest(await readStoreLog(store), v(3))).toBeUndefined();
    expect(promotedToLatest(await readStoreLog(store), v(1))).toBeUndefined();
  });
});
