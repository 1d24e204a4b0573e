import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import {
  backfillMonths,
  changeSchedule,
  existingSchedule,
  otherStoreNote,
  triggerSchedule,
  type ScheduleScope,
} from '../../pipelines/schedules';
import { scheduleOwner } from '../../pipelines/run-owner';
import { defaultScheduleId } from '../../domain/schedules';
import { UsageError } from '../../domain/errors';
import { readAuditLog } from '../../store/audit-log';
import { storeKey } from '../../worker/config';
import { storeIn, tempDir } from '../helpers';

/**
 * A Temporal client holding one schedule, `monthly`, whose runs go to task queue `queue`, with
 * `memo` (the store that created it, or none for one created before segflow recorded it) and
 * workers of `pollers` (identities) polling its queue; what it is asked to do goes to `calls`.
 */
function clientWith(calls: string[], queue: string, memo?: Record<string, unknown>, pollers: string[] = []): Client {
  const act = (name: string) => async () => void calls.push(name);
  const description = {
    scheduleId: 'monthly',
    action: { type: 'startWorkflow', workflowType: 'monthlySegmentation', taskQueue: queue, args: [] },
    memo,
    state: { paused: false },
    policies: { overlap: 'SKIP' },
    raw: { info: { bufferSize: 0 } },
    info: { numActionsSkippedOverlap: 0, recentActions: [], runningActions: [] },
  };
  // as the server's answer decodes: 64-bit seconds as a Long
  const now = proto.google.protobuf.Timestamp.fromObject({ seconds: Math.floor(Date.now() / 1000), nanos: 0 });
  return {
    options: { namespace: 'default' },
    workflowService: {
      describeTaskQueue: async () => ({ pollers: pollers.map((identity) => ({ identity, lastAccessTime: now })) }),
    },
    schedule: {
      getHandle: () => ({
        describe: async () => description,
        pause: act('pause'),
        unpause: act('unpause'),
        delete: act('delete'),
        trigger: act('trigger'),
        backfill: act('backfill'),
      }),
    },
  } as unknown as Client;
}

describe("a schedule of another store's task queue", () => {
  it('is refused by every command, naming its task queue and SEGFLOW_HOME, with nothing done or recorded', async () => {
    const home = await tempDir();
    const scope: ScheduleScope = { store: storeIn(home), home, temporal: { taskQueue: 'qb' } };
    const calls: string[] = [];
    const client = clientWith(calls, 'qa', { segflowStore: '/a/store', segflowHome: '/a' });
    const refusal = new UsageError(
      `schedule monthly is another store's: its runs go to task queue "qa", not this store's "qb" (SEGFLOW_TASK_QUEUE), and publish into the store of the workers polling it. It is served by SEGFLOW_TASK_QUEUE=qa with SEGFLOW_HOME=/a (store /a/store): run the command with those to act on it. Nothing was changed or recorded (this task queue's default schedule is segflow-monthly-qb)`,
    );
    const who = { actor: 'operator' };
    for (const command of [
      () => existingSchedule(client, 'monthly', scope),
      () => changeSchedule(client, scope, { scheduleId: 'monthly', change: 'pause', ...who }),
      () => changeSchedule(client, scope, { scheduleId: 'monthly', change: 'unpause', ...who }),
      () => changeSchedule(client, scope, { scheduleId: 'monthly', change: 'delete', ...who }),
      () => triggerSchedule(client, scope, 'monthly', { timeoutMs: 0, ...who }),
      () => backfillMonths(client, scope, 'monthly', '2026-01', '2026-02', who),
    ])
      await expect(command()).rejects.toThrow(refusal);
    expect(calls).toEqual([]);
    expect(await readAuditLog(scope.store)).toEqual([]);
    // on its own task queue it is this store's
    await expect(
      existingSchedule(client, 'monthly', { ...scope, temporal: { taskQueue: 'qa' } }),
    ).resolves.toBeTruthy();
  });

  it('created before segflow named its store, is said to be served by the workers polling its task queue', async () => {
    const scope: ScheduleScope = { store: storeIn(await tempDir()), temporal: { taskQueue: 'segflow' } };
    const polled = clientWith([], 'qa', undefined, ['7@h segflow-store:/a/store', '8@h']);
    await expect(existingSchedule(polled, 'monthly', scope)).rejects.toThrow(
      'It is served by SEGFLOW_TASK_QUEUE=qa with the store of the workers polling it now: /a/store: run the command with those',
    );
    const unpolled = clientWith([], 'qa');
    await expect(existingSchedule(unpolled, 'monthly', scope)).rejects.toThrow(
      'It is served by SEGFLOW_TASK_QUEUE=qa with the SEGFLOW_HOME whose workers poll it (the schedule does not name its store: it was created before segflow recorded that): run the command with those',
    );
  });

  it('of this task queue but created from another store is noted, not refused (the same store may be mounted elsewhere)', async () => {
    const home = await tempDir();
    const scope: ScheduleScope = { store: storeIn(home), temporal: { taskQueue: 'qa' } };
    expect(scheduleOwner({ action: { type: 'startWorkflow', taskQueue: 'qa' } as never, memo: undefined })).toEqual({
      taskQueue: 'qa',
      store: undefined,
      home: undefined,
    });
    const theirs = { action: { type: 'startWorkflow', taskQueue: 'qa' } as never, memo: { segflowStore: '/a/store' } };
    expect(otherStoreNote('monthly', theirs, scope)).toBe(
      `note: schedule monthly was created from the store /a/store, and this command's store is ${storeKey(scope.store)}: its runs publish into the store of the workers polling task queue "qa", and what this command changes is recorded in ${storeKey(scope.store)}'s audit log. If that is another store, not the same one mounted elsewhere, give it its own SEGFLOW_TASK_QUEUE`,
    );
    const ours = { ...theirs, memo: { segflowStore: storeKey(scope.store) } };
    expect(otherStoreNote('monthly', ours, scope)).toBeUndefined();
  });
});

describe('the default schedule id', () => {
  it('is segflow-monthly on the default task queue, as before, and names any other', () => {
    expect(defaultScheduleId('segflow')).toBe('segflow-monthly');
    expect(defaultScheduleId('qb')).toBe('segflow-monthly-qb');
  });
});
