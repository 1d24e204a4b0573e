import { cp, readdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { queryOne, setVariable, withConnection } from '../../activities/duckdb';
import { combineFeatures, computeFeatures, computePartitionFeatures } from '../../activities/features';
import { combineLoad, loadPartition, loadUsage, planLoad, type LoadSummary } from '../../activities/load';
import { smallSample, storeIn, tempDir, writeParquet } from '../helpers';

/** Row count and an order-independent digest of a table's rows. */
async function digest(dbPath: string, table: 'features' | 'quarantine'): Promise<{ rows: number; digest: string }> {
  return withConnection(dbPath, (conn) =>
    queryOne<{ rows: number; digest: string }>(
      conn,
      `SELECT count(*) AS rows, sum(hash(t) % 1000000007)::VARCHAR AS digest FROM ${table} t`,
    ),
  );
}

/**
 * Partitioning is an execution choice, not a parameter: the same input split into 3 partitions
 * (each loaded and featurised on its own, as separate activities would) by ranges of ids or by
 * id hashes, or aggregated in several buckets, must give exactly the features and quarantine of
 * a single pass, duplicates across files and rows without an id included.
 */
describe('partitioned load and features', () => {
  let single: LoadSummary;
  let split: LoadSummary;
  let bucketed: LoadSummary;
  let hashed: LoadSummary;
  let dir: string;
  let store: ReturnType<typeof storeIn>;
  /** The same months in row groups of ~2,000 rows in random order of ids. */
  const unsorted = () => join(dir, 'unsorted');
  /** The same months, sorted, with numbers for ids: S000000042 is 42. */
  const numbered = () => join(dir, 'numbered');
  beforeAll(async () => {
    dir = await tempDir();
    const sample = await smallSample(dir, 10_000, 8);
    const input = join(dir, 'input');
    await cp(join(sample.outDir, 'usage'), input, { recursive: true });
    await cp(input, unsorted(), { recursive: true });
    await cp(input, numbered(), { recursive: true });
    // each month in row groups of ~2,000 rows sorted by id, as an extract of millions is in ~100,000s
    await rewriteMonths(input, 'subscriber_id');
    await rewriteMonths(unsorted(), 'hash(subscriber_id)');
    await rewriteMonths(
      numbered(),
      'subscriber_id',
      'SELECT * REPLACE (substr(subscriber_id, 2)::BIGINT AS subscriber_id)',
    );
    // 40 June rows again (duplicates of rows in another file) and 3 with negative spend
    await writeParquet(sample, join(input, 'late-delivery.parquet'), 'SELECT * FROM {june} LIMIT 40');
    await writeParquet(
      sample,
      join(input, 'bad-spend.parquet'),
      'SELECT * REPLACE (-5.0 AS spend) FROM {june} LIMIT 3 OFFSET 100',
    );
    // and 2 without an id, which a partition by id ranges must still quarantine exactly once
    await writeParquet(
      sample,
      join(input, 'no-id.parquet'),
      'SELECT * REPLACE (NULL::VARCHAR AS subscriber_id) FROM {june} LIMIT 2 OFFSET 200',
    );
    const params = { month: '2026-06', input, k: 4 };
    store = storeIn(dir);
    single = await loadUsage(store, { workflowId: 'single', runId: 'r' }, params, 1);
    await computeFeatures(single.dbPath, single.params, single);
    // the per-subscriber aggregation in buckets of ~20,000 usage rows: about 4 passes
    bucketed = await loadUsage(store, { workflowId: 'bucketed', runId: 'r' }, params, 1);
    await computeFeatures(bucketed.dbPath, bucketed.params, bucketed, { rowsPerBucket: 20_000 });
    split = await loadUsage(store, { workflowId: 'split', runId: 'r' }, params, 3);
    await featuresOf(split);
    // the same split by id hashes, as input that is not sorted by id is
    const plan = { ...(await planLoad(store, { workflowId: 'hashed', runId: 'r' }, params, 3)), partitionStarts: null };
    const loaded = [];
    for (const index of plan.partitionDbPaths.keys()) loaded.push(await loadPartition(plan, index));
    hashed = await combineLoad(plan, loaded);
    await featuresOf(hashed);
  });

  /** Rewrites every month file of `input` in row groups of ~2,000 rows, its rows in `order` (SQL). */
  async function rewriteMonths(
    input: string,
    order: 'subscriber_id' | 'hash(subscriber_id)',
    select = 'SELECT *',
  ): Promise<void> {
    for (const folder of await readdir(input)) {
      const file = join(input, folder, 'part_0.parquet');
      await withConnection(':memory:', async (conn) => {
        await setVariable(conn, 'file', file);
        await setVariable(conn, 'rewritten', `${file}.rewritten`);
        await conn.run(
          `COPY (${select} FROM read_parquet(getvariable('file')) ORDER BY ${order}) TO (getvariable('rewritten')) (FORMAT parquet, ROW_GROUP_SIZE 2048)`,
        );
      });
      await rename(`${file}.rewritten`, file);
    }
  }

  async function featuresOf(load: LoadSummary): Promise<void> {
    const parts = [];
    for (const path of load.partitionDbPaths) parts.push(await computePartitionFeatures(path, load.params, load));
    await combineFeatures(load.dbPath, load.partitionDbPaths, load.params, load, parts);
  }

  it('reconciles rows and counts like a single partition', () => {
    expect(split.partitionDbPaths).toHaveLength(3);
    expect(new Set(split.partitionDbPaths).size).toBe(3);
    for (const key of ['rowsRead', 'rowsLoaded', 'rowsQuarantined', 'subscribersInMonth', 'paramsHash'] as const)
      expect(split[key]).toBe(single[key]);
    expect(split.quarantineByReason).toEqual(single.quarantineByReason);
    expect(single.quarantineByReason).toMatchObject({
      'duplicate (subscriber_id, month)': 40,
      'spend: outside [0, 1000000]': 3,
      'subscriber_id: missing': 2,
    });
  });

  it('gives each partition a range of ids, in order, so sorted Parquet input is read a share each', async () => {
    const starts = split.partitionStarts;
    expect(starts?.type).toBe('VARCHAR');
    expect(starts?.ids).toHaveLength(2);
    const ranges = [];
    for (const path of split.partitionDbPaths)
      ranges.push(
        await withConnection(path, (conn) =>
          queryOne<{ low: string; high: string; rows: number }>(
            conn,
            'SELECT min(subscriber_id) AS low, max(subscriber_id) AS high, count(*) AS rows FROM usage',
          ),
        ),
      );
    const [from1, from2] = starts?.ids ?? [];
    expect(ranges[0].high < from1 && from1 <= ranges[1].low).toBe(true);
    expect(ranges[1].high < from2 && from2 <= ranges[2].low).toBe(true);
    // equal shares of the window's rows, give or take a subscriber's months
    for (const range of ranges) expect(range.rows).toBeGreaterThan(split.rowsLoaded / 4);
  });

  it('cuts numeric ids in numeric order, and hashes ids the mapping encodes (text only after the encoding)', async () => {
    const params = { month: '2026-06', input: numbered() };
    const ranged = await loadUsage(store, { workflowId: 'numbered', runId: 'r' }, params, 3);
    expect(ranged.partitionStarts?.type).toBe('BIGINT');
    const [from1, from2] = (ranged.partitionStarts?.ids ?? []).map(Number);
    expect(from1).toBeLessThan(from2);
    // every row loaded or quarantined once (combineLoad reconciles them), as with one partition
    const one = await loadUsage(store, { workflowId: 'numbered-one', runId: 'r' }, params, 1);
    expect([ranged.rowsLoaded, ranged.rowsQuarantined]).toEqual([one.rowsLoaded, one.rowsQuarantined]);

    const mapping = join(dir, 'encoded-ids.json');
    await writeFile(mapping, JSON.stringify({ values: { subscriber_id: { '42': 'forty-two' } } }));
    const encoded = await loadUsage(store, { workflowId: 'encoded', runId: 'r' }, { ...params, mapping }, 3);
    expect(encoded.partitionStarts).toBeNull();
    expect(encoded.rowsLoaded).toBe(one.rowsLoaded);
  });

  it('hashes ids where ranges would spare no reading: every row group of unsorted input spans all ids', async () => {
    const plan = await planLoad(
      store,
      { workflowId: 'unsorted', runId: 'r' },
      { month: '2026-06', input: unsorted() },
      3,
    );
    expect(plan.partitionStarts).toBeNull();
  });

  it('computes identical features and quarantine', async () => {
    const features = await digest(single.dbPath, 'features');
    expect(features.rows).toBeGreaterThan(4_000);
    expect(await digest(split.dbPath, 'features')).toEqual(features);
    expect(await digest(bucketed.dbPath, 'features')).toEqual(features);
    expect(await digest(hashed.dbPath, 'features')).toEqual(features);
    // each bucket's rows went through a file beside the database, removed once read
    expect((await readdir(dirname(bucketed.dbPath))).filter((file) => file.includes('subscriber-features'))).toEqual(
      [],
    );
    expect(await digest(split.dbPath, 'quarantine')).toEqual(await digest(single.dbPath, 'quarantine'));
    expect(await digest(hashed.dbPath, 'quarantine')).toEqual(await digest(single.dbPath, 'quarantine'));
  });
});
