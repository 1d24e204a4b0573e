import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import stringWidth from 'string-width';
import { describe, expect, it } from 'vitest';
import { runsListText } from '../../cli/commands/runs';
import { TEXT_WIDTH } from '../../cli/options';
import type { RunListing } from '../../pipelines/runs';
import { recordAudit } from '../../store/audit-record';
import { versionDir, type StoreConfig } from '../../store/layout';
import { STAGE_CACHE_FORMAT, type SnapshotPointing, type StageArtifact } from '../../store/stage-cache';
import { keyPair, segflowOnStore, writeArtifactJson } from '../audit-store';
import { storeIn, tempDir } from '../helpers';

/** The lines of `text` wider than the listings' width, in terminal columns (a Chinese character takes two). */
const tooWide = (text: string) => text.split('\n').filter((line) => stringWidth(line) > TEXT_WIDTH);

/** A store under a long path, as an operator's mounted volume gives one. */
async function storeAtLongPath(): Promise<StoreConfig> {
  const deep = join(await tempDir(), 'mnt', 'operator-analytics-shared-volume-eu-west-1', '数据仓库', 'segflow-prod');
  return storeIn(deep);
}

describe('runs list fits 100 columns', () => {
  it('lists 60 runs of schedules, analysts and experiments within 100 columns, every workflow id whole', async () => {
    const store = await storeAtLongPath();
    const months = ['2025-09', '2025-10', '2025-11', '2025-12', '2026-01', '2026-02'];
    const actors = [
      'ana',
      '数据分析师王小明',
      'retention-analytics-team@operator.example.com',
      'schedule:segflow-monthly',
    ];
    const workflowIds: string[] = [];
    for (let i = 0; i < 60; i++) {
      const month = months[i % months.length];
      const actor = actors[i % actors.length];
      const workflowId = actor.startsWith('schedule:')
        ? `segflow-monthly-${month}-02T03:00:00Z`
        : `segflow-${month}-2026-03-0${(i % 9) + 1}T10-${String(i).padStart(2, '0')}-20-665Z`;
      workflowIds.push(workflowId);
      const run = { workflowId, runId: `run-${i}` };
      const experiment = i % 5 === 1;
      const record = (event: 'run.requested' | 'run.published' | 'run.failed' | 'run.cancelled', details = {}) =>
        recordAudit(store, {
          event,
          run,
          month,
          actor,
          details: { ...details, ...(experiment ? { experiment } : {}) },
        });
      await record('run.requested', { params: { month } });
      if (i % 7 === 3) await record('run.failed', { error: { type: 'DataQualityError', message: 'too few rows' } });
      else if (i % 11 === 4) await record('run.cancelled');
      else if (i % 13 !== 5) await record('run.published', { version: Math.floor(i / months.length) + 1 });
      if (i % 5 === 1 && i % 7 !== 3 && i % 11 !== 4 && i % 13 !== 5)
        await recordAudit(store, {
          event: 'snapshot.promoted',
          run,
          month,
          actor: 'ana',
          subject: `${month}/v${Math.floor(i / months.length) + 1}`,
          details: { version: Math.floor(i / months.length) + 1, previous: 1 },
        });
    }
    const segflow = segflowOnStore(store);
    const listed = await segflow('runs', 'list');
    expect(listed.code).toBe(0);
    expect(tooWide(listed.stdout)).toEqual([]);
    const lines = listed.stdout.split('\n');
    expect(lines[0]).toMatch(/^month\s+outcome\s+requested \(UTC\)\s+by\s+workflow id$/);
    // the newest 50, newest last, each with its whole workflow id
    for (const workflowId of workflowIds.slice(-50)) expect(listed.stdout).toContain(workflowId);
    expect(listed.stdout).not.toContain(workflowIds[9]);
    expect(listed.stdout).toContain('promoted v2 (x)');
    expect(listed.stdout).toMatch(/ retention-\S*… /);
    expect(listed.stdout).toContain("(x) an experiment (run --experiment): it does not move the month's latest");
    // Temporal was not reached: no status beside the log's outcome
    expect(listed.stdout).not.toContain('unknown');

    // --json as it was: every field whole
    const json = JSON.parse((await segflow('runs', 'list', '--json')).stdout) as RunListing[];
    expect(json).toHaveLength(50);
    expect(json.find((run) => run.runId === 'run-46')).toMatchObject({
      workflowId: workflowIds[46],
      requestedBy: 'retention-analytics-team@operator.example.com',
      outcome: 'published, since promoted (experiment)',
      version: 8,
      temporalStatus: 'unknown (Temporal unreachable)',
      inAuditLog: true,
    });
  });

  it("says Temporal's status only where it adds to the log's outcome, and puts a workflow id that does not fit beneath its row", () => {
    const run = (over: Partial<RunListing>): RunListing => ({
      workflowId: 'segflow-2026-05-2026-06-02T08-15-00-000Z',
      runId: 'r',
      month: '2026-05',
      requestedBy: 'ana',
      requestedAt: '2026-06-02T08:15:00.000Z',
      outcome: 'published',
      version: 1,
      temporalStatus: 'COMPLETED',
      inAuditLog: true,
      ...over,
    });
    const fitting = runsListText([
      run({}),
      run({ outcome: 'failed', version: null, temporalStatus: 'FAILED' }),
      run({ outcome: 'running', version: null, temporalStatus: 'RUNNING', requestedBy: 'schedule:segflow-monthly' }),
      run({ outcome: 'published, since retired', version: 3, temporalStatus: 'gone (past retention)' }),
    ]);
    expect(fitting.split('\n').slice(2)).toEqual([
      '2026-05  published v1  2026-06-02 08:15  ana                segflow-2026-05-2026-06-02T08-15-00-000Z',
      '2026-05  failed        2026-06-02 08:15  ana                segflow-2026-05-2026-06-02T08-15-00-000Z',
      '2026-05  running       2026-06-02 08:15  schedule:segflow…  segflow-2026-05-2026-06-02T08-15-00-000Z',
      '2026-05  retired v3    2026-06-02 08:15  ana                segflow-2026-05-2026-06-02T08-15-00-000Z',
    ]);
    // a schedule's own runs say schedule: their workflow id names it
    expect(
      runsListText([
        run({ requestedBy: 'schedule:segflow-monthly', workflowId: 'segflow-monthly-2026-06-02T03:00:00Z' }),
      ]).split('\n')[2],
    ).toBe('2026-05  published v1  2026-06-02 08:15  schedule  segflow-monthly-2026-06-02T03:00:00Z');
    // another store's run on this task queue, with a long schedule id: the id goes beneath, whole
    const longId = 'segflow-monthly-analytics-eu-west-2026-06-02T03:00:00Z';
    const wide = runsListText([
      run({}),
      run({
        workflowId: longId,
        requestedBy: 'schedule:segflow-monthly-analytics-eu-west',
        outcome: 'no audit entry',
        version: null,
        temporalStatus: 'COMPLETED',
        inAuditLog: false,
      }),
      run({ outcome: 'ended unrecorded', version: null, temporalStatus: 'TERMINATED', requestedBy: '王小明' }),
    ]);
    expect(tooWide(wide)).toEqual([]);
    expect(wide).toContain(`no audit entry (COMPLETED)     2026-06-02 08:15  schedule\n  ${longId}\n`);
    expect(wide).toContain('ended unrecorded (TERMINATED)  2026-06-02 08:15  王小明\n');
    expect(wide).toContain(
      'no audit entry: a run Temporal holds that the audit log has nothing of: it ended before it wrote its\n  first entry',
    );
  });
});

describe('cache list fits 100 columns', () => {
  it('lists every stage of a large store within 100 columns: keys cut as git cuts hashes, snapshots counted', async () => {
    const store = await storeAtLongPath();
    const { signer } = keyPair();
    const stages = [
      'load-plan',
      'load-features',
      'usage-month',
      'feature-month',
      'segments',
      'churn-ensemble',
      'churn-scores',
      'churn-tree',
      'dispatch-reasons',
    ];
    const keys: string[] = [];
    const june: string[] = [];
    const april: string[] = [];
    for (const [index, stage] of stages.entries()) {
      for (const month of ['2026-04', '2026-05', '2026-06']) {
        const key = `${index}${month.replace('-', '')}`.padEnd(64, 'abcdef0123456789');
        keys.push(key);
        if (month === '2026-06') june.push(key);
        if (month === '2026-04') april.push(key);
        const artifact: StageArtifact = {
          format: STAGE_CACHE_FORMAT,
          stage,
          key,
          createdAt: `${month}-02T03:00:00.000Z`,
          producedBy: {
            workflowId: `segflow-monthly-analytics-eu-west-${month}-02T03:00:00Z`,
            runId: '0193a6f4-5b3c-7d2e-9f10-1a2b3c4d5e6f',
          },
          month,
          code: 'c0de'.repeat(16),
          files: [
            { file: 'features.parquet', sha256: '0'.repeat(64), bytes: 12_345 * 2 ** 20 + index, rows: 10_000_000 },
          ],
        };
        const dir = await writeArtifactJson(store, artifact, signer);
        const usedAt = new Date(`${month}-03T04:05:06Z`);
        await utimes(dir, usedAt, usedAt);
      }
    }
    const snapshot = async (month: string, version: number, keys: string[], experiment = false) => {
      const dir = versionDir(store, month, version);
      await mkdir(dir, { recursive: true });
      await writeFile(
        join(dir, 'manifest.json'),
        JSON.stringify({
          snapshot: { month, version, ...(experiment ? { experiment } : {}) },
          lineage: { stageKey: keys[0], churnKeys: keys.slice(1), reused: [] },
        }),
      );
    };
    // twelve versions of June point at the June artifacts: the month's latest (v3, a rollback
    // past experiments) is named, not the newest, and the others counted
    for (let version = 1; version <= 12; version++) await snapshot('2026-06', version, june, version > 3);
    await writeFile(join(store.storeDir, 'snapshots', '2026-06', 'latest.json'), JSON.stringify({ version: 3 }));
    // April has no latest: an experiment, and a retirement cut short before its folder went
    await snapshot('2026-04', 1, [april[0]], true);
    await snapshot('2026-04', 2, [april[1]]);
    await writeFile(join(store.storeDir, 'snapshots', '2026-04', 'v2.retired.json'), '{}');
    const segflow = segflowOnStore(store);
    const listed = await segflow('cache', 'list');
    expect(listed.code).toBe(0);
    expect(tooWide(listed.stdout)).toEqual([]);
    const lines = listed.stdout.split('\n');
    expect(lines[0]).toMatch(/^stage\s+key\s+month\s+size\s+code\s+signedBy\s+last used \(UTC\)\s+snapshots$/);
    expect(lines.slice(2, 29)).toHaveLength(27);
    expect(lines.find((line) => line.startsWith('dispatch-reasons  ') && line.includes('2026-06'))).toMatch(
      new RegExp(
        `^dispatch-reasons  ${keys[26].slice(0, 8)}  2026-06  12345\\.0 MiB  other\\s+\\S{8}  2026-06-03 04:05  2026-06/v3 \\+11$`,
      ),
    );
    expect(listed.stdout).toContain('27 stored, 333315.0 MiB');
    const rowOf = (key: string) => lines.findIndex((line) => line.includes(`  ${key.slice(0, 8)}  `));
    expect(lines[rowOf(april[0])]).toMatch(/ {2}2026-04\/v1 \(x\)$/);
    // too wide beside its row: beneath it, whole
    expect(lines[rowOf(april[1]) + 1]).toBe('  2026-04/v2 (retired)');
    expect(listed.stdout).toContain(
      "snapshots: the latest snapshot of its month pointing at it (the one 'segflow snapshots show <month>'",
    );

    // --json as it was: full keys, the producing run, every snapshot
    const json = JSON.parse((await segflow('cache', 'list', '--json')).stdout) as (StageArtifact & {
      usedBy: string[];
      snapshots: SnapshotPointing[];
      signedBy: string;
    })[];
    expect(json).toHaveLength(27);
    const dispatchJune = json.find((a) => a.key === keys[26]);
    expect(dispatchJune?.producedBy.workflowId).toBe('segflow-monthly-analytics-eu-west-2026-06-02T03:00:00Z');
    expect(dispatchJune?.usedBy).toHaveLength(12);
    expect(dispatchJune?.snapshots[2]).toEqual({
      snapshot: '2026-06/v3',
      latest: true,
      experiment: false,
      retired: false,
    });
    expect(dispatchJune?.snapshots[11]).toMatchObject({ snapshot: '2026-06/v12', latest: false, experiment: true });
    expect(dispatchJune?.signedBy).toHaveLength(16);
  });
});

describe('cache prune fits 100 columns', () => {
  it('prints every line within 100 columns: dry run and real, by age, size and code', async () => {
    const store = await storeAtLongPath();
    const flying = {
      workflowId: 'segflow-monthly-analytics-eu-west-2026-06-02T03:00:00Z',
      runId: '0193a6f4-5b3c-7d2e-9f10-1a2b3c4d5e6f',
    };
    const ended = { workflowId: 'segflow-2026-05-2026-06-01T10-20-30-665Z', runId: 'ended' };
    const month = '2026-06';
    await recordAudit(store, { event: 'run.requested', run: ended, month, actor: '数据分析师王小明', details: {} });
    await recordAudit(store, { event: 'run.failed', run: ended, month, actor: '数据分析师王小明', details: {} });
    await recordAudit(store, { event: 'run.requested', run: flying, month, actor: 'schedule:x', details: {} });
    const stages = ['load-features', 'feature-month', 'segments', 'churn-ensemble', 'dispatch-reasons'];
    const pinned: string[] = [];
    for (const [index, stage] of stages.entries()) {
      // each stage: one a snapshot points at, one the run in flight stored, one an ended run's
      for (const [n, run] of [ended, flying, ended].entries()) {
        const key = `${index}${n}`.padEnd(64, 'abcdef0123456789');
        if (n === 0) pinned.push(key);
        const artifact: StageArtifact = {
          format: STAGE_CACHE_FORMAT,
          stage,
          key,
          createdAt: '2026-06-02T03:00:00.000Z',
          producedBy: run,
          month,
          code: (n === 2 ? 'c0de' : 'beef').repeat(16),
          files: [{ file: 'f', sha256: '0'.repeat(64), bytes: 123_456 * 2 ** 20 + index, rows: 1 }],
        };
        const dir = await writeArtifactJson(store, artifact);
        const usedAt = new Date(`2026-0${n + 1}-03T04:05:06Z`);
        await utimes(dir, usedAt, usedAt);
      }
    }
    const dir = versionDir(store, month, 1);
    await mkdir(dir, { recursive: true });
    const lineage = { stageKey: pinned[0], churnKeys: pinned.slice(1), reused: [] };
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ snapshot: { month, version: 1 }, lineage }));

    const segflow = segflowOnStore(store);
    for (const args of [
      ['--older-than', '0m', '--max-size', '0', '--dry-run'],
      ['--max-size', '1GB', '--dry-run'],
      ['--older-code', '--dry-run'],
      ['--older-than', '0m', '--max-size', '0'],
    ]) {
      const pruned = await segflow('cache', 'prune', ...args);
      expect(pruned.code).toBe(0);
      expect(tooWide(pruned.stdout)).toEqual([]);
      if (args[1] === '0m') {
        expect(pruned.stdout).toContain('kept because published snapshots point at them:');
        expect(pruned.stdout).toContain('kept because runs not ended yet stored them or used them since they');
        expect(pruned.stdout).toMatch(/^stage\s+key\s+month\s+size\s+code\s+signedBy\s+last used \(UTC\)\s+keptFor$/m);
        expect(pruned.stdout).toContain(`  ${flying.workflowId} (stored by it)`);
        expect(pruned.stdout).toContain('still 1234560.0 MiB, over --max-size 0.0 MiB');
      }
    }
  });
});
