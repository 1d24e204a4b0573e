import { randomUUID } from 'node:crypto';
import type { Stats } from 'node:fs';
import { link, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A lock older than this is left over from a crashed process and is broken. */
const STALE_LOCK_MS = 120_000;

/**
 * Runs `work` while holding an exclusive lock file (created with O_EXCL), so concurrent
 * publishers or audit writers on one file system take turns.
 */
export async function withFileLock<T>(lockPath: string, work: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  await mkdir(dirname(lockPath), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const held = await stat(lockPath).catch(() => undefined);
      if (held && Date.now() - held.mtimeMs > STALE_LOCK_MS) await breakStaleLock(lockPath, held);
      else if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${lockPath}`);
      else await sleep(25 + Math.random() * 50);
    }
  }
  try {
    return await work();
  } finally {
    await rm(lockPath, { force: true });
  }
}

/**
 * Removes the stale lock `seen`, unless another waiter did first. Removing it by name raced: a
 * waiter that had seen it stale removed the lock another waiter had just taken in its place, and
 * both held it. It is moved aside under a name of its own (a rename moves one file, once), and
 * what was moved is removed only when it is the stale lock seen; a fresh one is put back.
 */
async function breakStaleLock(lockPath: string, seen: Stats): Promise<void> {
  const aside = `${lockPath}.stale-${randomUUID()}`;
  try {
    await rename(lockPath, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // another waiter moved it
    throw error;
  }
  const moved = await stat(aside);
  // a lock taken since by another waiter: back where its holder left it (link fails rather than
  // replace a lock taken in the meantime)
  if (moved.ino !== seen.ino || moved.mtimeMs !== seen.mtimeMs) await link(aside, lockPath).catch(() => undefined);
  await rm(aside, { force: true });
}
