import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { tsToMs } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, STAGE_FUNCTIONS } from '../../activities';
import { readAuditLog, type AuditEntry } from '../../store/audit-log';
import { listVersions } from '../../store/snapshots';
import { generateSample, type SampleSummary } from '../../data/generate';
import { monthDir, type StoreConfig } from '../../store/layout';
import { describeRunFailure, followRun, startMonthlyRun } from '../../pipelines/client';
import { ensureDevServer, freeLocalAddress, type DevServerHandle } from '../../cli/dev-server';
import { verifyAudit } from '../../store/audit-verify';
import { loadSigner } from '../../store/signing';
import { REPO_ROOT, type SegflowConfig } from '../../worker/config';
import { eventName, storeIn, tempDir, writeParquet } from '../helpers';
import { workflowBundle } from './temporal-env';

/**
 * Faults injected for real: a worker process killed with SIGKILL, the dev server stopped and
 * restarted (SQLite persistence), flaky reads, invalid data, a full and a read-only snapshot
 * folder. Each time: the run ends as it should, nothing is lost, nothing is duplicated.
 */
describe('faults survived, nothing lost or duplicated', () => {
  let dir: string;
  let store: StoreConfig;
  let sample: SampleSummary;
  let server: DevServerHandle;
  let address: string;
  let client: Client;
  let signingKeyPath: string;
  let publicKey: KeyObject;
  const mounts: string[] = [];

  const startServer = () => ensureDevServer({ address, stateDir: join(dir, 'temporal'), headless: true });
  const config = (taskQueue: string): SegflowConfig => ({
    home: dir,
    store,
    temporal: { address, namespace: 'default', taskQueue },
  });

  /** `segflow worker` as its own process group, so SIGKILL reaches every process in it; it signs with the test key. */
  function workerProcess(taskQueue: string): ChildProcess {
    return spawn(join(REPO_ROOT, 'bin', 'segflow'), ['worker'], {
      detached: true,
      stdio: 'ignore',
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: address,
        SEGFLOW_TASK_QUEUE: taskQueue,
        SEGFLOW_STORE: store.storeDir,
        SEGFLOW_WORK: store.workDir,
        SEGFLOW_LOG_LEVEL: 'error',
        SEGFLOW_SIGNING_KEY: signingKeyPath,
      },
    });
  }
  const killGroup = (child: ChildProcess, signal: NodeJS.Signals) => {
    try {
      process.kill(-(child.pid as number), signal);
    } catch {
      // already gone
    }
  };

  async function inProcessWorker<T>(
    taskQueue: string,
    stages: typeof STAGE_FUNCTIONS,
    work: () => Promise<T>,
  ): Promise<T> {
    const connection = await NativeConnection.connect({ address });
    try {
      const worker = await Worker.create({
        connection,
        taskQueue,
        workflowBundle: await workflowBundle(),
        // it signs as the test's worker processes do: the store's log stays signed throughout
        activities: createActivities(store, stages, { signer: loadSigner(signingKeyPath) }),
      });
      return await worker.runUntil(work);
    } finally {
      await connection.close();
    }
  }

  /** `heartbeatTimeout` null: the workflow's default (30 s). */
  const start = async (
    taskQueue: string,
    params: Record<string, unknown> = {},
    heartbeatTimeout: string | null = '10s',
  ) => {
    const { handle } = await startMonthlyRun(client, config(taskQueue), {
      params: { month: '2026-06', input: join(sample.outDir, 'usage'), ...params },
      requestedBy: 'fault-test',
      ...(heartbeatTimeout ? { heartbeatTimeout } : {}),
      reuse: false, // the faults hit the load and features: every run computes them
    });
    return handle;
  };
  const auditOf = async (workflowId: string) =>
    (await readAuditLog(store)).filter((e) => e.run.workflowId === workflowId);
  const waitForAudit = async (workflowId: string, found: (entries: AuditEntry[]) => boolean) => {
    for (let i = 0; i < 2_400 && !found(await auditOf(workflowId)); i++) await sleep(25);
  };
  const activityAttempts = async (workflowId: string) => {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    return (history.events ?? []).flatMap((e) =>
      e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt ?? 1] : [],
    );
  };

  beforeAll(async () => {
    dir = await tempDir();
    store = storeIn(dir);
    const keys = generateKeyPairSync('ed25519');
    publicKey = keys.publicKey;
    signingKeyPath = join(dir, 'signing-key.pem');
    await writeFile(signingKeyPath, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    address = await freeLocalAddress();
    [server, sample] = await Promise.all([
      startServer(),
      // big enough that the features stage runs for a few seconds
      generateSample({ outDir: join(dir, 'sample'), subscribers: 150_000, months: 8, lastMonth: '2026-06', seed: 3 }),
    ]);
    client = new Client({ connection: await Connection.connect({ address }) });
  });
  afterAll(async () => {
    for (const mount of mounts) execFileSync('umount', [mount]);
    await client?.connection.close();
    await server?.stop();
  });

  it('a worker killed with SIGKILL mid-activity: the stage restarts on another worker within 60 s (default heartbeat timeout), one snapshot, consistent signed audit', async () => {
    const taskQueue = 'faults-kill';
    const first = workerProcess(taskQueue);
    const handle = await start(taskQueue, {}, null);
    const pendingFeatures = async () =>
      (await handle.describe()).raw.pendingActivities?.find((a) => a.activityType?.name === 'computeFeatures');
    // kill only once the features activity is running on this worker and has heartbeated
    let killedIdentity: string | null | undefined;
    for (let i = 0; i < 1_200 && !killedIdentity; i++) {
      const features = await pendingFeatures();
      if (features?.lastHeartbeatTime) killedIdentity = features.lastWorkerIdentity;
      else await sleep(25);
    }
    expect(killedIdentity).toBeTruthy();
    killGroup(first, 'SIGKILL');
    const killedAt = Date.now();
    const second = workerProcess(taskQueue);
    try {
      // the stage's next attempt, started by the new worker
      let restarted: { at: number; identity: string } | undefined;
      for (let i = 0; i < 1_800 && !restarted; i++) {
        const features = await pendingFeatures();
        if (features && (features.attempt ?? 1) >= 2 && features.lastStartedTime && features.lastWorkerIdentity)
          restarted = { at: tsToMs(features.lastStartedTime), identity: features.lastWorkerIdentity };
        else await sleep(100);
      }
      expect(restarted).toBeDefined();
      const recoverySeconds = (restarted!.at - killedAt) / 1000;
      console.log(`fail-over: features restarted on another worker ${recoverySeconds.toFixed(1)} s after SIGKILL`);
      expect(restarted!.identity).not.toBe(killedIdentity);
      expect(recoverySeconds).toBeLessThan(60);
      const result = await handle.result();
      expect(result.version).toBe(1);
      const published = (await auditOf(handle.workflowId)).find((e) => e.event === 'run.published');
      expect(result.auditHead).toBe(`${published?.seq}:${published?.hash}`);
    } finally {
      killGroup(second, 'SIGTERM');
    }
    expect(await listVersions(store, '2026-06')).toEqual([1]);
    expect(Math.max(...(await activityAttempts(handle.workflowId)))).toBeGreaterThanOrEqual(2);
    const events = (await auditOf(handle.workflowId)).map(eventName);
    for (const once of [
      'run.requested',
      'run.started',
      'stage.finished:load',
      'stage.finished:features',
      'stage.finished:publish',
      'run.published',
    ]) {
      expect(events.filter((event) => event === once)).toHaveLength(1);
    }
    // the killed worker's attempt wrote nothing: the next attempt recorded it as lost
    const lost = (await auditOf(handle.workflowId)).filter(
      (e) => e.event === 'stage.attempt-failed' && e.details?.type === 'AttemptLost',
    );
    expect(lost.map((e) => e.details?.stage)).toContain('features');
    // the workers signed every entry and the manifest with SEGFLOW_SIGNING_KEY; the key itself is nowhere in the store
    expect(await verifyAudit(store, { publicKey })).toMatchObject({ ok: true, signatures: 'checked' });
    expect(existsSync(join(monthDir(store, '2026-06'), 'v1', 'manifest.sig'))).toBe(true);
    const key = await readFile(signingKeyPath, 'utf8');
    const keyBody = key.split('\n')[1];
    expect(await readFile(join(store.storeDir, 'audit', 'audit.jsonl'), 'utf8')).not.toContain(keyBody);
    expect(await readFile(join(monthDir(store, '2026-06'), 'v1', 'manifest.json'), 'utf8')).not.toContain(keyBody);
  }, 300_000); // 150,000 subscribers plus up to a 30 s heartbeat timeout

  it('the dev server stopped and restarted mid-run: the run resumes from SQLite and completes', async () => {
    const taskQueue = 'faults-restart';
    const worker = workerProcess(taskQueue);
    try {
      const before = await listVersions(store, '2026-06');
      const handle = await start(taskQueue);
      await waitForAudit(handle.workflowId, (entries) => entries.some((e) => e.subject === 'load'));
      // `segflow run` follows the run across the restart: the server's absence is no failed run
      const following = followRun(handle, () => undefined);
      await server.stop();
      // longer than the client's own retries of the result's long poll (it failed the run after ~10 s)
      await sleep(12_000);
      server = await startServer();
      expect(server.started).toBe(true);
      const result = await following;
      expect(result.version).toBe(before.length + 1);
      expect(await listVersions(store, '2026-06')).toEqual([...before, result.version]);
    } finally {
      killGroup(worker, 'SIGTERM');
    }
  });

  it('transient failures are retried by policy, the run succeeds, and the audit shows the attempts', async () => {
    let calls = 0;
    const flakyLoad: typeof STAGE_FUNCTIONS.loadPartition = async (...args) => {
      calls += 1;
      if (calls <= 2) throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
      return STAGE_FUNCTIONS.loadPartition(...args);
    };
    const result = await inProcessWorker('faults-flaky', { ...STAGE_FUNCTIONS, loadPartition: flakyLoad }, async () => {
      const handle = await start('faults-flaky');
      const outcome = await handle.result();
      const attempts = (await auditOf(handle.workflowId)).filter((e) => e.event === 'stage.attempt-failed');
      expect(attempts.map((e) => [e.subject, (e.details as { retryable: boolean }).retryable])).toEqual([
        [expect.stringMatching(/^load#1 \(activity \d+\)$/), true],
        [expect.stringMatching(/^load#2 \(activity \d+\)$/), true],
      ]);
      return outcome;
    });
    expect(calls).toBe(3);
    expect(result.version).toBe(3);
  });

  it('a validation failure fails fast, publishes nothing, and leaves the previous snapshot and latest untouched', async () => {
    const latestBefore = await readFile(join(monthDir(store, '2026-06'), 'latest.json'), 'utf8');
    const badInput = join(dir, 'bad-input');
    await mkdir(badInput);
    await writeParquet(sample, join(badInput, 'june.parquet'), 'SELECT * REPLACE (-1.0 AS spend) FROM {june}');
    const error = await inProcessWorker('faults-invalid', STAGE_FUNCTIONS, async () => {
      const handle = await start('faults-invalid', { input: badInput });
      return handle.result().then(
        () => undefined,
        (failure: unknown) => ({ failure, attempts: activityAttempts(handle.workflowId) }),
      );
    });
    expect(error?.failure).toBeInstanceOf(WorkflowFailedError);
    expect(describeRunFailure(error?.failure)).toMatch(/^DataQualityError: .* break the usage contract/);
    expect((await error?.attempts)?.every((attempt) => attempt === 1)).toBe(true);
    expect(await readFile(join(monthDir(store, '2026-06'), 'latest.json'), 'utf8')).toBe(latestBefore);
    expect(await listVersions(store, '2026-06')).toEqual([1, 2, 3]);
    const verified = await verifyAudit(store, { publicKey });
    expect(verified, JSON.stringify(verified.problems)).toMatchObject({ ok: true, signatures: 'checked' });
  });

  for (const [name, options, pattern] of [
    ['full', 'size=16k', /No space left on device/],
    ['read-only', 'ro,size=1m', /read-only file system/i],
  ] as const) {
    it(`a ${name} snapshot folder: a clear error and no partial snapshot`, async () => {
      const month = name === 'full' ? '2026-05' : '2026-04';
      const target = monthDir(store, month);
      await mkdir(target, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', target]);
      mounts.push(target);
      const failure = await inProcessWorker(`faults-${name}`, STAGE_FUNCTIONS, async () => {
        const handle = await start(`faults-${name}`, { month });
        return handle.result().then(
          () => undefined,
          (error: unknown) => error,
        );
      });
      const message = describeRunFailure(failure);
      expect(message).toMatch(/^SnapshotStoreError: cannot write the snapshot for/);
      expect(message).toMatch(pattern);
      expect(message).toMatch(/Nothing was published/);
      // full: the stage cache in the same store is what can go
      if (name === 'full') expect(message).toMatch(/segflow cache prune frees space/);
      expect(await readdir(target)).toEqual([]);
      expect(existsSync(join(target, 'latest.json'))).toBe(false);
    });
  }
});
