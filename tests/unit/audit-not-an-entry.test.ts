import { recordAudit } from '../../store/audit-record';
import { NON_RETRYABLE_ERROR_TYPES } from '../../domain/errors';
import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { AuditLogLineError, readAuditLog } from '../../store/audit-log';
import { verifyAudit } from '../../store/audit-verify';
import { auditLogPath, type StoreConfig } from '../../store/layout';
import { segflowOnStore, storeWithVersions } from '../audit-store';

/** Lines that are valid JSON but no entry: a reader took `{}` for one and failed far from its line. */
const NOT_ENTRIES = ['{}', 'null', '[]', '42', '"text"', '{"seq":4,"run":null}'];

/** The log with `line` put in as its line `at` (1-based; past the end: appended). */
async function withLine(store: StoreConfig, line: string, at: number): Promise<string> {
  const path = auditLogPath(store);
  const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
  lines.splice(at - 1, 0, line);
  await writeFile(path, lines.join('\n') + '\n');
  return path;
}

describe('an audit log line that is valid JSON but not an entry', () => {
  it('is a finding of verify naming its line, appended or inserted, as a line of bad JSON is', async () => {
    for (const line of NOT_ENTRIES) {
      const appended = await storeWithVersions(2);
      const path = await withLine(appended, line, 7);
      const report = await verifyAudit(appended);
      expect(
        report.problems.map((p) => `${p.where}: ${p.problem}`),
        line,
      ).toEqual([expect.stringMatching(new RegExp(`^${path}:7: not an audit entry`))]);
      expect(report).toMatchObject({ ok: false, chainIntact: false, entries: 6 });

      // added between entries 3 and 4: the entry after it is not named for its number or its link
      const inserted = await storeWithVersions(2);
      await withLine(inserted, line, 4);
      expect((await verifyAudit(inserted)).problems, line).toEqual([
        { where: `${auditLogPath(inserted)}:4`, problem: expect.stringMatching(/^not an audit entry/) },
      ]);
    }
  });

  it('stops the readers of the entries naming its line, not reading undefined from it', async () => {
    const store = await storeWithVersions(1);
    const path = await withLine(store, 'null', 2);
    const error = await readAuditLog(store).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(AuditLogLineError);
    expect(error).toMatchObject({
      line: 2,
      message: expect.stringMatching(new RegExp(`^${path}:2: not an audit entry`)),
    });
    await writeFile(path, (await readFile(path, 'utf8')).replace('null\n', '{"seq":\n'));
    await expect(readAuditLog(store)).rejects.toThrow(new RegExp(`^${path}:2: not valid JSON`));
  });

  it('stops a run appending to the log with an error it does not retry, naming the line', async () => {
    const store = await storeWithVersions(1);
    const path = await withLine(store, '{}', 2);
    const appended = recordAudit(store, {
      event: 'run.started',
      run: { workflowId: 'w', runId: 'r' },
      month: '2026-06',
      actor: 'worker',
    });
    // a SnapshotStoreError is among the types the workflow does not retry: the log waits for a person
    await expect(appended).rejects.toMatchObject({
      name: 'SnapshotStoreError',
      message: expect.stringMatching(
        new RegExp(`^cannot append to the audit log ${path}: .*line 2: not an audit entry`),
      ),
    });
    expect(NON_RETRYABLE_ERROR_TYPES).toContain('SnapshotStoreError');
  });

  it('on the command line: verify fails with the finding (valid --json), head and runs list refuse naming the line', async () => {
    const store = await storeWithVersions(2);
    const path = await withLine(store, '{}', 7);
    const segflow = segflowOnStore(store);

    const verify = await segflow('audit', 'verify', '--no-temporal');
    expect(verify.code).toBe(1);
    expect(verify.stdout).toContain(`FAILED: 1 problem(s)\n  ${path}:7: not an audit entry`);
    const json = await segflow('audit', 'verify', '--no-temporal', '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      problems: [{ where: `${path}:7`, problem: expect.stringMatching(/^not an audit entry/) }],
    });

    const head = await segflow('audit', 'head');
    expect(head).toMatchObject({ code: 1, stdout: '' });
    expect(head.stderr).toContain(`segflow: ${path}:7: not an audit entry`);

    const runs = await segflow('runs', 'list');
    expect(runs.code).toBe(1);
    expect(runs.stderr).toContain(`segflow: ${path}:7: not an audit entry`);
    // a line of bad JSON is named the same way (it said only "Unexpected token")
    await writeFile(path, (await readFile(path, 'utf8')).replace('{}\n', 'not json\n'));
    expect((await segflow('runs', 'list')).stderr).toContain(`segflow: ${path}:7: not valid JSON`);
  });
});
