import { readFile } from 'node:fs/promises';
import { auditLogPath, type RunRef, type StoreConfig } from './layout';
import { canonicalJson, sha256 } from './hashing';

/** The append-only audit log's format and readers (the writer is recordAudit, audit-record.ts). */

export const AUDIT_EVENTS = [
  'run.requested',
  'run.started',
  'stage.finished',
  'stage.reused',
  'stage.attempt-failed',
  'run.published',
  'run.failed',
  'run.cancelled',
  /** A published snapshot removed on purpose (`segflow snapshots retire`); subject "<month>/v<N>". */
  'snapshot.retired',
  /** latest.json pointed at a version on purpose (`segflow snapshots promote`): an experiment, or a rollback. */
  'snapshot.promoted',
  /** `segflow runs cancel`: who asked; the run then records run.cancelled itself. */
  'run.cancel-requested',
  /** Schedule changes from the CLI: run.workflowId holds the schedule id, details what changed. */
  'schedule.created',
  'schedule.paused',
  'schedule.unpaused',
  'schedule.deleted',
  /** `segflow schedule trigger` and `backfill`: who asked; the runs' own entries name the schedule. */
  'schedule.triggered',
  'schedule.backfilled',
  /**
   * `segflow cache prune` removed stored stage outputs: who (actor: the OS user; details: host), what
   * was asked, and each artifact removed with the run that stored it. run is { workflowId: 'cache',
   * runId: '' } and month '', as a schedule event's: readers of runs and months pass over it.
   */
  'cache.pruned',
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

/**
 * One line of audit/audit.jsonl. `hash` covers every other field but the signature, including the
 * previous entry's hash; the signature (when the writer has SEGFLOW_SIGNING_KEY) covers `hash`.
 */
export interface AuditEntry extends AuditRecordRequest {
  seq: number;
  at: string;
  key: string;
  prevHash: string;
  hash: string;
  signature?: AuditSignature;
}

/** Ed25519 over the entry's `hash`, base64, with the id of the key that made it. */
interface AuditSignature {
  keyId: string;
  value: string;
}

/** An entry's position in the chain: `<seq>:<hash>`, what `segflow audit head` prints. */
export interface AuditHead {
  seq: number;
  hash: string;
}

/** The previous hash of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

export async function readAuditLog(store: StoreConfig): Promise<AuditEntry[]> {
  return auditEntries(await readAuditText(store), auditLogPath(store));
}

/** The audit log's text as it is on disk: '' before its first entry. */
export async function readAuditText(store: StoreConfig): Promise<string> {
  return readFile(auditLogPath(store), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
}

/**
 * A line of the log that is no entry: not JSON, or JSON of something else (`{}`, `null`, `42`).
 * Readers of the entries stop at it, naming the line, as `segflow audit verify` does.
 */
export class AuditLogLineError extends Error {
  override name = 'AuditLogLineError';
  constructor(
    /** The log file, when the reader knows it. */
    readonly source: string | undefined,
    /** 1-based. */
    readonly line: number,
    readonly reason: string,
  ) {
    super(
      `${source ? `${source}:${line}` : `the audit log's line ${line}`}: ${reason}; the log's entries are not read past a damaged line (segflow audit verify names every finding)`,
    );
  }
}

/** Whether parsed JSON has the fields every reader takes from an entry (seq, run, event, month, at, hashes). */
function isAuditEntry(value: unknown): value is AuditEntry {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const entry = value as Record<string, unknown>;
  const run = entry.run as Record<string, unknown> | null | undefined;
  return (
    typeof entry.seq === 'number' &&
    typeof entry.event === 'string' &&
    typeof entry.month === 'string' &&
    typeof entry.at === 'string' &&
    typeof entry.hash === 'string' &&
    typeof entry.prevHash === 'string' &&
    typeof run === 'object' &&
    run !== null &&
    typeof run.workflowId === 'string' &&
    typeof run.runId === 'string'
  );
}

/** A line's entry, or what is wrong with the line (the words `audit verify` reports). */
export function parseAuditLine(line: string): { entry: AuditEntry } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { problem: 'not valid JSON (the line was edited or truncated)' };
  }
  // valid JSON is not yet an entry: `{}` or `null` read as one fails later, far from its line
  return isAuditEntry(value)
    ? { entry: value }
    : {
        problem:
          'not an audit entry: valid JSON, but not an object with a seq, event, run and hash (a line added or edited by hand)',
      };
}

/** The entries of a log's text; an AuditLogLineError names the first line that is none. */
export function auditEntries(text: string, source?: string): AuditEntry[] {
  // entries are appended as whole lines: a last line without its newline is an append in
  // progress (a reader during a run), not an entry yet; `audit verify` reads the raw file
  const entries: AuditEntry[] = [];
  text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .forEach((line, index) => {
      if (line.trim() === '') return;
      const parsed = parseAuditLine(line);
      if ('problem' in parsed) throw new AuditLogLineError(source, index + 1, parsed.problem);
      entries.push(parsed.entry);
    });
  return entries;
}

export function entryHash(body: Omit<AuditEntry, 'hash' | 'signature'>): string {
  return sha256(canonicalJson(body));
}

/**
 * The hash an entry got while canonicalJson sorted keys with localeCompare in the runtime's locale
 * (en-US wherever segflow ran): camelCase keys such as kMax and keyCustomerRevenueShare came out in
 * another order. Audit logs are kept forever, so verify still accepts such an entry.
 */
export function legacyEntryHash(body: Omit<AuditEntry, 'hash' | 'signature'>): string {
  return sha256(canonicalJson(body, (a, b) => a.localeCompare(b, 'en-US')));
}

/** The hash an entry should carry, computed from its other fields. */
export function recomputeHash(entry: AuditEntry): string {
  const { hash: _hash, signature: _signature, ...body } = entry;
  return entryHash(body);
}

/** Whether an entry's hash matches its fields, under today's key order or the legacy one. */
export function hashMatches(entry: AuditEntry): boolean {
  const { hash, signature: _signature, ...body } = entry;
  return hash === entryHash(body) || hash === legacyEntryHash(body);
}

/** A rule of the chain an entry breaks: its content, its link to the entry before it, its number. */
export type ChainFault =
  | {
      rule: 'numbering';
      problem: string;
      /** What the entry follows: `seq 3`, `the start of the log`, `seq 3 and 1 damaged line(s)`. */
      follows: string;
    }
  | { rule: 'content' | 'link'; problem: string };

/**
 * The chain's rules at one entry, given the entry before it (undefined at the log's start): it is
 * numbered next (entries are numbered 1, 2, 3…: a log re-chained from its start can keep its
 * hashes whole and still show that entries before it were dropped), its content matches its hash
 * (it was not edited), and its prevHash is the previous entry's hash (no entry was removed,
 * inserted or reordered before it). `damaged` lines between the two (audit verify reads them:
 * each may have held an entry, or been added) widen the numbers it may take. What it breaks, in
 * that order, each with what the readers of the entries say of it; none for a sound link.
 */
export function chainFaults(entry: AuditEntry, previous: AuditHead | undefined, damaged = 0): ChainFault[] {
  const faults: ChainFault[] = [];
  const previousSeq = previous?.seq ?? 0;
  if (!Number.isInteger(entry.seq) || entry.seq <= previousSeq || entry.seq > previousSeq + 1 + damaged) {
    const follows = `${previousSeq === 0 ? 'the start of the log' : `seq ${previousSeq}`}${damaged ? ` and ${damaged} damaged line(s)` : ''}`;
    faults.push({
      rule: 'numbering',
      problem: `entry seq ${entry.seq} follows ${follows} (entries removed, or the log renumbered)`,
      follows,
    });
  }
  if (!hashMatches(entry))
    faults.push({
      rule: 'content',
      problem: `entry seq ${entry.seq} was edited: its content no longer matches its hash`,
    });
  if (entry.prevHash !== (previous?.hash ?? GENESIS_HASH))
    faults.push({
      rule: 'link',
      problem: 'prevHash does not match the previous entry (an entry was removed, inserted or reordered)',
    });
  return faults;
}

/**
 * The first entry at which the entries' chain does not hold (chainFaults), with what is wrong
 * there. Undefined for a whole chain. For readers that show the entries (`runs list`, `runs show`);
 * `audit verify` names every fault, line by line.
 */
export function chainBreak(entries: readonly AuditEntry[]): { seq: number; problem: string } | undefined {
  let previous: AuditEntry | undefined;
  for (const entry of entries) {
    const faults = chainFaults(entry, previous);
    // an entry removed leaves a gap in the numbers too: the edit, or the broken link, says more
    const fault = faults.find((found) => found.rule !== 'numbering') ?? faults[0];
    if (fault) return { seq: entry.seq, problem: fault.problem };
    previous = entry;
  }
  return undefined;
}

/**
 * An entry's actor as readers show it: the name given (`--actor`, `--requested-by`: whatever the
 * caller typed) and, where the command recorded them (retire, promote, cancel, cache prune), the OS
 * user who ran it and the host: `auditor-jane (OS user bob on ops-1)`; `bob (on ops-1)` when the
 * two are the same.
 */
export function actorText(entry: Pick<AuditEntry, 'actor' | 'details'>): string {
  const { osUser, host } = (entry.details ?? {}) as { osUser?: unknown; host?: unknown };
  const on = typeof host === 'string' && host !== '' ? `on ${host}` : '';
  if (typeof osUser !== 'string' || osUser === '' || osUser === entry.actor)
    return on ? `${entry.actor} (${on})` : entry.actor;
  return `${entry.actor} (OS user ${osUser}${on ? ` ${on}` : ''})`;
}

export function formatHead(head: AuditHead): string {
  return `${head.seq}:${head.hash}`;
}

/** Parses `<seq>:<hash>` (the hash as printed by `audit head`, 64 hex digits). */
export function parseHead(text: string): AuditHead | undefined {
  const match = /^(\d+):([0-9a-f]{64})$/.exec(text.trim());
  return match ? { seq: Number(match[1]), hash: match[2] } : undefined;
}
