import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { auditLogPath, type StoreConfig } from '../store/layout';
import { entryHash, GENESIS_HASH, readAuditLog, type AuditEntry, type AuditRecordRequest } from '../store/audit-log';
import { withFileLock } from '../store/file-lock';
import { signText, type Signer } from '../store/signing';

export type { AuditEntry, AuditEvent, AuditRecordRequest } from '../store/audit-log';

/**
 * Appends an event to the append-only audit log, chained to the previous entry by hash.
 * Idempotent: an event already recorded for the same run (a retried activity) is not appended again.
 */
export async function recordAudit(
  store: StoreConfig,
  request: AuditRecordRequest,
  /** Signs the entry's hash (SEGFLOW_SIGNING_KEY); without it the entry is chained only. */
  signer?: Signer,
): Promise<AuditEntry> {
  const path = auditLogPath(store);
  const key = [request.run.workflowId, request.run.runId, request.event, request.subject ?? ''].join('|');
  await mkdir(dirname(path), { recursive: true });
  return withFileLock(`${path}.lock`, async () => {
    const entries = await readAuditLog(store);
    const already = entries.find((entry) => entry.key === key);
    if (already) return already;
    const last = entries.at(-1);
    const body = {
      seq: (last?.seq ?? 0) + 1,
      at: new Date().toISOString(),
      key,
      ...request,
      prevHash: last?.hash ?? GENESIS_HASH,
    };
    const hash = entryHash(body);
    const entry: AuditEntry = {
      ...body,
      hash,
      ...(signer ? { signature: { keyId: signer.keyId, value: signText(signer, hash) } } : {}),
    };
    await appendFile(path, JSON.stringify(entry) + '\n');
    return entry;
  });
}
