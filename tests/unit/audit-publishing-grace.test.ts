import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { recordAudit } from '../../store/audit-record';
import { verifyAudit } from '../../store/audit-verify';
import { monthDir, versionDir, type StoreConfig } from '../../store/layout';
import { AUDIT_MONTH, storeWithVersions } from '../audit-store';

const MONTH = AUDIT_MONTH;

/** A folder at `version` copied from v1, its manifest rewritten to name `run` and be published now, latest.json on it. */
async function forge(store: StoreConfig, version: number, run: { workflowId: string; runId: string }) {
  const dir = versionDir(store, MONTH, version);
  await cp(versionDir(store, MONTH, 1), dir, { recursive: true });
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  manifest.snapshot = { ...manifest.snapshot, version, publishedAt: new Date().toISOString() };
  manifest.run = run;
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  await writeFile(join(monthDir(store, MONTH), 'latest.json'), JSON.stringify({ month: MONTH, version }));
}

/** Records `event` of `run` as if written `hoursAgo` hours ago. */
async function recordedAgo(
  store: StoreConfig,
  hoursAgo: number,
  event: 'run.requested' | 'run.started',
  runId: string,
) {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.now() - hoursAgo * 3600_000);
  try {
    await recordAudit(store, { event, run: { workflowId: `wf-${runId}`, runId }, month: MONTH, actor: 'ana' });
  } finally {
    vi.useRealTimers();
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('audit verify: the "being published" grace goes by the log, not by the manifest', () => {
  it("a folder naming a run that stopped writing hours ago is not being published, whatever its manifest's publish time", async () => {
    const store = await storeWithVersions(4);
    // requested and started three hours ago, then terminated: it never recorded an ending
    await recordedAgo(store, 3, 'run.requested', 'terminated');
    await recordedAgo(store, 3, 'run.started', 'terminated');
    await forge(store, 5, { workflowId: 'wf-terminated', runId: 'terminated' });
    // an operator's entry about the run is not the run writing: it does not renew the grace
    await recordAudit(store, {
      event: 'run.cancel-requested',
      run: { workflowId: 'wf-terminated', runId: 'terminated' },
      month: MONTH,
      actor: 'ops',
      subject: 'by ops',
    });
    const report = await verifyAudit(store);
    expect(report.publishing).toEqual([]);
    expect(report.problems).toContainEqual({
      where: `snapshots/${MONTH}/v5`,
      problem: 'not recorded as published in the audit log',
    });
    expect(report.ok).toBe(false);
  });

  it('a run publishing now (its last entry minutes old) is still being published, not a finding', async () => {
    const store = await storeWithVersions(4);
    await recordedAgo(store, 0.5, 'run.requested', 'now');
    await recordedAgo(store, 0.25, 'run.started', 'now');
    await forge(store, 5, { workflowId: 'wf-now', runId: 'now' });
    expect(await verifyAudit(store)).toMatchObject({ ok: true, publishing: [`${MONTH}/v5`], problems: [] });
  });
});
