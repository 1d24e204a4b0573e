import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { recordAudit } from '../../store/audit-record';
import { listRuns, showRun } from '../../pipelines/runs';
import { chainBreak, readAuditLog } from '../../store/audit-log';
import { auditLogPath, type StoreConfig } from '../../store/layout';
import { segflowOnStore } from '../audit-store';
import { storeIn, tempDir } from '../helpers';

const MONTH = '2026-06';

/** Two published runs, six entries, the first run's requested by root. */
async function twoRuns(): Promise<StoreConfig> {
  const store = storeIn(await tempDir());
  for (const [runId, version] of [
    ['first', 1],
    ['second', 2],
  ] as const) {
    const run = { workflowId: `wf-${runId}`, runId };
    await recordAudit(store, { event: 'run.requested', run, month: MONTH, actor: 'root', details: { params: {} } });
    await recordAudit(store, { event: 'run.started', run, month: MONTH, actor: 'root', details: {} });
    await recordAudit(store, { event: 'run.published', run, month: MONTH, actor: 'root', details: { version } });
  }
  return store;
}

/** Rewrites the log's line of entry `seq` (or drops it) without re-hashing anything: what verify calls edited. */
async function editLine(store: StoreConfig, seq: number, edit: (line: string) => string | null): Promise<void> {
  const lines = (await readFile(auditLogPath(store), 'utf8')).trimEnd().split('\n');
  const edited = lines.flatMap((line, index) => {
    if (index !== seq - 1) return [line];
    const replaced = edit(line);
    return replaced === null ? [] : [replaced];
  });
  await writeFile(auditLogPath(store), edited.join('\n') + '\n');
}

describe('runs list and runs show read the audit log checking its chain', () => {
  it('say on stderr where the chain is broken, and still show what the log holds', async () => {
    const store = await twoRuns();
    const warnings: string[] = [];
    const warn = (text: string) => warnings.push(text);
    expect(await listRuns(store, undefined, { limit: 10 }, warn)).toHaveLength(2);
    expect(warnings).toEqual([]);

    // the second run's request: actor root -> mallory, its hash left as it was
    await editLine(store, 4, (line) => line.replace('"actor":"root"', '"actor":"mallory"'));
    const runs = await listRuns(store, undefined, { limit: 10 }, warn);
    expect(runs.map((run) => run.requestedBy)).toEqual(['root', 'mallory']);
    const broken =
      "warning: the audit log's chain is broken at seq 4 (entry seq 4 was edited: its content no longer matches its hash): entries from there on may not be what segflow recorded ('segflow audit verify' names it)";
    expect(warnings).toEqual([broken]);
    const shown = await showRun(store, undefined, 'wf-second', warn);
    expect(shown.audit.map((entry) => entry.actor)).toEqual(['mallory', 'root', 'root']);
    expect(warnings).toEqual([broken, broken]);
  });

  it('names a removed entry, or a log whose first entries are gone, by the link after it', async () => {
    const removed = await twoRuns();
    await editLine(removed, 2, () => null);
    expect(chainBreak(await readAuditLog(removed))).toEqual({
      seq: 3,
      problem: 'prevHash does not match the previous entry (an entry was removed, inserted or reordered)',
    });
    const entries = await readAuditLog(await twoRuns());
    expect(chainBreak(entries)).toBeUndefined();
    expect(chainBreak(entries.slice(2))).toEqual({
      seq: 3,
      problem: 'prevHash does not match the previous entry (an entry was removed, inserted or reordered)',
    });
  });

  it('on the command line: the warning on stderr, the listing on stdout, exit 0', async () => {
    const store = await twoRuns();
    await editLine(store, 4, (line) => line.replace('"actor":"root"', '"actor":"mallory"'));
    const segflow = segflowOnStore(store);
    const listed = await segflow('runs', 'list');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('mallory');
    expect(listed.stderr).toContain("warning: the audit log's chain is broken at seq 4 (entry seq 4 was edited");
    const shown = await segflow('runs', 'show', 'wf-second', '--json');
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ audit: [{ actor: 'mallory' }, {}, {}] });
    expect(shown.stderr).toContain("the audit log's chain is broken at seq 4");
  });
});
