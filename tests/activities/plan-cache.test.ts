import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { planLoad, type LoadPlan } from '../../activities/load';
import { PLAN_STAGE } from '../../activities/plan-cache';
import { hashFile } from '../../store/hashing';
import type { StoreConfig } from '../../store/layout';
import { withConnection } from '../../activities/duckdb';
import { smallSample, storeIn, tempDir, usageCsv } from '../helpers';

/** The bytes this process has read so far, every thread (DuckDB's and libuv's too): /proc/self/io's rchar. */
async function bytesRead(): Promise<number> {
  return Number(/^rchar: (\d+)$/m.exec(await readFile('/proc/self/io', 'utf8'))?.[1]);
}

/** A plan without what is the run's own (its folder, its timing, its stamps' clock). */
const decided = ({ dbPath: _db, partitionDbPaths: _parts, seconds: _s, inputStamps: _stamps, ...plan }: LoadPlan) =>
  plan;

describe("the plan's reading of the input, stored for the next plan of the same files", () => {
  let store: StoreConfig;
  let input: string;
  const plan = (runId: string, reuse = true) =>
    planLoad(store, { workflowId: 'plan-cache', runId }, { month: '2026-06', input }, 1, undefined, reuse);

  beforeAll(async () => {
    const dir = await tempDir();
    input = join((await smallSample(dir, 2_000, 8)).outDir, 'usage');
    store = storeIn(dir);
  });

  /** Rewrites the stored reading (its artifact.json keeps the file's hash, as a cache entry must). */
  async function rewriteStored(
    change: (stored: { sha256: string[]; reading: { rowCounts: number[] } }) => void,
    storeDir = store.storeDir,
  ) {
    const stage = join(storeDir, 'cache', PLAN_STAGE);
    const [key] = (await readdir(stage)).filter((name) => !name.startsWith('.'));
    const dir = join(stage, key);
    const file = join(dir, 'plan.json');
    const stored = JSON.parse(await readFile(file, 'utf8')) as { sha256: string[]; reading: { rowCounts: number[] } };
    change(stored);
    for (const path of [dir, file, join(dir, 'artifact.json')]) await chmod(path, 0o755);
    await writeFile(file, JSON.stringify(stored));
    const artifact = JSON.parse(await readFile(join(dir, 'artifact.json'), 'utf8')) as {
      files: { sha256: string; bytes: number }[];
    };
    Object.assign(artifact.files[0], await hashFile(file));
    await writeFile(join(dir, 'artifact.json'), JSON.stringify(artifact));
  }

  it('takes the stored reading where every file is the one it read, and reads the input otherwise', async () => {
    const first = await plan('r1');
    const second = await plan('r2');
    expect(decided(second)).toEqual(decided(first));
    // taken, not read again: a stored row count the files do not hold comes back as stored
    await rewriteStored((stored) => {
      stored.reading.rowCounts[0] += 1;
    });
    expect((await plan('r3')).inputFiles[0].rows).toBe(first.inputFiles[0].rows + 1);
    // --no-reuse reads the input
    expect((await plan('r4', false)).inputFiles[0].rows).toBe(first.inputFiles[0].rows);
    // a file whose bytes are not those the reading read (its sha256 differs): read again
    await rewriteStored((stored) => {
      stored.reading.rowCounts[0] += 1;
      stored.sha256[0] = '0'.repeat(64);
    });
    expect(decided(await plan('r5'))).toEqual(decided(first));
  });

  it("takes the stored reading for a check before a run starts ('check'), and stores none", async () => {
    const own = storeIn(await tempDir());
    const run = (runId: string) => planLoad(own, { workflowId: 'plan-check', runId }, { month: '2026-06', input });
    const check = (runId: string) =>
      planLoad(own, { workflowId: 'plan-check', runId }, { month: '2026-06', input }, 1, undefined, 'check');
    expect(await check('c1')).toBe('read');
    // a stored reading names the run that stored it: the check is none (audit verify would look for it)
    expect(await readdir(own.storeDir).catch(() => [])).toEqual([]);
    const stored = await run('r1');
    // on the files' stamps alone, unhashed (the run's own plan hashes them): a stored sha256 the file
    // does not have is taken too, once the file is old enough for its stamp to be trusted (2 s)
    await new Promise((resolveWait) => setTimeout(resolveWait, 2_100));
    await rewriteStored((reading) => {
      reading.sha256[0] = '0'.repeat(64);
    }, own.storeDir);
    expect(await check('c2')).toBe('stored');
    expect((await run('r2')).inputFiles[0].sha256).toBe(stored.inputFiles[0].sha256);
  });

  it("hands `run --local`'s check reading ('check-local') to the run's plan in this process, once", async () => {
    const csv = join(await tempDir(), 'usage.csv');
    const sample = join(input, 'usage_month=2026-06', 'part_0.parquet');
    await withConnection(':memory:', (conn) => conn.run(`COPY (FROM '${sample}') TO '${csv}' (HEADER)`));
    const { size, mtimeMs, ctimeMs } = await stat(csv);
    const params = { month: '2026-06', input: csv };
    const planIn = async (own: StoreConfig, runId: string) => {
      const before = await bytesRead();
      const planned = await planLoad(own, { workflowId: 'plan-local', runId }, params);
      return { planned, read: (await bytesRead()) - before };
    };
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      // the file old enough for its stamp to be trusted (a check of a racy file keeps nothing)
      vi.setSystemTime(Math.max(mtimeMs, ctimeMs) + 2_100);
      const plain = await planIn(storeIn(await tempDir()), 'r1');
      const own = storeIn(await tempDir());
      const check = (runId: string) =>
        planLoad(own, { workflowId: 'plan-local', runId }, params, 1, undefined, 'check-local');
      expect(await check('c1')).toBe('read');
      // nothing stored by the check: a stored reading names its run, which audit verify looks for
      expect(await readdir(own.storeDir).catch(() => [])).toEqual([]);
      const handed = await planIn(own, 'r2');
      expect(decided(handed.planned)).toEqual(decided(plain.planned));
      // hashed (the file once), not read again by DuckDB, which reads it at least once more
      expect(plain.read).toBeGreaterThan(2 * size);
      expect(handed.read).toBeLessThan(plain.read - size);
      // stored as the run's own reading, for the next plan of these files
      expect(await readdir(join(own.storeDir, 'cache', PLAN_STAGE))).toHaveLength(1);
      // taken once: another store's plan reads the input
      expect((await planIn(storeIn(await tempDir()), 'r3')).read).toBeGreaterThan(2 * size);
    } finally {
      vi.useRealTimers();
    }
  });

  it('has a check read a file written within 2 s of its stamp, not take its stored reading on the stamp', async () => {
    const own = storeIn(await tempDir());
    const csv = join(await tempDir(), 'usage.csv');
    await writeFile(csv, usageCsv('2026-06'));
    const params = { month: '2026-06', input: csv };
    await planLoad(own, { workflowId: 'plan-check', runId: 'r1' }, params);
    const check = () => planLoad(own, { workflowId: 'plan-check', runId: 'c1' }, params, 1, undefined, 'check');
    const written = await stat(csv);
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      // a coarse file-system clock could hide a write in the same tick as the stored stamp's
      vi.setSystemTime(Math.max(written.mtimeMs, written.ctimeMs) + 1_000);
      expect(await check()).toBe('read');
      vi.setSystemTime(Math.max(written.mtimeMs, written.ctimeMs) + 2_100);
      expect(await check()).toBe('stored');
    } finally {
      vi.useRealTimers();
    }
  });
});
