import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import type { CampaignGroup } from '../../activities/campaign-metrics';
import { measureCampaigns, prepareHoldOutWeights, prepareMeasureStep } from '../../activities/campaigns';
import { queryRows, readSql, runScript, setVariable, withConnection } from '../../activities/duckdb';
import { parseRunParams } from '../../domain/params';
import { hashFile } from '../../store/hashing';
import { versionDir, type StoreConfig } from '../../store/layout';
import { storeIn, tempDir } from '../helpers';

const CONTROL_SHARE = 0.25;
/** Small strata: 300 grids of 4 subscribers, a 4 x 0.25 = 1 floor each; they churn at 5%. */
const SMALL = { grids: 300, size: 4, churn: 0.05 };
/** Big strata: 6 grids of 200; they churn at 35%. */
const BIG = { grids: 6, size: 200, churn: 0.35 };

const publishSql = (file: string) => readSql(new URL('../../activities/publish/tables/', import.meta.url).href, file);

/**
 * May's dispatch list `list` as the publish step draws it (publish/tables/04_dispatch.sql, at
 * CONTROL_SHARE) into `store`, with a manifest recording its controlShare (left out with
 * `withoutShare`) and sha256; returns who churned in June, by a draw of its own that knows nothing
 * of the arm: the contacts changed nothing.
 */
async function publishMayList(store: StoreConfig, list: number, withoutShare = false): Promise<string[]> {
  const folder = versionDir(store, '2026-05', 1);
  await mkdir(folder, { recursive: true });
  const churned = await withConnection(':memory:', async (conn) => {
    await setVariable(conn, 'pseudonym_key', null);
    await runScript(conn, await publishSql('00_macros.sql'));
    await conn.run(
      `CREATE TEMP TABLE action_settings AS SELECT 2 AS dispatch_max_priority, 'priority' AS dispatch_order, ${CONTROL_SHARE}::DOUBLE AS control_share`,
    );
    await conn.run(
      `CREATE TEMP TABLE snapshot_subscribers AS
       SELECT '2026-05' AS "month", 'L${list}-' || grid || '-' || i AS subscriber_id, 'R1' AS region, grid,
              1 AS operation_priority, 'high' AS risk_band, 1.0 AS revenue_at_risk, 0.5 AS churn_score,
              'segment' AS segment_name, []::VARCHAR[] AS reason_words, []::VARCHAR[] AS tags,
              'care' AS retention_style, 'offer' AS recommended_product, 'SMS' AS channel, 'now' AS contact_moment,
              churn AS churn_rate
       FROM (SELECT 'S' || g AS grid, ${SMALL.churn} AS churn FROM range(${SMALL.grids}) t(g)
             UNION ALL SELECT 'B' || g, ${BIG.churn} FROM range(${BIG.grids}) t(g)) grids,
            LATERAL (SELECT i FROM range(CASE WHEN grid LIKE 'S%' THEN ${SMALL.size} ELSE ${BIG.size} END) r(i))`,
    );
    await runScript(conn, await publishSql('04_dispatch.sql'));
    await setVariable(conn, 'dispatch_file', join(folder, 'dispatch.parquet'));
    await conn.run("COPY (FROM snapshot_dispatch) TO (getvariable('dispatch_file')) (FORMAT parquet)");
    const rows = await queryRows<{ subscriber_id: string }>(
      conn,
      `SELECT subscriber_id FROM snapshot_subscribers
       WHERE hash('churn:' || subscriber_id)::DOUBLE / 18446744073709551616.0 < churn_rate`,
    );
    return rows.map((r) => r.subscriber_id);
  });
  const { sha256 } = await hashFile(join(folder, 'dispatch.parquet'));
  await writeFile(
    join(folder, 'manifest.json'),
    JSON.stringify({
      ...(withoutShare ? {} : { params: { controlShare: CONTROL_SHARE } }),
      outputs: [{ file: 'dispatch.parquet', sha256 }],
    }),
  );
  return churned;
}

/** June's measurement of May's list: June's active subscribers are May's list but `churned`. */
async function measureJune(conn: DuckDBConnection, store: StoreConfig, churned: string[]) {
  const log = join(store.workDir, 'contacts.csv');
  await mkdir(store.workDir, { recursive: true });
  await writeFile(log, 'subscriber_id,contact_date\n');
  await setVariable(conn, 'may_list', join(versionDir(store, '2026-05', 1), 'dispatch.parquet'));
  await conn.run('CREATE OR REPLACE TEMP TABLE june_churned (subscriber_id VARCHAR)');
  for (let i = 0; i < churned.length; i += 1000)
    await conn.run(
      `INSERT INTO june_churned VALUES ${churned
        .slice(i, i + 1000)
        .map((id) => `('${id}')`)
        .join(', ')}`,
    );
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE snapshot_subscribers AS
     SELECT subscriber_id FROM read_parquet(getvariable('may_list')) WHERE subscriber_id NOT IN (FROM june_churned)`,
  );
  const parsed = parseRunParams({ month: '2026-06', input: '/unused', contacts: log });
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  const result = await measureCampaigns(conn, {
    params: parsed.params,
    previous: { month: '2026-05', version: 1 },
    previousStore: store,
    workDir: store.workDir,
  });
  if (!result?.measured) throw new Error('not measured');
  return result;
}

/** One list measured with its controlShare known (weighted) and unknown (every weight 1). */
async function measureBoth(list: number): Promise<{ weighted: CampaignGroup; unweighted: CampaignGroup }> {
  return withConnection(':memory:', async (conn) => {
    await setVariable(conn, 'pseudonym_key', null);
    await runScript(conn, await publishSql('00_macros.sql'));
    const store = storeIn(await tempDir());
    const churned = await publishMayList(store, list);
    const weighted = await measureJune(conn, store, churned);
    expect(weighted.holdOutWeights).toEqual({
      controlShare: CONTROL_SHARE,
      strata: 'region, grid, operation priority',
    });
    const bare = storeIn(await tempDir());
    await publishMayList(bare, list, true);
    const unweighted = await measureJune(conn, bare, churned);
    expect(unweighted.holdOutWeights?.controlShare).toBeNull();
    return { weighted: weighted.overall, unweighted: unweighted.overall };
  });
}

describe('campaign measurement weighted by the chance of each arm', () => {
  it('recovers no effect where small strata, held out more often by the floor, churn less', async () => {
    // A list of 2,400 (1,200 in strata of 4, churning 5%; 1,200 in strata of 200, churning 35%),
    // drawn at 0.25 and contacted to no effect. The floor holds 32.9% of a stratum of 4 out, so the
    // control group holds more of the small strata than the list does and churns less: unweighted,
    // the uplift reads about -2.9 pp. Over 40 lists (each its own ids, so its own draws and churners),
    // the weighted uplift averaged +0.23 pp (standard error of the mean ~0.3 pp), the unweighted -2.62 pp.
    const lists = 40;
    let weighted = 0;
    let unweighted = 0;
    for (let list = 0; list < lists; list++) {
      const measured = await measureBoth(list);
      weighted += (measured.weighted.absoluteUplift ?? NaN) / lists;
      unweighted += (measured.unweighted.absoluteUplift ?? NaN) / lists;
      // the counts are counts, weighted or not
      expect(measured.weighted.controlSubscribers).toBe(measured.unweighted.controlSubscribers);
      expect(measured.weighted.controlChurned).toBe(measured.unweighted.controlChurned);
    }
    expect(Math.abs(weighted)).toBeLessThan(0.005);
    expect(unweighted).toBeLessThan(-0.02);
  }, 300_000);

  it("gives the Hajek churn rates and the Newcombe interval at the arms' effective sizes", async () => {
    const { weighted } = await measureBoth(0);
    const rows = await withConnection(':memory:', async (conn) => {
      const store = storeIn(await tempDir());
      const churned = new Set(await publishMayList(store, 0));
      await setVariable(conn, 'may_list', join(versionDir(store, '2026-05', 1), 'dispatch.parquet'));
      const list = await queryRows<{ subscriber_id: string; grid: string; control: boolean }>(
        conn,
        "SELECT subscriber_id, grid, control FROM read_parquet(getvariable('may_list'))",
      );
      return list.map((row) => ({ ...row, churned: churned.has(row.subscriber_id) }));
    });
    // p = s + (1 - s)^n / n in a stratum of n with n s >= 1 (every stratum here): 1 / p held out, 1 / (1 - p) targeted
    const sizes = new Map<string, number>();
    for (const row of rows) sizes.set(row.grid, (sizes.get(row.grid) ?? 0) + 1);
    const arm = (control: boolean) => {
      const members = rows
        .filter((row) => row.control === control)
        .map((row) => {
          const n = sizes.get(row.grid) ?? NaN;
          const p = CONTROL_SHARE + (1 - CONTROL_SHARE) ** n / n;
          return { w: control ? 1 / p : 1 / (1 - p), y: row.churned ? 1 : 0 };
        });
      const sumW = members.reduce((sum, m) => sum + m.w, 0);
      const rate = members.reduce((sum, m) => sum + m.w * m.y, 0) / sumW;
      // v = sum(w^2 (y - r)^2) / sum(w)^2; n_eff = r (1 - r) / v
      const v = members.reduce((sum, m) => sum + m.w ** 2 * (m.y - rate) ** 2, 0) / sumW ** 2;
      return { rate, n: (rate * (1 - rate)) / v };
    };
    const z = 1.959963984540054;
    const wilson = ({ rate, n }: { rate: number; n: number }) => {
      const centre = (rate + z ** 2 / (2 * n)) / (1 + z ** 2 / n);
      const half = (z * Math.sqrt((rate * (1 - rate)) / n + z ** 2 / (4 * n ** 2))) / (1 + z ** 2 / n);
      return [centre - half, centre + half];
    };
    const [control, targeted] = [arm(true), arm(false)];
    const [[l1, u1], [l2, u2]] = [wilson(control), wilson(targeted)];
    const uplift = control.rate - targeted.rate;
    expect(weighted.controlChurnRate).toBeCloseTo(control.rate, 6);
    expect(weighted.targetedChurnRate).toBeCloseTo(targeted.rate, 6);
    expect(weighted.absoluteUplift).toBeCloseTo(uplift, 6);
    expect(weighted.upliftLow).toBeCloseTo(uplift - Math.hypot(control.rate - l1, u2 - targeted.rate), 6);
    expect(weighted.upliftHigh).toBeCloseTo(uplift + Math.hypot(u1 - control.rate, targeted.rate - l2), 6);
    // the effective sizes sit below the arms' counts: unequal weights cost precision
    expect(control.n).toBeLessThan(weighted.controlSubscribers);
  });

  it('counts a stratum per grid on a list ranked per grid (published before session 35), as it was drawn', async () => {
    await withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'pseudonym_key', null);
      await runScript(conn, await publishSql('00_macros.sql'));
      await conn.run('CREATE TEMP TABLE snapshot_subscribers (subscriber_id VARCHAR)');
      await prepareMeasureStep(conn, '2026-06');
      // grid G1 in two regions, 4 subscribers each, the first of each held out: ranked per region
      // and grid (a stratum of 4), or across both regions (before session 35: one stratum of 8)
      for (const [ranking, strata, size] of [
        ['PARTITION BY region', 'region, grid, operation priority', 4],
        ['', 'grid, operation priority', 8],
      ] as const) {
        await conn.run(
          `CREATE OR REPLACE TEMP TABLE old_list AS
           SELECT 'S' || i AS subscriber_id, i % 4 = 0 AS control, 'offer' AS recommended_product,
                  'segment' AS segment_name, 'SMS' AS channel, 'now' AS contact_moment,
                  CASE WHEN i < 4 THEN 'north' ELSE 'south' END AS region, 'G1' AS grid, 1 AS operation_priority,
                  row_number() OVER (${ranking} ORDER BY i) AS contact_rank
           FROM range(8) t(i)`,
        );
        expect(await prepareHoldOutWeights(conn, 'old_list', CONTROL_SHARE)).toEqual({
          controlShare: CONTROL_SHARE,
          strata,
        });
        const weights = await queryRows<{ control: boolean; arm_weight: number }>(
          conn,
          "SELECT DISTINCT control, arm_weight FROM campaign_list_subscribers('old_list') ORDER BY control",
        );
        const p = CONTROL_SHARE + (1 - CONTROL_SHARE) ** size / size;
        expect(weights.map((w) => w.control)).toEqual([false, true]);
        expect(weights[0].arm_weight).toBeCloseTo(1 / (1 - p), 12);
        expect(weights[1].arm_weight).toBeCloseTo(1 / p, 12);
      }
    });
  });
});
