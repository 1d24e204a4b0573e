import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainAndScoreChurn } from '../../activities/churn';
import { clusterSubscribers } from '../../activities/cluster';
import { withConnection } from '../../activities/duckdb';
import { computeFeatures } from '../../activities/features';
import { loadUsage } from '../../activities/load';
import { publishSnapshot, type PublishRequest } from '../../activities/publish';
import { findPreviousSegmentation, readLatestVersion } from '../../activities/segment-history';
import { simulateCampaign } from '../../data/campaign';
import { NON_RETRYABLE_ERROR_TYPES, SnapshotIntegrityError, StoreReadError } from '../../domain/errors';
import type { RunParamsInput } from '../../domain/params';
import { hashFile } from '../../store/hashing';
import { monthDir, versionDir, type StoreConfig } from '../../store/layout';
import { listVersions, readManifest } from '../../store/snapshots';
import { smallSample, storeIn, tempDir } from '../helpers';

/**
 * What a run reads of the month before must be the snapshot as published: a latest.json naming a
 * version whose folder is gone (a shared-storage glitch, a folder moved aside) is not "no previous
 * month" (walkthrough B, 03: new segment ids, no migration, no warning), and a dispatch list changed
 * since it was published is not measured (walkthrough B, 02: control flags inverted, measured).
 */
describe('the month before, as published', () => {
  let store: StoreConfig;
  let contacts: string;
  const controlShare = 0.25;
  /** June's stages, computed once; each test publishes them (or tries to) with its own run id. */
  let june: PublishRequest;
  let juneParams: Partial<RunParamsInput>;

  const mayDir = () => versionDir(store, '2026-05', 1);

  /** Moves `path` aside while `work` runs, then back. */
  async function without<T>(path: string, work: () => Promise<T>): Promise<T> {
    await rename(path, `${path}.aside`);
    try {
      return await work();
    } finally {
      await rename(`${path}.aside`, path);
    }
  }

  /** Puts a folder where the file `path` is while `work` runs (a read that fails with EISDIR: an I/O error, not ENOENT). */
  async function unreadable<T>(path: string, work: () => Promise<T>): Promise<T> {
    return without(path, async () => {
      await mkdir(path);
      try {
        return await work();
      } finally {
        await rm(path, { recursive: true });
      }
    });
  }

  const publishJune = (runId: string) => publishSnapshot(store, { workflowId: 'previous-2026-06', runId }, june);

  beforeAll(async () => {
    const dir = await tempDir();
    const sample = await smallSample(dir, 4_000, 8);
    const input = join(sample.outDir, 'usage');
    store = storeIn(dir);
    const mayRun = { workflowId: 'previous-2026-05', runId: 'r1' };
    const mayLoad = await loadUsage(store, mayRun, { month: '2026-05', input, controlShare });
    const mayFeatures = await computeFeatures(mayLoad.dbPath, mayLoad.params);
    const mayCluster = await clusterSubscribers(mayLoad.dbPath, mayLoad.params, null);
    const mayChurn = await trainAndScoreChurn(mayLoad.dbPath, mayLoad.params);
    const may = await publishSnapshot(store, mayRun, {
      requestedBy: 'test',
      load: mayLoad,
      features: mayFeatures,
      cluster: mayCluster,
      churn: mayChurn,
    });
    const truth = await simulateCampaign({
      sampleDir: sample.outDir,
      dispatchFile: join(may.path, 'dispatch.parquet'),
      month: '2026-06',
      seed: 11,
    });
    contacts = truth.contactsFile;
    juneParams = { month: '2026-06', input, controlShare, contacts };
    const load = await loadUsage(store, { workflowId: 'previous-2026-06', runId: 'stages' }, juneParams);
    const features = await computeFeatures(load.dbPath, load.params);
    const cluster = await clusterSubscribers(
      load.dbPath,
      load.params,
      await findPreviousSegmentation(store, '2026-06'),
    );
    const churn = await trainAndScoreChurn(load.dbPath, load.params);
    june = { requestedBy: 'test', load, features, cluster, churn };
  }, 600_000);

  it("matches June's ids to May's latest while it is there", () => {
    expect(june.cluster.previous).toEqual({ month: '2026-05', version: 1 });
  });

  it('stops the run, not retried, when the version latest.json names is gone, naming the file and what to do', async () => {
    const error = await without(mayDir(), () => findPreviousSegmentation(store, '2026-06')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SnapshotIntegrityError);
    const message = (error as Error).message;
    expect(message).toContain('2026-05/v1 is recorded as published');
    expect(message).toContain(join(mayDir(), 'manifest.json'));
    expect(message).toContain('is gone (ENOENT)');
    expect(message).toContain('segflow audit verify');
    expect(message).toContain('restore its folder');
    expect(NON_RETRYABLE_ERROR_TYPES).toContain((error as Error).name);
    // manifest.json alone gone: the same
    await expect(
      without(join(mayDir(), 'manifest.json'), () => findPreviousSegmentation(store, '2026-06')),
    ).rejects.toThrow(SnapshotIntegrityError);
  });

  it('retries a manifest or latest.json that is there but cannot be read (an I/O error, not ENOENT)', async () => {
    await chmod(mayDir(), 0o755); // published folders are read-only: the test swaps a file in it
    try {
      const error = await unreadable(join(mayDir(), 'manifest.json'), () =>
        findPreviousSegmentation(store, '2026-06'),
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreReadError);
      expect((error as Error).message).toContain(
        `cannot read 2026-05/v1's manifest ${join(mayDir(), 'manifest.json')}`,
      );
      expect((error as Error).message).toContain('EISDIR');
      expect(NON_RETRYABLE_ERROR_TYPES).not.toContain((error as Error).name);
    } finally {
      await chmod(mayDir(), 0o555);
    }
    const latest = join(monthDir(store, '2026-05'), 'latest.json');
    await expect(unreadable(latest, () => findPreviousSegmentation(store, '2026-06'))).rejects.toThrow(StoreReadError);
    // publishing reads the month before's latest itself when the ids were matched to none
    await expect(
      unreadable(latest, () =>
        publishSnapshot(
          store,
          { workflowId: 'previous-2026-06', runId: 'latest-unreadable' },
          {
            ...june,
            cluster: { ...june.cluster, previous: null },
          },
        ),
      ),
    ).rejects.toThrow(StoreReadError);
    expect(await listVersions(store, '2026-06')).toEqual([]);
  });

  it('stops on a damaged manifest or latest.json, and on a folder holding another snapshot', async () => {
    const latest = join(monthDir(store, '2026-05'), 'latest.json');
    const kept = await readFile(latest, 'utf8');
    try {
      await writeFile(latest, '{"month": "2026-05", "vers');
      await expect(findPreviousSegmentation(store, '2026-06')).rejects.toThrow(SnapshotIntegrityError);
      // latest.json naming a version never published: its folder is gone as much as a removed one
      await writeFile(latest, JSON.stringify({ month: '2026-05', version: 7, path: 'v7' }));
      await expect(findPreviousSegmentation(store, '2026-06')).rejects.toThrow(/2026-05\/v7 is recorded as published/);
    } finally {
      await writeFile(latest, kept);
    }
    const manifestFile = join(mayDir(), 'manifest.json');
    const manifest = await readFile(manifestFile, 'utf8');
    await chmod(manifestFile, 0o644);
    try {
      await writeFile(manifestFile, manifest.slice(0, 100));
      await expect(findPreviousSegmentation(store, '2026-06')).rejects.toThrow(
        /2026-05\/v1's manifest .* is not valid JSON/,
      );
      const moved = JSON.parse(manifest) as { snapshot: { version: number } };
      moved.snapshot.version = 2;
      await writeFile(manifestFile, JSON.stringify(moved));
      await expect(findPreviousSegmentation(store, '2026-06')).rejects.toThrow(
        /2026-05\/v1's folder holds the manifest of 2026-05\/v2/,
      );
    } finally {
      await writeFile(manifestFile, manifest);
      await chmod(manifestFile, 0o444);
    }
  });

  it('reads a month with no latest.json as no previous month, and a reproduction’s pinned version gone as none', async () => {
    expect(await readLatestVersion(store, '2026-04')).toBeUndefined();
    expect(await findPreviousSegmentation(store, '2026-05')).toBeNull();
    const pinned = await without(mayDir(), () =>
      findPreviousSegmentation(store, '2026-06', { month: '2026-05', version: 1 }),
    );
    expect(pinned).toBeNull();
    // a latest.json gone beside a published version is no "no previous month"
    const latest = join(monthDir(store, '2026-05'), 'latest.json');
    await without(latest, async () => {
      await expect(findPreviousSegmentation(store, '2026-06')).rejects.toThrow(
        expect.objectContaining({
          name: 'SnapshotIntegrityError',
          message: expect.stringMatching(
            /^2026-05's latest\.json .* is missing although v1 is published: .*segflow audit verify/,
          ),
        }),
      );
    });
  });

  it('refuses to measure a dispatch list changed since it was published: nothing published, the list left as it is', async () => {
    const list = join(mayDir(), 'dispatch.parquet');
    const published = (await readManifest(store, '2026-05', 1)).outputs.find((o) => o.file === 'dispatch.parquet');
    const original = join(store.workDir, 'dispatch.original.parquet');
    const inverted = join(store.workDir, 'dispatch.inverted.parquet');
    await mkdir(store.workDir, { recursive: true });
    await copyFile(list, original);
    await withConnection(':memory:', (conn) =>
      conn.run(
        `COPY (SELECT * REPLACE (NOT control AS control) FROM read_parquet($list)) TO '${inverted}' (FORMAT parquet)`,
        {
          list,
        },
      ),
    );
    await chmod(list, 0o644);
    await copyFile(inverted, list);
    const tampered = (await hashFile(list)).sha256;
    let error: unknown;
    try {
      error = await publishJune('tampered').catch((e: unknown) => e);
    } finally {
      await copyFile(original, list);
      await chmod(list, 0o444);
    }
    expect(error).toBeInstanceOf(SnapshotIntegrityError);
    const message = (error as Error).message;
    expect(message).toContain(`the dispatch list of 2026-05/v1, ${list}, has changed since it was published`);
    expect(message).toContain(`sha256 ${published?.sha256.slice(0, 12)} then, ${tampered.slice(0, 12)} now`);
    expect(message).toContain('segflow audit verify');
    expect(NON_RETRYABLE_ERROR_TYPES).toContain((error as Error).name);
    // nothing of June published, not even half: no version, no staging folder, no latest.json
    expect(await listVersions(store, '2026-06')).toEqual([]);
    expect((await readdir(monthDir(store, '2026-06'))).filter((f) => f !== '.lock')).toEqual([]);
    // May as published, and once the file is back June measures it
    expect((await hashFile(list)).sha256).toBe(published?.sha256);
    const measured = await publishJune('restored');
    const manifest = await readManifest(store, '2026-06', measured.version);
    const campaigns = manifest.metrics.campaigns;
    expect(campaigns?.measured && campaigns.dispatchFrom.sha256).toBe(published?.sha256);
  });
});
