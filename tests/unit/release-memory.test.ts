import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ActivityExecuteInput } from '@temporalio/worker';
import { releaseMemoryAfterActivities } from '../../worker/release-memory';

const host = globalThis as { gc?: () => void };
const exposed = host.gc;
afterEach(() => {
  host.gc = exposed;
});

/** Runs `activity` through the interceptor that collects above `aboveBytes` of array buffers. */
function execute(activity: () => Promise<unknown>, aboveBytes = -1) {
  const { inbound } = releaseMemoryAfterActivities(aboveBytes)(undefined as never);
  return inbound?.execute?.({ args: [], headers: {} } as unknown as ActivityExecuteInput, activity);
}

describe('releaseMemoryAfterActivities', () => {
  it('collects garbage once the activity has returned, and passes its result on', async () => {
    const calls: string[] = [];
    host.gc = vi.fn(() => calls.push('gc'));
    const result = await execute(async () => {
      calls.push('activity');
      return 'done';
    });
    expect(result).toBe('done');
    expect(calls).toEqual(['activity', 'gc']);
  });

  it('collects garbage after a failed activity too, and rethrows its error', async () => {
    host.gc = vi.fn();
    await expect(execute(() => Promise.reject(new Error('stage failed')))).rejects.toThrow('stage failed');
    expect(host.gc).toHaveBeenCalledTimes(1);
  });

  it('leaves it to V8 while the process holds fewer array buffers than the threshold', async () => {
    host.gc = vi.fn();
    await execute(async () => 'small', Number.MAX_SAFE_INTEGER);
    expect(host.gc).not.toHaveBeenCalled();
  });

  it('does nothing more when node runs without --expose-gc', async () => {
    host.gc = undefined;
    await expect(execute(async () => 42)).resolves.toBe(42);
  });
});
