import { execFileSync } from 'node:child_process';
import { appendFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { withFileLock } from '../../store/file-lock';
import { tempDir } from '../helpers';

describe('the file lock', () => {
  it('breaks a stale lock for one waiter at a time: never two holders', async () => {
    for (let round = 0; round < 50; round++) {
      const lock = join(await tempDir(), 'audit.jsonl.lock');
      // left by a crashed process, long ago
      await writeFile(lock, '12345\n');
      const old = new Date(Date.now() - 10 * 60_000);
      await utimes(lock, old, old);
      let holders = 0;
      let most = 0;
      const work = async () => {
        holders += 1;
        most = Math.max(most, holders);
        await sleep(10);
        holders -= 1;
      };
      await Promise.all(Array.from({ length: 16 }, () => withFileLock(lock, work)));
      expect(most, `round ${round}`).toBe(1);
    }
  });

  it('keeps a lock held past the stale time fresh: a waiter does not break it, and waits its turn', async () => {
    const lock = join(await tempDir(), 'month.lock');
    const staleMs = 400;
    let holders = 0;
    let most = 0;
    const hold = (ms: number) => async () => {
      holders += 1;
      most = Math.max(most, holders);
      await sleep(ms);
      holders -= 1;
    };
    const first = withFileLock(lock, hold(1_500), 10_000, staleMs);
    await sleep(50);
    await withFileLock(lock, hold(10), 10_000, staleMs);
    await first;
    expect(most).toBe(1);
  });
});

describe('the file lock on a full disk', () => {
  it('leaves no lock behind when it cannot write its pid: the next writer does not wait for it to go stale', async () => {
    const dir = await tempDir();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
    try {
      const filler = join(dir, 'filler');
      await writeFile(filler, '');
      await expect(
        (async () => {
          for (;;) await appendFile(filler, Buffer.alloc(1024));
        })(),
      ).rejects.toMatchObject({ code: 'ENOSPC' });
      const lock = join(dir, 'audit.jsonl.lock');
      await expect(withFileLock(lock, async () => 'held')).rejects.toMatchObject({ code: 'ENOSPC' });
      await expect(stat(lock)).rejects.toMatchObject({ code: 'ENOENT' });
      // space again: the lock is taken at once
      await rm(filler);
      expect(await withFileLock(lock, async () => 'held', 1_000)).toBe('held');
    } finally {
      execFileSync('umount', [dir]);
    }
  });
});
