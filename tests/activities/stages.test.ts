import { cp, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainAndScoreChurn } from '../../activities/churn';
import type { ChurnSummary } from '../../activities/churn-summary';
import { clusterSubscribers, type ClusterSummary } from '../../activities/cluster';
import { queryOne, queryRows, withConnection } from '../../activities/duckdb';
import { computeFeatures, type FeatureSummary } from '../../activities/features';
import { hashFile } from '../../store/hashing';
import { SCORED_TABLES, scoredTableFile, segmentsFile } from '../../activities/stage-outputs';
import { STAR_GRADE_WEIGHTS, VALUE_TIER_SHARES } from '../../domain/rules';
import { loadUsage, type LoadSummary } from '../../activities/load';
import { adjustedRandIndex } from '../../activities/ml/metrics';
import { publishSnapshot } from '../../activities/publish';
import { listVersions, readManifest } from '../../store/snapshots';
import { featuresFile, type StoreConfig } from '../../store/layout';
import { smallSample, storeIn, tempDir, withStageOutputs } from '../helpers';

/** Every stage on a 4,000-subscriber sample with real DuckDB, outside Temporal. */
describe('stages from load to publish', () => {
  const run = { workflowId: 'stages', runId: 'run-a' };
  let store: StoreConfig;
  let truthPath: string;
  let load: LoadSummary;
  let features: FeatureSummary;
  let cluster: ClusterSummary;
  let churn: ChurnSummary;

  beforeAll(async () => {
    const dir = await tempDir();
    const sample = await smallSample(dir);
    truthPath = join(sample.outDir, 'truth.parquet');
    store = storeIn(dir);
    load = await loadUsage(store, run, { month: '2026-06', input: join(sample.outDir, 'usage') });
    features = await computeFeatures(load.dbPath, load.params);
    cluster = await clusterSubscribers(load.dbPath, load.params);
    churn = await trainAndScoreChurn(load.dbPath, load.params);
  });

  /** This file's run published as `runId`, its load summary changed by `changes`. */
  const publishAs = (runId: string, changes: Partial<LoadSummary> = {}) =>
    publishSnapshot(
      store,
      { ...run, runId },
      { requestedBy: 'test', load: { ...load, ...changes }, features, cluster, churn },
    );

  it('computes features for this month and a labelled month before', () => {
    expect(features.scoringRows).toBe(load.subscribersInMonth);
    expect(features.trainingRows).toBeGreaterThan(features.scoringRows * 0.9);
    expect(features.trainingChurnRate).toBeGreaterThan(0.005);
    expect(features.trainingChurnRate).toBeLessThan(0.1);
  });

  it("stops at the features, not after clustering, when the month before holds nobody (the input's first month)", async () => {
    const first = await loadUsage(
      store,
      { ...run, runId: 'first-month' },
      { month: '2025-11', input: load.params.input },
    );
    const stopped = computeFeatures(first.dbPath, first.params);
    await expect(stopped).rejects.toMatchObject({ name: 'DataQualityError' });
    await expect(stopped).rejects.toThrow(
      'too little history to train a churn model: 0 subscribers last month, 0 of them churned and 0 stayed (need at least 500, 10 x treeMinLeaf 50, with 10 churners and 10 stayers); does the input hold the month before 2025-11?',
    );
  });

  it("grades stars from percent ranks among the month's subscribers, ties sharing a rank", async () => {
    // the SQL counts each distinct value once; this is the textbook definition, window by window
    const { mismatches, rows } = await withConnection(load.dbPath, (conn) =>
      queryOne<{ mismatches: number; rows: number }>(
        conn,
        `WITH expected AS (
           SELECT star_grade, least(5, 1 + floor(5 * (
               $spend * percent_rank() OVER (PARTITION BY purpose ORDER BY arpu)
             + $frequency * percent_rank() OVER (PARTITION BY purpose ORDER BY frequency)
             + $tenure * percent_rank() OVER (PARTITION BY purpose ORDER BY tenure_months)
             + $payment_delay * (1 - percent_rank() OVER (PARTITION BY purpose ORDER BY payment_delay_avg))
             + $complaints * (1 - percent_rank() OVER (PARTITION BY purpose ORDER BY complaints_recent)))))::INTEGER AS by_windows
           FROM features WHERE purpose = 'score'
         )
         SELECT count(*) FILTER (WHERE star_grade IS DISTINCT FROM by_windows) AS mismatches, count(*) AS rows FROM expected`,
        {
          spend: STAR_GRADE_WEIGHTS.spend,
          frequency: STAR_GRADE_WEIGHTS.rechargeFrequency,
          tenure: STAR_GRADE_WEIGHTS.tenure,
          payment_delay: STAR_GRADE_WEIGHTS.paymentDelay,
          complaints: STAR_GRADE_WEIGHTS.complaints,
        },
      ),
    );
    expect(rows).toBe(features.scoringRows);
    expect(mismatches).toBe(0);
  });

  it('chooses k by silhouette and recovers the planted groups (adjusted Rand index >= 0.8)', async () => {
    expect(Object.keys(cluster.silhouetteByK).map(Number)).toEqual([3, 4, 5, 6, 7, 8]);
    expect(cluster.silhouetteByK[cluster.k]).toBe(Math.max(...Object.values(cluster.silhouetteByK)));
    const cells = await withStageOutputs(load.dbPath, (conn) =>
      queryRows<{ a: number; b: string; n: number }>(
        conn,
        `SELECT s.segment_id AS a, t.planted_group AS b, count(*) AS n
         FROM features f JOIN segments s USING (row_idx) JOIN read_parquet($truth) t USING (subscriber_id)
         WHERE f.purpose = 'score' GROUP BY ALL`,
        { truth: truthPath },
      ),
    );
    expect(adjustedRandIndex(cells)).toBeGreaterThanOrEqual(0.8);
  });

  it('refuses more segments than subscribers to score with a typed error, not one Temporal retries', async () => {
    const k = features.scoringRows + 1;
    await expect(clusterSubscribers(load.dbPath, { ...load.params, k })).rejects.toMatchObject({
      name: 'DataQualityError',
      message: `cannot make ${k} segments from ${features.scoringRows} subscribers to score: give a smaller k (--param k=...), or leave k out to choose it`,
    });
  });

  it('puts every subscriber in exactly one named segment', () => {
    expect(cluster.segments).toHaveLength(cluster.k);
    expect(cluster.segments.reduce((sum, s) => sum + s.subscribers, 0)).toBe(features.scoringRows);
    expect(new Set(cluster.segments.map((s) => s.name)).size).toBe(cluster.k);
    expect(cluster.segments.reduce((sum, s) => sum + s.revenueShare, 0)).toBeCloseTo(1, 9);
    // ids rank segments by value
    const arpu = cluster.segments.map((s) => s.arpu);
    expect(arpu[0]).toBeGreaterThan(arpu[arpu.length - 1]);
  });

  it('scores churn well above chance on a holdout, with the same churn truth as the generator', async () => {
    // issue 4's quality bars on the generated data: holdout ROC AUC >= 0.80, top-decile lift >= 3
    expect(churn.holdout.rocAuc).toBeGreaterThanOrEqual(0.8);
    expect(churn.holdout.liftByDecile[0]).toBeGreaterThanOrEqual(3);
    expect(churn.scoredRows).toBe(features.scoringRows);
    // labels come from absence in the data; the generator's truth must agree
    const agree = await withConnection(load.dbPath, (conn) =>
      queryOne<{ disagree: number; churners: number }>(
        conn,
        `SELECT count(*) FILTER (WHERE f.churned_next_month <> (t.churn_month IS NOT DISTINCT FROM '2026-06')) AS disagree,
                count(*) FILTER (WHERE f.churned_next_month) AS churners
         FROM features f JOIN read_parquet($truth) t USING (subscriber_id) WHERE f.purpose = 'train'`,
        { truth: truthPath },
      ),
    );
    expect(agree).toMatchObject({ disagree: 0 });
    expect(agree.churners).toBeGreaterThan(20);
  });

  it('clusters and scores side by side on the same run database (both read it only), with the same results', async () => {
    const runDir = dirname(load.dbPath);
    const outputs = () =>
      Promise.all(
        [segmentsFile(runDir), ...SCORED_TABLES.map((table) => scoredTableFile(runDir, table))].map(
          async (file) => (await hashFile(file)).sha256,
        ),
      );
    const before = await outputs();
    const [again, churnAgain] = await Promise.all([
      clusterSubscribers(load.dbPath, load.params),
      trainAndScoreChurn(load.dbPath, load.params),
    ]);
    expect(await outputs()).toEqual(before);
    expect(again.segments).toEqual(cluster.segments);
    expect(churnAgain.holdout).toEqual(churn.holdout);
  });

  it('publishes an immutable snapshot whose manifest hashes match its files, once per run', async () => {
    const first = await publishSnapshot(store, run, { requestedBy: 'test', load, features, cluster, churn });
    expect(first).toMatchObject({ month: '2026-06', version: 1, alreadyPublished: false });
    const manifest = await readManifest(store, '2026-06', 1);
    expect(manifest.run).toEqual(run);
    expect(manifest.rowCounts.subscribers).toBe(features.scoringRows);
    expect(manifest.inputs.map((i) => i.sha256)).toEqual(load.inputFiles.map((i) => i.sha256));
    for (const output of manifest.outputs)
      expect((await hashFile(join(first.path, output.file))).sha256).toBe(output.sha256);

    const subscribers = await withConnection(':memory:', (conn) =>
      queryRows<{ rows: number; ids: number; scored: number; prioritised: number; unordered: number }>(
        conn,
        `SELECT count(*) AS rows, count(DISTINCT subscriber_id) AS ids, count(churn_score) AS scored, count(operation_priority) AS prioritised,
                count(*) FILTER (WHERE subscriber_id < previous_id) AS unordered
         FROM (SELECT *, lag(subscriber_id) OVER () AS previous_id FROM read_parquet($file))`,
        { file: join(first.path, 'subscribers.parquet') },
      ),
    );
    expect(subscribers[0]).toEqual({
      rows: features.scoringRows,
      ids: features.scoringRows,
      scored: features.scoringRows,
      prioritised: features.scoringRows,
      unordered: 0, // rows in id order
    });

    // a retried publish of the same run returns the same version and writes nothing new
    const again = await publishSnapshot(store, run, { requestedBy: 'test', load, features, cluster, churn });
    expect(again).toMatchObject({ version: 1, alreadyPublished: true });
    // another run of the month becomes v2, and latest moves forward
    const rerun = await publishSnapshot(
      store,
      { ...run, runId: 'run-b' },
      { requestedBy: 'test', load, features, cluster, churn },
    );
    expect(rerun).toMatchObject({ version: 2, alreadyPublished: false });
    expect(await listVersions(store, '2026-06')).toEqual([1, 2]);
    const latest = JSON.parse(await readFile(join(store.storeDir, 'snapshots', '2026-06', 'latest.json'), 'utf8'));
    expect(latest).toMatchObject({ version: 2, run: { runId: 'run-b' } });
  });

  it('tags every subscriber, gives each an action, and lists whom to contact per grid', async () => {
    const published = await publishAs('run-actions');
    const file = (name: string) => join(published.path, name);
    const [subscribers] = await withConnection(':memory:', (conn) =>
      queryRows<{ rows: number; actions: number; warned: number; vip: number; new_tag: number; at_risk: number }>(
        conn,
        `SELECT count(*) AS rows,
                count(*) FILTER (WHERE recommended_product IS NOT NULL AND channel IS NOT NULL AND contact_moment IS NOT NULL AND operation_priority IS NOT NULL) AS actions,
                count(*) FILTER (WHERE list_contains(tags, 'warning')) AS warned,
                count(*) FILTER (WHERE list_contains(tags, 'VIP')) AS vip,
                count(*) FILTER (WHERE list_contains(tags, 'new')) AS new_tag,
                count(*) FILTER (WHERE risk_band <> 'low' OR operation_priority <= 2) AS at_risk
         FROM read_parquet($file)`,
        { file: file('subscribers.parquet') },
      ),
    );
    expect(subscribers.actions).toBe(subscribers.rows);
    expect(subscribers.warned).toBeGreaterThan(0);
    expect(subscribers.vip).toBeGreaterThan(0);
    expect(subscribers.new_tag).toBeGreaterThan(0);

    const dispatch = await withConnection(':memory:', (conn) =>
      queryRows<{ grid: string; contact_rank: number; operation_priority: number; churn_score: number }>(
        conn,
        'SELECT grid, contact_rank, operation_priority, churn_score FROM read_parquet($file)',
        { file: file('dispatch.parquet') },
      ),
    );
    expect(dispatch.length).toBe(subscribers.at_risk);
    const byGrid = new Map<string, typeof dispatch>();
    for (const row of dispatch) byGrid.set(row.grid, [...(byGrid.get(row.grid) ?? []), row]);
    for (const rows of byGrid.values()) {
      expect(rows.map((r) => r.contact_rank)).toEqual(rows.map((_, i) => i + 1));
      for (let i = 1; i < rows.length; i++) {
        const [a, b] = [rows[i - 1], rows[i]];
        expect(
          a.operation_priority < b.operation_priority ||
            (a.operation_priority === b.operation_priority && a.churn_score >= b.churn_score),
        ).toBe(true);
      }
    }
  });

  it("sets value tiers and the high-value flag when publishing, from the run's parameters", async () => {
    const publishWith = async (runId: string, changes: Partial<LoadSummary['params']>) => {
      const published = await publishAs(runId, { params: { ...load.params, ...changes } });
      // each subscriber's tier and flag against the revenue share above them and their ARPU
      return withConnection(
        load.dbPath,
        (conn) =>
          queryOne<{ rows: number; key: number; high_value: number; wrong_tier: number; wrong_flag: number }>(
            conn,
            `SELECT count(*)::INTEGER AS rows,
                  count(*) FILTER (WHERE p.value_tier = 'key')::INTEGER AS key,
                  count(*) FILTER (WHERE p.high_value)::INTEGER AS high_value,
                  count(*) FILTER (WHERE p.value_tier <> CASE WHEN f.revenue_share_above < $key THEN 'key'
                    WHEN f.revenue_share_above < $high THEN 'high' WHEN f.revenue_share_above < $mid THEN 'mid'
                    ELSE 'low' END)::INTEGER AS wrong_tier,
                  count(*) FILTER (WHERE p.high_value IS DISTINCT FROM (f.arpu >= $threshold))::INTEGER AS wrong_flag
           FROM read_parquet($file) p JOIN features f ON f.purpose = 'score' AND f.subscriber_id = p.subscriber_id`,
            {
              file: join(published.path, 'subscribers.parquet'),
              key: changes.keyCustomerRevenueShare ?? load.params.keyCustomerRevenueShare,
              // the key shares tested lie below these
              high: VALUE_TIER_SHARES.high,
              mid: VALUE_TIER_SHARES.mid,
              threshold: changes.highValueThreshold ?? load.params.highValueThreshold,
            },
          ),
        { readOnly: true },
      );
    };
    const defaults = await publishWith('run-tiers-default', {});
    const changed = await publishWith('run-tiers-changed', { keyCustomerRevenueShare: 0.5, highValueThreshold: 50 });
    for (const tiers of [defaults, changed]) {
      expect(tiers.rows).toBe(features.scoringRows);
      expect(tiers).toMatchObject({ wrong_tier: 0, wrong_flag: 0 });
    }
    expect(changed.key).toBeGreaterThan(defaults.key);
    expect(changed.high_value).toBeGreaterThan(defaults.high_value);
  });

  it('publishes the same subscribers from features an earlier version labelled (a worker upgraded mid-run)', async () => {
    const publishFrom = async (runId: string, dbPath: string) =>
      hashFile(join((await publishAs(runId, { dbPath })).path, 'subscribers.parquet'));
    // the run folder as an earlier version left it: its features view carries the labels, set wrong here
    const earlier = join(await tempDir(), 'run');
    await cp(dirname(load.dbPath), earlier, { recursive: true });
    const earlierDb = join(earlier, basename(load.dbPath));
    await withConnection(earlierDb, (conn) =>
      conn.run(
        `CREATE OR REPLACE VIEW features AS SELECT *, 'low' AS value_tier, false AS high_value FROM read_parquet('${featuresFile(earlierDb)}')`,
      ),
    );
    expect((await publishFrom('run-labelled-earlier', earlierDb)).sha256).toBe(
      (await publishFrom('run-labelled-now', load.dbPath)).sha256,
    );
  });

  it('publishes keyed hashes instead of subscriber ids when asked, with the key only from the environment', async () => {
    const pseudonymised = { ...load, params: { ...load.params, pseudonymiseIds: true } };
    const request = { requestedBy: 'test', load: pseudonymised, features, cluster, churn };
    const saved = process.env.SEGFLOW_PSEUDONYM_KEY;
    try {
      delete process.env.SEGFLOW_PSEUDONYM_KEY;
      await expect(publishSnapshot(store, { ...run, runId: 'run-p0' }, request)).rejects.toMatchObject({
        name: 'InvalidParamsError',
      });
      process.env.SEGFLOW_PSEUDONYM_KEY = 'a-test-key-of-enough-length';
      const published = await publishSnapshot(store, { ...run, runId: 'run-p1' }, request);
      const [row] = await withConnection(':memory:', (conn) =>
        queryRows<{ ids: number; hashed: number; raw: number }>(
          conn,
          `SELECT count(DISTINCT subscriber_id) AS ids, count(*) FILTER (WHERE regexp_matches(subscriber_id, '^[0-9a-f]{64}$')) AS hashed,
                  count(*) FILTER (WHERE subscriber_id LIKE 'S%') AS raw
           FROM read_parquet($file)`,
          { file: join(published.path, 'subscribers.parquet') },
        ),
      );
      expect(row).toEqual({ ids: features.scoringRows, hashed: features.scoringRows, raw: 0 });
      const manifest = await readFile(published.manifestPath, 'utf8');
      expect(manifest).not.toContain('a-test-key-of-enough-length');
    } finally {
      if (saved === undefined) delete process.env.SEGFLOW_PSEUDONYM_KEY;
      else process.env.SEGFLOW_PSEUDONYM_KEY = saved;
    }
  });
});
