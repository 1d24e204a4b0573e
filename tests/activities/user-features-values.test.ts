import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainAndScoreChurn } from '../../activities/churn';
import { clusterSubscribers } from '../../activities/cluster';
import { queryRows, setVariable, withConnection } from '../../activities/duckdb';
import { computeFeatures } from '../../activities/features';
import { loadUsage } from '../../activities/load';
import { seededRandom } from '../../activities/ml/random';
import {
  resolveUserFeatures,
  userFeatureSql,
  type SkippedUserFeature,
  type UserFeature,
} from '../../activities/user-features';
import { InputMappingSchema } from '../../domain/mapping';
import { storeIn, tempDir } from '../helpers';

/**
 * How "auto" reads the values an extract's own columns hold as an analyst exports them, no
 * preprocessing: numbers that are not finite (NaN, Infinity), flags written as a value or a blank,
 * a constant written two ways. One row per subscriber, a churn label.
 */
const ROWS = 4_000;

interface Row {
  cells: Record<string, string>;
  churn: boolean;
}

function extract(): Row[] {
  const random = seededRandom(44);
  const rows: Row[] = [];
  for (let i = 0; i < ROWS; i++) {
    const delay = Math.floor(random() * 20);
    const churn = random() < 0.1 + delay / 40;
    rows.push({
      churn,
      cells: {
        cust: `S${String(i + 1).padStart(6, '0')}`,
        charges: (20 + random() * 80).toFixed(2),
        tenure: String(1 + Math.floor(random() * 60)),
        delay: String(delay),
        // 1% each of NaN, Infinity, -Infinity among the numbers
        naninf: ['NaN', 'Infinity', '-Infinity'][i % 100] ?? String(Math.floor(random() * 9)),
        // a flag: a value or a blank, the blank no less a value of its own
        late_flag: delay > 10 ? 'Y' : '',
        late_one: delay > 10 ? '1' : '',
        late_zero: delay > 10 ? '0' : '',
        // the label written after the fact as a status or a blank: a leak
        status_next: churn ? 'DEACT' : '',
        // one value everywhere, or written two ways: nothing to learn
        constant: 'A',
        zero_fmt: i % 2 === 0 ? '0' : '0.00',
        signed_zero: i % 2 === 0 ? '-0' : '0',
        // flags exported by two systems: one number written two ways, gaps blank or a marker
        late_zero_fmt: delay > 10 ? (i % 2 === 0 ? '0' : '0.00') : '',
        late_zero_na: delay > 10 ? '0' : i % 2 === 0 ? 'N/A' : '',
        late_one_na: delay > 10 ? (i % 2 === 0 ? '1' : '1.00') : 'n/a',
        paid_fmt: i % 5 === 0 ? '' : delay > 10 ? ['1', '1.00'][i % 2] : ['0', '0.00'][i % 2],
        Churn: churn ? 'Yes' : 'No',
      },
    });
  }
  return rows;
}

const HEADER = Object.keys(extract()[0].cells);
const csvText = (rows: Row[]) =>
  [HEADER.join(','), ...rows.map((row) => HEADER.map((column) => row.cells[column]).join(','))].join('\n') + '\n';

const byName = (result: { features: UserFeature[]; skipped: SkippedUserFeature[] }) => ({
  features: Object.fromEntries(result.features.map((f) => [f.name, f])),
  skipped: Object.fromEntries(result.skipped.map((s) => [s.feature, s.reason])),
});

const SNAPSHOT = {
  format: 'snapshot',
  columns: { subscriber_id: 'cust', spend: 'charges', tenure_months: 'tenure', churn_label: 'Churn' },
  values: { churn_label: { Yes: true, No: false } },
};

describe("the values in a user's own columns", () => {
  let dir: string;
  let csv: string;
  beforeAll(async () => {
    dir = await tempDir();
    csv = join(dir, 'extract.csv');
    await writeFile(csv, csvText(extract()));
  });

  /** The extract's columns typed, with a DOUBLE column as Parquet stores it (`dbl`: NaN and inf among numbers). */
  const resolve = (features: unknown) =>
    withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'extract_csv', csv);
      return byName(
        await resolveUserFeatures(
          conn,
          `SELECT *, CASE WHEN hash(cust) % 50 = 0 THEN 'inf'::DOUBLE WHEN hash(cust) % 50 = 1 THEN 'NaN'::DOUBLE
             ELSE (hash(cust) % 7)::DOUBLE END AS dbl
           FROM read_csv(getvariable('extract_csv'), header = true, all_varchar = true)`,
          [...HEADER, 'dbl'],
          InputMappingSchema.parse({ ...SNAPSHOT, features }),
        ),
      );
    });

  it('reads NaN, Infinity and -Infinity in a number column (text or DOUBLE) as missing values, and says so', async () => {
    const { features } = await resolve('auto');
    expect(features.naninf).toMatchObject({
      type: 'numeric',
      note: "120 values not numbers taken as missing: '-Infinity', 'Infinity', 'NaN'",
    });
    expect(features.dbl).toMatchObject({
      type: 'numeric',
      note: expect.stringMatching(/^\d+ values not numbers taken as missing: 'inf', 'nan'$/),
    });
    // as the load reads the feature's values: no number that is not finite reaches the models
    const read = await withConnection(':memory:', (conn) =>
      queryRows<{ text: string; value: number | null }>(
        conn,
        `SELECT text, ${userFeatureSql({ name: 'text', type: 'numeric' })} AS value
         FROM (VALUES ('NaN'), ('Infinity'), ('-Infinity'), ('inf'), ('1e999'), ('2.5')) v(text)`,
      ),
    );
    expect(read.map((row) => row.value)).toEqual([null, null, null, null, null, 2.5]);
  });

  it('keeps a flag written as a value or a blank, as two categories (or a number, 1 against a gap read as 0)', async () => {
    const { features, skipped } = await resolve({ '*': 'auto', status_next: 'skip' });
    expect(skipped.late_flag).toBeUndefined();
    expect(features.late_flag).toMatchObject({ type: 'categorical', categories: ['Y'] });
    expect(features.late_one).toMatchObject({ type: 'numeric' });
    // a gap is read as 0, as a 0 is: the column would say nothing as a number
    expect(features.late_zero).toMatchObject({ type: 'categorical', categories: ['0'] });
    // a value everywhere is still one value
    expect(skipped.constant).toBe('a single value');
    // declared, the same
    const declared = await resolve({ late_flag: 'categorical', late_one: 'numeric' });
    expect(declared.features.late_flag).toMatchObject({ type: 'categorical', categories: ['Y'] });
    expect(declared.features.late_one).toMatchObject({ type: 'numeric' });
  });

  it('catches a leak written as a value or a blank (DEACT for the churners)', async () => {
    const { skipped } = await resolve('auto');
    expect(skipped.status_next).toMatch(
      /^predicts the churn label almost perfectly: a leak\? \(its values alone get 4000 of 4000 labelled rows right;/,
    );
  });

  it('skips a constant written two ways (0 and 0.00, -0 and 0) as a single value', async () => {
    const { features, skipped } = await resolve('auto');
    expect(features.zero_fmt).toBeUndefined();
    expect(skipped.zero_fmt).toBe('a single value');
    expect(skipped.signed_zero).toBe('a single value');
    // declared numeric, the same: one number
    expect((await resolve({ zero_fmt: 'numeric' })).skipped.zero_fmt).toBe('a single value');
  });

  it('reads a column whose values are all numbers as numbers however written: 0 and 0.00 one value, a marker a gap', async () => {
    const { features } = await resolve({ '*': 'auto', status_next: 'skip' });
    // 0 or a gap: a flag, one category (its shortest spelling) and the missing one
    expect(features.late_zero_fmt).toMatchObject({ type: 'categorical', categories: ['0'], numbers: [0] });
    expect(features.late_zero_na).toMatchObject({
      type: 'categorical',
      categories: ['0'],
      note: expect.stringMatching(/^\d+ values not numbers taken as missing: 'N\/A'$/),
    });
    // 1 or a gap: a number, the gap read as 0
    expect(features.late_one_na).toMatchObject({
      type: 'numeric',
      note: expect.stringMatching(/^\d+ values not numbers taken as missing: 'n\/a'$/),
    });
    // 0/1 written 0, 0.00, 1, 1.00, with blanks: a number
    expect(features.paid_fmt).toMatchObject({ type: 'numeric' });
    expect(features.paid_fmt.categories).toBeUndefined();
    // as the load reads them: every spelling of a number is its one value
    const read = await withConnection(':memory:', (conn) =>
      queryRows<{ flag: string | null; paid: number | null }>(
        conn,
        `SELECT ${userFeatureSql({ ...features.late_zero_fmt, name: 'text' })} AS flag,
                ${userFeatureSql({ ...features.paid_fmt, name: 'text' })} AS paid
         FROM (VALUES ('0'), ('0.00'), ('-0'), (''), ('N/A'), ('1.00')) v(text)`,
      ),
    );
    expect(read.map((row) => row.flag)).toEqual(['0', '0', '0', null, null, null]);
    expect(read.map((row) => row.paid)).toEqual([0, 0, -0, null, null, 1]);
    // declared "categorical", a column is read as written: its values are labels (codes 007 and 7 are two)
    const declared = await resolve({ late_zero_fmt: 'categorical' });
    expect(declared.features.late_zero_fmt).toMatchObject({ type: 'categorical', categories: ['0', '0.00'] });
    expect(declared.features.late_zero_fmt.numbers).toBeUndefined();
  });

  it('segments a one-row-per-subscriber extract whose number column holds Infinity (k-means reads the user columns); its flags reach the models', async () => {
    // spend and tenure only: k-means takes the user's number columns beside log_arpu
    const lines = extract().map(({ cells }) =>
      [
        cells.cust,
        cells.charges,
        cells.tenure,
        cells.cust.endsWith('00') ? 'Infinity' : cells.delay,
        cells.late_flag,
        cells.late_one,
        cells.late_zero_fmt,
        cells.Churn,
      ].join(','),
    );
    const input = join(dir, 'inf.csv');
    await writeFile(
      input,
      ['cust,charges,tenure,delay_inf,late_flag,late_one,late_zero_fmt,Churn', ...lines].join('\n') + '\n',
    );
    const mapping = join(dir, 'inf-mapping.json');
    await writeFile(mapping, JSON.stringify({ ...SNAPSHOT, features: 'auto' }));
    const load = await loadUsage(
      storeIn(dir),
      { workflowId: 'user-features-values', runId: 'r1' },
      { month: '2026-05', input, mapping },
    );
    const features = await computeFeatures(load.dbPath, load.params, {
      format: load.format,
      inputColumns: load.inputColumns,
      userFeatures: load.userFeatures,
    });
    const skipped = features.skippedFeatures.map((s) => s.feature);
    const cluster = await clusterSubscribers(load.dbPath, load.params, null, skipped, load.userFeatures);
    expect(cluster.featureNames).toContain('delay_inf');
    for (const { values } of cluster.centroids) for (const value of values) expect(Number.isFinite(value)).toBe(true);
    expect(load.userFeatures).toEqual([
      expect.objectContaining({
        name: 'delay_inf',
        type: 'numeric',
        note: "40 values not numbers taken as missing: 'Infinity'",
      }),
      expect.objectContaining({ name: 'late_flag', type: 'categorical', categories: ['Y'] }),
      expect.objectContaining({ name: 'late_one', type: 'numeric' }),
      expect.objectContaining({ name: 'late_zero_fmt', type: 'categorical', categories: ['0'], numbers: [0] }),
    ]);
    // 0 and 0.00 are one value in the features table, the blank missing
    const column = load.userFeatures!.find((f) => f.name === 'late_zero_fmt')!.column;
    const flags = await withConnection(load.dbPath, (conn) =>
      queryRows<{ flag: string | null }>(conn, `SELECT DISTINCT "${column}" AS flag FROM features ORDER BY flag`),
    );
    expect(flags.map((row) => row.flag)).toEqual(['0', null]);
    // the flags reach the churn models, Y against a blank, 1 against a gap (0)
    const churn = await trainAndScoreChurn(load.dbPath, load.params, skipped, {
      features: load.userFeatures,
      openFeatureSet: load.openFeatureSet,
    });
    const used = Object.fromEntries(churn.features.map((f) => [f.name, f]));
    expect(used.late_flag).toMatchObject({ type: 'categorical', source: 'user' });
    expect(used.late_one).toMatchObject({ type: 'numeric', source: 'user' });
    expect(used.late_flag.missingShare).toBeCloseTo(used.late_one.missingShare, 6);
    expect(used.late_flag.missingShare).toBeGreaterThan(0.3);
    expect(used.late_flag.importance + used.late_one.importance).toBeGreaterThan(0);
    expect(used.late_zero_fmt).toMatchObject({ type: 'categorical', source: 'user' });
    expect(used.late_zero_fmt.missingShare).toBeCloseTo(used.late_flag.missingShare, 6);
  }, 120_000);
});
