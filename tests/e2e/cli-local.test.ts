import { userInfo } from 'node:os';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freeLocalAddress, isServerUp, serverOnDatabase } from '../../cli/dev-server';
import { generateSample } from '../../data/generate';
import { readAuditLog } from '../../store/audit-log';
import { latestVersion, listVersions } from '../../store/snapshots';
import { REPO_ROOT } from '../../worker/config';
import { storeIn, tempDir, usageCsv } from '../helpers';

/** The CLI as a user starts it, in its own process group so a "Ctrl-C" reaches it the way a terminal sends one. */
function startCli(args: string[], env: Record<string, string>) {
  const child = spawn(join(REPO_ROOT, 'bin', 'segflow'), args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (out.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out.stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  let running = true;
  void exited.then(() => (running = false));
  const waitFor = async (text: string, timeoutMs: number) => {
    for (const deadline = Date.now() + timeoutMs; !out.stdout.includes(text);) {
      if (!running || Date.now() > deadline)
        throw new Error(`no "${text}" in the output:\n${out.stdout}\n${out.stderr}`);
      await new Promise((resolveWait) => setTimeout(resolveWait, 200));
    }
  };
  return { child, out, exited, waitFor, ctrlC: () => process.kill(-child.pid!, 'SIGINT') };
}

async function localEnv() {
  const home = await tempDir();
  const uiPort = Number((await freeLocalAddress()).split(':')[1]);
  return { home, uiPort, env: { SEGFLOW_HOME: home, TEMPORAL_ADDRESS: await freeLocalAddress() } };
}

/** Commands that start and stop processes themselves: server, run --local, demo. */
describe('segflow commands that start the local stack', { timeout: 600_000 }, () => {
  it('server exits within seconds of SIGTERM, and schedule commands name a missing schedule plainly', async () => {
    const { home, env, uiPort } = await localEnv();
    const server = startCli(['server', '--ui-port', String(uiPort)], env);
    await server.waitFor('Temporal dev server started', 180_000);

    const pause = startCli(['schedule', 'pause', '--id', 'no-such-schedule'], env);
    expect(await pause.exited).toBe(2);
    expect(pause.out.stderr).toContain('no schedule "no-such-schedule" (there are none yet');
    expect(pause.out.stderr).not.toContain('temporal-sys-scheduler');

    // a run with no worker polling says so and how to start one; runs cancel records who cancelled it
    // an input the run's plan takes: one it would stop on is refused before a workflow starts
    const usage = join(await tempDir(), 'usage.csv');
    await writeFile(usage, usageCsv('2026-06'));
    const run = startCli(['run', '--month', '2026-06', '--input', usage], env);
    await run.waitFor('started workflow', 60_000);
    const workflowId = /started workflow (\S+)/.exec(run.out.stdout)![1];
    for (const deadline = Date.now() + 60_000; !run.out.stderr.includes('no worker polls');) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((resolveWait) => setTimeout(resolveWait, 200));
    }
    expect(run.out.stderr).toContain(`no worker polls task queue "segflow". Start one with 'segflow worker'`);
    // Ctrl-C stops following, not the run, and says so
    run.ctrlC();
    expect(await run.exited).toBe(130);
    const interrupted = `interrupted: the run goes on in Temporal; 'segflow runs follow ${workflowId}' follows it again, 'segflow runs cancel ${workflowId}' stops it`;
    expect(run.out.stderr).toContain(interrupted);
    // runs follow takes it up again (a schedule's run, a --no-wait one), and lets go on Ctrl-C alike
    const again = startCli(['runs', 'follow', workflowId], env);
    await again.waitFor(`following ${workflowId}`, 60_000);
    again.ctrlC();
    expect(await again.exited).toBe(130);
    expect(again.out.stderr).toContain(interrupted);
    const nowhere = startCli(['runs', 'follow', 'no-such-run'], env);
    expect(await nowhere.exited).toBe(2);
    expect(nowhere.out.stderr).toContain("no run no-such-run in Temporal ('segflow runs list' shows the runs)");
    const cancel = startCli(['runs', 'cancel', workflowId, '--requested-by', 'operator'], env);
    expect(await cancel.exited, cancel.out.stderr).toBe(0);
    // said at once: it stops when a worker polls, not within the 40 s the command waits otherwise
    expect(cancel.out.stdout).toContain(
      `no worker polls task queue "segflow": the run sees the cancellation once one does`,
    );
    // no worker wrote its run.requested: runs list takes who and when from Temporal, not from the cancel
    const listed = startCli(['runs', 'list', '--json'], env);
    expect(await listed.exited, listed.out.stderr).toBe(0);
    const row = (
      JSON.parse(listed.out.stdout) as { workflowId: string; requestedBy: string; requestedAt: string }[]
    ).find((r) => r.workflowId === workflowId);
    expect(row?.requestedBy).toBe(userInfo().username);
    const cancelRequested = (await readAuditLog(storeIn(home))).filter((e) => e.event === 'run.cancel-requested');
    expect(Date.parse(row?.requestedAt ?? '')).toBeLessThan(Date.parse(cancelRequested[0]?.at ?? ''));
    // no worker ever ran it: its month comes from the memo it started with
    expect(cancelRequested).toMatchObject([{ actor: 'operator', run: { workflowId }, month: '2026-06' }]);
    const unknown = startCli(['runs', 'cancel', 'no-such-run'], env);
    expect(await unknown.exited).toBe(2);

    // --no-wait says at once that nothing will take the run yet
    const unwaited = startCli(['run', '--no-wait', '--experiment', '--month', '2026-06', '--input', usage], env);
    expect(await unwaited.exited, unwaited.out.stderr).toBe(0);
    expect(unwaited.out.stderr).toContain(`note: no worker polls task queue "segflow": the run waits until one does`);
    const unwaitedId = /started (\S+)/.exec(unwaited.out.stdout)![1];
    expect(await startCli(['runs', 'cancel', unwaitedId], env).exited).toBe(0);

    // a worker stops on Ctrl-C and its process ends, logging JSON lines only
    const worker = startCli(['worker'], env);
    for (const deadline = Date.now() + 180_000; !worker.out.stderr.includes('"state":"RUNNING"');) {
      expect(Date.now(), worker.out.stderr).toBeLessThan(deadline);
      await new Promise((resolveWait) => setTimeout(resolveWait, 200));
    }
    // it says what it serves
    expect(worker.out.stderr).toContain(
      `segflow worker polling task queue \\"segflow\\" at ${env.TEMPORAL_ADDRESS}, publishing into ${storeIn(home).storeDir}`,
    );
    // and that, without SEGFLOW_DATA_ROOT, a run may name any file its user can read
    expect(worker.out.stderr).toContain('SEGFLOW_DATA_ROOT is not set: a run');
    // run --local of another home refuses a task queue this home's worker polls, before starting a worker:
    // the run would be published into this home's store
    const otherHome = await tempDir();
    const elsewhere = startCli(['run', '--local', '--month', '2026-06', '--input', usage], {
      ...env,
      SEGFLOW_HOME: otherHome,
    });
    expect(await elsewhere.exited, elsewhere.out.stderr).toBe(2);
    expect(elsewhere.out.stderr).toContain(
      `segflow: task queue "segflow" at ${env.TEMPORAL_ADDRESS} is polled by workers of another store (${storeIn(home).storeDir}; workers ${worker.child.pid}@`,
    );
    expect(elsewhere.out.stderr).toContain(
      `not of this one (${storeIn(otherHome).storeDir}): a run started here would be published there. Stop those workers, or give this store its own task queue (SEGFLOW_TASK_QUEUE) or server (TEMPORAL_ADDRESS)`,
    );
    expect(elsewhere.out.stdout).not.toContain('starting a worker');
    expect(await listVersions(storeIn(otherHome), '2026-06')).toEqual([]);
    // followed to its end: the worker takes the cancelled run up, which records that and stops
    const ended = startCli(['runs', 'follow', workflowId], env);
    expect(await ended.exited).toBe(1);
    expect(ended.out.stderr).toContain(
      `run cancelled: it published nothing ('segflow runs show ${workflowId}' says who asked)`,
    );
    worker.ctrlC();
    expect(await worker.exited).toBe(0);
    for (const line of worker.out.stderr.trim().split('\n')) expect(() => JSON.parse(line), line).not.toThrow();

    const stopping = Date.now();
    server.child.kill('SIGTERM');
    await server.exited;
    // the dev server stops in about a second; a forgotten 10 s grace timer used to hold the process
    expect(Date.now() - stopping).toBeLessThan(8_000);
    expect(server.out.stdout).toContain('stopping the Temporal dev server (its runs stay in SQLite');
    expect(await isServerUp(env.TEMPORAL_ADDRESS)).toBe(false);
  });

  it('run --local starts a dev server and a worker, runs, prints the result and stops them', async () => {
    const { home, env, uiPort } = await localEnv();
    const sample = await generateSample({
      outDir: join(home, 'own-data'),
      subscribers: 1_500,
      months: 7,
      lastMonth: '2026-06',
      seed: 3,
    });
    const run = startCli(
      ['run', '--local', '--month', '2026-06', '--input', join(sample.outDir, 'usage'), '--ui-port', String(uiPort)],
      env,
    );
    expect(await run.exited, run.out.stderr).toBe(0);
    expect(run.out.stdout).toContain('started it (stopped again at the end)');
    expect(run.out.stdout).toMatch(/\[ 60%\] churn[\s\S]*\[100%\] done[\s\S]*Snapshot 2026-06 v1/);
    expect(run.out.stdout).toContain('stopping the Temporal dev server this command started');
    // no link to a Web UI that is gone by the time it is read
    expect(run.out.stdout).not.toContain('Temporal Web UI');
    expect(await isServerUp(env.TEMPORAL_ADDRESS)).toBe(false);
    expect(await listVersions(storeIn(home), '2026-06')).toEqual([1]);

    // with --json stdout holds the result alone, for a script to parse: the stack's lines go to stderr;
    // an --experiment leaves the month's latest where it was
    const json = startCli(
      [
        'run',
        '--local',
        '--json',
        '--experiment',
        '--month',
        '2026-06',
        '--input',
        join(sample.outDir, 'usage'),
        '--ui-port',
        String(uiPort),
      ],
      env,
    );
    expect(await json.exited, json.out.stderr).toBe(0);
    expect(JSON.parse(json.out.stdout)).toMatchObject({ month: '2026-06', version: 2, experiment: true });
    expect(await latestVersion(storeIn(home), '2026-06')).toBe(1);
    expect(json.out.stderr).toContain('stopping the Temporal dev server this command started');

    // an input the run's plan would stop on is refused before the dev server starts (exit 2)
    const csv = join(home, 'no-usage.csv');
    await writeFile(csv, 'subscriber_id,month,spend\nS1,2026-06-01,5\n');
    const refused = startCli(
      ['run', '--local', '--month', '2026-06', '--input', csv, '--ui-port', String(uiPort)],
      env,
    );
    expect(await refused.exited).toBe(2);
    expect(refused.out.stderr).toMatch(
      /^segflow: the run would stop at its load: .*no-usage\.csv lacks required column\(s\): voice_minutes.*; nothing was started$/m,
    );
    expect(refused.out.stdout).not.toContain('dev server');
    // a run that fails says why in one line: the worker's own log of the same failure is not repeated
    const oneMonth = join(home, 'one-month.csv');
    await writeFile(oneMonth, usageCsv('2026-06'));
    const failed = startCli(
      ['run', '--local', '--month', '2026-06', '--input', oneMonth, '--ui-port', String(uiPort)],
      env,
    );
    expect(await failed.exited).toBe(1);
    expect(failed.out.stderr.trim().split('\n')).toEqual([
      // another input than the latest's: said before it starts
      expect.stringContaining("note: 2026-06's latest, v1, was built from another input"),
      expect.stringMatching(
        /^run failed: DataQualityError: too little history to train a churn model: .* does the input hold the month before 2026-06\?/,
      ),
    ]);

    // Ctrl-C once it started: the run stays in Temporal, and the command names it to cancel
    const stopped = startCli(
      ['run', '--local', '--month', '2026-06', '--input', join(sample.outDir, 'usage'), '--ui-port', String(uiPort)],
      env,
    );
    await stopped.waitFor('started workflow', 180_000);
    const workflowId = /started workflow (\S+)/.exec(stopped.out.stdout)![1];
    stopped.ctrlC();
    expect(await stopped.exited).toBe(130);
    expect(stopped.out.stderr).toContain(`'segflow runs cancel ${workflowId}' stops it`);
    // the group's Ctrl-C reaches the command, not its server: the worker stops before the server,
    // so it does not retry its calls against a server gone first, and the command stops the server
    expect(stopped.out.stderr + stopped.out.stdout).not.toMatch(/retried \d+ times|tcp connect error/);
    expect(await isServerUp(env.TEMPORAL_ADDRESS)).toBe(false);

    // its dev server killed under it: the command says so and exits 3, where its worker retried without end
    const orphaned = startCli(
      ['run', '--local', '--month', '2026-06', '--input', join(sample.outDir, 'usage'), '--ui-port', String(uiPort)],
      env,
    );
    await orphaned.waitFor('started workflow', 180_000);
    const temporal = serverOnDatabase(join(home, 'temporal', 'temporal.db'));
    expect(temporal?.pid).toBeGreaterThan(0);
    process.kill(temporal!.pid, 'SIGKILL');
    expect(await orphaned.exited, orphaned.out.stderr).toBe(3);
    expect(orphaned.out.stderr).toContain(
      `segflow: the Temporal dev server this command started at ${env.TEMPORAL_ADDRESS} (pid ${temporal!.pid}) stopped without being asked to: killed by SIGKILL`,
    );
    expect(orphaned.out.stderr).toContain("'segflow server' and 'segflow worker', then 'segflow runs list'");
  });

  it('demo --keep-running stops cleanly on Ctrl-C, after printing the whole progress', async () => {
    const { env, uiPort } = await localEnv();
    const demo = startCli(
      ['demo', '--keep-running', '--subscribers', '1500', '--months', '7', '--ui-port', String(uiPort)],
      env,
    );
    await demo.waitFor('press Ctrl-C to stop', 480_000);
    const { stdout } = demo.out;
    expect(stdout.indexOf('[100%] done')).toBeGreaterThan(-1);
    expect(stdout.indexOf('[100%] done')).toBeLessThan(stdout.indexOf('press Ctrl-C'));
    expect(stdout).toMatch(
      /1,500 subscribers were generated over 7 months; the [\d,]+ with usage in \d{4}-\d{2} were scored/,
    );
    demo.ctrlC();
    expect(await demo.exited, demo.out.stderr).toBe(0);
    expect(demo.out.stderr).not.toContain('Not running');
    expect(await isServerUp(env.TEMPORAL_ADDRESS)).toBe(false);
  });
});
