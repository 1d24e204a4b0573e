import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { queryRows, withConnection } from '../../activities/duckdb';
import { computeFeatures } from '../../activities/features';
import { QUARANTINE_COLUMNS } from '../../activities/load-sql';
import { parseRunParams, type RunParams } from '../../domain/params';
import { tempDir } from '../helpers';

/**
 * Three subscribers over 2026-01..2026-07, run month 2026-07 (train month 2026-06):
 *  A: spend 100 every month; minutes 300 until April, then 150 (a falling MOU trend); contract, broadband.
 *  B: spend 40, leaves after June (absent in July): a churner in the training month.
 *  C: spend 10, joined in May.
 */
const USAGE_SQL = `
CREATE TABLE usage AS
SELECT subscriber_id, month, voice_minutes, data_mb, sms_count, spend, recharge_count, recharge_amount,
       last_recharge_date, payment_delay_days, complaints, plan, contract_end_date, has_broadband, has_family_bundle,
       tenure_months, call_circle, premium_number, region, grid, NULL::BOOLEAN AS churn_label
FROM (
  SELECT 'A' AS subscriber_id, m AS month, CASE WHEN m >= DATE '2026-05-01' THEN 150.0 ELSE 300.0 END AS voice_minutes,
         1000.0 AS data_mb, 5 AS sms_count, 100.0 AS spend, 1 AS recharge_count, 100.0 AS recharge_amount,
         m + 9 AS last_recharge_date, 0 AS payment_delay_days, 0 AS complaints, 'p' AS plan,
         DATE '2027-01-01' AS contract_end_date, true AS has_broadband, false AS has_family_bundle,
         (24 + date_diff('month', DATE '2026-01-01', m))::INTEGER AS tenure_months, 50 AS call_circle, false AS premium_number,
         'R1' AS region, 'R1-G01' AS grid
  FROM (SELECT unnest(generate_series(DATE '2026-01-01', DATE '2026-07-01', INTERVAL 1 MONTH))::DATE AS m)
  UNION ALL
  SELECT 'B', m, 100.0, 500.0, 1, 40.0, 1, 40.0, m + 1, 3, 1, 'p', NULL, false, false,
         (6 + date_diff('month', DATE '2026-01-01', m))::INTEGER, 10, false, 'R1', 'R1-G02'
  FROM (SELECT unnest(generate_series(DATE '2026-01-01', DATE '2026-06-01', INTERVAL 1 MONTH))::DATE AS m)
  UNION ALL
  SELECT 'C', m, 10.0, 100.0, 0, 10.0, 0, 0.0, NULL, 0, 0, 'p', NULL, false, true,
         date_diff('month', DATE '2026-05-01', m)::INTEGER, 3, true, 'R2', 'R2-G01'
  FROM (SELECT unnest(generate_series(DATE '2026-05-01', DATE '2026-07-01', INTERVAL 1 MONTH))::DATE AS m)
)`;

type Row = Record<string, number | string | boolean | null>;

describe('feature SQL on a tiny table', () => {
  let rows: Row[];
  let dbPath: string;
  let summary: Awaited<ReturnType<typeof computeFeatures>>;
  beforeAll(async () => {
    dbPath = join(await tempDir(), 'features.duckdb');
    await withConnection(dbPath, (conn) => conn.run(USAGE_SQL));
    // three subscribers, one of them gone: not a delivery cut off part way (minRunMonthShare)
    const parsed = parseRunParams({ month: '2026-07', input: '.', minRunMonthShare: 0 });
    summary = await computeFeatures(dbPath, (parsed as { params: RunParams }).params);
    rows = await withConnection(dbPath, (conn) =>
      queryRows<Row>(conn, 'SELECT * EXCLUDE (as_of) FROM features ORDER BY purpose, subscriber_id'),
    );
  });
  const find = (purpose: string, id: string) =>
    rows.find((r) => r.purpose === purpose && r.subscriber_id === id) as Row;

  it('scores the run month and trains on the month before, labelled by who left', () => {
    expect(summary).toMatchObject({ scoringRows: 2, trainingRows: 3 });
    expect(rows.filter((r) => r.purpose === 'score').map((r) => r.subscriber_id)).toEqual(['A', 'C']);
    expect(find('train', 'A').churned_next_month).toBe(false);
    expect(find('train', 'B').churned_next_month).toBe(true);
    expect(find('score', 'A').churned_next_month).toBeNull();
  });

  it('computes RFM and average usage over the six-month window', () => {
    const a = find('score', 'A');
    expect(a.active_months).toBe(6);
    expect(a.arpu).toBe(100);
    expect(a.monetary).toBe(600);
    expect(a.frequency).toBe(6);
    expect(a.mou).toBe(225); // three months at 300 (Feb-Apr), three at 150 (May-Jul)
    expect(a.recency_days).toBe(31 - 10); // last recharge July 10th, month ends July 31st
    expect(find('score', 'C').recency_days).toBe(28 + 31 + 30 + 31 + 30 + 30); // no recharge: the whole window, Feb 1 to Jul 31
  });

  it('measures the last three months against the three before', () => {
    expect(find('score', 'A').mou_trend).toBeCloseTo(151 / 301, 12);
    expect(find('score', 'A').spend_trend).toBe(1);
    expect(find('score', 'C').mou_trend).toBe(1); // no earlier usage: no trend
  });

  it('measures slope and volatility relative to the level', () => {
    const a = find('score', 'A');
    expect(a.spend_slope_rel).toBe(0);
    expect(a.spend_volatility).toBe(0);
    expect(a.mou_volatility).toBeCloseTo(75 / 225, 12); // 300 x3, 150 x3: sd 75 around 225
    // B (training month): spend 40 flat, 6 months
    expect(find('train', 'B').spend_slope_rel).toBe(0);
  });

  it('scores stability from tenure, contract, sticky services, call circle and premium number', () => {
    const a = find('score', 'A');
    expect(a.contract_months_left).toBe(6);
    expect(a.sticky_services).toBe(1);
    // tenure 30/60*30 + contract 25 + broadband 10 + call circle 50/100*15
    expect(a.stability_score).toBeCloseTo(15 + 25 + 10 + 7.5, 9);
    // tenure 2/60*30 + family 15 + 3/100*15 + premium 5
    expect(find('score', 'C').stability_score).toBeCloseTo(Math.round((1 + 15 + 0.45 + 5) * 10) / 10, 9);
  });

  it('ranks value by cumulative revenue share, leaving the tier labels to publishing', () => {
    expect(find('score', 'A').revenue_share_above).toBe(0);
    // C holds the rest of the revenue: 100 of 100 + 10 lies above it
    expect(find('score', 'C').revenue_share_above).toBeCloseTo(100 / 110, 12);
    // set from the run's parameters when publishing (tests/activities/stages.test.ts), so a change
    // of them reuses the stored features
    expect(rows.some((r) => 'value_tier' in r || 'high_value' in r)).toBe(false);
  });

  it('grades stars 1-5 from spend, recharges, tenure, payment and complaints', () => {
    const stars = rows.filter((r) => r.purpose === 'score').map((r) => r.star_grade as number);
    expect(stars.every((star) => star >= 1 && star <= 5)).toBe(true);
    // A outspends, out-recharges and outlasts C with no complaints or delays
    expect(find('score', 'A').star_grade as number).toBeGreaterThan(find('score', 'C').star_grade as number);
  });

  it('ranks and grades only the subscribers scored: the labels feed no model', () => {
    const training = rows.filter((r) => r.purpose === 'train');
    expect(training.length).toBeGreaterThan(0);
    for (const row of training) expect([row.revenue_share_above, row.star_grade]).toEqual([null, null]);
    expect(training.map((r) => r.row_idx)).toEqual(training.map((_, i) => i));
  });
});

/** 40 subscribers in every month, spending one of four amounts: ties in ARPU everywhere. */
const TIED_USAGE_SQL = `
CREATE TABLE usage AS
SELECT 'S' || lpad(i::VARCHAR, 2, '0') AS subscriber_id, m AS month, 100.0 AS voice_minutes, 500.0 AS data_mb,
       1 AS sms_count, (10 + (i * 7) % 4 * 10)::DOUBLE AS spend, 1 AS recharge_count, 10.0 AS recharge_amount,
       m + 1 AS last_recharge_date, 0 AS payment_delay_days, 0 AS complaints, 'p' AS plan,
       NULL::DATE AS contract_end_date, false AS has_broadband, false AS has_family_bundle,
       12 AS tenure_months, 10 AS call_circle, false AS premium_number, 'R1' AS region, 'R1-G01' AS grid,
       NULL::BOOLEAN AS churn_label
FROM range(40) s(i), (SELECT unnest(generate_series(DATE '2026-01-01', DATE '2026-07-01', INTERVAL 1 MONTH))::DATE AS m)`;

describe('value ranking with tied ARPU', () => {
  it('gives each subscriber the revenue share of a running sum ordered by ARPU, then id', async () => {
    const dbPath = join(await tempDir(), 'tied.duckdb');
    await withConnection(dbPath, (conn) => conn.run(TIED_USAGE_SQL));
    const parsed = parseRunParams({ month: '2026-07', input: '.' });
    await computeFeatures(dbPath, (parsed as { params: RunParams }).params);
    const check = await withConnection(dbPath, (conn) =>
      queryRows<{ rows: number; distinct_arpu: number; differing: number }>(
        conn,
        `WITH expected AS (
           SELECT purpose, subscriber_id,
             coalesce(sum(arpu::DECIMAL(18, 6)) OVER (PARTITION BY purpose ORDER BY arpu DESC, subscriber_id
                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)::DOUBLE
               / nullif(sum(arpu::DECIMAL(18, 6)) OVER (PARTITION BY purpose), 0)::DOUBLE AS share
           FROM features WHERE purpose = 'score')
         SELECT count(*)::INTEGER AS rows, count(DISTINCT f.arpu)::INTEGER AS distinct_arpu,
                count(*) FILTER (WHERE f.revenue_share_above IS DISTINCT FROM e.share)::INTEGER AS differing
         FROM features f JOIN expected e USING (purpose, subscriber_id)`,
      ),
    );
    // the shares are compared as doubles, exactly
    expect(check).toEqual([{ rows: 40, distinct_arpu: 4, differing: 0 }]);
  });
});

/** Two subscribers over 2026-01..2026-07, spending 4 and 6 in turn, one in units of 1, one of 100,000. */
const LARGE_AMOUNTS_SQL = `
CREATE TABLE usage AS
SELECT id AS subscriber_id, m AS month, 1000.0 AS voice_minutes, 500.0 AS data_mb, 1 AS sms_count,
       (CASE WHEN month(m) % 2 = 0 THEN 4.0 ELSE 6.0 END) * scale AS spend, 1 AS recharge_count, 10.0 AS recharge_amount,
       m + 1 AS last_recharge_date, 0 AS payment_delay_days, 0 AS complaints, 'p' AS plan,
       NULL::DATE AS contract_end_date, false AS has_broadband, false AS has_family_bundle,
       12 AS tenure_months, 10 AS call_circle, false AS premium_number, 'R1' AS region, 'R1-G01' AS grid,
       NULL::BOOLEAN AS churn_label
FROM (VALUES ('small', 1.0), ('large', 100000.0)) s(id, scale),
     (SELECT unnest(generate_series(DATE '2026-01-01', DATE '2026-07-01', INTERVAL 1 MONTH))::DATE AS m)`;

describe('amounts too large for BIGINT squares', () => {
  it('sums their squares exactly as HUGEINT: the same spend volatility at any scale', async () => {
    const dbPath = join(await tempDir(), 'large.duckdb');
    await withConnection(dbPath, (conn) => conn.run(LARGE_AMOUNTS_SQL));
    const parsed = parseRunParams({ month: '2026-07', input: '.' });
    await computeFeatures(dbPath, (parsed as { params: RunParams }).params);
    const rows = await withConnection(dbPath, (conn) =>
      queryRows<{ subscriber_id: string; arpu: number; spend_volatility: number }>(
        conn,
        "SELECT subscriber_id, arpu, spend_volatility FROM features WHERE purpose = 'score' ORDER BY 1",
      ),
    );
    // six months of 4 and 6 (600,000 in units of 1/10,000 is past BIGINT squares): sd 1 around 5
    expect(rows).toEqual([
      { subscriber_id: 'large', arpu: 500_000, spend_volatility: 0.2 },
      { subscriber_id: 'small', arpu: 5, spend_volatility: 0.2 },
    ]);
  });
});

describe('labels of subscribers whose run-month rows were all quarantined', () => {
  it("are unknown, not churned, also where the bad row's month could not be read (its month folder counts)", async () => {
    const dbPath = join(await tempDir(), 'unreadable.duckdb');
    await withConnection(dbPath, async (conn) => {
      // A, B and C active in June; in July only A has a valid row
      await conn.run(
        LARGE_AMOUNTS_SQL.replace(
          "VALUES ('small', 1.0), ('large', 100000.0)",
          "VALUES ('A', 1.0), ('B', 1.0), ('C', 1.0)",
        ),
      );
      await conn.run(`DELETE FROM usage WHERE month = DATE '2026-07-01' AND subscriber_id <> 'A'`);
      await conn.run(`CREATE TABLE quarantine ${QUARANTINE_COLUMNS}`);
      // B's July row: its month text unreadable, in July's month folder
      await conn.run(
        `INSERT INTO quarantine VALUES ('/in/usage_month=2026-07/part_0.parquet', 3, 'B', NULL, 'month: not a valid date')`,
      );
    });
    // three subscribers, one of them gone: not a delivery cut off part way (minRunMonthShare)
    const parsed = parseRunParams({ month: '2026-07', input: '.', minRunMonthShare: 0 });
    await computeFeatures(dbPath, (parsed as { params: RunParams }).params);
    const labels = await withConnection(dbPath, (conn) =>
      queryRows<{ subscriber_id: string; churned: boolean | null }>(
        conn,
        "SELECT subscriber_id, churned_next_month AS churned FROM features WHERE purpose = 'train' ORDER BY 1",
      ),
    );
    expect(labels).toEqual([
      { subscriber_id: 'A', churned: false },
      { subscriber_id: 'B', churned: null },
      { subscriber_id: 'C', churned: true },
    ]);
  });
});
