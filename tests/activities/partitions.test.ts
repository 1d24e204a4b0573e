import { cp, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { queryOne, withConnection } from '../../activities/duckdb';
import { combineFeatures, computeFeatures, computePartitionFeatures } from '../../activities/features';
import { loadUsage, type LoadSummary } from '../../activities/load';
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
 * (each loaded and featurised on its own, as separate activities would), or aggregated in
 * several buckets, must give exactly the features and quarantine of a single pass, duplicates
 * across files included.
 */
describe('partitioned load and features', () => {
  let single: LoadSummary;
  let split: LoadSummary;
  let bucketed: LoadSummary;
  beforeAll(async () => {
    const dir = await tempDir();
    const sample = await smallSample(dir, 3_000, 8);
    const input = join(dir, 'input');
    await cp(join(sample.outDir, 'usage'), input, { recursive: true });
    // 40 June rows again (duplicates of rows in another file) and 3 with negative spend
    await writeParquet(sample, join(input, 'late-delivery.parquet'), 'SELECT * FROM {june} LIMIT 40');
    await writeParquet(
      sample,
      join(input, 'bad-spend.parquet'),
      'SELECT * REPLACE (-5.0 AS spend) FROM {june} LIMIT 3 OFFSET 100',
    );
    const params = { month: '2026-06', input, k: 4 };
    const store = storeIn(dir);
    single = await loadUsage(store, { workflowId: 'single', runId: 'r' }, params, 1);
    await computeFeatures(single.dbPath, single.params, single);
    // the per-subscriber aggregation in buckets of ~5,000 usage rows: about 4 passes
    bucketed = await loadUsage(store, { workflowId: 'bucketed', runId: 'r' }, params, 1);
    await computeFeatures(bucketed.dbPath, bucketed.params, bucketed, { rowsPerBucket: 5_000 });
    split = await loadUsage(store, { workflowId: 'split', runId: 'r' }, params, 3);
    const parts = [];
    for (const path of split.partitionDbPaths) parts.push(await computePartitionFeatures(path, split.params, split));
    await combineFeatures(split.dbPath, split.partitionDbPaths, split.params, split, parts);
  });

  it('reconciles rows and counts like a single partition', () => {
    expect(split.partitionDbPaths).toHaveLength(3);
    expect(new Set(split.partitionDbPaths).size).toBe(3);
    for (const key of ['rowsRead', 'rowsLoaded', 'rowsQuarantined', 'subscribersInMonth', 'paramsHash'] as const)
      expect(split[key]).toBe(single[key]);
    expect(split.quarantineByReason).toEqual(single.quarantineByReason);
    expect(single.quarantineByReason).toMatchObject({
      'duplicate (subscriber_id, month)': 40,
      'spend: outside [0, 1000000]': 3,
    });
  });

  it('computes identical features and quarantine', async () => {
    const features = await digest(single.dbPath, 'features');
    expect(features.rows).toBeGreaterThan(4_000);
    expect(await digest(split.dbPath, 'features')).toEqual(features);
    expect(await digest(bucketed.dbPath, 'features')).toEqual(features);
    // each bucket's rows went through a file beside the database, removed once read
    expect((await readdir(dirname(bucketed.dbPath))).filter((file) => file.includes('subscriber-features'))).toEqual(
      [],
    );
    expect(await digest(split.dbPath, 'quarantine')).toEqual(await digest(single.dbPath, 'quarantine'));
  });
});
