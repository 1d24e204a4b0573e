import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainAndScoreChurn } from '../../activities/churn';
import { clusterSubscribers } from '../../activities/cluster';
import { queryRows, setVariable, withConnection } from '../../activities/duckdb';
import { computeFeatures } from '../../activities/features';
import { loadUsage } from '../../activities/load';
import { publishSnapshot } from '../../activities/publish';
import { readManifest } from '../../store/snapshots';
import type { SampleSummary } from '../../data/generate';
import { smallSample, storeIn, tempDir } from '../helpers';

/**
 * A user's own data: one CSV row per subscriber (a snapshot), their own column names, "Yes"/"No"
 * labels and no monthly history. A mapping file ties it to the contract; features it cannot
 * support are skipped and listed, and the churn model trains on the user's labels.
 */
describe("a user's snapshot CSV with a mapping file", () => {
  let dir: string;
  let sample: SampleSummary;
  let input: string;
  let mapping: string;

  beforeAll(async () => {
    dir = await tempDir();
    sample = await smallSample(dir, 4_000, 8);
    input = join(dir, 'telco');
    await mkdir(input);
    // May's usage, with the churn outcome (gone in June) from the generator's ground truth
    await withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'may', join(sample.outDir, 'usage', 'usage_month=2026-05', 'part_0.parquet'));
      await setVariable(conn, 'truth', join(sample.outDir, 'truth.parquet'));
      await setVariable(conn, 'target', join(input, 'customers.csv'));
      await conn.run(`COPY (
        SELECT u.subscriber_id AS "customerID", u.voice_minutes AS "Total Minutes", u.data_mb AS "Data MB",
               u.spend AS "MonthlyCharges", u.tenure_months AS tenure,
               CASE WHEN u.has_broadband THEN 'Fiber optic' ELSE 'No' END AS "InternetService",
               CASE WHEN t.churn_month = '2026-06' THEN 'Yes' ELSE 'No' END AS "Churn"
        FROM read_parquet(getvariable('may')) u JOIN read_parquet(getvariable('truth')) t USING (subscriber_id)
        ORDER BY 1) TO (getvariable('target')) (FORMAT csv, HEADER)`);
    });
    mapping = join(dir, 'mapping.json');
    await writeFile(
      mapping,
      JSON.stringify({
        format: 'snapshot',
        columns: {
          subscriber_id: 'customerID',
          voice_minutes: 'Total Minutes',
          data_mb: 'Data MB',
          spend: 'MonthlyCharges',
          tenure_months: 'tenure',
          has_broadband: 'InternetService',
          churn_label: 'Churn',
        },
        values: { has_broadband: { 'Fiber optic': true, DSL: true, No: false }, churn_label: { Yes: true, No: false } },
      }),
    );
  });

  it('loads, skips and lists what it cannot compute, trains on the labels, and publishes', async () => {
    const store = storeIn(dir);
    const run = { workflowId: 'user-data', runId: 'r1' };
    const load = await loadUsage(store, run, { month: '2026-05', input, mapping, k: 4 });
    expect(load).toMatchObject({ format: 'snapshot', rowsQuarantined: 0 });
    expect(load.rowsLoaded).toBe(load.subscribersInMonth);
    expect(load.inputColumns).toEqual(
      expect.arrayContaining(['subscriber_id', 'month', 'spend', 'has_broadband', 'churn_label']),
    );

    const features = await computeFeatures(load.dbPath, load.params, {
      format: load.format,
      inputColumns: load.inputColumns,
    });
    const skipped = Object.fromEntries(features.skippedFeatures.map((s) => [s.feature, s.reason]));
    expect(skipped.mou_trend).toBe('needs 6 months of history; the input has 1');
    expect(skipped.sms).toBe('input has no sms_count');
    expect(skipped.recency_days).toBe('input has no last_recharge_date');
    expect(skipped.sticky_services).toBeUndefined(); // broadband is mapped
    expect(features.trainingRows).toBe(features.scoringRows); // a snapshot trains on its own month

    const names = features.skippedFeatures.map((s) => s.feature);
    const cluster = await clusterSubscribers(load.dbPath, load.params, null, names);
    expect(cluster.featureNames).not.toContain('log_sms');
    const churn = await trainAndScoreChurn(load.dbPath, load.params, names);
    expect(Object.keys(churn.featureImportance).some((feature) => names.includes(feature))).toBe(false);
    expect(churn.holdout.positives).toBeGreaterThan(5);
    expect(churn.holdout.rocAuc).toBeGreaterThan(0.6);

    const published = await publishSnapshot(store, run, { requestedBy: 'analyst', load, features, cluster, churn });
    const manifest = await readManifest(store, '2026-05', published.version);
    expect(manifest.skippedFeatures).toEqual(features.skippedFeatures);
    const [row] = await withConnection(':memory:', (conn) =>
      queryRows<{ rows: number; trends: number; ids: number }>(
        conn,
        'SELECT count(*) AS rows, count(mou_trend) AS trends, count(DISTINCT subscriber_id) AS ids FROM read_parquet($file)',
        { file: join(published.path, 'subscribers.parquet') },
      ),
    );
    expect(row).toEqual({ rows: load.rowsLoaded, trends: 0, ids: load.rowsLoaded }); // skipped, not faked
  });
});
