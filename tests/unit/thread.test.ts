import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { WorkerThread, whileHeartbeating } from '../../activities/ml/thread';
import { moduleImports, reachableModules } from '../import-graph';

const worker = new URL('./fixtures/thread-worker.ts', import.meta.url);

describe('WorkerThread', () => {
  it('answers each request with what the TypeScript worker module returns, in order', async () => {
    const thread = new WorkerThread(worker, 'test');
    try {
      expect(await Promise.all([thread.request<number>(21), thread.request<number>(4)])).toEqual([42, 8]);
    } finally {
      await thread.terminate();
    }
  });

  it('heartbeats while the thread computes, and a cancelled activity stops waiting (the caller terminates the thread)', async () => {
    const env = new MockActivityEnvironment();
    let heartbeats = 0;
    env.on('heartbeat', () => heartbeats++);
    const thread = new WorkerThread(worker, 'spinning');
    const spinning = thread.request('spin');
    const running = env.run(async () => {
      try {
        return await whileHeartbeating(spinning, 'spinning');
      } finally {
        await thread.terminate();
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    expect(heartbeats).toBeGreaterThanOrEqual(2);
    env.cancel();
    await expect(running).rejects.toThrow();
    await expect(spinning).rejects.toThrow(/exited/);
  }, 30_000);

  it("loads neither DuckDB nor Temporal in the churn stage's threads: a thread's start loads every module its worker imports", async () => {
    const modules = await reachableModules(['activities/ml/ensemble-worker.ts', 'activities/ml/training-worker.ts']);
    const packages = new Set<string>();
    for (const file of modules) for (const name of (await moduleImports(file)).packages) packages.add(name);
    expect([...packages].filter((name) => name.startsWith('@duckdb/') || name.startsWith('@temporalio/'))).toEqual([]);
    expect([...packages].every((name) => name.startsWith('node:'))).toBe(true);
  });
});
