import { listValue, type DuckDBConnection } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { CAMPAIGN_ALPHA } from '../../activities/campaigns';
import { queryRows, readSql, runScript, setVariable, withConnection } from '../../activities/duckdb';
import { CAMPAIGN_DIMENSIONS, CAMPAIGN_MEASUREMENT } from '../../domain/campaigns';

const campaignsSql = (file: string) => readSql(new URL('../../activities/campaigns/', import.meta.url).href, file);
/** The measure step's macros, then the measurement. */
const measureSql = async () =>
  `${await campaignsSql('00_measure_macros.sql')}\n${await campaignsSql('02_measure.sql')}`;

/** A measured group, as snapshot_campaigns holds it. */
type MeasuredGroup = {
  dimension: string;
  group: string;
  control_subscribers: number;
  absolute_uplift: number;
  uplift_low: number;
  uplift_high: number;
  significant: boolean;
  too_small: boolean;
  interval_level: number;
};

/**
 * The measurement SQL on a hand-made list: `listSql` selects its rows (subscriber_id, control,
 * churned, recommended_product, segment_name, channel, contact_moment, region, grid, and
 * operation_priority when it has one), those churned not active this month; with no controlShare
 * known, every subscriber weighs 1. On `conn` when given (many lists on one connection).
 */
async function measureList(listSql: string, params: Record<string, number> = {}, conn?: DuckDBConnection) {
  const run = async (conn: DuckDBConnection) => {
    await conn.run(`CREATE OR REPLACE TEMP TABLE previous_dispatch AS ${listSql}`, params);
    await conn.run('ALTER TABLE previous_dispatch ADD COLUMN IF NOT EXISTS operation_priority INTEGER');
    await conn.run(
      'CREATE OR REPLACE TEMP TABLE snapshot_subscribers AS SELECT subscriber_id FROM previous_dispatch WHERE NOT churned',
    );
    await conn.run(
      'CREATE OR REPLACE TEMP TABLE checked_contacts (subscriber_id VARCHAR, outcome VARCHAR, reason VARCHAR)',
    );
    // no subscriber's run-month rows were quarantined
    await conn.run('CREATE OR REPLACE TEMP TABLE unreadable_in_run_month (subscriber_id VARCHAR)');
    // ids as published (published_id, which the measure step applies to the quarantine's raw ids): not pseudonymised
    await setVariable(conn, 'pseudonym_key', null);
    await runScript(
      conn,
      await readSql(new URL('../../activities/publish/tables/', import.meta.url).href, '00_macros.sql'),
    );
    await setVariable(conn, 'z', CAMPAIGN_MEASUREMENT.z);
    await setVariable(conn, 'alpha', CAMPAIGN_ALPHA);
    await setVariable(conn, 'min_arm_subscribers', CAMPAIGN_MEASUREMENT.minArmSubscribers);
    await setVariable(conn, 'dimensions', listValue([...CAMPAIGN_DIMENSIONS]));
    await runScript(conn, await measureSql());
    return queryRows<MeasuredGroup>(conn, 'SELECT * FROM snapshot_campaigns ORDER BY dimension, "group"');
  };
  return conn ? run(conn) : withConnection(':memory:', run);
}

/**
 * The measurement SQL on hand-made lists: a list of `control` and `targeted` subscribers of whom
 * the first `controlChurned` / `targetedChurned` are not active this month.
 */
async function measure(
  arms: { control: number; controlChurned: number; targeted: number; targetedChurned: number },
  /** SQL over i (the subscriber's number in its arm): its region, for the grid G1. */
  regionSql = "'R1'",
) {
  const groups = await measureList(
    `SELECT subscriber_id, control, churned, 'offer' AS recommended_product, 'segment' AS segment_name,
       'SMS' AS channel, 'now' AS contact_moment, region, 'G1' AS grid
     FROM (SELECT 'C' || i AS subscriber_id, true AS control, i < $cc AS churned, ${regionSql} AS region FROM range($c) t(i)
           UNION ALL SELECT 'T' || i, false, i < $tc, ${regionSql} FROM range($t) t(i))`,
    { c: arms.control, cc: arms.controlChurned, t: arms.targeted, tc: arms.targetedChurned },
  );
  return Object.assign(groups.find((g) => g.dimension === 'all') ?? groups[0], { groups });
}

/** Newcombe's method 10 at normal quantile z, in TypeScript: the interval the SQL should give. */
function newcombe(x1: number, n1: number, x2: number, n2: number, z: number): [number, number] {
  const wilson = (x: number, n: number) => {
    const p = x / n;
    const centre = (p + z ** 2 / (2 * n)) / (1 + z ** 2 / n);
    const half = (z * Math.sqrt((p * (1 - p)) / n + z ** 2 / (4 * n ** 2))) / (1 + z ** 2 / n);
    return [centre - half, centre + half];
  };
  const [p1, p2] = [x1 / n1, x2 / n2];
  const [l1, u1] = wilson(x1, n1);
  const [l2, u2] = wilson(x2, n2);
  return [p1 - p2 - Math.hypot(p1 - l1, u2 - p2), p1 - p2 + Math.hypot(u1 - p1, p2 - l2)];
}

describe('campaign uplift interval', () => {
  it("matches Newcombe's published hybrid score interval (Stat Med 1998, method 10: 56/70 vs 48/80)", async () => {
    const all = await measure({ control: 70, controlChurned: 56, targeted: 80, targetedChurned: 48 });
    expect(all.absolute_uplift).toBeCloseTo(0.2, 6);
    expect(all.uplift_low).toBeCloseTo(0.0524, 4);
    expect(all.uplift_high).toBeCloseTo(0.3339, 4);
    expect(all.significant).toBe(true);
  });

  it('stays inside [-1, 1] at the extremes, where a Wald interval breaks down', async () => {
    // Newcombe's examples (g) 10/10 vs 0/20: 0.6791 to 1, and (d) 5/56 vs 0/29: -0.0381 to 0.1926
    const all = await measure({ control: 10, controlChurned: 10, targeted: 20, targetedChurned: 0 });
    expect(all.uplift_low).toBeCloseTo(0.6791, 4);
    expect(all.uplift_high).toBeCloseTo(1, 6);
    expect(all.too_small).toBe(true);
    expect(all.significant).toBe(false); // too small groups are never read as significant
    const none = await measure({ control: 56, controlChurned: 5, targeted: 29, targetedChurned: 0 });
    expect(none.uplift_low).toBeCloseTo(-0.0381, 4);
    expect(none.uplift_high).toBeCloseTo(0.1926, 4);
  });

  it('measures a grid of its region: a grid code used in two regions is two groups, named with their regions', async () => {
    const arms = { control: 40, controlChurned: 10, targeted: 60, targetedChurned: 10 };
    const grids = (await measure(arms, "CASE WHEN i % 2 = 0 THEN 'north' ELSE 'south' END")).groups
      .filter((g) => g.dimension === 'grid')
      .map((g) => [g.group, g.control_subscribers]);
    expect(grids).toEqual([
      ['north / G1', 20],
      ['south / G1', 20],
    ]);
    // subscribers without a region are a region of their own
    const withoutRegion = (await measure(arms, "CASE WHEN i % 2 = 0 THEN 'north' END")).groups
      .filter((g) => g.dimension === 'grid')
      .map((g) => g.group);
    expect(withoutRegion).toEqual(['(no region) / G1', 'north / G1']);
    // a code used in one region keeps its name
    const one = (await measure(arms)).groups.filter((g) => g.dimension === 'grid').map((g) => g.group);
    expect(one).toEqual(['G1']);
  });

  it('reads the groups of a breakdown with simultaneous intervals: one of six actions at 1 - 0.05 / 6', async () => {
    // six actions, 100 held out and 300 targeted each: 'bonus' 32% against 20% (+12 pp: significant at
    // 95% alone, 2.3 to 22.5 pp), 'data' 45% against 20%, four without effect (20% against 20%)
    const churn: Record<string, number> = { bonus: 32, data: 45 };
    const actions = ['bonus', 'data', 'a', 'b', 'c', 'd'];
    const groups = await measureList(
      `SELECT 'S' || a || '-' || i AS subscriber_id, i < 100 AS control,
         CASE WHEN i < 100 THEN i < c ELSE i - 100 < 60 END AS churned,
         a AS recommended_product, 'segment' AS segment_name, 'SMS' AS channel, 'now' AS contact_moment,
         'R1' AS region, 'G1' AS grid
       FROM (VALUES ${actions.map((a) => `('${a}', ${churn[a] ?? 20})`).join(', ')}) v(a, c), range(400) t(i)`,
    );
    const byAction = new Map(groups.filter((g) => g.dimension === 'action').map((g) => [g.group, g]));
    const z = 2.6382572734767495; // the normal quantile of 1 - 0.05 / 2 / 6 (R: qnorm(1 - 0.05 / 12))
    const [low, high] = newcombe(32, 100, 60, 300, z);
    expect(byAction.get('bonus')).toMatchObject({ interval_level: 0.991667, significant: false });
    expect(byAction.get('bonus')?.uplift_low).toBeCloseTo(low, 6); // -0.0072: 0 is inside
    expect(byAction.get('bonus')?.uplift_high).toBeCloseTo(high, 6);
    expect(byAction.get('data')).toMatchObject({ significant: true }); // +25 pp: 10.9 to 39.1 pp
    expect([...byAction.values()].filter((g) => g.significant).map((g) => g.group)).toEqual(['data']);
    // the whole list, and a breakdown of one group (segment, channel, ...), are read at 95%
    const all = groups.find((g) => g.dimension === 'all');
    const [allLow, allHigh] = newcombe(20 * 4 + 32 + 45, 600, 360, 1800, CAMPAIGN_MEASUREMENT.z);
    expect(all).toMatchObject({ interval_level: 0.95, significant: true });
    expect(all?.uplift_low).toBeCloseTo(allLow, 6);
    expect(all?.uplift_high).toBeCloseTo(allHigh, 6);
    expect(groups.find((g) => g.dimension === 'segment')).toMatchObject({ interval_level: 0.95 });
  });

  it('reads some null group of a breakdown significant in about 5% of campaigns without effect (seeded A/A lists)', async () => {
    // 100 lists of 2,400 subscribers, none with an effect: a quarter held out and 20% churn, each a
    // hash of one text naming draw, list and subscriber (DuckDB's hash of several values XORs the
    // last one's hash in: hash(list, 'control', i) and hash(list, 'churn', i) would be one draw
    // shifted, and different lists' draws of one subscriber too); six actions, four segments, three
    // channels and eight grids of 300. Read one by one at 95%, 4.5% of the null groups read
    // significant and some action in 24% of the lists (a grid in 30%; 1,000 such lists); read
    // simultaneously, 0.9% of the actions and some action in 5.3% of the lists (a grid in 4.0%).
    const lists = 100;
    const any: Record<string, number> = {};
    const read: Record<string, number> = {};
    await withConnection(':memory:', async (conn) => {
      for (let list = 0; list < lists; list++) {
        const groups = await measureList(
          `SELECT 'S' || i AS subscriber_id,
             hash(concat('control:', $list, ':', i))::DOUBLE / 18446744073709551616.0 < 0.25 AS control,
             hash(concat('churn:', $list, ':', i))::DOUBLE / 18446744073709551616.0 < 0.2 AS churned,
             'action ' || i % 6 AS recommended_product, 'segment ' || i % 4 AS segment_name,
             'channel ' || i % 3 AS channel, 'now' AS contact_moment, 'R1' AS region, 'G' || i % 8 AS grid
           FROM range(2400) t(i)`,
          { list },
          conn,
        );
        for (const dimension of ['action', 'segment', 'channel', 'grid']) {
          const ofDimension = groups.filter((g) => g.dimension === dimension && !g.too_small);
          read[dimension] = (read[dimension] ?? 0) + ofDimension.length;
          if (ofDimension.some((g) => g.significant)) any[dimension] = (any[dimension] ?? 0) + 1;
        }
      }
    });
    expect(read).toEqual({ action: 6 * lists, segment: 4 * lists, channel: 3 * lists, grid: 8 * lists });
    for (const dimension of ['action', 'segment', 'channel', 'grid'])
      expect((any[dimension] ?? 0) / lists, dimension).toBeLessThanOrEqual(0.1);
  }, 120_000);
});
