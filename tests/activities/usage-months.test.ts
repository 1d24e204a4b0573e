import { chmod, cp, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { queryRows, withConnection } from '../../activities/duckdb';
import { combineLoad, planLoad, type LoadSummary } from '../../activities/load';
import {
  changedSinceLastMonth,
  loadReusingMonths,
  USAGE_MONTH_STAGE,
  usageMonthKeys,
} from '../../activities/usage-months';
import type { SampleSummary } from '../../data/generate';
import { cacheDir, versionDir, type StoreConfig } from '../../store/layout';
import { writeLatest } from '../../store/snapshots';
import { manifestNotes } from '../../cli/snapshot-text';
import { listCache } from '../../store/stage-cache';
import { verifiedArtifact } from '../../activities/artifact-store';
import { smallSample, storeIn, tempDir, writeParquet } from '../helpers';

/** The run's valid rows and quarantined rows, each in one order, to compare loads. */
async function loadedRows(load: LoadSummary): Promise<{ usage: unknown[]; quarantine: unknown[] }> {
  return withConnection(load.dbPath, async (conn) => ({
    usage: await queryRows(conn, 'SELECT * FROM usage ORDER BY subscriber_id, "month"'),
    quarantine: await queryRows(conn, 'SELECT * FROM quarantine ORDER BY source_file, file_row'),
  }));
}

describe('checked usage months across runs', () => {
  let store: StoreConfig;
  let sample: SampleSummary;
  let input: string;
  const params = (month: string, usage = input) => ({ month, input: usage, k: 4 });

  async function load(runId: string, month: string, allowed = true, usage = input): Promise<LoadSummary> {
    const run = { workflowId: 'months', runId };
    const plan = await planLoad(store, run, params(month, usage));
    return combineLoad(plan, [await loadReusingMonths({ store, run, allowed }, plan, 0)]);
  }

  beforeAll(async () => {
    const dir = await tempDir();
    sample = await smallSample(dir, 2_000, 9);
    store = storeIn(dir);
    input = join(dir, 'usage');
    await cp(join(sample.outDir, 'usage'), input, { recursive: true });
    // May gets a row breaking the contract and a duplicate of a valid row: both quarantined
    await writeParquet(
      sample,
      join(input, 'usage_month=2026-05', 'extra.parquet'),
      `SELECT * REPLACE (DATE '2026-05-01' AS "month", CASE WHEN row_number() OVER () = 1 THEN -5.0 ELSE spend END AS spend)
       FROM (SELECT * FROM {june} ORDER BY subscriber_id LIMIT 2)`,
    );
  });

  it('stores each window month it read, with its quarantined rows and counts', async () => {
    const may = await load('may', '2026-05');
    expect(may.usageMonths?.reused).toEqual([]);
    expect(may.usageMonths?.reason).toBe('no window month stored under its key');
    // window 2025-11..2026-05: the sample starts in 2025-10, so all seven months have files
    expect(may.usageMonths?.stored).toEqual([
      '2025-11',
      '2025-12',
      '2026-01',
      '2026-02',
      '2026-03',
      '2026-04',
      '2026-05',
    ]);
    expect(may.rowsQuarantined).toBeGreaterThanOrEqual(1);
    const stored = (await listCache(store)).filter((artifact) => artifact.stage === USAGE_MONTH_STAGE);
    expect(stored.map((artifact) => artifact.month).sort()).toEqual(may.usageMonths?.stored);
    // every stored month's recorded hashes are its files' (a copied month's rows file is recorded
    // with its input file's sha256, not hashed again); April's file was copied, May's written
    const rowsShas = new Map<string, string | undefined>();
    for (const month of may.usageMonths?.stored ?? []) {
      const verified = await verifiedArtifact(cacheDir(store, USAGE_MONTH_STAGE, may.usageMonths?.keys[month] ?? ''));
      expect('artifact' in verified, month).toBe(true);
      if ('artifact' in verified)
        rowsShas.set(month, verified.artifact.files.find((file) => file.file === 'usage.parquet')?.sha256);
    }
    const april = may.inputFiles.find((file) => file.path.includes('usage_month=2026-04'));
    expect(rowsShas.get('2026-04')).toBe(april?.sha256);
    expect(may.inputFiles.filter((file) => file.path.includes('usage_month=2026-05'))).toHaveLength(2);
    expect(rowsShas.get('2026-05')).not.toBe(april?.sha256);
  });

  it("next month reads only its new month's files, with the rows and counts of a load that reads them all", async () => {
    const june = await load('june', '2026-06');
    expect(june.usageMonths?.reused.map((artifact) => artifact.stages[0])).toEqual([
      'load 2025-12',
      'load 2026-01',
      'load 2026-02',
      'load 2026-03',
      'load 2026-04',
      'load 2026-05',
    ]);
    expect(june.usageMonths?.reused[0]?.producedBy).toEqual({ workflowId: 'months', runId: 'may' });
    expect(june.usageMonths?.stored).toEqual(['2026-06']);
    const cold = await load('june-cold', '2026-06', false);
    expect(cold.usageMonths?.reused).toEqual([]);
    expect(cold.usageMonths?.reason).toMatch(/--no-reuse/);
    const counts = (summary: LoadSummary) => ({
      rowsRead: summary.rowsRead,
      rowsLoaded: summary.rowsLoaded,
      rowsQuarantined: summary.rowsQuarantined,
      quarantineByReason: summary.quarantineByReason,
      subscribersInMonth: summary.subscribersInMonth,
    });
    expect(counts(june)).toEqual(counts(cold));
    expect(june.quarantineByReason).toMatchObject({ 'duplicate (subscriber_id, month)': 1 });
    expect(await loadedRows(june)).toEqual(await loadedRows(cold));
    // a rerun of the month takes every month, reading no file
    const rerun = await load('june-again', '2026-06');
    expect(rerun.usageMonths?.reused).toHaveLength(7);
    expect(counts(rerun)).toEqual(counts(cold));
    expect(await loadedRows(rerun)).toEqual(await loadedRows(cold));
  });

  it("keys a month by its own files, how rows are read and the code; refuses inputs where a month's rows could lie elsewhere", async () => {
    const plan = await planLoad(store, { workflowId: 'months', runId: 'key' }, params('2026-06'));
    const keyOf = (changed: typeof plan, month = '2026-03') => {
      const keyed = usageMonthKeys(changed);
      return 'keys' in keyed ? keyed.keys.get(month) : keyed.ineligible;
    };
    const base = keyOf(plan);
    const withFile = (month: string, sha: string) => ({
      ...plan,
      inputFiles: plan.inputFiles.map((file) => (file.path.includes(`=${month}/`) ? { ...file, sha256: sha } : file)),
    });
    expect(keyOf(withFile('2026-04', 'changed'))).toBe(base);
    expect(keyOf(withFile('2026-03', 'changed'))).not.toBe(base);
    expect(keyOf({ ...plan, presentColumns: [...plan.presentColumns, ['x', 'DOUBLE']] })).not.toBe(base);
    expect(keyOf({ ...plan, params: { ...plan.params, historyMonths: 5 } })).toBe(base);
    expect(keyOf({ ...plan, partitionDbPaths: ['a.duckdb', 'b.duckdb'] })).toMatch(/partitioned run/);
    expect(keyOf({ ...plan, mapping: { ...plan.mapping, format: 'snapshot' } })).toMatch(/single month/);
    const flat = { ...plan, inputFiles: [{ ...plan.inputFiles[0], path: '/data/usage.parquet' }] };
    expect(keyOf(flat)).toMatch(/not in month folders/);
  });

  it('does not use a stored month whose files no longer match their hashes, and stores a sound one', async () => {
    const plan = await planLoad(store, { workflowId: 'months', runId: 'damage' }, params('2026-06'));
    const keyed = usageMonthKeys(plan);
    if (!('keys' in keyed)) throw new Error(keyed.ineligible);
    const dir = cacheDir(store, USAGE_MONTH_STAGE, keyed.keys.get('2026-04') ?? '');
    await chmod(dir, 0o755);
    await chmod(join(dir, 'usage.parquet'), 0o644);
    await writeFile(join(dir, 'usage.parquet'), 'not parquet');
    const june = await load('after-damage', '2026-06');
    expect(june.usageMonths?.reused.map((artifact) => artifact.stages[0])).not.toContain('load 2026-04');
    expect(june.usageMonths?.stored).toEqual(['2026-04']);
    const again = await load('after-repair', '2026-06');
    expect(again.usageMonths?.reused).toHaveLength(7);
    expect(await loadedRows(again)).toEqual(await loadedRows(await load('repair-cold', '2026-06', false)));
  });
  it("says which earlier months' files changed since last month's snapshot read them", async () => {
    const own = storeIn(await tempDir());
    const copy = join(await tempDir(), 'usage');
    await cp(input, copy, { recursive: true });
    const run = { workflowId: 'months', runId: 'changed' };
    // last month's latest snapshot, and the files it read
    const read = (await planLoad(own, run, params('2026-05', copy))).inputFiles;
    await mkdir(versionDir(own, '2026-05', 1), { recursive: true });
    const manifest = (inputs: unknown[], usage = copy) => JSON.stringify({ inputs, params: { input: usage } });
    await writeFile(join(versionDir(own, '2026-05', 1), 'manifest.json'), manifest(read));
    await writeLatest(own, '2026-05', 1, run);
    const [april] = await readdir(join(copy, 'usage_month=2026-04'));
    await writeParquet(
      sample,
      join(copy, 'usage_month=2026-04', april),
      'SELECT * REPLACE (DATE \'2026-04-01\' AS "month") FROM {june} LIMIT 10',
    );
    await writeParquet(
      sample,
      join(copy, 'usage_month=2026-03', 'late.parquet'),
      "SELECT * REPLACE ('S-LATE' AS subscriber_id, DATE '2026-03-01' AS \"month\") FROM {june} LIMIT 1",
    );
    const plan = await planLoad(own, run, params('2026-06', copy));
    const june = await loadReusingMonths({ store: own, run, allowed: true }, plan, 0);
    expect(june.usageMonths?.reason).toBe(
      'no window month stored under its key; input changed since 2026-05/v1 read it ' +
        `(2026-03: usage_month=2026-03/late.parquet is new; 2026-04: usage_month=2026-04/${april} changed): ` +
        'those months were read again, and snapshots built on the earlier files can no longer be reproduced from the input',
    );
    // kept apart too: the run's result and snapshots show print it (cli/snapshot-text.ts)
    expect(june.usageMonths?.inputChanged).toMatch(/^input changed since 2026-05\/v1 read it \(2026-03: /);
    expect(
      manifestNotes({
        lineage: { stageKey: 'k', reused: [], inputChanged: 'input changed since …' },
        metrics: {},
        quarantineByReason: {},
      } as never),
    ).toEqual(['  warning       input changed since …']);
    // June is new to the window: not a change
    expect(await changedSinceLastMonth(own, plan, ['2026-06'])).toBeNull();
    // nor is last month's snapshot of another input folder (an analyst's own extract)
    await writeFile(join(versionDir(own, '2026-05', 1), 'manifest.json'), manifest(read, input));
    expect(await changedSinceLastMonth(own, plan, ['2026-03', '2026-04'])).toBeNull();
  });

  it('reads every month from its files when a new file holds rows of another month', async () => {
    // a May row for a new subscriber, in June's folder: May's stored rows would not see it
    // (the last test: it changes the input)
    await writeParquet(
      sample,
      join(input, 'usage_month=2026-06', 'late.parquet'),
      "SELECT * REPLACE ('S-LATE' AS subscriber_id, DATE '2026-05-01' AS \"month\") FROM {june} LIMIT 1",
    );
    const taken = await load('late', '2026-06');
    expect(taken.usageMonths?.reused).toEqual([]);
    expect(taken.usageMonths?.reason).toBe(
      'month folder(s) 2026-06 hold rows of another month: every month read from its files',
    );
    expect(taken.usageMonths?.stored).toEqual([]);
    const cold = await load('late-cold', '2026-06', false);
    expect(taken.rowsLoaded).toBe(cold.rowsLoaded);
    expect(taken.rowsOutsideMonthFolder).toBe(1);
    expect(await loadedRows(taken)).toEqual(await loadedRows(cold));
  });
});
