import { generateKeyPairSync } from 'node:crypto';
import { readdir, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createActivities, STAGE_FUNCTIONS } from '../../activities';
import type { LoadSummary } from '../../activities/load';
import { DataQualityError } from '../../domain/errors';
import { readAuditLog } from '../../store/audit-log';
import { workflowsRunning } from '../../store/running-markers';
import { signerOf, verifyText } from '../../store/signing';
import { storeIn, tempDir } from '../helpers';

/** The stage wrapper in activities/index.ts, in an activity context without a server: heartbeats and failed-attempt audit. */
const run = { workflowId: 'wf-stage', runId: 'run-stage' };
const load = {
  params: { month: '2026-06' },
  dbPath: '/nowhere.duckdb',
  partitionDbPaths: [],
} as unknown as LoadSummary;

describe('stage wrapper (MockActivityEnvironment)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('heartbeats every 5 s while a stage works, and stops when it ends', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    let finish: () => void = () => {};
    const activities = createActivities(storeIn(await tempDir()), {
      ...STAGE_FUNCTIONS,
      computeFeatures: () =>
        new Promise((resolveWork) => (finish = () => resolveWork({ seconds: 1 } as never))) as never,
    });
    const env = new MockActivityEnvironment({ workflowExecution: run });
    const beats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => beats.push(details));
    const result = env.run(activities.computeFeatures, load);
    await vi.advanceTimersByTimeAsync(16_000);
    expect(beats).toHaveLength(3);
    finish();
    await result;
    await vi.advanceTimersByTimeAsync(20_000);
    expect(beats).toHaveLength(3);
  });

  it('marks its run running while a stage works, writing the marker again every 30 s, until it ends', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const store = storeIn(await tempDir());
    let fail: () => void = () => {};
    const activities = createActivities(store, {
      ...STAGE_FUNCTIONS,
      computeFeatures: () =>
        new Promise((_, rejectWork) => (fail = () => rejectWork(new DataQualityError('no rows')))) as never,
    });
    const result = new MockActivityEnvironment({ workflowExecution: run }).run(activities.computeFeatures, load);
    const markers = join(store.storeDir, 'cache', '.running');
    await vi.waitFor(async () => expect(await readdir(markers)).toHaveLength(1));
    const [marker] = await readdir(markers);
    expect((await workflowsRunning(store, Date.now(), false)).has(run.workflowId)).toBe(true);
    const longAgo = new Date('2020-01-01T00:00:00Z');
    await utimes(join(markers, marker), longAgo, longAgo);
    await vi.advanceTimersByTimeAsync(30_000);
    await vi.waitFor(async () => expect((await stat(join(markers, marker))).mtime > longAgo).toBe(true));
    // a failed attempt, as a successful one, leaves no marker
    fail();
    await expect(result).rejects.toThrow('no rows');
    expect(await readdir(markers)).toEqual([]);
    expect((await workflowsRunning(store, Date.now(), false)).has(run.workflowId)).toBe(false);
  });

  it('records an attempt that ended without a word (its worker killed) when the next one starts, once', async () => {
    const store = storeIn(await tempDir());
    const activities = createActivities(store, {
      ...STAGE_FUNCTIONS,
      computeFeatures: async () => ({ seconds: 1 }) as never,
    });
    const attempt = (n: number) =>
      new MockActivityEnvironment({ workflowExecution: run, attempt: n, activityId: '7' }).run(
        activities.computeFeatures,
        load,
      );
    await attempt(1);
    await attempt(2);
    await attempt(2); // the same attempt's entry is not written twice
    const entries = (await readAuditLog(store)).filter((e) => e.event === 'stage.attempt-failed');
    expect(entries.map((e) => [e.subject, e.details])).toEqual([
      [
        'features#1 (activity 7)',
        {
          stage: 'features',
          attempt: 1,
          type: 'AttemptLost',
          message:
            'attempt 1 left no entry (most likely its worker was killed, hung or cut off from Temporal, and Temporal timed it out); attempt 2 took over',
          retryable: true,
        },
      ],
    ]);
  });

  it("stops a run whose dispatched list is not in the worker's store at the plan, with a typed error", async () => {
    const activities = createActivities(storeIn(await tempDir()), {
      ...STAGE_FUNCTIONS,
      planLoad: async (_store, _run, params) =>
        ({ params: { ...(params as object), month: '2026-06', dispatched: '2026-05/v3' } }) as never,
    });
    const env = new MockActivityEnvironment({ workflowExecution: run });
    await expect(env.run(activities.planLoad, run, { month: '2026-06' }, 1)).rejects.toMatchObject({
      name: 'InvalidParamsError',
      message: expect.stringMatching(/dispatched=2026-05\/v3: no such snapshot of 2026-05/),
    });
  });

  it('names the folder whose disk is full, its free space and what can go, as a retried DiskFullError', async () => {
    const store = storeIn(await tempDir());
    const fail = (error: Error) =>
      createActivities(store, { ...STAGE_FUNCTIONS, computeFeatures: () => Promise.reject(error) });
    const env = new MockActivityEnvironment({ workflowExecution: run });
    // Node's error names the file; DuckDB's only says so in its message
    const fromNode = Object.assign(new Error(`ENOSPC: no space left on device, write`), {
      code: 'ENOSPC',
      path: `${store.workDir}/runs/wf__run/segflow.duckdb`,
    });
    await expect(env.run(fail(fromNode).computeFeatures, load)).rejects.toMatchObject({
      name: 'DiskFullError',
      message: expect.stringMatching(
        new RegExp(
          `^no space left on the disk of the work folder \\(SEGFLOW_WORK\\) ${store.workDir} \\([\\d,]+ MB free of [\\d,]+ MB\\): ENOSPC: no space left on device, write\\. Free space there \\(the workspaces of runs no longer running are under ${store.workDir}/runs;`,
        ),
      ),
    });
    const fromDuckDb = new Error(
      `IO Error: Could not write file "${store.storeDir}/cache/x.parquet": No space left on device`,
    );
    await expect(env.run(fail(fromDuckDb).computeFeatures, load)).rejects.toMatchObject({
      name: 'DiskFullError',
      message: expect.stringContaining(`no space left on the disk of the store (SEGFLOW_STORE) ${store.storeDir} (`),
    });
    // (one entry: both failed as attempt 1 of one run, and the log keeps an attempt once)
    expect((await readAuditLog(store)).map((e) => e.details)).toMatchObject([
      { type: 'DiskFullError', retryable: true },
    ]);
    // a typed error is left as it is
    await expect(
      env.run(fail(new DataQualityError('No space left in the window')).computeFeatures, load),
    ).rejects.toThrow(DataQualityError);
  });

  it('records a cancelled attempt as not to be retried', async () => {
    const store = storeIn(await tempDir());
    const activities = createActivities(store, {
      ...STAGE_FUNCTIONS,
      computeFeatures: () =>
        new Promise((_, reject) =>
          Context.current().cancellationSignal.addEventListener('abort', () => reject(new Error('stopped'))),
        ),
    });
    const env = new MockActivityEnvironment({ workflowExecution: run });
    const attempt = env.run(activities.computeFeatures, load);
    env.cancel();
    await expect(attempt).rejects.toThrow('stopped');
    expect((await readAuditLog(store)).map((e) => e.details)).toMatchObject([{ retryable: false }]);
  });

  it("records each partition's failed attempt, though both are the load's attempt 1", async () => {
    const store = storeIn(await tempDir());
    const activities = createActivities(store, {
      ...STAGE_FUNCTIONS,
      loadPartition: (...args) => Promise.reject(new Error(`partition ${String(args[2])} unreadable`)),
    });
    const plan = { params: { month: '2026-06' } } as never;
    for (const activityId of ['5', '6'])
      await expect(
        new MockActivityEnvironment({ workflowExecution: run, activityId }).run(
          activities.loadPartition,
          plan,
          Number(activityId) - 5,
          true,
        ),
      ).rejects.toThrow(/unreadable/);
    expect((await readAuditLog(store)).map((e) => [e.subject, (e.details as { message: string }).message])).toEqual([
      ['load#1 (activity 5)', 'partition 0 unreadable'],
      ['load#1 (activity 6)', 'partition 1 unreadable'],
    ]);
  });

  it('records a failed attempt in the audit log (signed with the worker key), then rethrows the error', async () => {
    const store = storeIn(await tempDir());
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const activities = createActivities(
      store,
      {
        ...STAGE_FUNCTIONS,
        trainAndScoreChurn: () => Promise.reject(new DataQualityError('no churners in the training month')),
      },
      { signer: signerOf(privateKey) },
    );
    const env = new MockActivityEnvironment({ workflowExecution: run, attempt: 3 });
    const features = { skippedFeatures: [] } as never;
    await expect(env.run(activities.trainAndScoreChurn, load, features)).rejects.toThrow(DataQualityError);
    // after attempt 2's entry, which this attempt wrote as lost (this store never heard of it)
    const [lost, entry] = await readAuditLog(store);
    expect(lost.details).toMatchObject({ attempt: 2, type: 'AttemptLost' });
    expect(entry).toMatchObject({
      event: 'stage.attempt-failed',
      run,
      month: '2026-06',
      subject: expect.stringMatching(/^churn#3 \(activity .+\)$/),
      details: {
        stage: 'churn',
        attempt: 3,
        type: 'DataQualityError',
        message: 'no churners in the training month',
        retryable: false,
      },
    });
    expect(verifyText(publicKey, entry.hash, entry.signature!.value)).toBe(true);
  });

  it('the recordAudit activity returns the entry’s place in the chain', async () => {
    const store = storeIn(await tempDir());
    const activities = createActivities(store);
    const env = new MockActivityEnvironment({ workflowExecution: run });
    const head = await env.run(activities.recordAudit, {
      event: 'run.started' as const,
      run,
      month: '2026-06',
      actor: 'ana',
    });
    const [entry] = await readAuditLog(store);
    expect(head).toEqual({ seq: 1, hash: entry.hash });
  });
});
