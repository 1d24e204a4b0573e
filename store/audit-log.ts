import { readFile } from 'node:fs/promises';
import { auditLogPath, type RunRef, type StoreConfig } from './layout';
import { canonicalJson, sha256 } from './hashing';

/** The append-only audit log's format and readers (the writer is the recordAudit activity). */

export const AUDIT_EVENTS = [
  'run.requested',
  'run.started',
  'stage.finished',
  'stage.attempt-failed',
  'run.published',
  'run.failed',
  'run.cancelled',
  /** `segflow runs cancel`: who asked; the run then records run.cancelled itself. */
  'run.cancel-requested',
  /** Schedule changes from the CLI: run.workflowId holds the schedule id, details what changed. */
  'schedule.created',
  'schedule.paused',
  'schedule.unpaused',
  'schedule.deleted',
] as const;
export type AuditEvent = (typeof AUDIT_EVENTS)[number];

export interface AuditRecordRequest {
  event: AuditEvent;
  run: RunRef;
  /** The data month; '' for schedule events, which are about no single month. */
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
