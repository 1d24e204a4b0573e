import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { runInThread } from '../../activities/ml/thread';

const worker = new URL('./fixtures/thread-worker.ts', import.meta.url);

describe('runInThread', () => {
  it('returns what the TypeScript worker module posts', async () => {
    expect(await runInThread<number>(worker, 21, [], 'test')).toBe(42);
  });

  it('heartbeats while the thread computes, and a cancelled activity stops the thread', async () => {
    const env = new MockActivityEnvironment();
    let heartbeats = 0;
    env.on('heartbeat', () => heartbeats++);
    const running = env.run(() => runInThread(worker, 'spin', [], 'spinning'));
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    expect(heartbeats).toBeGreaterThanOrEqual(2);
    env.cancel();
    await expect(running).rejects.toThrow();
  }, 30_000);
});
