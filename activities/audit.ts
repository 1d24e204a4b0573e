import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { auditLogPath, type RunRef, type StoreConfig } from '../domain/store-layout';
import { withFileLock } from './file-lock';
import { canonicalJson, sha256 } from './hashing';

export const AUDIT_EVENTS = [
  'run.requested',
  'run.started',
  'stage.finished',
  'stage.attempt-failed',
  'run.published',
  'run.failed',
  'run.cancelled',
] as const;
export type AuditEvent = (typeof AUDIT_EVENTS)[number];

export interface AuditRecordRequest {
  event: AuditEvent;
  run: RunRef;
  month: string;
  /** Who asked for the run: a CLI flag, the OS user, or "schedule:<id>". */
  actor: string;
  /** Makes events of one kind distinct within a run, e.g. the stage name. */
  subject?: string;
  details?: Record<string, unknown>;
}

/** One line of audit/audit.jsonl. `hash` covers every other field, including the previous entry's hash. */
export interface AuditEntry extends AuditRecordRequest {
  seq: number;
  at: string;
  key: string;
  prevHash: string;
  hash: string;
}

/** The previous hash of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * Appends an event to the append-only audit log, chained to the previous entry by hash.
 * Idempotent: an event already recorded for the same run (a retried activity) is not appended again.
 */
export async function recordAudit(store: StoreConfig, request: AuditRecordRequest): Promise<AuditEntry> {
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
    const entry: AuditEntry = { ...body, hash: entryHash(body) };
    await appendFile(path, JSON.stringify(entry) + '\n');
    return entry;
  });
}

export async function readAuditLog(store: StoreConfig): Promise<AuditEntry[]> {
  const text = await readFile(auditLogPath(store), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as AuditEntry);
}

export function entryHash(body: Omit<AuditEntry, 'hash'>): string {
  return sha256(canonicalJson(body));
}
