import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pollersOfOtherStores, taskQueueHasPollers } from '../../pipelines/client';
import { loadConfig, storeOfWorker, workerIdentity } from '../../worker/config';
import { otherStoresNote } from '../../cli/commands/run';
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
      ours: [workerIdentity(ours)],
    });
    const ownOnly = listing(now, [5_000], [workerIdentity(ours)]);
    expect(await pollersOfOtherStores(ownOnly, 'segflow', ours, now)).toEqual({
      others: [],
      unnamed: [],
      ours: [workerIdentity(ours)],
    });
  });
});

describe('what plain run says of workers of another store', () => {
  const config = loadConfig({ SEGFLOW_HOME: '/home/ana/.segflow', TEMPORAL_ADDRESS: '10.0.0.5:7233' });
  const theirs = { identity: '4242@ops-1 segflow-store:/srv/segflow/store', store: '/srv/segflow/store' };

  it('says nothing when only workers of this store poll', () => {
    expect(otherStoresNote({ others: [], ours: ['1@here'] }, config)).toBeUndefined();
  });

  it('says where the run will be published when only another store polls, without refusing', () => {
    expect(otherStoresNote({ others: [theirs], ours: [] }, config)).toBe(
      'note: task queue "segflow" at 10.0.0.5:7233 is polled by workers of another store (/srv/segflow/store; workers 4242@ops-1), ' +
        'and by none of this one (/home/ana/.segflow/store): the run will be published into that store, not this one, ' +
        "unless it is this store mounted at another path. To publish here, start 'segflow worker' with this SEGFLOW_HOME, " +
        'or give each store its own SEGFLOW_TASK_QUEUE or TEMPORAL_ADDRESS (docs/configuration.md)',
    );
  });

  it('warns that the stages may be split when workers of both poll', () => {
    const note = otherStoresNote({ others: [theirs], ours: ['1@here segflow-store:/home/ana/.segflow/store'] }, config);
    expect(note).toMatch(/^warning: task queue "segflow" at 10\.0\.0\.5:7233 is polled by workers of another store/);
    expect(note).toContain('as well as of this one (/home/ana/.segflow/store)');
    expect(note).toContain('may be published into the other store or fail between the two');
  });
});
