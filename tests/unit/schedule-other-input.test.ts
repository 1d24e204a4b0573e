import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { otherInputLatestNote, otherSchedulesNote } from '../../cli/commands/schedule';
import { latestsFromOtherInputs, schedulesOnOtherInputs } from '../../pipelines/schedules';
import { monthDir, versionDir, type StoreConfig } from '../../store/layout';
import { storeIn, tempDir } from '../helpers';

/** Makes `version` the latest of `month`, built from `input`. */
async function latest(store: StoreConfig, month: string, version: number, input: string): Promise<void> {
  await mkdir(versionDir(store, month, version), { recursive: true });
  await writeFile(
    join(versionDir(store, month, version), 'manifest.json'),
    JSON.stringify({ params: { month, input } }),
  );
  await writeFile(join(monthDir(store, month), 'latest.json'), JSON.stringify({ month, version }));
}

const OURS = '/data/monthly/usage';

describe('a scheduled month whose latest came from another input', () => {
  it('is noted before a backfill: the month before the first (matched to) and each month run (replaced)', async () => {
    const store = storeIn(await tempDir());
    // the operator's: a schedule 'big' on another input backfilled 2026-10
    await latest(store, '2026-10', 2, '/data/other/usage');
    await latest(store, '2026-11', 1, `${OURS}/`);
    await latest(store, '2026-12', 3, '/data/other/usage');
    // a manifest this machine cannot read is passed over, as run passes it over
    await latest(store, '2027-01', 1, OURS);
    await writeFile(join(versionDir(store, '2027-01', 1), 'manifest.json'), '{"params": {');
    const months = ['2026-11', '2026-12', '2027-01', '2027-02'];
    const found = await latestsFromOtherInputs(store, OURS, ['2026-10', ...months]);
    expect(found).toEqual([
      { month: '2026-10', version: 2, input: '/data/other/usage' },
      { month: '2026-12', version: 3, input: '/data/other/usage' },
    ]);
    expect(otherInputLatestNote('segflow-monthly', OURS, months, found)?.split('\n')).toEqual([
      "note: 2026-10's latest, v2, was built from another input (/data/other/usage); schedule segflow-monthly's run of 2026-11 reads /data/monthly/usage and matches its segment ids (migration, campaign follow-up) to it, as every run does to the month before's latest",
      "note: 2026-12's latest, v3, was built from another input (/data/other/usage); schedule segflow-monthly's run reads /data/monthly/usage and, published, becomes 2026-12's latest in its place, which next month's run, campaigns and '2026-12' in every command then mean",
      "(a schedule on another input belongs in another SEGFLOW_HOME, with its own SEGFLOW_TASK_QUEUE (docs/cli.md, 'Schedules'))",
    ]);
    expect(otherInputLatestNote('segflow-monthly', OURS, months, [])).toBeUndefined();
  });
});

describe('a schedule created beside another on another input', () => {
  it('is noted: the schedules on its task queue that read another input', async () => {
    const action = (taskQueue: string, input: string, workflowType = 'monthlySegmentation') => ({
      type: 'startWorkflow',
      workflowType,
      taskQueue,
      args: [{ params: { input } }],
    });
    const schedules: Record<string, unknown> = {
      big: action('segflow', '/data/other/usage'),
      'same-input': action('segflow', `${OURS}/`),
      'other-queue': action('elsewhere', '/data/third/usage'),
      'not-ours': action('segflow', '/data/x', 'somethingElse'),
    };
    const client = {
      schedule: {
        list: async function* () {
          for (const scheduleId of ['segflow-monthly', ...Object.keys(schedules), 'gone']) yield { scheduleId };
        },
        getHandle: (id: string) => ({
          describe: async () => {
            if (!(id in schedules) && id !== 'segflow-monthly') throw new Error('not found');
            return { scheduleId: id, action: schedules[id] ?? action('segflow', OURS) };
          },
        }),
      },
    } as unknown as Client;
    const others = await schedulesOnOtherInputs(client, 'segflow', 'segflow-monthly', OURS);
    expect(others).toEqual([{ scheduleId: 'big', input: '/data/other/usage' }]);
    expect(otherSchedulesNote('segflow-monthly', OURS, others, 'segflow')).toBe(
      "note: schedule big (/data/other/usage) on task queue \"segflow\" reads another input than segflow-monthly (/data/monthly/usage) and publishes into the same store: each month's latest is whichever run published it last, and the next month's run of either matches its segment ids (migration, campaign follow-up) to it. Schedules cannot publish experiments: a schedule on another input belongs in another SEGFLOW_HOME, with its own SEGFLOW_TASK_QUEUE (docs/cli.md, 'Schedules')",
    );
    expect(otherSchedulesNote('segflow-monthly', OURS, [], 'segflow')).toBeUndefined();
  });
});
