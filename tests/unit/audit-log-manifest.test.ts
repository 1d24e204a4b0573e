import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recordAudit } from '../../store/audit-record';
import { readAuditLog, recomputeHash, type AuditEntry } from '../../store/audit-log';
import { verifyAudit } from '../../store/audit-verify';
import { canonicalJson, sha256 } from '../../store/hashing';
import { auditLogPath, monthDir, versionDir, type StoreConfig } from '../../store/layout';
import { AUDIT_MONTH as MONTH } from '../audit-store';
import { storeIn, tempDir } from '../helpers';

/**
 * A published run as the workflow records it: run.requested with the parameters as given, the
 * load's parameters hash, the publish stage's version and run.published pinning the manifest, which
 * holds the parameters with the defaults filled in and who requested the run.
 */
async function publishRun(
  store: StoreConfig,
  version: number,
  requested: Record<string, unknown>,
  manifestParams: Record<string, unknown>,
  options: { actor?: string; experiment?: boolean } = {},
): Promise<void> {
  const run = { workflowId: `segflow-${MONTH}-v${version}`, runId: `run-${version}` };
  const actor = options.actor ?? 'root';
  const paramsHash = sha256(canonicalJson(manifestParams));
  const dir = versionDir(store, MONTH, version);
  await mkdir(dir, { recursive: true });
  const manifest = {
    snapshot: {
      month: MONTH,
      version,
      publishedAt: '2026-07-01T00:00:00Z',
      ...(options.experiment ? { experiment: true } : {}),
    },
    run,
    requestedBy: actor,
    params: manifestParams,
    paramsHash,
    outputs: [],
  };
  const text = JSON.stringify(manifest, null, 2) + '\n';
  await writeFile(join(dir, 'manifest.json'), text);
  if (!options.experiment)
    await writeFile(join(monthDir(store, MONTH), 'latest.json'), JSON.stringify({ month: MONTH, version }));
  const experiment = options.experiment ? { experiment: true } : {};
  const record = (event: AuditEntry['event'], details: Record<string, unknown>, subject?: string) =>
    recordAudit(store, { event, run, month: MONTH, actor, details, ...(subject ? { subject } : {}) });
  await record('run.requested', { params: requested, partitions: 1, ...experiment });
  await record('run.started', { attempt: 1 });
  await record('stage.finished', { paramsHash }, 'load');
  await record('stage.finished', { version, alreadyPublished: false }, 'publish');
  await record('run.published', { month: MONTH, version, manifestSha256: sha256(text), ...experiment });
}

/** Rewrites entries and re-hashes the whole chain with the project's own entry hash, as the auditor did. */
async function rechain(store: StoreConfig, edit: (entry: AuditEntry) => AuditEntry): Promise<void> {
  let prevHash = '0'.repeat(64);
  const lines = (await readAuditLog(store)).map((original) => {
    const entry = { ...edit(original), prevHash };
    entry.hash = recomputeHash(entry);
    prevHash = entry.hash;
    return JSON.stringify(entry);
  });
  await writeFile(auditLogPath(store), lines.join('\n') + '\n');
}

const INPUT = '/data/usage';
/** What the run's code records in the manifest for a request of k 4: every default filled in. */
const FILLED = { month: MONTH, input: INPUT, k: 4, historyMonths: 6, treeDepth: 6, churnModel: 'boosted' };

describe('audit verify: the log against the manifests it pins', () => {
  it('a published run whose request was edited and the chain re-hashed is named: LOG AND MANIFEST DISAGREE', async () => {
    const store = storeIn(await tempDir());
    await publishRun(store, 1, { month: MONTH, input: INPUT, k: 4 }, FILLED);
    await publishRun(store, 2, { month: MONTH, input: INPUT, k: 4 }, FILLED);
    expect(await verifyAudit(store)).toMatchObject({ ok: true, published: 2 });

    // the auditor's walkthrough: actor root -> alice, k 4 -> 5 in v1's run.requested, every hash recomputed
    await rechain(store, (entry) =>
      entry.event === 'run.requested' && entry.run.runId === 'run-1'
        ? {
            ...entry,
            actor: 'alice',
            details: { ...entry.details, params: { ...(entry.details?.params as object), k: 5 } },
          }
        : entry,
    );
    const report = await verifyAudit(store);
    expect(report.chainIntact).toBe(true);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => `${p.where}: ${p.problem}`)).toEqual([
      `snapshots/${MONTH}/v1: LOG AND MANIFEST DISAGREE: the audit log's entries of run segflow-${MONTH}-v1 (run-1) say otherwise than the manifest its run.published entry (audit seq 5) pins by sha256: ` +
        'requested by: the manifest says root, run.requested (audit seq 1) alice; ' +
        'param k: the manifest says 4, run.requested (audit seq 1) 5. ' +
        "Entries were edited and the chain re-hashed after them ('--public-key' shows whether segflow signed them), or the manifest was rebuilt with its hash in the log",
    ]);
  });

  it('an entry edited without re-hashing is named as edited, not again as disagreeing with the manifest', async () => {
    const store = storeIn(await tempDir());
    await publishRun(store, 1, { month: MONTH, input: INPUT, k: 4 }, FILLED);
    const lines = (await readFile(auditLogPath(store), 'utf8')).split('\n');
    lines[0] = lines[0].replace('"actor":"root"', '"actor":"alice"');
    await writeFile(auditLogPath(store), lines.join('\n'));
    expect((await verifyAudit(store)).problems.map((p) => p.problem)).toEqual([
      'entry seq 1 was edited: its content no longer matches its hash',
    ]);
  });

  it('names a month, version, parameters hash or experiment flag changed, not a parameter left out of the request', async () => {
    const store = storeIn(await tempDir());
    await publishRun(store, 1, { month: MONTH, input: INPUT, k: 4, treeDepth: 5 }, { ...FILLED, treeDepth: 5 });
    await publishRun(store, 2, { month: MONTH, input: INPUT, k: 4 }, FILLED, { experiment: true });
    expect(await verifyAudit(store)).toMatchObject({ ok: true });
    await rechain(store, (entry) => {
      const details = entry.details ?? {};
      if (entry.run.runId === 'run-1' && entry.event === 'run.requested') {
        // k and treeDepth left out: not compared (today's default may not be the one the run's code filled in)
        const { k: _k, treeDepth: _depth, ...params } = details.params as Record<string, unknown>;
        return { ...entry, details: { ...details, params } };
      }
      if (entry.run.runId === 'run-1' && entry.event === 'stage.finished' && entry.subject === 'load')
        return { ...entry, month: '2026-05', details: { paramsHash: 'f'.repeat(64) } };
      if (entry.run.runId === 'run-2' && entry.event === 'run.published') {
        const { experiment: _experiment, ...rest } = details;
        return { ...entry, details: rest };
      }
      if (entry.run.runId === 'run-2' && entry.event === 'stage.finished' && entry.subject === 'publish')
        return { ...entry, details: { ...details, version: 3 } };
      return entry;
    });
    const all = (await verifyAudit(store)).problems.map((p) => p.problem);
    // v2 recorded as no experiment moves the latest by the log: that is named too
    expect(all).toContain(
      `points to v1, but by the audit log the month's latest is v2 (an experiment or an older version becomes the latest only through segflow snapshots promote)`,
    );
    const problems = all.filter((problem) => problem.startsWith('LOG AND MANIFEST DISAGREE'));
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain('month: the manifest says 2026-06, stage.finished load (audit seq 3) 2026-05');
    expect(problems[0]).toContain('parameters hash: the manifest says ');
    expect(problems[0]).toContain(', stage.finished load (audit seq 3) ffffffffffff…');
    expect(problems[0]).not.toContain('param k');
    expect(problems[0]).not.toContain('param treeDepth');
    expect(problems[1]).toContain('version: the manifest says v2, stage.finished publish (audit seq 9) v3');
    expect(problems[1]).toContain('experiment: the manifest says yes, run.published (audit seq 10) no');
  });

  it("agrees with defaults left out, and with an older segflow's manifest that lacks a parameter added since", async () => {
    const store = storeIn(await tempDir());
    // the request as given; the manifest with defaults filled in
    await publishRun(store, 1, { month: MONTH, input: INPUT, k: 4 }, FILLED);
    // a manifest from before churnModel existed: the request and the manifest both leave it out
    // ... and whose defaults were others: kmeansSampleSize was 50,000 before it was 20,000
    const { churnModel: _model, ...older } = FILLED;
    await publishRun(store, 2, { month: MONTH, input: INPUT, k: 4 }, { ...older, kmeansSampleSize: 50_000 });
    // a manifest without parameters or requester (as the other audit tests' stores): nothing to compare
    await publishRun(store, 3, { month: MONTH, input: INPUT }, FILLED, { actor: 'ana' });
    const manifestPath = join(versionDir(store, MONTH, 3), 'manifest.json');
    const { params: _params, requestedBy: _by, ...bare } = JSON.parse(await readFile(manifestPath, 'utf8'));
    const bareText = JSON.stringify(bare);
    await writeFile(manifestPath, bareText);
    await rechain(store, (entry) =>
      entry.event === 'run.published' && entry.run.runId === 'run-3'
        ? { ...entry, details: { ...entry.details, manifestSha256: sha256(bareText) } }
        : entry,
    );
    expect(await verifyAudit(store)).toMatchObject({ ok: true, published: 3 });
  });
});
