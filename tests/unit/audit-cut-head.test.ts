import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { entryHash, readAuditLog } from '../../store/audit-log';
import { verifyAudit } from '../../store/audit-verify';
import { auditLogPath } from '../../store/layout';
import { AUDIT_MONTH, storeFakeArtifact, storeWithVersions } from '../audit-store';

describe("audit verify: a stage-cache artifact of a run cut from the log's head", () => {
  it("says entries were cut from the log, not from its tail, when the first run's entries were dropped and the rest re-chained", async () => {
    const store = await storeWithVersions(3);
    const key = 'a'.repeat(64);
    await storeFakeArtifact(store, { key, runId: 'run-1' });
    // run 1's three entries dropped from the head, the rest renumbered from 1 and re-chained
    let prevHash = '0'.repeat(64);
    const rest = (await readAuditLog(store)).slice(3).map(({ hash: _hash, signature: _signature, ...body }, index) => {
      const moved = { ...body, seq: index + 1, prevHash };
      const entry = { ...moved, hash: entryHash(moved) };
      prevHash = entry.hash;
      return JSON.stringify(entry) + '\n';
    });
    await writeFile(auditLogPath(store), rest.join(''));

    const problems = (await verifyAudit(store)).problems.map((p) => `${p.where}: ${p.problem}`);
    expect(problems).toContain(
      `cache/segments/${key}: STORED BY A RUN THE LOG DOES NOT RECORD: run wf-run-1 (run-1) stored it for ${AUDIT_MONTH} at 2026-01-01T00:00:00.000Z: entries were cut from the log, or the artifact was copied in from another store`,
    );
    expect(problems.join('\n')).not.toContain("log's tail");
  });
});
