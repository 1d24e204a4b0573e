import { execFile } from 'node:child_process';
import { appendFile, chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type SegflowActivities } from '../../activities';
import { readAuditLog } from '../../store/audit-log';
import { listVersions, readManifest } from '../../store/snapshots';
import { generateSample, type SampleSummary } from '../../data/generate';
import { addMonths } from '../../domain/month';
import { SnapshotStoreError, UsageError } from '../../domain/errors';
import { auditLogPath } from '../../store/layout';
import { progressSince, runProgress, startMonthlyRun } from '../../pipelines/client';
import { BackfillProgress } from '../../cli/commands/schedule';
import { ProgressLines } from '../../cli/progress';
import { previousMonth } from '../../cli/options';
import { verifyAudit } from '../../store/audit-verify';
import {
  backfillMonths,
  changeSchedule,
  createMonthlySchedule,
  temporalScheduledRuns,
  triggerSchedule,
  waitForScheduledMonths,
} from '../../pipelines/schedules';
import { diffSnapshots } from '../../pipelines/diff';
import { SCHEDULE_DEFAULTS } from '../../domain/schedules';
import { reproduceSnapshot } from '../../pipelines/reproduce';
import { HEARTBEAT_THROTTLE } from '../../worker';
import { REPO_ROOT, type SegflowConfig } from '../../worker/config';
import { storeIn, tempDir } from '../helpers';
import { startTemporal, workflowBundle } from './temporal-env';

const run = promisify(execFile);

/**
 * Issue 5's users end to end: a schedule and a backfill publish, an analyst rerun makes v2 and
 * a diff, retries and concurrent reruns never clash, cancellation publishes nothing, and
 * `audit verify` pinpoints tampering. Real dev server, real worker.
 */
describe('snapshots, schedules and audit through a real Temporal dev server', () => {
  let env: TestWorkflowEnvironment;
  let config: SegflowConfig;
  let sample: SampleSummary;
  let worker: Worker;
  let workerRun: Promise<void>;
  const month = previousMonth();

  /** A worker on its own task queue whose activities are the real ones, some wrapped to inject faults. */
  async function startWorker(
    taskQueue: string,
    wrap: (real: SegflowActivities) => Partial<SegflowActivities> = () => ({}),
  ): Promise<{ worker: Worker; running: Promise<void> }> {
    const real = createActivities(config.store);
    const w = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: { ...real, ...wrap(real) },
      ...HEARTBEAT_THROTTLE,
    });
    return { worker: w, running: w.run() };
  }

  const runMonth = async (params: Record<string, unknown>, taskQueue = config.temporal.taskQueue, reuse = true) => {
    const { handle } = await startMonthlyRun(
      env.client,
      { ...config, temporal: { ...config.temporal, taskQueue } },
      {
        params: { month, input: join(sample.outDir, 'usage'), ...params },
        requestedBy: 'analyst',
        reuse,
      },
    );
    return { handle, result: handle.result() };
  };

  beforeAll(async () => {
    const dir = await tempDir();
    env = await startTemporal();
    // schedules process the month before "now", so this sample ends last month
    sample = await generateSample({
      outDir: join(dir, 'sample'),
      subscribers: 2_500,
      months: 10,
      lastMonth: month,
      seed: 5,
    });
    config = {
      home: dir,
      store: storeIn(dir),
      temporal: { address: env.address, namespace: 'default', taskQueue: 'e2e-main' },
    };
    ({ worker, running: workerRun } = await startWorker('e2e-main'));
  });
  afterAll(async () => {
    worker?.shutdown();
    await workerRun;
    await env?.teardown();
  });

  it('a schedule triggers a run that publishes, and a backfill runs its months in month order, each matched to the one before', async () => {
    const scheduleId = 'e2e-monthly';
    const schedule = {
      ...SCHEDULE_DEFAULTS,
      scheduleId,
      input: join(sample.outDir, 'usage'),
      params: {},
      minute: 0,
      actor: 'operator',
    };
    await createMonthlySchedule(env.client, config, schedule);
    // a second create of the same id is the user's mistake (exit 2), named with what to do instead
    const again = createMonthlySchedule(env.client, config, schedule);
    await expect(again).rejects.toBeInstanceOf(UsageError);
    await expect(again).rejects.toThrow(`a schedule ${scheduleId} exists already`);
    const since = new Date(Date.now() - 1_000);
    const triggered = await triggerSchedule(env.client, config, scheduleId, { actor: 'operator' });
    expect(triggered).toMatchObject({ month, workflowId: expect.stringMatching(/^e2e-monthly-/), paused: false });
    const ran = await waitForScheduledMonths(config, scheduleId, [month], since, 120_000);
    expect(ran).toMatchObject({ missing: [], failed: new Map() });
    expect(ran.published.get(month)).toBe(1);

    const months = [addMonths(month, -3), addMonths(month, -2), addMonths(month, -1)];
    expect(await backfillMonths(env.client, config, scheduleId, months[0], months[2], { actor: 'operator' })).toEqual(
      months,
    );
    // the running month's stage, as backfill shows it: from its run's progress query
    const stageLines: string[] = [];
    const shown = new BackfillProgress(
      async (workflowId, last) => progressSince(last, await runProgress(env.client, workflowId)),
      (running) =>
        new ProgressLines(
          (line) => stageLines.push(line),
          5_000,
          () => Date.now(),
          running,
        ),
      () => {},
    );
    const backfilled = await waitForScheduledMonths(
      config,
      scheduleId,
      months,
      since,
      300_000,
      undefined,
      (state) => void shown.update(state),
    );
    shown.stop();
    const stages = stageLines.flatMap((line) => /\[\s*\d+%\] (\d{4}-\d{2}) (\w+)$/.exec(line)?.slice(1, 3) ?? []);
    expect(stages.length).toBeGreaterThan(0);
    for (let i = 0; i < stages.length; i += 2) {
      expect(months).toContain(stages[i]);
      expect(['load', 'features', 'cluster', 'churn', 'publish', 'done']).toContain(stages[i + 1]);
    }
    expect(backfilled.missing).toEqual([]);
    expect([...backfilled.published.keys()].sort()).toEqual(months);
    // published one after another in month order, so every month but the first found the one before it
    const publishOrder = (await readAuditLog(config.store))
      .filter((e) => e.event === 'run.published' && months.includes(e.month))
      .map((e) => e.month);
    expect(publishOrder).toEqual(months);
    for (const [index, backfilledMonth] of months.entries()) {
      expect(await listVersions(config.store, backfilledMonth)).toEqual([1]);
      const manifest = await readManifest(config.store, backfilledMonth, 1);
      const files = manifest.outputs.map((f) => f.file);
      const takenMonths = (manifest.lineage?.reused ?? []).filter((artifact) => artifact.stage === 'feature-month');
      if (index === 0) {
        expect(manifest.metrics.previousSnapshot).toBeNull();
        expect(files).not.toContain('migration.parquet');
        expect(takenMonths).toEqual([]);
      } else {
        expect(manifest.metrics.previousSnapshot).toEqual({ month: months[index - 1], version: 1 });
        expect(files).toContain('migration.parquet');
        // the scheduled path: the month before stored its scoring month, this run trained on it
        expect(takenMonths.map((artifact) => artifact.stages)).toEqual([[`features ${months[index - 1]}`]]);
      }
    }

    // pause, unpause and delete go to the audit log; a pause without a note gets a clean one
    await changeSchedule(env.client, config, { scheduleId, change: 'pause', actor: 'operator' });
    const note = (await env.client.schedule.getHandle(scheduleId).describe()).state.note;
    expect(note).toBe('paused by operator with segflow');
    await changeSchedule(env.client, config, {
      scheduleId,
      change: 'unpause',
      note: 'data landed',
      actor: 'operator',
    });
    await changeSchedule(env.client, config, { scheduleId, change: 'delete', actor: 'operator' });
    const scheduleEvents = (await readAuditLog(config.store))
      .filter((e) => e.event.startsWith('schedule.'))
      .map((e) => ({ event: e.event, schedule: e.run.workflowId, actor: e.actor, note: e.details?.note }));
    expect(scheduleEvents).toEqual([
      { event: 'schedule.created', schedule: scheduleId, actor: 'operator', note: undefined },
      // who triggered and backfilled: the runs' own entries name the schedule as their actor
      { event: 'schedule.triggered', schedule: scheduleId, actor: 'operator', note: undefined },
      { event: 'schedule.backfilled', schedule: scheduleId, actor: 'operator', note: undefined },
      { event: 'schedule.paused', schedule: scheduleId, actor: 'operator', note: 'paused by operator with segflow' },
      { event: 'schedule.unpaused', schedule: scheduleId, actor: 'operator', note: 'data landed' },
      { event: 'schedule.deleted', schedule: scheduleId, actor: 'operator', note: undefined },
    ]);
    await expect(triggerSchedule(env.client, config, scheduleId)).rejects.toThrow(`no schedule "${scheduleId}"`);
  }, 600_000);

  it('an analyst rerun with new parameters publishes v2, and the diff reports what changed', async () => {
    const { result } = await runMonth({ k: 4, treeDepth: 4 });
    expect(await result).toMatchObject({ month, version: 2 });
    const diff = await diffSnapshots(config.store, { month, version: 1 }, { month, version: 2 });
    // v1 (the scheduled run) chose k by silhouette; v2 fixed it. v1 ran before the backfill
    // published the month before it; v2's ids are matched to that month's snapshot
    expect(diff.params).toEqual([
      { name: 'k', a: undefined, b: 4 },
      { name: 'treeDepth', a: 6, b: 4 },
      { name: 'segment ids matched to', a: '(none: ids new)', b: `${addMonths(month, -1)}/v1` },
    ]);
    expect(diff.metrics.map((m) => m.name)).toEqual(
      expect.arrayContaining(['churnRocAuc', 'treeRocAuc', 'highValueSubscribers', 'vipSubscribers']),
    );
    const segments = diff.metrics.find((m) => m.name === 'segments');
    expect(segments).toMatchObject({ b: 4, change: 4 - (segments?.a ?? 0) });
    const subscribers = diff.metrics.find((m) => m.name === 'subscribers')?.a ?? 0;
    expect(diff.migration.reduce((sum, cell) => sum + cell.subscribers, 0)).toBe(subscribers);
    expect(new Set(diff.migration.map((cell) => cell.to)).size).toBe(4);
  });

  it('a snapshot is reproduced byte for byte from its manifest', async () => {
    const report = await reproduceSnapshot(config.store, { month, version: 2 });
    expect(report.changedInputs).toEqual([]);
    // v2's segment ids came from the backfilled month before it, so it also has migration.parquet
    expect(report.files.map((f) => f.file).sort()).toEqual([
      'churn_model.json',
      'churn_model_xgboost.json',
      'dispatch.parquet',
      'grids.parquet',
      'holdout.parquet',
      'migration.parquet',
      'quarantine.parquet',
      'report.html',
      'segments.parquet',
      'subscribers.parquet',
    ]);
    expect(report.identical).toBe(true);
  });

  it('a publish retried after it succeeded does not duplicate the snapshot', async () => {
    let failedOnce = false;
    const flaky = await startWorker('e2e-flaky-publish', (real) => ({
      // the first attempt publishes, then "loses" its completion, as a worker crash would
      publishSnapshot: async (...args: Parameters<SegflowActivities['publishSnapshot']>) => {
        const published = await real.publishSnapshot(...args);
        if (!failedOnce) {
          failedOnce = true;
          throw new Error('simulated crash after publishing');
        }
        return published;
      },
    }));
    const before = await listVersions(config.store, month);
    const { handle, result } = await runMonth({}, 'e2e-flaky-publish');
    const outcome = await result;
    flaky.worker.shutdown();
    await flaky.running;
    expect(failedOnce).toBe(true);
    expect(outcome.alreadyPublished).toBe(true);
    expect(await listVersions(config.store, month)).toEqual([...before, outcome.version]);
    const published = (await readAuditLog(config.store)).filter(
      (e) => e.run.workflowId === handle.workflowId && e.event === 'run.published',
    );
    expect(published).toHaveLength(1);
    // an auditor reading the snapshot learns of the attempt that ran again
    const { stdout } = await run(
      join(REPO_ROOT, 'bin', 'segflow'),
      ['snapshots', 'show', `${month}/v${outcome.version}`],
      {
        env: { ...process.env, SEGFLOW_STORE: config.store.storeDir },
      },
    );
    expect(stdout).toContain(
      `  retries       1 attempt failed and ran again: publish attempt 1 (AttemptLost); segflow runs show ${handle.workflowId}`,
    );
  });

  it('two concurrent reruns of one month get distinct versions', async () => {
    const before = await listVersions(config.store, month);
    const [a, b] = await Promise.all([runMonth({ seed: 1 }), runMonth({ seed: 2 })]);
    const versions = [(await a.result).version, (await b.result).version].sort();
    const next = Math.max(...before) + 1;
    expect(versions).toEqual([next, next + 1]);
    expect(await listVersions(config.store, month)).toEqual([...before, next, next + 1]);
  });

  it('a cancelled run publishes nothing and is recorded as cancelled', async () => {
    let featuresStarted: () => void = () => {};
    const started = new Promise<void>((resolveStarted) => (featuresStarted = resolveStarted));
    const slow = await startWorker('e2e-cancel', () => ({
      computeFeatures: async () => {
        featuresStarted();
        const context = Context.current();
        for (;;) {
          context.heartbeat();
          await context.sleep(200); // rejects once the cancellation reaches this activity
        }
      },
    }));
    const before = await listVersions(config.store, month);
    // computed, not reused: the cancellation reaches the features activity
    const { handle, result } = await runMonth({}, 'e2e-cancel', false);
    await started;
    await handle.cancel();
    const failure = await result.then(
      () => undefined,
      (error: unknown) => error,
    );
    slow.worker.shutdown();
    await slow.running;
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(await listVersions(config.store, month)).toEqual(before);
    const events = (await readAuditLog(config.store))
      .filter((e) => e.run.workflowId === handle.workflowId)
      .map((e) => e.event);
    expect(events.at(-1)).toBe('run.cancelled');
    expect(events).not.toContain('run.published');
  });

  it("a backfilled month whose run fails before it writes to the audit log is told at once, in Temporal's words", async () => {
    // a worker that cannot write the log: the run fails at its first entry, leaving none
    const failing = await startWorker('e2e-unwritable', () => ({
      recordAudit: async () => {
        throw new SnapshotStoreError('cannot write the audit log (simulated): EACCES');
      },
    }));
    const scheduleId = 'e2e-unwritable';
    const unwritable = { ...config, temporal: { ...config.temporal, taskQueue: 'e2e-unwritable' } };
    await createMonthlySchedule(env.client, unwritable, {
      ...SCHEDULE_DEFAULTS,
      scheduleId,
      input: join(sample.outDir, 'usage'),
      params: {},
      minute: 0,
      actor: 'operator',
    });
    const backfilled = addMonths(month, -2);
    const since = new Date();
    await backfillMonths(env.client, unwritable, scheduleId, backfilled, backfilled, { actor: 'operator' });
    const started = performance.now();
    const outcome = await waitForScheduledMonths(
      config,
      scheduleId,
      [backfilled],
      since,
      120_000,
      temporalScheduledRuns(env.client, scheduleId, since),
    );
    failing.worker.shutdown();
    await failing.running;
    await changeSchedule(env.client, unwritable, { scheduleId, change: 'delete', actor: 'operator' });
    // not after the timeout: as soon as Temporal shows it failed
    expect(performance.now() - started).toBeLessThan(60_000);
    expect(outcome.missing).toEqual([]);
    expect(outcome.failed.get(backfilled)).toMatch(
      /^SnapshotStoreError: cannot write the audit log \(simulated\): EACCES \(as Temporal tells it: the audit log has no ending of this run\)$/,
    );
    expect(outcome.workflowIds.get(backfilled)).toMatch(new RegExp(`^${scheduleId}-`));
  }, 180_000);

  it('audit verify passes on a clean store and pinpoints a modified snapshot file and log entry', async () => {
    const segflow = (...args: string[]) =>
      run(join(REPO_ROOT, 'bin', 'segflow'), args, {
        env: {
          ...process.env,
          SEGFLOW_STORE: config.store.storeDir,
          TEMPORAL_ADDRESS: env.address,
          SEGFLOW_TASK_QUEUE: config.temporal.taskQueue,
        },
      }).then(
        ({ stdout }) => ({ code: 0, stdout }),
        (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
      );
    // snapshots show: a summary for people, the whole manifest behind --json
    const shown = await segflow('snapshots', 'show', `${month}/v2`);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`Snapshot ${month}/v2`);
    expect(shown.stdout).toMatch(/parameters +k=4 treeDepth=4 \(params hash [0-9a-f]{12}\)/);
    expect(shown.stdout).toContain(`ids matched to ${addMonths(month, -1)}/v1`);
    expect(shown.stdout.split('\n').length).toBeLessThan(40);
    const manifest = JSON.parse((await segflow('snapshots', 'show', `${month}/v2`, '--json')).stdout) as {
      snapshot: { version: number };
    };
    expect(manifest.snapshot.version).toBe(2);

    const clean = await segflow('audit', 'verify', '--json');
    expect(clean.code).toBe(0);
    expect(JSON.parse(clean.stdout)).toMatchObject({ ok: true, problems: [] });
    // the completed runs this dev server retains on the task queue, each found in the log
    expect(JSON.parse(clean.stdout).temporal.runs).toBeGreaterThanOrEqual(3);

    const file = join(config.store.storeDir, 'snapshots', month, 'v1', 'segments.parquet');
    await chmod(file, 0o644);
    await appendFile(file, 'x');
    const logPath = auditLogPath(config.store);
    const lines = (await readFile(logPath, 'utf8')).split('\n');
    lines[2] = lines[2].replace('"actor":"schedule:e2e-monthly"', '"actor":"someone-else"');
    await writeFile(logPath, lines.join('\n'));

    const report = await verifyAudit(config.store);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      { where: `${logPath}:3`, problem: expect.stringMatching(/^entry seq 3 was edited/) },
      { where: `snapshots/${month}/v1/segments.parquet`, problem: expect.stringMatching(/^content changed/) },
    ]);
    const tampered = await segflow('audit', 'verify');
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toMatch(/FAILED: 2 problem\(s\)/);
  }, 300_000);
});
