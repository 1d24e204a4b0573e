import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pollersOfOtherStores, taskQueueHasPollers } from '../../pipelines/client';
import { storeOfWorker, workerIdentity } from '../../worker/config';
import { storeIn, tempDir } from '../helpers';

/** A client whose server lists pollers last seen `agesMs` ago, named `identities` (default worker-<age>). */
function listing(now: number, agesMs: number[], identities?: string[]): Client {
  const pollers = agesMs.map((age, i) => ({
    identity: identities?.[i] ?? `worker-${age}`,
    // as the server's answer decodes: 64-bit seconds as a Long
    lastAccessTime: proto.google.protobuf.Timestamp.fromObject({
      seconds: Math.floor((now - age) / 1000),
      nanos: ((now - age) % 1000) * 1e6,
    }),
  }));
  return {
    options: { namespace: 'default' },
    workflowService: { describeTaskQueue: () => Promise.resolve({ pollers }) },
  } as unknown as Client;
}

describe('whether a worker polls the task queue', () => {
  it('counts a poller seen within the last minute, not those of workers that stopped minutes ago', async () => {
    const now = Date.parse('2026-12-05T12:00:00Z');
    expect(await taskQueueHasPollers(listing(now, [10_000]), 'segflow', now)).toBe(true);
    expect(await taskQueueHasPollers(listing(now, [120_000, 240_000]), 'segflow', now)).toBe(false);
    expect(await taskQueueHasPollers(listing(now, [240_000, 30_000]), 'segflow', now)).toBe(true);
    expect(await taskQueueHasPollers(listing(now, []), 'segflow', now)).toBe(false);
  });
});

describe('which store the workers on a task queue serve', () => {
  it("names the store in a worker's identity, by its real path", async () => {
    const dir = await tempDir();
    const store = storeIn(dir);
    mkdirSync(store.storeDir, { recursive: true });
    const identity = workerIdentity(store);
    expect(identity).toMatch(new RegExp(`^${process.pid}@\\S+ `));
    expect(storeOfWorker(identity)).toBe(store.storeDir);
    // a symlinked home names the same store
    const link = join(await tempDir(), 'home-link');
    symlinkSync(dir, link);
    expect(workerIdentity(storeIn(link))).toBe(identity);
    // a store not created yet is named alike through the link, by its nearest folder that exists
    expect(storeOfWorker(workerIdentity(storeIn(join(link, 'new-home'))))).toBe(join(dir, 'new-home', 'store'));
    expect(storeOfWorker('4242@elsewhere')).toBeUndefined();
  });

  it("finds recent workers of another store, leaves this store's alone, and lists those that name none", async () => {
    const now = Date.parse('2026-12-05T12:00:00Z');
    const ours = storeIn(await tempDir());
    const theirs = storeIn(await tempDir());
    const listed = listing(
      now,
      [5_000, 5_000, 5_000, 240_000],
      [workerIdentity(ours), workerIdentity(theirs), '99@old-segflow', workerIdentity(storeIn('/gone'))],
    );
    expect(await pollersOfOtherStores(listed, 'segflow', ours, now)).toEqual({
      others: [{ identity: workerIdentity(theirs), store: theirs.storeDir }],
      unnamed: ['99@old-segflow'],
    });
    const ownOnly = listing(now, [5_000], [workerIdentity(ours)]);
    expect(await pollersOfOtherStores(ownOnly, 'segflow', ours, now)).toEqual({ others: [], unnamed: [] });
  });
});
