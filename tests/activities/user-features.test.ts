import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { churnFeatureSpecs } from '../../activities/churn-features';
import { queryRows, setVariable, withConnection } from '../../activities/duckdb';
import { seededRandom } from '../../activities/ml/random';
import {
  resolveUserFeatures,
  type SkippedUserFeature,
  type UserFeature,
  type UserFeatureLabel,
} from '../../activities/user-features';
import { InputMappingSchema, parseMapping } from '../../domain/mapping';
import { tempDir } from '../helpers';

/**
 * A device extract as an analyst exports it: one row per subscriber (msisdn), a churn flag, and
 * the columns "auto" has to judge: a number column with a few "n/a", an id made of digits, a
 * leftover copy of the label, a date, real categorical and numeric signals.
 */
const ROWS = 4_190;
const NA_ROWS = new Set([100, 2_000, 4_000]);

function deviceCsv(): string {
  const random = seededRandom(21);
  const brands = ['Apple', 'Samsung', 'Xiaomi', 'Oppo', 'Nokia', 'Motorola', 'Huawei', 'Other'];
  const header = [
    'msisdn',
    'imsi',
    'device_age',
    'contract_type',
    'handset_brand',
    'monthly_fee',
    'data_bytes',
    'account_no',
    'email',
    'signup_date',
    'model_code',
    'churned',
    'days_to_exit',
    'port_out',
    'Churn',
  ];
  const lines = [header.join(',')];
  for (let i = 0; i < ROWS; i++) {
    const contract = random() < 0.5 ? 'Monthly' : random() < 0.5 ? 'Annual' : 'Biennial';
    const age = Math.floor(random() * 61);
    const churn = random() < (contract === 'Monthly' ? 0.35 : 0.1) + age / 600;
    lines.push(
      [
        `4670${String(1_000_000 + i)}`,
        String(310_150_000_000_000 + i * 7_919),
        NA_ROWS.has(i) ? 'n/a' : String(age),
        contract,
        brands[Math.floor(random() * brands.length)],
        (20 + random() * 80).toFixed(2),
        String(Math.round(1_000 * 1.002 ** i) + i),
        String(i + 1),
        `user${i}@example.com`,
        `2024-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`,
        // most are numbers, a fifth are letter codes: not a number column, too many for categories
        i % 5 === 0 ? `X${i % 97}` : String(100 + (i % 89)),
        churn ? 'Y' : 'N',
        String(churn ? Math.floor(random() * 5) : 30 + Math.floor(random() * 30)),
        // a status written after the fact: the churners', wrong for 6 rows
        churn !== i % 800 < 1 ? 'ported' : 'kept',
        churn ? 'Yes' : 'No',
      ].join(','),
    );
  }
  return lines.join('\n') + '\n';
}

const HEADER = deviceCsv().split('\n', 1)[0].split(',');

describe("typing a user's own columns", () => {
  let csv: string;
  beforeAll(async () => {
    const dir = await tempDir();
    csv = join(dir, 'devices.csv');
    await writeFile(csv, deviceCsv());
  });

  const resolve = (mapping: unknown, label?: UserFeatureLabel | null, leakSampleRows?: number) =>
    withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'devices_csv', csv);
      return resolveUserFeatures(
        conn,
        "SELECT * FROM read_csv(getvariable('devices_csv'), header = true, all_varchar = true)",
        HEADER,
        InputMappingSchema.parse(mapping),
        label,
        { leakSampleRows },
      );
    });
  const byName = (result: { features: UserFeature[]; skipped: SkippedUserFeature[] }) => ({
    features: Object.fromEntries(result.features.map((f) => [f.name, f])),
    skipped: Object.fromEntries(result.skipped.map((s) => [s.feature, s.reason])),
  });
  const SNAPSHOT = { format: 'snapshot', columns: { subscriber_id: 'msisdn', churn_label: 'Churn' } };

  it('"auto" reads a number column with a few values that are not numbers as numeric, and says which', async () => {
    const { features, skipped } = byName(await resolve({ ...SNAPSHOT, features: 'auto' }));
    expect(skipped.device_age).toBeUndefined();
    expect(features.device_age).toMatchObject({
      type: 'numeric',
      note: "3 values not numbers taken as missing: 'n/a'",
    });
    expect(features.monthly_fee).toMatchObject({ type: 'numeric' });
    expect(features.monthly_fee.note).toBeUndefined();
    // a fifth of the values are codes: not a number column; the reason shows them and the fix
    expect(skipped.model_code).toBe(
      `186 distinct values, more than maxCategories=50; 838 values (20%) are not numbers, e.g. 'X0', 'X1', 'X10' and 94 more: declare it "numeric" in the mapping's features to read those as missing`,
    );
  });

  it("reads an accountant's negative numbers, (12.50), as negative numbers", async () => {
    const balances = await withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'devices_csv', csv);
      return resolveUserFeatures(
        conn,
        `SELECT * REPLACE (CASE WHEN hash(msisdn) % 3 = 0 THEN '(' || monthly_fee || ')' ELSE monthly_fee END AS monthly_fee)
         FROM read_csv(getvariable('devices_csv'), header = true, all_varchar = true)`,
        HEADER,
        InputMappingSchema.parse({ ...SNAPSHOT, features: 'auto' }),
      );
    });
    const { features } = byName(balances);
    // numbers all: no value taken as missing
    expect(features.monthly_fee).toEqual({ name: 'monthly_fee', column: expect.any(String), type: 'numeric' });
  });

  it('reads numbers written with thousands separators (1,234.50) as numbers, and says a lone comma (1,234) may be either', async () => {
    // monthly_fee x 20 (400 to 2,000), written as spreadsheets export it: 1,234.50 (or 1,234 with `decimals` '')
    const withSeparators = (mapping: unknown, decimals = '.50') =>
      withConnection(':memory:', async (conn) => {
        await setVariable(conn, 'devices_csv', csv);
        return resolveUserFeatures(
          conn,
          `SELECT * REPLACE (CASE WHEN fee >= 1000
                    THEN (fee // 1000)::INTEGER::VARCHAR || ',' || lpad((fee % 1000)::INTEGER::VARCHAR, 3, '0') || '${decimals}'
                    ELSE fee::INTEGER::VARCHAR || '${decimals}' END AS monthly_fee)
           FROM (SELECT *, floor(TRY_CAST(monthly_fee AS DOUBLE) * 20) AS fee
                 FROM read_csv(getvariable('devices_csv'), header = true, all_varchar = true))`,
          HEADER,
          InputMappingSchema.parse(mapping),
        );
      });
    const auto = byName(await withSeparators({ ...SNAPSHOT, features: 'auto' }));
    expect(auto.features.monthly_fee).toEqual({ name: 'monthly_fee', column: expect.any(String), type: 'numeric' });
    // 1,234 alone: a decimal comma or a thousands separator; declared numeric, the note says so
    const lone = byName(await withSeparators({ ...SNAPSHOT, features: { monthly_fee: 'numeric' } }, ''));
    expect(lone.features.monthly_fee.note).toMatch(
      /^\d+ values not numbers taken as missing: '\d,\d{3}', .* \(a decimal comma \(set "decimalSeparator": "," in the mapping\) or a thousands separator \(not read alone: write numbers without it\)\)$/,
    );
    // every value with a separator (all of them 1,000 or more): numbers, not 60 categories
    const allSeparated = (mapping: unknown) =>
      withConnection(':memory:', async (conn) => {
        await setVariable(conn, 'devices_csv', csv);
        return resolveUserFeatures(
          conn,
          `SELECT * REPLACE ('1,' || lpad((hash(msisdn) % 60)::VARCHAR, 3, '0') || '.75' AS monthly_fee)
           FROM read_csv(getvariable('devices_csv'), header = true, all_varchar = true)`,
          HEADER,
          InputMappingSchema.parse(mapping),
        );
      });
    const many = byName(await allSeparated({ ...SNAPSHOT, features: 'auto' }));
    expect(many.features.monthly_fee).toEqual({ name: 'monthly_fee', column: expect.any(String), type: 'numeric' });
  });

  it('skips a column declared "numeric" that holds no number (a date), with the reason, instead of an empty feature', async () => {
    const { features, skipped } = byName(
      await resolve({ ...SNAPSHOT, features: { signup_date: 'numeric', device_age: 'numeric' } }),
    );
    expect(features.signup_date).toBeUndefined();
    expect(skipped.signup_date).toBe(
      `declared "numeric", but none of its 4190 values is a number, e.g. '2024-01-01', '2024-01-05', '2024-01-09' and 81 more`,
    );
    // declared numeric: the values that are not numbers are reported the same way
    expect(features.device_age.note).toBe("3 values not numbers taken as missing: 'n/a'");
  });

  it('"auto" skips ids in monthly rows too: the same value in each of a subscriber\'s months', async () => {
    const monthly = await withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'devices_csv', csv);
      return resolveUserFeatures(
        conn,
        `SELECT * REPLACE ((TRY_CAST(monthly_fee AS DOUBLE) + m)::VARCHAR AS monthly_fee), m AS month_no
         FROM read_csv(getvariable('devices_csv'), header = true, all_varchar = true) CROSS JOIN range(3) t(m)`,
        [...HEADER, 'month_no'],
        InputMappingSchema.parse({ columns: { subscriber_id: 'msisdn', churn_label: 'Churn' }, features: 'auto' }),
        null,
      );
    });
    const { features, skipped } = byName(monthly);
    for (const id of ['imsi', 'account_no', 'email'])
      expect(skipped[id], id).toBe('looks like an id: 4190 distinct values for 4190 subscribers, one each');
    // a measure that changes from month to month is no id, however many values it has
    expect(features.monthly_fee).toMatchObject({ type: 'numeric' });
  });

  it('"auto" skips a row number in monthly rows (the index pandas\' to_csv writes), which changes on every row', async () => {
    const monthly = await withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'devices_csv', csv);
      return resolveUserFeatures(
        conn,
        `SELECT *, m AS month_no, (row_number() OVER () - 1)::VARCHAR AS "Unnamed: 0"
         FROM read_csv(getvariable('devices_csv'), header = true, all_varchar = true) CROSS JOIN range(3) t(m)`,
        [...HEADER, 'month_no', 'Unnamed: 0'],
        InputMappingSchema.parse({ columns: { subscriber_id: 'msisdn', churn_label: 'Churn' }, features: 'auto' }),
        null,
      );
    });
    const { features, skipped } = byName(monthly);
    expect(skipped['Unnamed: 0']).toBe(
      "a row number: a different whole number on each of its 12570 rows, running 0 to 12569 (an index, as pandas' to_csv writes one)",
    );
    // a measure with a different value on most rows stays
    expect(features.data_bytes).toMatchObject({ type: 'numeric' });
    // a file a month, each written with its own index: the same numbers in every file
    const perFile = await withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'devices_csv', csv);
      return resolveUserFeatures(
        conn,
        `SELECT *, (file_row + 1)::VARCHAR AS "Unnamed: 0" FROM (
           SELECT *, m AS month_no, m AS file_index, row_number() OVER (PARTITION BY m ORDER BY hash(msisdn, m)) - 1 AS file_row
           FROM read_csv(getvariable('devices_csv'), header = true, all_varchar = true) CROSS JOIN range(3) t(m))`,
        [...HEADER, 'month_no', 'Unnamed: 0'],
        InputMappingSchema.parse({ columns: { subscriber_id: 'msisdn', churn_label: 'Churn' }, features: 'auto' }),
        null,
        { fileRows: true },
      );
    });
    expect(byName(perFile).skipped['Unnamed: 0']).toBe(
      "a row number: each of its 12570 values is its row's number in its file (an index, as pandas' to_csv writes one)",
    );
    // files of one row each: a 0/1 flag equals every row's number in its file, and stays a flag
    const oneRowFiles = await withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'devices_csv', csv);
      return resolveUserFeatures(
        conn,
        `SELECT *, (hash(msisdn) % 2)::VARCHAR AS has_5g, 0 AS file_row
         FROM read_csv(getvariable('devices_csv'), header = true, all_varchar = true)`,
        [...HEADER, 'has_5g'],
        InputMappingSchema.parse({ ...SNAPSHOT, features: 'auto' }),
        null,
        { fileRows: true },
      );
    });
    expect(byName(oneRowFiles).features.has_5g).toMatchObject({ type: 'numeric' });
  });

  it('"auto" skips columns that look like ids: one distinct value per row, as text or as codes of digits', async () => {
    const { features, skipped } = byName(await resolve({ ...SNAPSHOT, features: 'auto' }));
    for (const id of ['imsi', 'account_no', 'email']) {
      expect(features[id], id).toBeUndefined();
      expect(skipped[id], id).toBe('looks like an id: 4190 distinct values for 4190 subscribers, one each');
    }
    // numbers nearly unique per row but measured, not codes: amounts with cents, byte counts
    expect(features.monthly_fee).toMatchObject({ type: 'numeric' });
    expect(features.data_bytes).toMatchObject({ type: 'numeric' });
    // declared by the analyst: taken as declared
    const declared = byName(await resolve({ ...SNAPSHOT, features: { imsi: 'numeric' } }));
    expect(declared.features.imsi).toMatchObject({ type: 'numeric' });
  });

  it('"auto" skips a column that alone predicts the churn label almost perfectly (a leak), and one named like a label', async () => {
    const leak = (right: number, how: string) =>
      `predicts the churn label almost perfectly: a leak? (${how} ${right} of 4190 labelled rows right; declare it in the mapping's features to use it anyway)`;
    // the label is the file's own Churn column (mapped, Yes/No)
    const inFile = byName(
      await resolve({ ...SNAPSHOT, values: { churn_label: { Yes: true, No: false } }, features: 'auto' }),
    );
    expect(inFile.skipped.days_to_exit).toBe(leak(4190, 'one threshold gets'));
    expect(inFile.skipped.port_out).toBe(leak(4184, 'its values alone get'));
    expect(inFile.skipped.churned).toBe(NAMED_LIKE_A_LABEL);
    // real signals stay
    expect(inFile.features.contract_type).toMatchObject({ type: 'categorical' });
    expect(inFile.features.device_age).toMatchObject({ type: 'numeric' });

    // labels from their own file: without the label's values here, the names still count
    const noLabel = { format: 'snapshot', columns: { subscriber_id: 'msisdn' }, features: 'auto' };
    const labelsFile = byName(await resolve(noLabel));
    expect(labelsFile.skipped.churned).toBe(NAMED_LIKE_A_LABEL);
    expect(labelsFile.skipped.Churn).toBe(NAMED_LIKE_A_LABEL);
    // the labels file's own label column name, and its values when the caller joins them in
    const named = byName(await resolve(noLabel, { name: 'port_out' }));
    expect(named.skipped.port_out).toBe(NAMED_LIKE_A_LABEL);
    expect(named.features.days_to_exit).toMatchObject({ type: 'numeric' });
    const joined = byName(await resolve(noLabel, { name: 'gone', sql: `"Churn" = 'Yes'` }));
    expect(joined.skipped.days_to_exit).toBe(leak(4190, 'one threshold gets'));

    // past the sample size, a seeded share of the subscribers tells the same, and says so
    const sampled = byName(
      await resolve(
        { ...SNAPSHOT, values: { churn_label: { Yes: true, No: false } }, features: 'auto' },
        undefined,
        1_000,
      ),
    );
    expect(sampled.skipped.days_to_exit).toMatch(
      /^predicts the churn label almost perfectly: a leak\? \(one threshold gets (\d+) of \1 labelled rows right in a sample of 1 subscriber in 5;/,
    );
    expect(sampled.features.device_age).toMatchObject({ type: 'numeric' });

    // declared: taken as declared
    const declared = byName(
      await resolve({ ...SNAPSHOT, features: { churned: 'categorical', days_to_exit: 'numeric' } }),
    );
    expect(Object.keys(declared.features)).toEqual(['churned', 'days_to_exit']);
  });

  it('reads names in any script: Chinese names are not all "named like a churn label" when the label is named in Chinese', async () => {
    // the same extract as a Chinese operator exports it: brand, contract and fee named in Chinese,
    // the churn flag 是否流失, and the labels file's own label column 离网月份
    const renamed = {
      handset_brand: '终端品牌',
      contract_type: '合约类型',
      monthly_fee: '月费(元)',
      churned: '是否流失',
    };
    const header = HEADER.map((name) => renamed[name as keyof typeof renamed] ?? name);
    const chinese = await withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'devices_csv', csv);
      return resolveUserFeatures(
        conn,
        `SELECT * RENAME (${Object.entries(renamed)
          .map(([from, to]) => `${from} AS "${to}"`)
          .join(', ')})
         FROM read_csv(getvariable('devices_csv'), header = true, all_varchar = true)`,
        header,
        InputMappingSchema.parse({ format: 'snapshot', columns: { subscriber_id: 'msisdn' }, features: 'auto' }),
        { name: '离网月份' },
      );
    });
    const { features, skipped } = byName(chinese);
    expect(features['终端品牌']).toMatchObject({ type: 'categorical' });
    expect(features['合约类型']).toMatchObject({ type: 'categorical' });
    expect(features['月费(元)']).toMatchObject({ type: 'numeric' });
    // a Chinese churn flag is still named like a label, and so is a column named as the labels file's
    expect(skipped['是否流失']).toBe(NAMED_LIKE_A_LABEL);
    const named = byName(
      await withConnection(':memory:', async (conn) => {
        await setVariable(conn, 'devices_csv', csv);
        return resolveUserFeatures(
          conn,
          `SELECT * RENAME (handset_brand AS "终端品牌") FROM read_csv(getvariable('devices_csv'), header = true, all_varchar = true)`,
          HEADER.map((name) => (name === 'handset_brand' ? '终端品牌' : name)),
          InputMappingSchema.parse({ format: 'snapshot', columns: { subscriber_id: 'msisdn' }, features: 'auto' }),
          { name: '终端 品牌' },
        );
      }),
    );
    expect(named.skipped['终端品牌']).toBe(NAMED_LIKE_A_LABEL);
  });

  it('judges a column on the rows the model trains on: a value that gives the label away in that month only is a leak', async () => {
    // three monthly rows per subscriber; the model trains on the last (month_no 2), labelled by
    // Churn there and stayed before; exit_mark repeats the churners' mark on every row
    const monthly = (options?: { trainingRows?: string; leakSampleRows?: number }) =>
      withConnection(':memory:', async (conn) => {
        await setVariable(conn, 'devices_csv', csv);
        return resolveUserFeatures(
          conn,
          `SELECT msisdn, contract_type, CASE WHEN "Churn" = 'Yes' THEN 'leaving' ELSE 'staying' END AS exit_mark, "Churn", m AS month_no
           FROM read_csv(getvariable('devices_csv'), header = true, all_varchar = true) CROSS JOIN range(3) t(m)`,
          ['msisdn', 'contract_type', 'exit_mark', 'Churn', 'month_no'],
          InputMappingSchema.parse({ columns: { subscriber_id: 'msisdn' }, features: 'auto' }),
          { name: 'left', sql: `CASE WHEN month_no = 2 THEN "Churn" = 'Yes' ELSE false END` },
          options,
        );
      });
    // over all months the mark is wrong on every churner's earlier rows: no leak
    expect(byName(await monthly()).features.exit_mark).toMatchObject({ type: 'categorical' });
    const trained = byName(await monthly({ trainingRows: 'month_no = 2' }));
    expect(trained.features.exit_mark).toBeUndefined();
    expect(trained.skipped.exit_mark).toBe(
      "predicts the churn label almost perfectly: a leak? (its values alone get 4190 of 4190 labelled rows right; declare it in the mapping's features to use it anyway)",
    );
    expect(trained.features.contract_type).toMatchObject({ type: 'categorical' });
    // the sample is sized by the rows checked (4190), not by all rows (12570)
    const sampled = byName(await monthly({ trainingRows: 'month_no = 2', leakSampleRows: 1_000 }));
    expect(sampled.skipped.exit_mark).toMatch(
      /^predicts the churn label almost perfectly: a leak\? \(its values alone get (\d+) of \1 labelled rows right in a sample of 1 subscriber in 5;/,
    );
  });

  it('the object form uses only the columns it lists and lists the others as skipped; "*": "auto" types them instead', async () => {
    const only = await resolve({ ...SNAPSHOT, features: { handset_brand: 'skip', imsi: 'skip' } });
    expect(only.features).toEqual([]);
    expect(only.skipped).toEqual([
      { feature: 'handset_brand', reason: 'skipped by the mapping' },
      { feature: 'imsi', reason: 'skipped by the mapping' },
      ...HEADER.filter((c) => !['msisdn', 'Churn', 'handset_brand', 'imsi'].includes(c)).map((feature) => ({
        feature,
        reason: "not listed in the mapping's features",
      })),
    ]);

    const overrides = byName(
      await resolve({
        ...SNAPSHOT,
        values: { churn_label: { Yes: true, No: false } },
        features: { '*': 'auto', handset_brand: 'skip', churned: 'categorical', model_code: 'numeric' },
      }),
    );
    expect(overrides.skipped.handset_brand).toBe('skipped by the mapping');
    expect(overrides.features.contract_type).toMatchObject({ type: 'categorical' });
    expect(overrides.features.device_age).toMatchObject({ type: 'numeric', note: expect.stringContaining("'n/a'") });
    expect(overrides.features.churned).toMatchObject({ type: 'categorical' }); // declared: no leak check
    expect(overrides.features.model_code).toMatchObject({
      type: 'numeric',
      note: expect.stringContaining('838 values'),
    });
    expect(overrides.skipped.imsi).toBe('looks like an id: 4190 distinct values for 4190 subscribers, one each');
    expect(overrides.skipped.days_to_exit).toMatch(/^predicts the churn label almost perfectly/);
  });

  it('reads a column of many values held mostly by a few (handset models) as those few and one category for the rest', async () => {
    const { features, skipped } = byName(
      await withConnection(':memory:', async (conn) => {
        await setVariable(conn, 'devices_csv', csv);
        return resolveUserFeatures(
          conn,
          // handset models: 200, most rows on a few (62.6% on the first 49); remarks: 3,000 spread evenly
          `SELECT *, CASE WHEN hash(msisdn, 'n') % 700 = 0 THEN '3310' -- a few models named by a number
                          ELSE 'model ' || floor(pow((hash(msisdn, 'm') % 10000) / 10000, 3) * 200)::INTEGER END AS handset_model,
                  'remark ' || (hash(msisdn, 'r') % 3000) AS remark,
                  -- versions: dotted, not thousands separators
                  '17.' || floor(pow((hash(msisdn, 'v') % 10000) / 10000, 4) * 80)::INTEGER || '.1' AS os_version
           FROM read_csv(getvariable('devices_csv'), header = true, all_varchar = true)`,
          [...HEADER, 'handset_model', 'remark', 'os_version'],
          InputMappingSchema.parse({ ...SNAPSHOT, features: 'auto' }),
        );
      }),
    );
    const handset = features.handset_model;
    expect(handset).toMatchObject({
      type: 'categorical',
      note: expect.stringMatching(
        /^its 49 most frequent of \d+ values \((6\d)% of its values\); the other \d+ read as one category$/,
      ),
    });
    expect(handset.categories).toHaveLength(50);
    expect(handset.categories?.at(-1)).toBe(`(${handset.otherValues} other values)`);
    expect(handset.categories).toContain('model 0');
    expect(features.os_version).toMatchObject({ type: 'categorical', otherValues: expect.any(Number) });
    // declared categorical, mostly numbers (left out of the one pass over the many-valued columns): counted on its own
    const declared = byName(await resolve({ ...SNAPSHOT, features: { model_code: 'categorical' } }));
    expect(declared.skipped.model_code).toMatch(/, the 49 most frequent covering 4\d% of its values \(under 50%\)$/);
    expect(skipped.remark).toMatch(
      /^\d+ distinct values, more than maxCategories=50 and no numbers, the 49 most frequent covering \d+% of its values \(under 50%\)$/,
    );
    // the churn matrix: a listed value is its index, any other the last category, a missing one missing
    const codes = await withConnection(':memory:', async (conn) => {
      await conn.run(
        `CREATE TABLE features AS SELECT * FROM (VALUES ('model 0', 'a', 'a'), ('model 199', 'a', 'a'), (NULL, 'a', 'a')) t(${handset.column}, plan, region)`,
      );
      const [spec] = await churnFeatureSpecs(conn, [], [handset], false);
      return queryRows<{ code: number | null }>(conn, `SELECT (${spec.sql})::INTEGER AS code FROM features`);
    });
    expect(codes.map((row) => row.code)).toEqual([handset.categories?.indexOf('model 0'), 49, null]);
  });

  it("names a user's column like a published or working column of subscribers.parquet, in any case, user:<name>", async () => {
    const user = (name: string, column: string, type: 'numeric' | 'categorical'): UserFeature =>
      ({ name, column, type, ...(type === 'categorical' ? { categories: ['a', 'b'] } : {}) }) as UserFeature;
    const names = await withConnection(':memory:', async (conn) => {
      await conn.run(
        'CREATE TABLE features (user_0 DOUBLE, user_1 VARCHAR, user_2 DOUBLE, user_3 DOUBLE, user_4 DOUBLE, user_5 DOUBLE, user_6 DOUBLE)',
      );
      const specs = await churnFeatureSpecs(
        conn,
        ['arpu'],
        [
          user('tags', 'user_0', 'numeric'),
          user('channel', 'user_1', 'categorical'),
          user('mou', 'user_2', 'numeric'),
          user('calls', 'user_3', 'numeric'),
          // DuckDB's names are case-insensitive: ARPU beside arpu was published as ARPU_1
          user('ARPU', 'user_4', 'numeric'),
          // the dispatch list's draw reads s.* of the subscribers: this took the control draw
          user('control_draw', 'user_5', 'numeric'),
          user('Calls', 'user_6', 'numeric'),
        ],
        false,
      );
      return specs.map((spec) => [spec.meta.name, spec.shown]);
    });
    // mou is published even where the input has no minutes (then empty), so the user's mou is apart too
    expect(names).toEqual([
      ['arpu', undefined],
      ['user:tags', '"user_0"'],
      ['user:mou', '"user_2"'],
      ['calls', '"user_3"'],
      ['user:ARPU', '"user_4"'],
      ['user:control_draw', '"user_5"'],
      ['Calls (2)', '"user_6"'],
      ['user:channel', '"user_1"'],
    ]);
  });

  it('the mapping takes "*" for the columns not listed, "auto" or "skip" only', () => {
    const problems = (features: unknown) => {
      const parsed = parseMapping(JSON.stringify({ features }));
      return parsed.ok ? [] : parsed.problems;
    };
    expect(problems({ '*': 'auto', imsi: 'skip' })).toEqual([]);
    expect(problems({ '*': 'skip', plan: 'categorical' })).toEqual([]);
    expect(problems({ '*': 'numeric' })).toEqual(['features.*: "*" (every column not listed) takes "auto" or "skip"']);
    expect(problems({ imsi: 'auto' })).toHaveLength(1);
  });
});

const NAMED_LIKE_A_LABEL = "named like a churn label: a leak? declare it in the mapping's features to use it anyway";
