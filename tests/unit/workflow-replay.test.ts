import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type ReplayResult } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../worker/config';
import { WORKFLOWS_PATH } from '../../worker';

/**
 * Replay safety: the histories in tests/fixtures/histories/ (recorded by
 * tests/e2e/record-histories.test.ts) must replay against the current workflow code. A change to
 * the order or kind of the workflow's commands that is not behind `patched()` fails here, not in
 * production, where runs in flight at deploy time (compute stages run up to two hours) would
 * stop with a nondeterminism error. See docs/reliability-audit.md.
 */
const HISTORIES_DIR = new URL('../fixtures/histories/', import.meta.url).pathname;
const RECORDED = [
  'cancelled',
  'cancelled-awaited',
  'failed',
  'happy-path',
  'happy-path-side-by-side',
  'partition-failed',
  'partitioned',
  'partitioned-side-by-side',
  'rerun-stored-models',
  'side-by-side-failed',
];

/** The outcome of every recorded history when all replay but `broken`, which a nondeterminism error stops. */
const onlyBreaking = (...broken: string[]) =>
  Object.fromEntries(RECORDED.map((name) => [name, broken.includes(name) ? 'DeterminismViolationError' : 'ok']));

async function loadHistories(): Promise<{ workflowId: string; history: temporal.api.history.v1.History }[]> {
  const files = (await readdir(HISTORIES_DIR)).filter((name) => name.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (file) => ({
      workflowId: basename(file, '.json'),
      history: temporal.api.history.v1.History.fromObject(
        JSON.parse(await readFile(join(HISTORIES_DIR, file), 'utf8')),
      ),
    })),
  );
}

async function replayAll(workflowsPath: string): Promise<ReplayResult[]> {
  const logger = new DefaultLogger('ERROR');
  const workflowBundle = await bundleWorkflowCode({ workflowsPath, logger });
  const results: ReplayResult[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle }, await loadHistories())) results.push(result);
  return results;
}

describe('workflow replay against recorded histories', () => {
  let scratch: string;
  beforeAll(async () => {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    // inside the clone, so the copied workflow resolves @temporalio/* from its node_modules
    await mkdir(join(REPO_ROOT, '.segflow'), { recursive: true });
    scratch = await mkdtemp(join(REPO_ROOT, '.segflow', 'replay-test-'));
  });
  afterAll(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  /**
   * The recorded histories replayed on the workflow with `from` (which it must hold) replaced by
   * `to`, and each history's outcome: 'ok' or the error's name.
   */
  async function replayEdited(name: string, from: string, to: string) {
    const source = await readFile(join(REPO_ROOT, 'workflows', 'monthly-segmentation.ts'), 'utf8');
    expect(source).toContain(from);
    const path = join(scratch, name);
    // the copy lives elsewhere: its relative imports point back into the clone
    await writeFile(path, source.replace(from, to).replaceAll("from '../", `from '${REPO_ROOT}`));
    const results = await replayAll(path);
    return { results, outcome: Object.fromEntries(results.map((r) => [r.workflowId, r.error?.name ?? 'ok'])) };
  }

  it('every recorded history (happy path and partitioned, before and after the side-by-side patch; failed, cancelled, before and after the awaited-cancellation patch; a failed partition; a rerun taking stored segments and tree; a churn failure beside the clustering) replays on the current bundle', async () => {
    const results = await replayAll(WORKFLOWS_PATH);
    expect(results.map((r) => r.workflowId).sort()).toEqual(RECORDED);
    expect(
      results.map((r) => [r.workflowId, r.error?.message ?? 'ok']),
      'a recorded run no longer replays on this workflow code: a run in flight at deploy time would stop the same way. Put the changed commands behind patched() (PATCHES in workflows/monthly-segmentation.ts; docs/reliability-audit.md, "Changing the workflow: the `patched()` rule")',
    ).toEqual(results.map((r) => [r.workflowId, 'ok']));
  });

  it('catches a reordering change: training churn before clustering breaks the runs that got that far', async () => {
    // the order the recorded runs took (before the 'models-side-by-side' patch): cluster, then churn
    const { results, outcome } = await replayEdited(
      'reordered-workflow.ts',
      '      cluster = await clusterStage();\n      churn = await churnStage();\n',
      '      churn = await churnStage();\n      cluster = await clusterStage();\n',
    );
    // failed, cancelled, cancelled-awaited and partition-failed ended in the load or features, before
    // the reordered calls; the side-by-side histories and rerun-stored-models were recorded with the
    // 'models-side-by-side' patch and take the branch the reordering left alone
    expect(outcome).toEqual(onlyBreaking('happy-path', 'partitioned'));
    expect(results.find((r) => r.workflowId === 'happy-path')?.error?.message).toMatch(
      /trainAndScoreChurn|nondetermin/i,
    );
  });
  it('catches the side-by-side branch removed: the runs recorded with it break, the older ones replay', async () => {
    const { outcome } = await replayEdited(
      'sequential-workflow.ts',
      'if (patched(PATCHES.modelsSideBySide) && ',
      'if (false && ',
    );
    // cancelled-awaited and partition-failed were recorded with the side-by-side patch, but ended before the branch
    expect(outcome).toEqual(
      onlyBreaking('happy-path-side-by-side', 'partitioned-side-by-side', 'rerun-stored-models', 'side-by-side-failed'),
    );
  });
  it('catches the awaited cancellation switched off: the failed partition recorded with it breaks, the older runs replay', async () => {
    // the patch still asked for (its marker matched), its branch not taken
    const { outcome } = await replayEdited(
      'unawaited-workflow.ts',
      'const stagesAwaited = patched(PATCHES.cancelledStagesAwaited);',
      'const stagesAwaited = patched(PATCHES.cancelledStagesAwaited) && false;',
    );
    // the other partition's cancellation is a command only the awaited branch sends, and so is the
    // clustering's, side by side. cancelled-awaited replays: both ways of cancelling send the same
    // command, and the markers after it replay either way (it pins the patch, not the waiting: the
    // stub test checks the order of events)
    expect(outcome).toEqual(onlyBreaking('partition-failed', 'side-by-side-failed'));
  });
  it('catches the side-by-side all-or-none switched off: the churn failure recorded with it breaks, the older runs replay', async () => {
    const { outcome } = await replayEdited(
      'side-by-side-settled-workflow.ts',
      'if (stagesAwaited && patched(PATCHES.sideBySideAllOrNone)) {',
      'if (stagesAwaited && patched(PATCHES.sideBySideAllOrNone) && false) {',
    );
    // the clustering's cancellation is a command only the all-or-none branch sends
    expect(outcome).toEqual(onlyBreaking('side-by-side-failed'));
  });
});
