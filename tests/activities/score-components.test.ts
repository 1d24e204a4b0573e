import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { queryRows, withConnection } from '../../activities/duckdb';
import { computeFeatures, type FeatureSummary } from '../../activities/features';
import { loadUsage, type LoadSummary } from '../../activities/load';
import { featuresFile } from '../../store/layout';
import { SCORE_COMPONENTS, STABLE_SCORE, scoreSupport } from '../../domain/rules';
import type { SampleSummary } from '../../data/generate';
import { smallSample, storeIn, tempDir } from '../helpers';

type Scores = {
  subscriber_id: string;
  stability_score: number | null;
  star_grade: number | null;
  tenure_months: number;
  sticky_services: number;
};

/**
 * A long file without some optional columns: the stability score and star grade are taken over
 * the components it has, rescaled to the full range, not read with the absent ones as 0 (which
 * capped stability at 40 points, under the 50 of "stable", and kept every subscriber off 5 stars).
 */
describe('stability score and star grade over the components the input has', () => {
  let dir: string;
  let sample: SampleSummary;

  const run = async (name: string, exclude: string[]): Promise<{ load: LoadSummary; features: FeatureSummary }> => {
    const file = join(dir, `${name}.parquet`);
    await withConnection(':memory:', (conn) =>
      conn.run(
        `COPY (SELECT * ${exclude.length ? `EXCLUDE (${exclude.join(', ')})` : ''}
               FROM read_parquet('${join(sample.outDir, 'usage')}/*/*.parquet', hive_partitioning = false)) TO '${file}' (FORMAT parquet)`,
      ),
    );
    const load = await loadUsage(
      storeIn(join(dir, name)),
      { workflowId: name, runId: 'r1' },
      { month: '2026-06', input: file },
    );
    const features = await computeFeatures(load.dbPath, load.params, {
      format: load.format,
      inputColumns: load.inputColumns,
      userFeatures: load.userFeatures,
    });
    return { load, features };
  };
  const scores = (load: LoadSummary) =>
    withConnection(':memory:', (conn) =>
      queryRows<Scores>(
        conn,
        `SELECT subscriber_id, stability_score, star_grade, tenure_months, sticky_services
         FROM read_parquet('${featuresFile(load.dbPath)}') WHERE purpose = 'score' ORDER BY subscriber_id`,
      ),
    );

  let full: Scores[];
  beforeAll(async () => {
    dir = await tempDir();
    sample = await smallSample(dir, 2_000, 7);
    full = await scores((await run('full', [])).load);
  }, 120_000);

  it('rescales stability over tenure and broadband when contract, family bundle, call circle and premium number are absent', async () => {
    const absent = ['contract_end_date', 'has_family_bundle', 'call_circle', 'premium_number'];
    const { load, features } = await run('no-optional', absent);
    const rows = await scores(load);
    expect(rows).toHaveLength(full.length);
    // tenure (30 points) and broadband (10) are what is left: 40 points scaled to 100
    for (const row of rows) {
      const points = 30 * Math.min(row.tenure_months / 60, 1) + 10 * row.sticky_services;
      // rounded to one decimal
      expect(Math.abs((row.stability_score ?? Number.NaN) - points * 2.5)).toBeLessThanOrEqual(0.05 + 1e-9);
    }
    const max = Math.max(...rows.map((row) => row.stability_score ?? 0));
    expect(max).toBeGreaterThan(40);
    const stable = rows.filter((row) => (row.stability_score ?? 0) >= STABLE_SCORE).length;
    const stableFull = full.filter((row) => (row.stability_score ?? 0) >= STABLE_SCORE).length;
    // not every subscriber unstable; the share of the same order as with every column
    expect(stable).toBeGreaterThan(0.3 * stableFull);
    const skipped = features.skippedFeatures;
    expect(skipped.map((s) => s.feature)).not.toContain('stability_score');
    expect(skipped.filter((s) => s.feature.startsWith('stability_score.'))).toEqual([
      {
        feature: 'stability_score.contract',
        reason:
          'input has no contract_end_date; stability_score is rescaled over the components it has (tenure, broadband: 40 of 100 points)',
      },
      expect.objectContaining({ feature: 'stability_score.family_bundle' }),
      expect.objectContaining({ feature: 'stability_score.call_circle' }),
      expect.objectContaining({ feature: 'stability_score.premium_number' }),
    ]);
    // the star grade needs none of those columns: the same grades as with every column
    expect(rows.map((row) => row.star_grade)).toEqual(full.map((row) => row.star_grade));
  }, 120_000);

  it('rescales the star grade when recharges, payment delays and complaints are absent: 5 stars remain reachable', async () => {
    const { load, features } = await run('no-recharges', ['recharge_count', 'payment_delay_days', 'complaints']);
    const rows = await scores(load);
    const grades = (list: Scores[]) => list.map((row) => row.star_grade ?? 0);
    expect(grades(full)).toContain(5);
    expect(grades(rows)).toContain(5);
    const fives = grades(rows).filter((grade) => grade === 5).length;
    // spend and tenure ranks alone, rescaled from 0.6 to 1: a fifth of the way up per grade again
    expect(fives).toBeGreaterThan(0.02 * rows.length);
    expect(Math.min(...grades(rows))).toBe(1);
    expect(features.skippedFeatures.map((s) => s.feature)).toEqual(
      expect.arrayContaining(['star_grade.frequency', 'star_grade.payment_delay', 'star_grade.complaints']),
    );
    expect(features.skippedFeatures.map((s) => s.feature)).not.toContain('star_grade');
    // stability needs none of them
    expect(rows.map((row) => row.stability_score)).toEqual(full.map((row) => row.stability_score));
  }, 120_000);
});

describe('scoreSupport', () => {
  it('keeps the weights and a scale of exactly 1 with every column (the score as before)', () => {
    for (const score of ['stability_score', 'star_grade'] as const) {
      const columns = SCORE_COMPONENTS[score].components.map((c) => c.column);
      for (const inputColumns of [[], columns]) {
        const support = scoreSupport(score, inputColumns);
        expect(support.scale).toBe(1);
        expect(support.absent).toEqual([]);
      }
    }
  });

  it('rescales the present weights to the full range, and has nothing to score without any', () => {
    const some = scoreSupport('stability_score', ['tenure_months', 'has_broadband', 'spend']);
    expect(some.weights).toMatchObject({ tenure: 30, broadband: 10, contract: 0, call_circle: 0 });
    expect(some.scale).toBe(2.5);
    const none = scoreSupport('stability_score', ['spend']);
    expect(none.present).toEqual([]);
    expect(none.scale).toBe(0);
  });
});
