import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAuditLog } from '../../store/audit-log';
import { previousMonth } from '../../cli/options';
import { addMonths } from '../../domain/month';
import { REPO_ROOT } from '../../worker/config';
import { storeIn, tempDir } from '../helpers';
import { startTemporal } from './temporal-env';

/**
 * Two stores on one Temporal server, each with its own SEGFLOW_HOME and SEGFLOW_TASK_QUEUE (as
 * docs/configuration.md tells a second store to): schedule ids are one namespace on the server,
 * so each store's commands must act only on the schedules of its own task queue. No worker polls
 * either queue: a run started by mistake would stay running, and show in the schedule's actions.
 */
describe('schedule commands of two stores on one dev server', () => {
  let env: TestWorkflowEnvironment;
  let homeA: string;
  let homeB: string;
  const queueA = 'e2e-two-stores-a';
  const queueB = 'e2e-two-stores-b';
  const month = previousMonth();

  /** `segflow <args>` as the store in `home` on task queue `queue` runs it. */
  const segflow = (home: string, queue: string, ...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolveRun) => {
      execFile(
        join(REPO_ROOT, 'bin', 'segflow'),
        args,
        { env: { ...process.env, SEGFLOW_HOME: home, SEGFLOW_TASK_QUEUE: queue, TEMPORAL_ADDRESS: env.address } },
        (error, stdout, stderr) => resolveRun({ code: error ? Number(error.code) : 0, stdout, stderr }),
      );
    });
  const asA = (...args: string[]) => segflow(homeA, queueA, ...args);
  const asB = (...args: string[]) => segflow(homeB, queueB, ...args);
  const scheduleEntries = async (home: string) =>
    (await readAuditLog(storeIn(home)))
      .filter((e) => e.event.startsWith('schedule.'))
      .map((e) => [e.event, e.run.workflowId]);
  const usage = async (home: string) => {
    const file = join(home, 'usage.csv');
    await writeFile(
      file,
      `subscriber_id,month,voice_minutes,data_mb,spend,tenure_months\nS1,${month}-01,120,2048,58,14\nS2,${month}-01,80,512,30,3\n`,
    );
    return file;
  };

  beforeAll(async () => {
    [homeA, homeB] = [await tempDir(), await tempDir()];
    env = await startTemporal();
  }, 60_000);
  afterAll(async () => {
    await env?.teardown();
  });

  it("refuses, naming whose it is, every command on the other store's schedule, with nothing changed or recorded", async () => {
    // A's schedule under the id both stores defaulted to before the default named the task queue
    const inputA = await usage(homeA);
    expect(await asA('schedule', 'create', '--input', inputA, '--id', 'segflow-monthly')).toMatchObject({ code: 0 });
    const inputB = await usage(homeB);
    const other = `its runs go to task queue "${queueA}", not this store's "${queueB}" (SEGFLOW_TASK_QUEUE)`;
    const servedBy = `SEGFLOW_TASK_QUEUE=${queueA} with SEGFLOW_HOME=${homeA}`;

    // create under A's id says whose it is; created under B's own default id it is B's
    const taken = await asB('schedule', 'create', '--input', inputB, '--id', 'segflow-monthly');
    expect(taken.code).toBe(2);
    expect(taken.stderr).toContain('a schedule segflow-monthly exists already on this Temporal server');
    expect(taken.stderr).toContain(other);
    expect(taken.stderr).toContain(servedBy);
    expect(taken.stderr).toContain(`this task queue's default is segflow-monthly-${queueB}`);
    expect(await asB('schedule', 'create', '--input', inputB)).toMatchObject({
      code: 0,
      stdout: `created schedule segflow-monthly-${queueB}\n`,
    });
    const own = await asB('schedule', 'describe');
    expect(own).toMatchObject({ code: 0, stderr: '' });
    expect(own.stdout).toContain(`Schedule segflow-monthly-${queueB}: active`);
    expect(own.stdout).toContain(`input          ${inputB}`);

    for (const command of [
      ['describe'],
      ['pause', '--note', 'not mine'],
      ['unpause'],
      ['trigger'],
      ['backfill', '--from', addMonths(month, -1), '--to', month, '--no-wait'],
      ['delete'],
    ]) {
      const refused = await asB('schedule', ...command, '--id', 'segflow-monthly');
      expect(refused.code, `schedule ${command[0]}: ${refused.stderr}`).toBe(2);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toContain(`schedule segflow-monthly is another store's: ${other}`);
      expect(refused.stderr).toContain(`It is served by ${servedBy} (store `);
      expect(refused.stderr).toContain('Nothing was changed or recorded');
      expect(refused.stderr).not.toContain(inputA);
    }

    // A's schedule as it was: there, active, no run started; each store's log holds its own entries
    const a = await env.client.schedule.getHandle('segflow-monthly').describe();
    expect(a.state.paused).toBe(false);
    expect(a.info.recentActions).toEqual([]);
    expect(a.info.runningActions).toEqual([]);
    expect(await scheduleEntries(homeA)).toEqual([['schedule.created', 'segflow-monthly']]);
    expect(await scheduleEntries(homeB)).toEqual([['schedule.created', `segflow-monthly-${queueB}`]]);

    // A still acts on it with --id; without it, A is told its schedule has the old default id
    const mine = await asA('schedule', 'describe', '--id', 'segflow-monthly');
    expect(mine).toMatchObject({ code: 0, stderr: '' });
    expect(mine.stdout).toContain(`input          ${inputA}`);
    const byDefault = await asA('schedule', 'describe');
    expect(byDefault.code).toBe(2);
    expect(byDefault.stderr).toContain(
      `no schedule "segflow-monthly-${queueA}" (schedules: segflow-monthly (task queue "${queueA}", this store's), segflow-monthly-${queueB} (task queue "${queueB}")). This task queue's schedule is segflow-monthly, created before the default id named the task queue: pass --id segflow-monthly`,
    );
    // nor does A's create without --id make a second schedule on its queue beside the old one
    const twice = await asA('schedule', 'create', '--input', inputA);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain(
      `this task queue ("${queueA}") has its schedule already: segflow-monthly, created before the default id named the task queue`,
    );
    expect(await asA('schedule', 'delete', '--id', 'segflow-monthly')).toMatchObject({ code: 0 });
    expect(await scheduleEntries(homeA)).toEqual([
      ['schedule.created', 'segflow-monthly'],
      ['schedule.deleted', 'segflow-monthly'],
    ]);
  }, 180_000);
});
