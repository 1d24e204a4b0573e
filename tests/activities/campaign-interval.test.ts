import { listValue } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { queryRows, readSql, runScript, setVariable, withConnection } from '../../activities/duckdb';
import { CAMPAIGN_DIMENSIONS, CAMPAIGN_MEASUREMENT } from '../../domain/campaigns';

const campaignsSql = (file: string) => readSql(new URL('../../activities/campaigns/', import.meta.url).href, file);
/** The measure step's macros, then the measurement. */
const measureSql = async () =>
  `${await campaignsSql('00_measure_macros.sql')}\n${await campaignsSql('02_measure.sql')}`;

/**
 * The measurement SQL on hand-made lists: a list of `control` and `targeted` subscribers of whom
 * the first `controlChurned` / `targetedChurned` are not active this month.
 */
async function measure(
  arms: { control: number; controlChurned: number; targeted: number; targetedChurned: number },
  /** SQL over i (the subscriber's number in its arm): its region, for the grid G1. */
  regionSql = "'R1'",
) {
  return withConnection(':memory:', async (conn) => {
    await conn.run(
      `CREATE TEMP TABLE previous_dispatch AS
       SELECT 'C' || i AS subscriber_id, true AS control, i < $cc AS churned, ${regionSql} AS region FROM range($c) t(i)
       UNION ALL SELECT 'T' || i, false, i < $tc, ${regionSql} FROM range($t) t(i)`,
      { c: arms.control, cc: arms.controlChurned, t: arms.targeted, tc: arms.targetedChurned },
    );
    await conn.run(
      `CREATE TEMP TABLE previous_dispatch_full AS SELECT subscriber_id, control, 'offer' AS recommended_product,
         'segment' AS segment_name, 'SMS' AS channel, 'now' AS contact_moment, region, 'G1' AS grid, churned
       FROM previous_dispatch`,
    );
    await conn.run(
      'CREATE TEMP TABLE snapshot_subscribers AS SELECT subscriber_id FROM previous_dispatch_full WHERE NOT churned',
    );
    await conn.run('DROP TABLE previous_dispatch');
    await conn.run('ALTER TABLE previous_dispatch_full RENAME TO previous_dispatch');
    await conn.run('CREATE TEMP TABLE checked_contacts (subscriber_id VARCHAR, outcome VARCHAR, reason VARCHAR)');
    // no subscriber's run-month rows were quarantined
    await conn.run('CREATE TEMP TABLE unreadable_in_run_month (subscriber_id VARCHAR)');
    // ids as published (published_id, which the measure step applies to the quarantine's raw ids): not pseudonymised
    await setVariable(conn, 'pseudonym_key', null);
    await runScript(
      conn,
      await readSql(new URL('../../activities/publish/tables/', import.meta.url).href, '00_macros.sql'),
    );
    await setVariable(conn, 'z', CAMPAIGN_MEASUREMENT.z);
    await setVariable(conn, 'min_arm_subscribers', CAMPAIGN_MEASUREMENT.minArmSubscribers);
    await setVariable(conn, 'dimensions', listValue([...CAMPAIGN_DIMENSIONS]));
    await runScript(conn, await measureSql());
    const groups = await queryRows<{
      dimension: string;
      group: string;
      control_subscribers: number;
      absolute_uplift: number;
      uplift_low: number;
      uplift_high: number;
      significant: boolean;
      too_small: boolean;
    }>(conn, 'SELECT * FROM snapshot_campaigns ORDER BY dimension, "group"');
    return Object.assign(groups.find((g) => g.dimension === 'all') ?? groups[0], { groups });
  });
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
});
