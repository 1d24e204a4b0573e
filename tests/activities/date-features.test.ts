import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainAndScoreChurn } from '../../activities/churn';
import type { ChurnSummary } from '../../activities/churn-summary';
import { queryRows, setVariable, withConnection } from '../../activities/duckdb';
import { churnFeatureSpecs } from '../../activities/churn-features';
import { clusterSubscribers } from '../../activities/cluster';
import { computeFeatures } from '../../activities/features';
import { publishSnapshot } from '../../activities/publish';
import { readManifest } from '../../store/snapshots';
import { loadUsage, type LoadSummary } from '../../activities/load';
import { storeIn, tempDir } from '../helpers';

/**
 * Monthly rows as an operator's warehouse exports them, with the day each subscriber joined
 * (activation_date, written with a time of day on some rows) as the only churn signal: those who
 * joined in the last four months leave five times as often. Beside it a date with no signal
 * written as Chinese exports write days (2026年9月3日) and the day a churner left, on its last
 * row only: a leak.
 */
async function writeUsageCsv(path: string): Promise<void> {
  await withConnection(':memory:', async (conn) => {
    await setVariable(conn, 'target', path);
    await conn.run(`COPY (
      WITH subscribers AS (
        SELECT i, 'S' || lpad(i::VARCHAR, 5, '0') AS id,
               DATE '2024-01-01' + (hash(i, 'joined') % 1000)::INTEGER AS joined,
               (hash(i, 'churn') % 1000) / 1000 AS draw
        FROM range(4000) t(i)),
      fates AS (
        -- the month after September a recent joiner (under 4 months by September's end) leaves often
        SELECT *, CASE WHEN draw < CASE WHEN date_diff('day', joined, DATE '2026-09-30') < 120 THEN 0.5 ELSE 0.05 END
                       THEN DATE '2026-09-01' ELSE DATE '2099-01-01' END AS last_month
        FROM subscribers),
      months AS (SELECT unnest(generate_series(DATE '2026-05-01', DATE '2026-10-01', INTERVAL 1 MONTH))::DATE AS month)
      SELECT id AS subscriber_id, strftime(month, '%Y-%m') AS month,
             round(20 + (hash(i, month) % 6000) / 100, 2) AS spend,
             (hash(i, month, 'v') % 500) AS voice_minutes,
             (hash(i, month, 'd') % 4000) AS data_mb,
             -- the contract's tenure column, here months on the current plan: no signal
             (hash(i, 'plan') % 60) AS tenure_months,
             CASE WHEN i % 3 = 0 THEN strftime(joined, '%Y-%m-%d') || ' 10:22:33' ELSE strftime(joined, '%Y-%m-%d') END AS activation_date,
             strftime(month + (hash(i, month, 'c') % 28)::INTEGER, '%Y年%-m月%-d日') AS last_contact,
             CASE WHEN month = last_month THEN strftime(month + (hash(i, 'exit') % 28)::INTEGER, '%Y-%m-%d') END AS exit_date,
             -- 120 handset models, most subscribers on a few: the few, and one category for the rest
             'model ' || floor(pow((hash(i, 'handset') % 10000) / 10000, 3) * 120)::INTEGER AS handset,
             -- an offer made in October only: nothing to learn from in September's rows
             CASE WHEN month = DATE '2026-10-01' THEN ['A', 'B'][1 + i % 2] END AS october_offer
      FROM fates, months
      WHERE month >= date_trunc('month', joined) AND month <= last_month
      ORDER BY subscriber_id, month) TO (getvariable('target')) (FORMAT csv, HEADER)`);
  });
}

describe('date columns in an own extract', () => {
  let dir: string;
  let csv: string;

  const run = async (name: string, features: unknown): Promise<{ load: LoadSummary; churn: ChurnSummary }> => {
    const mapping = join(dir, `${name}.json`);
    await writeFile(mapping, JSON.stringify({ features }));
    const load = await loadUsage(
      storeIn(join(dir, name)),
      { workflowId: name, runId: 'r1' },
      { month: '2026-10', input: csv, mapping },
    );
    const featureSummary = await computeFeatures(load.dbPath, load.params, {
      format: load.format,
      inputColumns: load.inputColumns,
      userFeatures: load.userFeatures,
    });
    const churn = await trainAndScoreChurn(
      load.dbPath,
      load.params,
      featureSummary.skippedFeatures.map((s) => s.feature),
      { features: load.userFeatures, openFeatureSet: load.openFeatureSet },
    );
    return { load, churn };
  };

  let auto: { load: LoadSummary; churn: ChurnSummary };
  beforeAll(async () => {
    dir = await tempDir();
    csv = join(dir, 'usage.csv');
    await writeUsageCsv(csv);
    auto = await run('auto', 'auto');
  }, 120_000);

  it('"auto" types columns of days as dates, whatever way the days are written, and skips a date that gives the label away', () => {
    const typed = Object.fromEntries(auto.load.userFeatures.map((f) => [f.name, f.type]));
    expect(typed).toEqual({
      activation_date: 'date',
      last_contact: 'date',
      handset: 'categorical',
      october_offer: 'categorical',
    });
    // the handset models through the churn models: a category of the rest after the most frequent
    const handset = auto.load.userFeatures.find((f) => f.name === 'handset');
    expect(handset?.categories).toHaveLength(50);
    expect(auto.churn.features.find((f) => f.name === 'handset')).toMatchObject({ type: 'categorical' });
    const skipped = Object.fromEntries(auto.load.skippedUserFeatures.map((s) => [s.feature, s.reason]));
    expect(skipped.exit_date).toMatch(
      /^predicts the churn label almost perfectly: a leak\? \(one threshold gets (\d+) of \1 labelled rows right/,
    );
  });

  it('reads a date as the days from it to the end of the row’s month, so a tenure means the same in both months', async () => {
    const activation = auto.load.userFeatures.find((f) => f.name === 'activation_date');
    const rows = await withConnection(auto.load.dbPath, (conn) =>
      queryRows<{ purpose: string; joined: string; as_of: string; subscriber_id: string }>(
        conn,
        `SELECT purpose, "${activation?.column}"::VARCHAR AS joined, as_of::VARCHAR AS as_of, subscriber_id FROM features
         WHERE subscriber_id = (SELECT min(subscriber_id) FROM features WHERE purpose = 'train' AND NOT churned_next_month)
         ORDER BY purpose`,
      ),
    );
    // the time of day is dropped; the same day in both months
    expect(rows).toEqual([
      {
        purpose: 'score',
        joined: expect.stringMatching(/^\d{4}-\d\d-\d\d$/),
        as_of: '2026-10-01',
        subscriber_id: expect.any(String),
      },
      { purpose: 'train', joined: rows[0]?.joined, as_of: '2026-09-01', subscriber_id: rows[0]?.subscriber_id },
    ]);
    // what the churn models read: the days to each month's last day (30 September, 31 October)
    const spec = (
      await withConnection(auto.load.dbPath, (conn) => churnFeatureSpecs(conn, [], auto.load.userFeatures, true))
    ).find((s) => s.meta.name === 'days since activation_date');
    const days = await withConnection(auto.load.dbPath, (conn) =>
      queryRows<{ purpose: string; days: number }>(
        conn,
        `SELECT purpose, (${spec?.sql})::INTEGER AS days FROM features WHERE subscriber_id = $id ORDER BY purpose`,
        { id: rows[0]?.subscriber_id ?? '' },
      ),
    );
    const dayMs = 86_400_000;
    const joined = Date.parse(`${rows[0]?.joined}T00:00:00Z`);
    expect(days).toEqual([
      { purpose: 'score', days: (Date.parse('2026-10-31T00:00:00Z') - joined) / dayMs },
      { purpose: 'train', days: (Date.parse('2026-09-30T00:00:00Z') - joined) / dayMs },
    ]);
    const uses = Object.fromEntries(auto.churn.features.map((f) => [f.name, f]));
    expect(uses['days since activation_date']).toMatchObject({ source: 'user', type: 'numeric', missingShare: 0 });
    expect(auto.churn.topRules[0]?.condition).toMatch(/days since activation_date/);
  });

  it('leaves out of the models a column with no value in the training month, and says so, in the manifest too', async () => {
    expect(auto.churn.features.map((f) => f.name)).not.toContain('october_offer');
    expect(auto.churn.unusedFeatures).toEqual([{ feature: 'october_offer', reason: 'no value in the training month' }]);
    const { load, churn } = auto;
    const features = await computeFeatures(load.dbPath, load.params, {
      format: load.format,
      inputColumns: load.inputColumns,
      userFeatures: load.userFeatures,
    });
    const skipped = features.skippedFeatures.map((s) => s.feature);
    const cluster = await clusterSubscribers(load.dbPath, load.params, null, skipped, load.userFeatures);
    const store = storeIn(join(dir, 'auto'));
    const published = await publishSnapshot(
      store,
      { workflowId: 'auto', runId: 'r1' },
      { requestedBy: 'test', load, features, cluster, churn },
    );
    const manifest = await readManifest(store, '2026-10', published.version);
    expect(manifest.skippedFeatures).toContainEqual({
      feature: 'october_offer',
      reason: 'user column: no value in the training month',
    });
  }, 120_000);

  it('lets the churn models learn from a date: without it they see only what a shorter history hints', async () => {
    const without = await run('without', { '*': 'auto', activation_date: 'skip' });
    expect(without.churn.features.map((f) => f.name)).not.toContain('days since activation_date');
    // without it, only a recent joiner's shorter history hints at the date (tree 0.64, ensemble 0.71)
    expect(auto.churn.tree.holdout.rocAuc).toBeGreaterThan(without.churn.tree.holdout.rocAuc + 0.08);
    expect(auto.churn.ensemble?.holdout.rocAuc).toBeGreaterThan((without.churn.ensemble?.holdout.rocAuc ?? 1) + 0.03);
    const [mostImportant] = [...auto.churn.features].sort((a, b) => b.importance - a.importance);
    expect(mostImportant?.name).toBe('days since activation_date');
  }, 120_000);

  it('a column declared "date" reads what is no date as missing and says which; one with no date at all is skipped', async () => {
    const other = join(dir, 'no-dates.csv');
    await withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'source', csv);
      await setVariable(conn, 'target', other);
      await conn.run(
        `COPY (SELECT * REPLACE (CASE WHEN subscriber_id = 'S00007' THEN 'pending' ELSE activation_date END AS activation_date,
                                 spend::VARCHAR AS last_contact)
               FROM read_csv(getvariable('source'), all_varchar = true)) TO (getvariable('target')) (FORMAT csv, HEADER)`,
      );
    });
    const mapping = join(dir, 'no-dates.json');
    await writeFile(mapping, JSON.stringify({ features: { activation_date: 'date', last_contact: 'date' } }));
    const noDates = await loadUsage(
      storeIn(join(dir, 'no-dates')),
      { workflowId: 'no-dates', runId: 'r1' },
      {
        month: '2026-10',
        input: other,
        mapping,
      },
    );
    expect(noDates.userFeatures).toMatchObject([
      {
        name: 'activation_date',
        type: 'date',
        note: expect.stringMatching(/^\d+ values not dates taken as missing: 'pending'$/),
      },
    ]);
    expect(noDates.skippedUserFeatures).toContainEqual({
      feature: 'last_contact',
      reason: expect.stringMatching(/^declared "date", but none of its \d+ values is a date, e\.g\. '/),
    });
  }, 120_000);
});

describe('tenure from the day a subscriber joined', () => {
  it('counts tenure_months from a date column ({ "monthsSince": ... }): no tenure column needed, a date that is none quarantined with the reason', async () => {
    const dir = await tempDir();
    const source = join(dir, 'with-tenure.csv');
    await writeUsageCsv(source);
    // the extract as an operator has it: the day each subscriber joined, no tenure column
    const csv = join(dir, 'usage.csv');
    await withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'source', source);
      await setVariable(conn, 'target', csv);
      await conn.run(
        `COPY (SELECT * EXCLUDE (tenure_months) REPLACE (
                 CASE subscriber_id WHEN 'S00007' THEN 'pending' WHEN 'S00009' THEN '2030-01-01' ELSE activation_date END AS activation_date,
                 CASE WHEN subscriber_id = 'S00011' THEN NULL ELSE "month" END AS "month")
               FROM read_csv(getvariable('source'), all_varchar = true)) TO (getvariable('target')) (FORMAT csv, HEADER)`,
      );
    });
    const mapping = join(dir, 'mapping.json');
    await writeFile(mapping, JSON.stringify({ columns: { tenure_months: { monthsSince: 'activation_date' } } }));
    const load = await loadUsage(
      storeIn(dir),
      { workflowId: 'tenure', runId: 'r1' },
      { month: '2026-10', input: csv, mapping },
    );
    const reasons = Object.keys(load.quarantineByReason).sort();
    // a row without its month is the month's to name, not "not a date"
    expect(reasons).toEqual([
      'month: missing',
      'months since activation_date (tenure_months): not a date',
      'months since activation_date (tenure_months): outside [0, 1200]',
    ]);
    const rows = await withConnection(load.dbPath, async (conn) => {
      await setVariable(conn, 'csv', csv);
      return queryRows<{ month: string; activation_date: string; tenure_months: number }>(
        conn,
        `SELECT u."month"::VARCHAR AS "month", c.activation_date, u.tenure_months
         FROM usage u JOIN read_csv(getvariable('csv'), all_varchar = true) c
           ON c.subscriber_id = u.subscriber_id AND c."month" = strftime(u."month", '%Y-%m')
         WHERE u.subscriber_id IN ('S00000', 'S00003') ORDER BY u.subscriber_id, u."month"`,
      );
    });
    expect(rows.length).toBeGreaterThan(4);
    for (const { month, activation_date, tenure_months } of rows) {
      const [year, monthOfYear] = month.split('-').map(Number);
      const [joinedYear, joinedMonth] = activation_date.split('-').map(Number);
      // whole months from the month joined: 0 in that month
      expect(tenure_months, `${activation_date} -> ${month}`).toBe(
        (year - joinedYear) * 12 + monthOfYear - joinedMonth,
      );
    }
  }, 120_000);
});
