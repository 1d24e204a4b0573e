import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAuditLog } from '../../store/audit-log';
import { monthDir, versionDir } from '../../store/layout';
import { addMonths } from '../../domain/month';
import {
  backfillMonths,
  createMonthlySchedule,
  temporalScheduledRuns,
  waitForScheduledMonths,
} from '../../pipelines/schedules';
import { SCHEDULE_DEFAULTS } from '../../domain/schedules';
import { previousMonth } from '../../cli/options';
import { REPO_ROOT, type SegflowConfig } from '../../worker/config';
import { storeIn, tempDir } from '../helpers';
import { startTemporal } from './temporal-env';

/**
 * `segflow schedule` as a user runs it, against a real dev server with no worker (the runs it
 * starts stay running): a pause or unpause that would change nothing says so and records nothing,
 * a trigger Temporal skips under the overlap policy (or drops, under 'buffer' with one buffered)
 * exits 4, and a backfill of months the input has no files
 * for is refused before Temporal starts a run.
 */
describe('segflow schedule pause, trigger and backfill through a real dev server', () => {
  let env: TestWorkflowEnvironment;
  let config: SegflowConfig;
  let home: string;
  const scheduleId = 'cli-monthly';
  const month = previousMonth();
  const held = [addMonths(month, -3), addMonths(month, -1), month];

  /** The command as a process on schedule `id`: its exit code, stdout and stderr. */
  const segflowOn = (id: string, ...args: string[]) => segflowIn(home, id, ...args);
  /** The same with another SEGFLOW_HOME (its own store and audit log). */
  const segflowIn = (segflowHome: string, id: string, ...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolveRun) => {
      execFile(
        join(REPO_ROOT, 'bin', 'segflow'),
        [...args, '--id', id],
        {
          env: {
            ...process.env,
            SEGFLOW_HOME: segflowHome,
            TEMPORAL_ADDRESS: env.address,
            SEGFLOW_TASK_QUEUE: config.temporal.taskQueue,
          },
        },
        (error, stdout, stderr) => resolveRun({ code: error ? Number(error.code) : 0, stdout, stderr }),
      );
    });
  const segflow = (...args: string[]) => segflowOn(scheduleId, ...args);
  const scheduleEvents = async () =>
    (await readAuditLog(config.store))
      .filter((e) => e.run.workflowId === scheduleId && e.event.startsWith('schedule.'))
      .map((e) => e.event);

  beforeAll(async () => {
    home = await tempDir();
    env = await startTemporal();
    config = {
      home,
      store: storeIn(home),
      temporal: { address: env.address, namespace: 'default', taskQueue: 'e2e-cli-no-worker' },
    };
    // month folders as a schedule's input holds them; a listing needs no rows
    const input = join(home, 'usage');
    for (const m of held) {
      await mkdir(join(input, `month=${m}`), { recursive: true });
      await writeFile(join(input, `month=${m}`, 'part_0.parquet'), '');
    }
    await createMonthlySchedule(env.client, config, {
      ...SCHEDULE_DEFAULTS,
      scheduleId,
      input,
      params: {},
      minute: 0,
      actor: 'operator',
    });
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('a second pause keeps the first pause and its note, and records nothing; so does an unpause of an active one', async () => {
    expect(await segflow('schedule', 'pause', '--note', 'input late')).toMatchObject({ code: 0 });
    const again = await segflow('schedule', 'pause', '--note', 'something else');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(
      new RegExp(
        `^schedule ${scheduleId} is already paused, since \\S+Z by \\S+ \\(note: input late\\)\\. Nothing changed and its note is kept`,
      ),
    );
    const handle = env.client.schedule.getHandle(scheduleId);
    expect((await handle.describe()).state).toMatchObject({ paused: true, note: 'input late' });
    expect(await segflow('schedule', 'unpause', '--note', 'data landed')).toMatchObject({ code: 0 });
    const active = await segflow('schedule', 'unpause');
    expect(active).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/is not paused, unpaused since .* \(note: data landed\)\. Nothing changed/),
    });
    expect((await handle.describe()).state).toMatchObject({ paused: false, note: 'data landed' });
    // one entry per change that happened, none for those that did nothing
    expect(await scheduleEvents()).toEqual(['schedule.created', 'schedule.paused', 'schedule.unpaused']);
  });

  it('a pause made outside segflow is said to be so, not a failed run, and an unreadable audit log is said to be unreadable', async () => {
    const handle = env.client.schedule.getHandle(scheduleId);
    // as Temporal's UI or CLI pauses it: no audit entry; the schedule does not pause on failure
    await handle.pause('paused in the UI');
    const outside = await segflow('schedule', 'pause');
    expect(outside.code).toBe(0);
    expect(outside.stdout).toContain(
      `schedule ${scheduleId} is already paused (note: paused in the UI); the audit log has no pause of it since it was last unpaused (`,
    );
    expect(outside.stdout).toContain(
      "it was paused outside segflow (in Temporal's UI or CLI, say: the schedule does not pause on failure). Nothing changed",
    );
    expect(outside.stdout).not.toContain('when a run fails');
    // a store whose audit log cannot be read (a folder where the file should be)
    const elsewhere = await tempDir();
    await mkdir(join(storeIn(elsewhere).storeDir, 'audit', 'audit.jsonl'), { recursive: true });
    const unread = await segflowIn(elsewhere, scheduleId, 'schedule', 'pause');
    expect(unread.code).toBe(0);
    expect(unread.stdout).toMatch(
      new RegExp(
        `^schedule ${scheduleId} is already paused \\(note: paused in the UI\\); the audit log could not be read \\(EISDIR[^)]*\\), so since when and by whom is not known\\. Nothing changed`,
      ),
    );
    // describe says so too, instead of showing the runs as if the log had none of them
    const described = await segflowIn(elsewhere, scheduleId, 'schedule', 'describe');
    expect(described.code).toBe(0);
    // and notes that the schedule was created from another store on this task queue
    expect(described.stderr).toMatch(
      /^note: schedule cli-monthly was created from the store \S+ \(SEGFLOW_HOME=\S+\), and this command's store is \S+: [^\n]+\nwarning: the audit log could not be read \(EISDIR[^)]*\): the recent runs' outcomes are Temporal's/,
    );
    await handle.unpause('resumed in the UI');
    expect(await scheduleEvents()).toEqual(['schedule.created', 'schedule.paused', 'schedule.unpaused']);
  });

  it('a trigger skipped under the overlap policy exits 4 and says so', async () => {
    const first = await segflow('schedule', 'trigger');
    expect(first).toMatchObject({ code: 0, stdout: expect.stringContaining(`processes ${month}`) });
    const handle = env.client.schedule.getHandle(scheduleId);
    // no worker: the run stays running; the schedule lists it a moment after it starts
    for (let tries = 0; (await handle.describe()).info.runningActions.length === 0; tries++) {
      expect(tries).toBeLessThan(100);
      await new Promise((wait) => setTimeout(wait, 100));
    }
    const skipped = await segflow('schedule', 'trigger');
    expect(skipped.code).toBe(4);
    expect(skipped.stdout).toContain(`schedule ${scheduleId}: nothing started: Temporal skipped it, as its run`);
    expect((await segflow('schedule', 'trigger', '--help')).stdout).toContain('exits 4');
  });

  it("under 'buffer', a second trigger is buffered (exit 0) and a third, which Temporal drops, exits 4", async () => {
    const id = 'cli-buffer';
    await createMonthlySchedule(env.client, config, {
      ...SCHEDULE_DEFAULTS,
      scheduleId: id,
      input: join(home, 'usage'),
      params: {},
      minute: 0,
      overlap: 'buffer',
      actor: 'operator',
    });
    const handle = env.client.schedule.getHandle(id);
    const first = await segflowOn(id, 'schedule', 'trigger');
    expect(first).toMatchObject({ code: 0, stdout: expect.stringContaining(`processes ${month}`) });
    for (let tries = 0; (await handle.describe()).info.runningActions.length === 0; tries++) {
      expect(tries).toBeLessThan(100);
      await new Promise((wait) => setTimeout(wait, 100));
    }
    const running = (await handle.describe()).info.runningActions[0].workflow.workflowId;
    const second = await segflowOn(id, 'schedule', 'trigger');
    expect(second).toMatchObject({
      code: 0,
      stdout: `triggered schedule ${id}: the run starts when its run ${running} ends (the schedule's overlap policy buffers it)\n`,
    });
    expect((await handle.describe()).info.numActionsSkippedOverlap).toBe(0);
    const third = await segflowOn(id, 'schedule', 'trigger');
    expect(third.code).toBe(4);
    expect(third.stdout).toBe(
      `schedule ${id}: nothing started: Temporal dropped the start, as its run ${running} is still going and a start is already buffered behind it, and the schedule's overlap policy buffers one ('segflow runs follow ${running}' follows it)\n`,
    );
    // as Temporal counts it: the third start was skipped, and still one run going
    const after = await handle.describe();
    expect(after.info.numActionsSkippedOverlap).toBe(1);
    expect(after.info.recentActions.length).toBe(1);
    const triggers = (await readAuditLog(config.store))
      .filter((e) => e.run.workflowId === id && e.event === 'schedule.triggered')
      .map((e) => e.details);
    // with who ran the command beside the actor
    const by = { osUser: expect.any(String), host: expect.any(String) };
    expect(triggers).toEqual([
      { overlap: 'BUFFER_ONE', started: expect.any(String), month, ...by },
      { overlap: 'BUFFER_ONE', buffered: running, ...by },
      { overlap: 'BUFFER_ONE', skipped: running, ...by },
    ]);
  });

  it('a backfilled month whose run no worker takes up is named with its workflow id, as Temporal holds it', async () => {
    const id = 'cli-waiting';
    await createMonthlySchedule(env.client, config, {
      ...SCHEDULE_DEFAULTS,
      scheduleId: id,
      input: join(home, 'usage'),
      params: {},
      minute: 0,
      actor: 'operator',
    });
    const since = new Date();
    const backfilled = held[1];
    await backfillMonths(env.client, config, id, backfilled, backfilled, { actor: 'operator' });
    const outcome = await waitForScheduledMonths(
      config,
      id,
      [backfilled],
      since,
      5_000,
      temporalScheduledRuns(env.client, id, since),
    );
    // the audit log has nothing of it: Temporal's listing names it
    expect(outcome).toMatchObject({ missing: [backfilled], waiting: [backfilled], failed: new Map() });
    const workflowId = outcome.workflowIds.get(backfilled);
    expect(workflowId).toMatch(new RegExp(`^${id}-`));
    expect((await env.client.workflow.getHandle(workflowId!).describe()).status.name).toBe('RUNNING');
  });

  it('a backfill of a month the input has no files for is refused before any run starts', async () => {
    const before = await scheduleEvents();
    const startedBefore = (await env.client.schedule.getHandle(scheduleId).describe()).info.recentActions.length;
    const refused = await segflow('schedule', 'backfill', '--from', addMonths(month, -3), '--to', month, '--no-wait');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      `has no files for ${addMonths(month, -2)} (of the 4 months asked), nor for ${addMonths(month, -4)}, the month before ${held[0]} that its run trains the churn model on (each run trains on the month before its own); its month folders hold ${held[0]}, ${held[1]}..${held[2]}: nothing was backfilled`,
    );
    expect(await scheduleEvents()).toEqual(before);
    await new Promise((wait) => setTimeout(wait, 1_000));
    expect((await env.client.schedule.getHandle(scheduleId).describe()).info.recentActions.length).toBe(startedBefore);
    // every month asked has files, but the first one's run would have no month to train on
    const untrained = await segflow('schedule', 'backfill', '--from', held[1], '--to', month, '--no-wait');
    expect(untrained.code).toBe(2);
    expect(untrained.stderr).toContain(
      `has no files for ${addMonths(month, -2)}, the month before ${held[1]} that its run trains the churn model on`,
    );
    expect(await scheduleEvents()).toEqual(before);
    // months whose runs have what they train on are asked for as before
    const asked = await segflow('schedule', 'backfill', '--from', month, '--to', month, '--no-wait');
    expect(asked).toMatchObject({ code: 0, stdout: `backfill requested for ${month}\n` });
    expect(await scheduleEvents()).toEqual([...before, 'schedule.backfilled']);
  });

  it('notes a month whose latest another input built, and a schedule created beside one on another input', async () => {
    // the operator's: a schedule on another input published the month before the one backfilled
    const before = addMonths(month, -1);
    await mkdir(versionDir(config.store, before, 1), { recursive: true });
    await writeFile(
      join(versionDir(config.store, before, 1), 'manifest.json'),
      JSON.stringify({ params: { month: before, input: '/data/other/usage' } }),
    );
    await writeFile(join(monthDir(config.store, before), 'latest.json'), JSON.stringify({ month: before, version: 1 }));
    const noted = await segflow('schedule', 'backfill', '--from', month, '--to', month, '--no-wait');
    expect(noted.code).toBe(0);
    expect(noted.stderr).toContain(
      `note: ${before}'s latest, v1, was built from another input (/data/other/usage); schedule ${scheduleId}'s run of ${month} reads ${join(home, 'usage')} and matches its segment ids (migration, campaign follow-up) to it`,
    );
    expect(noted.stderr).toContain('a schedule on another input belongs in another SEGFLOW_HOME');
    // created on the task queue of the schedules above, on another input
    const other = join(home, 'other.csv');
    await writeFile(
      other,
      `subscriber_id,month,voice_minutes,data_mb,spend,tenure_months\nS1,${month}-01,120,2048,58,14\nS2,${month}-01,80,512,30,3\n`,
    );
    const created = await new Promise<{ code: number; stdout: string; stderr: string }>((resolveRun) => {
      execFile(
        join(REPO_ROOT, 'bin', 'segflow'),
        ['schedule', 'create', '--id', 'cli-other', '--input', other],
        {
          env: {
            ...process.env,
            SEGFLOW_HOME: home,
            TEMPORAL_ADDRESS: env.address,
            SEGFLOW_TASK_QUEUE: config.temporal.taskQueue,
          },
        },
        (error, stdout, stderr) => resolveRun({ code: error ? Number(error.code) : 0, stdout, stderr }),
      );
    });
    expect(created).toMatchObject({ code: 0, stdout: 'created schedule cli-other\n' });
    expect(created.stderr).toMatch(
      new RegExp(
        `^note: schedules .*${scheduleId} \\(${join(home, 'usage')}\\).* on task queue "${config.temporal.taskQueue}" read another input than cli-other \\(${other}\\) and publish into the same store`,
      ),
    );
  });
});
