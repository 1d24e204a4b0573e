import { appendFile, mkdir } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { dirname } from 'node:path';
import { auditLogPath, type StoreConfig } from './layout';
import { AuditLogFullError, isStoreFull, isStoreWriteFailure, SnapshotStoreError } from '../domain/errors';
import {
  AuditLogLineError,
  auditEntries,
  chainFaults,
  entryHash,
  GENESIS_HASH,
  parseAuditLine,
  readAuditText,
  type AuditEntry,
  type AuditRecordRequest,
} from './audit-log';
import { withFileLock } from './file-lock';
import { signText, type Signer } from './signing';

/**
 * The audit log's writer (its format and readers are in audit-log.ts): the worker's recordAudit
 * activity (activities/index.ts), the commands that change the store (pipelines/) and cache prune
 * (stage-cache.ts) append through it.
 */

/**
 * Who runs this command, as the machine knows them: the OS user (the process's, whatever name is
 * typed as the actor) and the host. For the details of the entries a person's command writes.
 */
export function commandUser(): { osUser: string; host: string } {
  let osUser: string;
  try {
    osUser = userInfo().username;
  } catch {
    // a uid without a passwd entry (a container's): the environment's name, or the number
    osUser = process.env.USER ?? process.env.LOGNAME ?? `uid ${process.getuid?.() ?? '?'}`;
  }
  return { osUser, host: hostname() };
}

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
  try {
    await mkdir(dirname(path), { recursive: true });
    return await appendEntry(path, key, store, request, signer);
  } catch (error) {
    if (!isStoreWriteFailure(error)) throw error;
    const reason = (error as Error).message.split('\n')[0];
    // space may be freed while the append is retried: a run.published after the snapshot moved
    // into place must not give up at once
    // the cause: what failed, for a caller whose advice is not a run's (a schedule change)
    if (isStoreFull(error))
      throw new AuditLogFullError(
        `cannot write the audit log ${path}: ${reason}. Free space on it: the append is retried`,
        { cause: error },
      );
    // retried, a log that may not be written kept a run at its start for minutes, then said EACCES
    throw new SnapshotStoreError(
      `cannot write the audit log ${path} (read-only or not permitted): ${reason}. Nothing is run or published unrecorded: grant the worker write access, then run again`,
      { cause: error },
    );
  }
}

/**
 * The log's entries, to append after: a line that is no entry waits for a person to repair the
 * log (audit verify names it), so a run stops at once instead of retrying the write.
 */
function entriesToAppendTo(text: string, path: string): AuditEntry[] {
  try {
    return auditEntries(text);
  } catch (error) {
    if (error instanceof AuditLogLineError)
      throw new SnapshotStoreError(`cannot append to the audit log ${path}: ${error.message}`);
    throw error;
  }
}

async function appendEntry(
  path: string,
  key: string,
  store: StoreConfig,
  request: AuditRecordRequest,
  signer: Signer | undefined,
): Promise<AuditEntry> {
  return withFileLock(`${path}.lock`, async () => {
    const text = await readAuditText(store);
    const entries = entriesToAppendTo(text, path);
    await endLastLine(path, text, entries);
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

/**
 * The log's last line when it is no entry readers accept chained after `last`, nor blank: a write
 * cut off, or an edit, after which nothing may be appended (its next entry would land on that
 * line). Undefined for a log that ends its last line, or whose last line lacks only its newline.
 */
export function unfinishedLastLine(text: string, last: AuditEntry | undefined): string | undefined {
  if (text === '' || text.endsWith('\n')) return undefined;
  const tail = text.slice(text.lastIndexOf('\n') + 1);
  // blanks left after the last entry hold nothing: readers skip blank lines
  if (tail.trim() === '') return undefined;
  const parsed = parseAuditLine(tail);
  return 'entry' in parsed && chainFaults(parsed.entry, last).length === 0 ? undefined : tail;
}

/**
 * Under the writer's lock no append is in progress, so a log whose last line has no newline was
 * cut off (a crash mid-write) or edited: an entry appended after it would land on that line and
 * make both unreadable. A whole entry that only lost its newline (it chains to the entry before
 * it) gets the newline back and counts; anything else stops the write, naming the line, until
 * someone looks (`segflow audit verify` names it too).
 */
async function endLastLine(path: string, text: string, entries: AuditEntry[]): Promise<void> {
  if (text === '' || text.endsWith('\n')) return;
  const last = entries.at(-1);
  const tail = unfinishedLastLine(text, last);
  if (tail === undefined) {
    await appendFile(path, '\n');
    const parsed = parseAuditLine(text.slice(text.lastIndexOf('\n') + 1));
    if ('entry' in parsed) entries.push(parsed.entry);
    return;
  }
  throw new SnapshotStoreError(
    `the audit log ${path} ends in an unfinished line after entry ${last?.seq ?? 0} (${JSON.stringify(tail.slice(0, 60))}${tail.length > 60 ? '…' : ''}): a write cut off, or an edit. Nothing is appended after it, since the next entry would land on that line; 'segflow audit verify' names it. Restore the log from a copy, or remove that partial line if it holds no entry`,
  );
}
