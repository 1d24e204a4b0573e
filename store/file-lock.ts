import type { Stats } from 'node:fs';
import { mkdir, open, rm, stat, utimes } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A lock older than this is left over from a crashed process and is broken. */
const STALE_LOCK_MS = 120_000;

/**
 * Runs `work` while holding an exclusive lock file (created with O_EXCL), so concurrent
 * publishers or audit writers on one file system take turns.
 */
export async function withFileLock<T>(
  lockPath: string,
  work: () => Promise<T>,
  // past the time a lock left by a killed process takes to go stale: a retry after the kill waits
  // for it and breaks it, where it timed out before it could (60 s against 120 s)
  timeoutMs = STALE_LOCK_MS + 60_000,
  /** A lock not touched for this long is taken for a crashed holder's (a test shortens it). */
  staleMs = STALE_LOCK_MS,
): Promise<T> {
  await mkdir(dirname(lockPath), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let mine: Stats;
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx');
      try {
        await handle.writeFile(`${process.pid}\n`);
        mine = await handle.stat();
      } catch (error) {
        // created but not written (a full disk): left behind, it would hold every writer off until stale
        await handle.close().catch(() => undefined);
        await rm(lockPath, { force: true });
        throw error;
      }
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const held = await stat(lockPath).catch(() => undefined);
      if (held && Date.now() - held.mtimeMs > staleMs && (await breakStaleLock(lockPath, held, staleMs))) continue;
      if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${lockPath}`);
      await sleep(25 + Math.random() * 50);
    }
  }
  // a holder's lock stays fresh while it works, so a long hold (waiting on another lock inside this
  // one) is never broken as stale
  const touch = setInterval(() => {
    const now = new Date();
    utimes(lockPath, now, now).catch(() => undefined);
  }, staleMs / 4);
  touch.unref();
  try {
    return await work();
  } finally {
    clearInterval(touch);
    // only its own: a lock broken as stale and taken since is its new holder's
    const now = await stat(lockPath).catch(() => undefined);
    if (now?.ino === mine.ino && now.birthtimeMs === mine.birthtimeMs) await rm(lockPath, { force: true });
  }
}

/**
 * Removes the stale lock `seen` when it is still in place, one waiter at a time; true when this
 * waiter removed it. Waiters that all saw it stale raced when each removed or moved it: one took a
 * fresh lock in its place, another then removed or moved that one, and two held the lock (seen
 * under load: two holders in one of 30 rounds of 8 waiters). Only the holder of `<lock>.breaking`
 * (created with O_EXCL) removes a stale lock, and only the one it saw, so a lock taken after it
 * is never touched. A `.breaking` left by a process that crashed while breaking (milliseconds of
 * work) is removed once it is stale itself.
 */
async function breakStaleLock(lockPath: string, seen: Stats, staleMs: number): Promise<boolean> {
  const breaking = `${lockPath}.breaking`;
  try {
    await (await open(breaking, 'wx')).close();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const other = await stat(breaking).catch(() => undefined);
    if (other && Date.now() - other.mtimeMs > staleMs) await rm(breaking, { force: true });
    return false;
  }
  try {
    // no new lock can stand here while the stale one does: if it is still the one seen, nobody took the lock since
    const now = await stat(lockPath).catch(() => undefined);
    if (!now || now.ino !== seen.ino || now.mtimeMs !== seen.mtimeMs) return false;
    await rm(lockPath, { force: true });
    return true;
  } finally {
    await rm(breaking, { force: true });
  }
}
