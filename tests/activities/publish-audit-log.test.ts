import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainAndScoreChurn } from '../../activities/churn';
import { clusterSubscribers } from '../../activities/cluster';
import { computeFeatures } from '../../activities/features';
import { loadUsage } from '../../activities/load';
import { publishSnapshot, type PublishRequest } from '../../activities/publish';
import { SnapshotStoreError } from '../../domain/errors';
import { auditLogPath, monthDir, type StoreConfig } from '../../store/layout';
import { latestVersion, listVersions } from '../../store/snapshots';
import { smallSample, storeIn, tempDir } from '../helpers';

/** A folder's entries, sorted; none when it does not exist. */
const listed = (dir: string) =>
  readdir(dir).then(
    (names) => names.sort(),
    () => [],
  );

/**
 * The audit log is where the numbers of deleted versions live on: a publish that cannot read it
 * cannot know which numbers are taken, so it must stop rather than give one out again.
 */
describe('publishing with an audit log it cannot read', () => {
  const run = { workflowId: 'unreadable-audit-log', runId: 'r1' };
  let store: StoreConfig;
  let request: PublishRequest;

  beforeAll(async () => {
    const dir = await tempDir();
    const sample = await smallSample(dir, 1_500, 6);
    store = storeIn(dir);
    const load = await loadUsage(store, run, { month: '2026-06', input: join(sample.outDir, 'usage') });
    const features = await computeFeatures(load.dbPath, load.params);
    const cluster = await clusterSubscribers(load.dbPath, load.params);
    const churn = await trainAndScoreChurn(load.dbPath, load.params);
    request = { requestedBy: 'test', load, features, cluster, churn };
  });

  it('stops, publishing nothing, and publishes once the log can be read again', async () => {
    // a folder where the log should be: reading it fails (EISDIR), also for root, whom file modes do not stop
    await mkdir(auditLogPath(store), { recursive: true });
    const failure = await publishSnapshot(store, run, request).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure, 'published although the audit log could not be read').toBeInstanceOf(SnapshotStoreError);
    expect((failure as Error).message).toMatch(/^cannot read the audit log .*audit\.jsonl \(EISDIR\)/);
    expect(await listVersions(store, '2026-06')).toEqual([]);
    // no latest.json, and the staging folder cleared away
    expect(await listed(monthDir(store, '2026-06'))).toEqual([]);

    await rm(auditLogPath(store), { recursive: true });

    // a link to a log that is gone is not an empty log
    await symlink(join(dirname(auditLogPath(store)), 'moved-away.jsonl'), auditLogPath(store));
    await expect(publishSnapshot(store, run, request)).rejects.toThrow(/cannot read the audit log .* \(ENOENT\)/);
    expect(await listed(monthDir(store, '2026-06'))).toEqual([]);
    await rm(auditLogPath(store));

    const published = await publishSnapshot(store, run, request);
    expect(published).toMatchObject({ version: 1, alreadyPublished: false });
    expect(existsSync(join(monthDir(store, '2026-06'), 'v1', 'manifest.json'))).toBe(true);

    // a worker that died after moving v1 into place and before latest.json: its retry catches up
    await rm(join(monthDir(store, '2026-06'), 'latest.json'));
    expect(await publishSnapshot(store, run, request)).toMatchObject({ version: 1, alreadyPublished: true });
    expect(await latestVersion(store, '2026-06')).toBe(1);
  });

  // file modes do not stop root: this case runs for other users only
  it.skipIf(process.getuid?.() === 0)(
    'an audit log without read permission stops it with SnapshotStoreError',
    async () => {
      await rm(auditLogPath(store), { recursive: true, force: true });
      await mkdir(dirname(auditLogPath(store)), { recursive: true });
      const before = await listed(monthDir(store, '2026-06'));
      await writeFile(auditLogPath(store), '');
      await chmod(auditLogPath(store), 0o000);
      try {
        await expect(publishSnapshot(store, { ...run, runId: 'r2' }, request)).rejects.toThrow(SnapshotStoreError);
      } finally {
        await chmod(auditLogPath(store), 0o600);
      }
      expect(await listed(monthDir(store, '2026-06'))).toEqual(before);
    },
  );
});
