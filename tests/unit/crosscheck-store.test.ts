import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { logSnapshotsDirs, publishedHere } from '../../pipelines/audit-crosscheck';
import type { AuditEntry } from '../../store/audit-log';
import { tempDir } from '../helpers';

describe("the Temporal cross-check's test of which store a run published into", () => {
  it('follows links on both sides, knows a run by its manifest, and leaves another store alone', async () => {
    const dir = await tempDir();
    const snapshots = join(dir, 'store', 'snapshots');
    await mkdir(join(snapshots, '2026-10', 'v1'), { recursive: true });
    await writeFile(join(snapshots, '2026-10', 'v1', 'manifest.json'), JSON.stringify({ run: { runId: 'r1' } }));
    // the auditor reaches the store through a link; the worker wrote the real path
    await symlink(join(dir, 'store'), join(dir, 'linked'));
    const claim = { month: '2026-10', version: 1, snapshotPath: join(snapshots, '2026-10', 'v1') };
    expect(await publishedHere(join(dir, 'linked', 'snapshots'), { runId: 'r1' }, claim)).toBe(true);
    // by its path alone (no manifest of it here: a run whose folder is gone is still this store's)
    const gone = { month: '2026-10', version: 2, snapshotPath: join(snapshots, '2026-10', 'v2') };
    expect(await publishedHere(join(dir, 'linked', 'snapshots'), { runId: 'r9' }, gone)).toBe(true);
    // a worker whose path this machine cannot see: its run is known by the manifest it published
    const elsewhere = { ...claim, snapshotPath: '/mnt/worker/store/snapshots/2026-10/v1' };
    expect(await publishedHere(snapshots, { runId: 'r1' }, elsewhere)).toBe(true);
    // another store's run: neither its path nor a manifest here names it
    expect(await publishedHere(snapshots, { runId: 'r2' }, elsewhere)).toBe(false);
    expect(await publishedHere(snapshots, { runId: 'r2' }, { ...elsewhere, version: 7 })).toBe(false);
  });

  it("takes a run as this store's when it published where the log's own runs did: a copy verified at another path", async () => {
    const dir = await tempDir();
    const original = join(dir, 'home', 'store', 'snapshots');
    const copy = join(dir, 'copy', 'snapshots');
    await mkdir(copy, { recursive: true });
    const published = (version: number) =>
      ({
        event: 'run.published',
        details: { version, path: join(original, '2026-09', `v${version}`) },
      }) as unknown as AuditEntry;
    const dirs = logSnapshotsDirs([published(1), published(2)]);
    expect(dirs).toEqual([original]);
    // the cut run published 2026-10/v1 into the original's folder, and its folder is gone from the copy
    const cut = { month: '2026-10', version: 1, snapshotPath: join(original, '2026-10', 'v1') };
    expect(await publishedHere(copy, { runId: 'r9' }, cut)).toBe(false);
    expect(await publishedHere(copy, { runId: 'r9' }, cut, dirs)).toBe(true);
    expect(
      await publishedHere(copy, { runId: 'r9' }, { ...cut, snapshotPath: '/elsewhere/snapshots/2026-10/v1' }, dirs),
    ).toBe(false);
  });
});
