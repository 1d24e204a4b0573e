import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  backfillMonths,
  changeSchedule,
  createMonthlySchedule,
  ScheduleChangeUnrecordedError,
  triggerSchedule,
} from '../../pipelines/schedules';
import { SCHEDULE_DEFAULTS } from '../../domain/schedules';
import { SnapshotStoreError } from '../../domain/errors';
import { readAuditLog } from '../../store/audit-log';
import { auditLogPath, type StoreConfig } from '../../store/layout';
import type { SegflowConfig } from '../../worker/config';
import { storeIn, tempDir } from '../helpers';

/**
 * A Temporal client whose schedule `monthly` records what it was asked to do (`calls`); `onAction`
 * runs inside every action, after it is recorded (the audit log failing in between).
 */
function recordingClient(calls: string[], onAction: () => void = () => {}): Client {
  const act =
    (name: string) =>
    async (..._args: unknown[]) => {
      calls.push(name);
      onAction();
    };
  const description = {
    scheduleId: 'monthly',
    state: { paused: false },
    policies: { overlap: 'SKIP' },
    raw: { info: { bufferSize: 0 } },
    info: { numActionsSkippedOverlap: 0, recentActions: [], runningActions: [] },
  };
  const handle = {
    describe: async () => description,
    pause: act('pause'),
    unpause: act('unpause'),
    delete: act('delete'),
    trigger: act('trigger'),
    backfill: act('backfill'),
  };
  return {
    options: { namespace: 'default' },
    connection: {
      operatorService: {
        listSearchAttributes: async () => ({ customAttributes: {} }),
      },
    },
    schedule: { create: act('create'), getHandle: () => handle },
  } as unknown as Client;
}

/** Every schedule command's change, through `client`, on `store`. */
function changes(client: Client, store: StoreConfig): [string, () => Promise<unknown>][] {
  const config = { store, temporal: { address: '127.0.0.1:1', namespace: 'default', taskQueue: 'q' } } as SegflowConfig;
  const who = { actor: 'operator' };
  return [
    [
      'created',
      () =>
        createMonthlySchedule(client, config, {
          ...SCHEDULE_DEFAULTS,
          scheduleId: 'monthly',
          input: '/data/usage',
          params: {},
          minute: 0,
          ...who,
        }),
    ],
    ['paused', () => changeSchedule(client, config, { scheduleId: 'monthly', change: 'pause', note: 'x', ...who })],
    ['unpaused', () => changeSchedule(client, config, { scheduleId: 'monthly', change: 'unpause', ...who })],
    ['deleted', () => changeSchedule(client, config, { scheduleId: 'monthly', change: 'delete', ...who })],
    ['triggered', () => triggerSchedule(client, config, 'monthly', { timeoutMs: 0, ...who })],
    ['backfill', () => backfillMonths(client, config, 'monthly', '2026-01', '2026-02', who)],
  ];
}

const mounted: string[] = [];
/** Makes `folder` a read-only file system: root, as the tests run, ignores permissions. */
function readOnly(folder: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', folder]);
  mounted.push(folder);
}
afterEach(() => {
  for (const folder of mounted.splice(0)) execFileSync('umount', [folder]);
});

describe('a schedule command whose audit log this user may not write', () => {
  it('changes nothing in Temporal, and says so without blaming a worker', async () => {
    const store = storeIn(await tempDir());
    const folder = dirname(auditLogPath(store));
    await mkdir(folder, { recursive: true });
    readOnly(folder);
    const calls: string[] = [];
    for (const [done, change] of changes(recordingClient(calls), store)) {
      const failure = await change().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure, done).toBeInstanceOf(SnapshotStoreError);
      expect((failure as Error).message, done).toMatch(
        /^cannot write the audit log .*audit\.jsonl \(read-only or not permitted\): .*read-only file system.*; nothing was changed in Temporal .*Give \S+, who runs this command, write access to /i,
      );
      expect((failure as Error).message, done).not.toMatch(/worker|Nothing is run/);
      // a pause, what a full or read-only store most needs, says how to make it unrecorded
      if (done === 'paused')
        expect((failure as Error).message).toContain(
          '. To pause it anyway, unrecorded by segflow: temporal schedule toggle --schedule-id monthly --pause --reason "x"',
        );
    }
    // not one of them reached Temporal
    expect(calls).toEqual([]);
  });

  it('that acted before the log failed says the change was made in Temporal and is not recorded', async () => {
    const store = storeIn(await tempDir());
    const folder = dirname(auditLogPath(store));
    await mkdir(folder, { recursive: true });
    const calls: string[] = [];
    // the log fails between the check and the entry: the change stands, said as made
    for (const [done, change] of changes(
      recordingClient(calls, () => readOnly(folder)),
      store,
    )) {
      const failure = await change().then(
        () => undefined,
        (error: unknown) => error,
      );
      execFileSync('umount', [mounted.pop()!]);
      expect(failure, done).toBeInstanceOf(ScheduleChangeUnrecordedError);
      const message = (failure as Error).message;
      expect(message).toMatch(
        done === 'backfill'
          ? /^schedule monthly's backfill of 2026-01, 2026-02 was requested in Temporal, and its runs go on to publish \('segflow schedule describe --id monthly' shows them\), but the audit log does not record it: /
          : new RegExp(`^schedule monthly was ${done} in Temporal, but the audit log does not record it: `),
      );
      expect(message).toMatch(
        /: cannot write the audit log .*audit\.jsonl \(read-only or not permitted\): .*read-only file system.*\. Its schedule\.\w+ entry \(by operator, OS user \S+ on \S+, at \S+Z\) is not written, so neither the log nor 'segflow audit verify' shows who did it\. Give \S+, who runs this command, write access to /i,
      );
      expect(message).not.toMatch(/worker|Nothing is run/);
    }
    expect(calls).toEqual(['create', 'pause', 'unpause', 'delete', 'trigger', 'backfill']);
    expect(await readAuditLog(store)).toEqual([]);
  });

  it('with a log that may be written, records each change as before', async () => {
    const store = storeIn(await tempDir());
    const calls: string[] = [];
    for (const [, change] of changes(recordingClient(calls), store)) await change();
    expect(calls).toEqual(['create', 'pause', 'unpause', 'delete', 'trigger', 'backfill']);
    expect((await readAuditLog(store)).map((e) => [e.event, e.actor, e.details?.osUser])).toEqual(
      ['created', 'paused', 'unpaused', 'deleted', 'triggered', 'backfilled'].map((event) => [
        `schedule.${event}`,
        'operator',
        expect.any(String),
      ]),
    );
  });

  it('a log with a damaged line is refused before Temporal is asked', async () => {
    const store = storeIn(await tempDir());
    const calls: string[] = [];
    const client = recordingClient(calls);
    await changeSchedule(
      client,
      { store, temporal: { taskQueue: 'q' } },
      { scheduleId: 'monthly', change: 'pause', ...{ actor: 'operator' } },
    );
    const { appendFile } = await import('node:fs/promises');
    await appendFile(auditLogPath(store), '{"seq": 2, "cut off');
    await expect(
      changeSchedule(
        client,
        { store, temporal: { taskQueue: 'q' } },
        { scheduleId: 'monthly', change: 'unpause', actor: 'operator' },
      ),
    ).rejects.toThrow(
      /^cannot append to the audit log .*: the audit log ends in an unfinished line after entry 1: a write cut off, or an edit \('segflow audit verify' names it\); nothing was changed in Temporal/,
    );
    expect(calls).toEqual(['pause']);
  });
});
