import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { taskQueueHasPollers } from '../../pipelines/client';

/** A client whose server lists pollers last seen `agesMs` ago. */
function listing(now: number, agesMs: number[]): Client {
  const pollers = agesMs.map((age) => ({
    identity: `worker-${age}`,
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
