import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { withConnection } from '../../activities/duckdb';
import {
  assertRunMonthHeld,
  combineFeatures,
  computeFeatures,
  computePartitionFeatures,
} from '../../activities/features';
import { combineLoad, loadPartition, loadUsage, planLoad } from '../../activities/load';
import { reuseStages, stageKey, storeStages } from '../../activities/stage-cache';
import { DataQualityError } from '../../domain/errors';
import { parseRunParams, type RunParamsInput } from '../../domain/params';
import { runMonthCutOff } from '../../domain/training-history';
import type { SampleSummary } from '../../data/generate';
import { smallSample, storeIn, tempDir } from '../helpers';
import { clusterSubscribers } from '../../activities/cluster';
import { trainAndScoreChurn } from '../../activities/churn';
import { publishSnapshot } from '../../activities/publish';
import { reproduceSnapshot } from '../../pipelines/reproduce';

/** A single file of the sample's usage with 40% of June's subscribers, every earlier month whole. */
async function cutOffJune(dir: string, sample: SampleSummary): Promise<string> {
  const partial = join(dir, 'partial.parquet');
  await withConnection(':memory:', (conn) =>
    conn.run(
      `COPY (SELECT * FROM read_parquet('${join(sample.outDir, 'usage')}/*/*.parquet', hive_partitioning = false)
             WHERE "month" < DATE '2026-06-01' OR hash(subscriber_id) % 10 < 4) TO '${partial}' (FORMAT parquet)`,
    ),
  );
  return partial;
}

/**
 * A delivery of the run month cut off part way: only some subscribers' June rows arrived. The
 * absence-based label would call every May subscriber missing from June a churner; the features
 * stage stops the run before any model trains, naming both months' counts and the override.
 */
describe('a run month cut off part way', () => {
  let dir: string;
  let sample: SampleSummary;
  let partial: string;

  beforeAll(async () => {
    dir = await tempDir();
    sample = await smallSample(dir, 2_000, 7);
    partial = await cutOffJune(dir, sample);
  }, 120_000);

  const features = async (name: string, params: Omit<RunParamsInput, 'month' | 'input'>, input = partial) => {
    const load = await loadUsage(
      storeIn(join(dir, name)),
      { workflowId: name, runId: 'r1' },
      { month: '2026-06', input, ...params },
    );
    return computeFeatures(load.dbPath, load.params, { format: load.format, inputColumns: load.inputColumns });
  };

  it('stops with a typed, non-retryable error naming both counts and the parameter that lets a shrinking base through', async () => {
    const error = await features('cut-off', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataQualityError);
    const message = (error as Error).message;
    expect(message).toMatch(
      /^the run month 2026-06 holds (\d+) subscribers, (\d+(\.\d)?)% of the (\d+) of 2026-05 \(under minRunMonthShare 0\.8\): is its delivery cut off part way/,
    );
    const [, score, , , train] = /holds (\d+) subscribers, (\d+(\.\d)?)% of the (\d+)/.exec(message) ?? [];
    expect(Number(score) / Number(train)).toBeGreaterThan(0.3);
    expect(Number(score) / Number(train)).toBeLessThan(0.5);
    expect(message).toMatch(/--param minRunMonthShare=0\.[34] \(0 turns the check off\)$/);
  }, 120_000);

  it('the partitioned stage stops the same way', async () => {
    const store = storeIn(join(dir, 'partitioned'));
    const plan = await planLoad(
      store,
      { workflowId: 'partitioned', runId: 'r1' },
      { month: '2026-06', input: partial },
      2,
    );
    const parts = [await loadPartition(plan, 0), await loadPartition(plan, 1)];
    const load = await combineLoad(plan, parts);
    const input = { format: load.format, inputColumns: load.inputColumns };
    const partitions = await Promise.all(
      load.partitionDbPaths.map((path) => computePartitionFeatures(path, load.params, input)),
    );
    await expect(combineFeatures(load.dbPath, load.partitionDbPaths, load.params, input, partitions)).rejects.toThrow(
      /^the run month 2026-06 holds \d+ subscribers/,
    );
  }, 120_000);

  it('goes on with the share lowered for a base that truly shrank, and with a whole month by default', async () => {
    const lowered = await features('lowered', { minRunMonthShare: 0.3 });
    expect(lowered.scoringRows).toBeLessThan(0.5 * lowered.trainingRows);
    const whole = await features('whole', {}, join(sample.outDir, 'usage'));
    expect(whole.scoringRows).toBeGreaterThan(0.9 * whole.trainingRows);
  }, 120_000);
});

describe('a cut-off run month in the stored load and features', () => {
  it('is stopped on reuse too: the share a storing run lowered does not let a later run through', async () => {
    const dir = await tempDir();
    const partial = await cutOffJune(dir, await smallSample(dir, 1_500, 7));
    const store = storeIn(dir);
    const lowered = { month: '2026-06', input: partial, minRunMonthShare: 0.3 };
    const run = { workflowId: 'stored', runId: 'r1' };
    const plan = await planLoad(store, run, lowered);
    const load = await combineLoad(plan, [await loadPartition(plan, 0)]);
    const features = await computeFeatures(load.dbPath, load.params, {
      format: load.format,
      inputColumns: load.inputColumns,
    });
    const key = stageKey(plan);
    expect((await storeStages(store, run, key, load, features)).stored).toBe(true);
    // the same key (the share is no feature parameter): reused with the lowered share, stopped without it
    const again = await planLoad(store, { workflowId: 'again', runId: 'r1' }, lowered);
    expect(stageKey(again)).toBe(key);
    expect((await reuseStages(store, again, true)).reused).not.toBeNull();
    const byDefault = await planLoad(
      store,
      { workflowId: 'default', runId: 'r1' },
      { month: '2026-06', input: partial },
    );
    await expect(reuseStages(store, byDefault, true)).rejects.toThrow(
      /^the run month 2026-06 holds \d+ subscribers, [\d.]+% of the \d+ of 2026-05 \(under minRunMonthShare 0\.8\)/,
    );
  }, 120_000);
});

describe('a snapshot from before the run-month guard', () => {
  it('reproduces its files though its month holds under half the month before (no minRunMonthShare in its parameters)', async () => {
    const dir = await tempDir();
    const partial = await cutOffJune(dir, await smallSample(dir, 1_500, 7));
    const store = storeIn(dir);
    const run = { workflowId: 'older', runId: 'r1' };
    // published as a version before the guard did: through, and no minRunMonthShare in the parameters
    const load = await loadUsage(store, run, { month: '2026-06', input: partial });
    const input = { format: load.format, inputColumns: load.inputColumns };
    const features = await computeFeatures(load.dbPath, { ...load.params, minRunMonthShare: 0 }, input);
    const skipped = features.skippedFeatures.map((f) => f.feature);
    const cluster = await clusterSubscribers(load.dbPath, load.params, null, skipped, load.userFeatures);
    const churn = await trainAndScoreChurn(load.dbPath, load.params, skipped);
    const published = await publishSnapshot(store, run, { requestedBy: 'test', load, features, cluster, churn });
    expect('minRunMonthShare' in load.params).toBe(false);
    const report = await reproduceSnapshot(store, { month: '2026-06', version: published.version });
    expect(report.identical).toBe(true);
  }, 180_000);
});

describe('minRunMonthShare', () => {
  const params = { month: '2026-10', input: '/data' };

  it('is a share from 0 to 1, left out of the parameters (and their hash) unless given', () => {
    const parsed = parseRunParams(params);
    expect(parsed.ok && 'minRunMonthShare' in parsed.params).toBe(false);
    expect(parseRunParams({ ...params, minRunMonthShare: 0 }).ok).toBe(true);
    for (const bad of [-0.1, 1.5, '0.5']) expect(parseRunParams({ ...params, minRunMonthShare: bad }).ok).toBe(false);
  });

  it('lets through a month with at least the share, and anything when 0', () => {
    const month = { month: '2026-10' };
    expect(runMonthCutOff({ score: 2_064, train: 2_580 }, month)).toBeNull();
    expect(runMonthCutOff({ score: 2_063, train: 2_580 }, month)).toContain(
      'the run month 2026-10 holds 2063 subscribers, 79.9% of the 2580 of 2026-09 (under minRunMonthShare 0.8)',
    );
    // a delivery 30% short (the operator's, published at the old default 0.5) stops
    expect(runMonthCutOff({ score: 1_806, train: 2_580 }, month)).toContain('--param minRunMonthShare=0.7 ');
    expect(runMonthCutOff({ score: 1_032, train: 2_580 }, month)).toContain('--param minRunMonthShare=0.4 ');
    expect(runMonthCutOff({ score: 1_032, train: 2_580 }, { ...month, minRunMonthShare: 0.4 })).toBeNull();
    expect(runMonthCutOff({ score: 10, train: 2_580 }, { ...month, minRunMonthShare: 0 })).toBeNull();
    expect(runMonthCutOff({ score: 10, train: 2_580 }, month)).toContain('--param minRunMonthShare=0 ');
    // the month before empty is tooLittleHistory's to say
    expect(runMonthCutOff({ score: 10, train: 0 }, month)).toBeNull();
  });

  it("is not made with the user's labels, which call nobody a churner for being absent", () => {
    const params = parseRunParams({ month: '2026-10', input: '/data' });
    if (!params.ok) throw new Error('params');
    const labelled = { format: 'long' as const, inputColumns: ['churn_label'] };
    expect(() => assertRunMonthHeld({ scoringRows: 500, trainingRows: 1_000 }, params.params, labelled)).not.toThrow();
    expect(() =>
      assertRunMonthHeld({ scoringRows: 500, trainingRows: 1_000 }, params.params, { ...labelled, inputColumns: [] }),
    ).toThrow(DataQualityError);
  });

  it('leaves out subscribers whose run-month rows were all quarantined: unreadable there, not missing', () => {
    const params = parseRunParams({ month: '2026-10', input: '/data' });
    if (!params.ok) throw new Error('params');
    // 150 of the 1,000 quarantined in the run month, 150 churned: 700 scored of the 850 readable
    const summary = { scoringRows: 700, trainingRows: 1_000, trainingUnknownOutcome: 150 };
    const long = { format: 'long' as const, inputColumns: [] };
    expect(() => assertRunMonthHeld(summary, params.params, long)).not.toThrow();
    // counted as missing, they stopped the run as a delivery cut off part way
    expect(() => assertRunMonthHeld({ ...summary, trainingUnknownOutcome: 0 }, params.params, long)).toThrow(
      DataQualityError,
    );
    // a summary stored before the count: as before
    expect(() => assertRunMonthHeld({ scoringRows: 700, trainingRows: 1_000 }, params.params, long)).toThrow(
      DataQualityError,
    );
  });
});
