import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { listValue } from '@duckdb/node-api';
import { beforeAll, describe, expect, it } from 'vitest';
import { stratifiedSplit, trainAndScoreChurn } from '../../activities/churn';
import type { ChurnSummary } from '../../activities/churn-summary';
import { clusterSubscribers, type ClusterSummary } from '../../activities/cluster';
import { queryRows, setVariable, withConnection } from '../../activities/duckdb';
import {
  combineFeatures,
  computeFeatures,
  computePartitionFeatures,
  type FeatureSummary,
} from '../../activities/features';
import { loadUsage, type LoadSummary } from '../../activities/load';
import { publishSnapshot, type PublishResult } from '../../activities/publish';
import { SUBSCRIBER_COLUMNS } from '../../domain/snapshot-columns';
import { readManifest } from '../../store/snapshots';
import { sha256 } from '../../store/hashing';
import { snapshotSummary } from '../../cli/snapshot-text';
import { reproduceSnapshot } from '../../pipelines/reproduce';
import { TELCO_MAPPING, writeTelcoCsv, type TelcoCustomer } from '../fixtures/telco-customers';
import type { EnsembleExplainer } from '../../activities/stage-outputs';
import { storeIn, tempDir, withStageOutputs } from '../helpers';
import { runPythonJson } from '../python';

/** Fits scikit-learn's tree (one-hot categoricals, same depth and leaf size) and a forest on the same file and split. */
const SKLEARN_SCRIPT = `
import json, sys
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.tree import DecisionTreeClassifier
path, holdout_file, depth, leaf = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
frame = pd.read_csv(path)
y = (frame.pop('Churn') == 'Yes').astype(int).to_numpy()
frame['TotalCharges'] = pd.to_numeric(frame['TotalCharges'], errors='coerce').fillna(0)
X = pd.get_dummies(frame, columns=['Contract', 'PaymentMethod', 'Status'], dtype=float).to_numpy()
holdout = set(json.load(open(holdout_file)))
test = [i for i in range(len(y)) if i in holdout]
train = [i for i in range(len(y)) if i not in holdout]
tree = DecisionTreeClassifier(max_depth=depth, min_samples_leaf=leaf, random_state=0).fit(X[train], y[train])
forest = RandomForestClassifier(n_estimators=200, min_samples_leaf=5, random_state=0, n_jobs=1).fit(X[train], y[train])
print(json.dumps({
  'tree': roc_auc_score(y[test], tree.predict_proba(X[test])[:, 1]),
  'forest': roc_auc_score(y[test], forest.predict_proba(X[test])[:, 1]),
}))
`;

/**
 * An analyst's own file, all of it: one row per customer, no id column, the churn signal in
 * categorical contract and status columns and in minutes split by period, blanks in a charges
 * column. The mapping of docs/own-data.md, no preprocessing; load -> features -> cluster ->
 * churn -> publish.
 */
describe("an analyst's one-row-per-customer file with no id column", () => {
  let dir: string;
  let csv: string;
  let load: LoadSummary;
  let features: FeatureSummary;
  let cluster: ClusterSummary;
  let churn: ChurnSummary;
  let published: PublishResult;

  beforeAll(async () => {
    dir = await tempDir();
    csv = join(dir, 'customers.csv');
    await writeTelcoCsv(csv, { customers: 6_000, seed: 14 });
    const mapping = join(dir, 'mapping.json');
    await writeFile(mapping, JSON.stringify(TELCO_MAPPING));
    const store = storeIn(dir);
    load = await loadUsage(store, { workflowId: 'own-data', runId: 'r1' }, { month: '2026-05', input: csv, mapping });
    features = await computeFeatures(load.dbPath, load.params, {
      format: load.format,
      inputColumns: load.inputColumns,
      userFeatures: load.userFeatures,
    });
    const skipped = features.skippedFeatures.map((s) => s.feature);
    cluster = await clusterSubscribers(load.dbPath, load.params, null, skipped, load.userFeatures);
    churn = await trainAndScoreChurn(load.dbPath, load.params, skipped, {
      features: load.userFeatures,
      openFeatureSet: load.openFeatureSet,
    });
    published = await publishSnapshot(
      store,
      { workflowId: 'own-data', runId: 'r1' },
      { requestedBy: 'test', load, features, cluster, churn },
    );
  }, 120_000);

  it('finds and types the file’s own columns; blanks are missing values, not quarantine reasons', async () => {
    expect(load).toMatchObject({ format: 'snapshot', rowsQuarantined: 0, rowsLoaded: 6_000 });
    const typed = Object.fromEntries(load.userFeatures.map((f) => [f.name, f.type]));
    expect(typed).toMatchObject({
      Contract: 'categorical',
      PaymentMethod: 'categorical',
      Status: 'categorical',
      'Day Mins': 'numeric', // used inside the voice_minutes sum, still a feature of its own
      'CustServ Calls': 'numeric',
      TotalCharges: 'numeric',
    });
    // mapped one-to-one: contract columns, not user features
    for (const mapped of ['tenure', 'MonthlyCharges', 'Complaints', 'Churn']) expect(typed[mapped]).toBeUndefined();
    expect(load.userFeatures.find((f) => f.name === 'Contract')?.categories).toEqual([
      'Month-to-month',
      'One year',
      'Two year',
    ]);
    const skipped = features.skippedFeatures.map((s) => s.feature);
    expect(skipped).toContain('dou'); // no data column in the file
    expect(skipped).not.toContain('mou'); // minutes summed from the periods
    // ids from the file's name and row number; mou is the sum of the four periods
    const [first] = await withConnection(load.dbPath, (conn) =>
      queryRows<{ subscriber_id: string; mou: number; minutes: number }>(
        conn,
        `SELECT f.subscriber_id, f.mou, c."Day Mins" + c."Eve Mins" + c."Night Mins" + c."Intl Mins" AS minutes
         FROM features f, (SELECT * FROM read_csv($csv) LIMIT 1) c
         WHERE f.purpose = 'score' AND f.subscriber_id = 'customers.csv#1'`,
        { csv },
      ),
    );
    expect(first.mou).toBeCloseTo(first.minutes, 6);
  });

  it("publishes the file's own features in subscribers.parquet under the names its rules and reasons use", async () => {
    const file = join(published.path, 'subscribers.parquet');
    const columns = await withConnection(':memory:', (conn) =>
      queryRows<{ column_name: string }>(conn, 'DESCRIBE SELECT * FROM read_parquet($file)', { file }),
    );
    const own = churn.features.filter((f) => f.source === 'user' && f.missingOf === undefined).map((f) => f.name);
    expect(own).toEqual(expect.arrayContaining(['Contract', 'CustServ Calls', 'TotalCharges']));
    const names = columns.map((c) => c.column_name);
    expect(names.slice(0, SUBSCRIBER_COLUMNS.length)).toEqual([...SUBSCRIBER_COLUMNS]);
    expect(names.slice(SUBSCRIBER_COLUMNS.length).sort()).toEqual([...own].sort());
    // every rule's feature is a column there (a missing indicator's, its feature's)
    const missingOf = new Map(churn.features.map((f) => [f.name, f.missingOf ?? f.name]));
    for (const term of churn.topRules.flatMap((rule) => rule.terms))
      expect(names, term.feature).toContain(missingOf.get(term.feature) ?? term.feature);
    // the values as the file holds them: a category's text, a number, a blank number empty
    const [row] = await withConnection(':memory:', (conn) =>
      queryRows<Record<string, unknown>>(
        conn,
        `SELECT s."Contract" = c."Contract" AS contract, s."CustServ Calls" = c."CustServ Calls" AS calls,
                s."TotalCharges" IS NOT DISTINCT FROM TRY_CAST(c."TotalCharges" AS DOUBLE) AS charges,
                count(*) OVER () AS subscribers
         FROM read_parquet($file) s, (SELECT * FROM read_csv($csv, all_varchar = true) LIMIT 1) c
         WHERE s.subscriber_id = 'customers.csv#1'`,
        { file, csv },
      ),
    );
    expect(row).toMatchObject({ contract: true, calls: true, charges: true });
  });

  it("gives the dispatch list the xgboost package's exact SHAP values as reasons, on the categories the models scored", async () => {
    const folder = join(dir, 'store', 'snapshots', '2026-05', 'v1');
    const explainer = JSON.parse(
      await readFile(join(dirname(load.dbPath), 'churn-ensemble-explainer.json'), 'utf8'),
    ) as EnsembleExplainer;
    expect(explainer.meta.filter((feature) => feature.categorical).map((feature) => feature.name)).toEqual(
      expect.arrayContaining(['Contract', 'Status']),
    );
    // the rows as the churn stage read them: its expressions, with its categories' levels bound
    const valuesFile = join(dir, 'explained-values.parquet');
    await withStageOutputs(load.dbPath, async (conn) => {
      for (const [variable, values] of Object.entries(explainer.variables))
        await setVariable(conn, variable, listValue(values));
      await setVariable(conn, 'target', valuesFile);
      await conn.run(
        `COPY (SELECT subscriber_id, ${explainer.expressions.map(([name, sql]) => `(${sql})::DOUBLE AS "${name}"`).join(', ')}
               FROM features WHERE purpose = 'score' ORDER BY row_idx)
         TO (getvariable('target')) (FORMAT parquet)`,
      );
    });
    const theirs = runPythonJson<{ names: string[]; ids: string[]; exact: number[][] }>(
      `
import sys, json, duckdb, numpy as np, xgboost as xgb
booster = xgb.Booster(model_file=sys.argv[1])
names = booster.feature_names
table = duckdb.sql(f"SELECT * FROM read_parquet('{sys.argv[2]}')").fetchnumpy()
x = np.column_stack([np.asarray(table[n], dtype=np.float64) for n in names])
d = xgb.DMatrix(x, feature_names=names, feature_types=booster.feature_types, enable_categorical=True)
print(json.dumps({"names": names, "ids": [str(i) for i in table["subscriber_id"]],
  "exact": booster.predict(d, pred_contribs=True)[:, :-1].tolist()}))
`,
      [join(folder, 'churn_model_xgboost.json'), valuesFile],
    );
    const rowOf = new Map(theirs.ids.map((id, i) => [id, i]));
    const listed = await withConnection(':memory:', (conn) =>
      queryRows<{ subscriber_id: string; churn_reasons: { feature: string; contribution: number }[]; words: string[] }>(
        conn,
        `SELECT s.subscriber_id, s.churn_reasons, s.reason_words AS words
         FROM read_parquet($subscribers) s SEMI JOIN read_parquet($dispatch) d USING (subscriber_id)`,
        { subscribers: join(folder, 'subscribers.parquet'), dispatch: join(folder, 'dispatch.parquet') },
      ),
    );
    expect(listed.length).toBeGreaterThan(100);
    let worst = 0;
    // a feature and its missing indicator are one reason: their SHAP values summed (churn-reasons.ts)
    const unitOf = theirs.names.map((name) => {
      const of = explainer.meta.find((feature) => feature.name === name)?.missingOf;
      return of === undefined ? name : of;
    });
    for (const row of listed) {
      const units = new Map<string, number>();
      theirs.exact[rowOf.get(row.subscriber_id)!].forEach((v, f) =>
        units.set(unitOf[f], (units.get(unitOf[f]) ?? 0) + v),
      );
      const expected = [...units.values()]
        .filter((v) => v > 1e-5)
        .sort((a, b) => b - a)
        .slice(0, 3);
      expect(row.churn_reasons.map((reason) => reason.feature)).toHaveLength(expected.length);
      row.churn_reasons.forEach((reason, slot) => {
        const own = units.get(reason.feature)!;
        worst = Math.max(worst, Math.abs(own - reason.contribution), Math.abs(expected[slot] - reason.contribution));
      });
    }
    expect(worst).toBeLessThan(1e-5);
    // every customer has a contract and a status: a reason never reads them as missing
    expect(listed.flatMap((row) => row.words).filter((words) => /^(Contract|Status): missing$/.test(words))).toEqual(
      [],
    );
  }, 120_000);

  it('a reason on a blank TotalCharges says it is missing, on the dispatch list (exact SHAP) and off it (path)', async () => {
    const folder = join(dir, 'store', 'snapshots', '2026-05', 'v1');
    const explainer = JSON.parse(
      await readFile(join(dirname(load.dbPath), 'churn-ensemble-explainer.json'), 'utf8'),
    ) as EnsembleExplainer;
    const [, totalCharges] = explainer.expressions.find(([name]) => name === 'TotalCharges')!;
    // the customers whose TotalCharges is blank in the file, as the churn stage read them
    const blank = join(dir, 'blank-charges.parquet');
    await withStageOutputs(load.dbPath, async (conn) => {
      await setVariable(conn, 'target', blank);
      await conn.run(
        `COPY (SELECT subscriber_id FROM features WHERE purpose = 'score' AND (${totalCharges}) IS NULL)
         TO (getvariable('target')) (FORMAT parquet)`,
      );
    });
    const reasons = await withConnection(':memory:', (conn) =>
      queryRows<{ listed: boolean; blank: boolean; value: number | null; words: string; customers: number }>(
        conn,
        `SELECT d.subscriber_id IS NOT NULL AS listed, b.subscriber_id IS NOT NULL AS blank,
                r.reason."value" AS "value", r.words, count(*)::INTEGER AS customers
         FROM (SELECT subscriber_id, unnest(churn_reasons) AS reason, unnest(reason_words) AS words
               FROM read_parquet($subscribers)) r
         LEFT JOIN read_parquet($dispatch) d USING (subscriber_id)
         LEFT JOIN read_parquet($blank) b USING (subscriber_id)
         WHERE r.reason.feature = 'TotalCharges' AND (b.subscriber_id IS NOT NULL OR r.reason."value" IS NULL
                                                     OR r.words LIKE '%missing%' OR r.reason."value" = 0)
         GROUP BY ALL ORDER BY ALL`,
        { subscribers: join(folder, 'subscribers.parquet'), dispatch: join(folder, 'dispatch.parquet'), blank },
      ),
    );
    // every reason on TotalCharges a blank customer has reads "missing" with no value, and only theirs do
    // (before, they read "TotalCharges = 0", a charge none of them has)
    expect(reasons.map(({ customers: _, ...reason }) => reason)).toEqual([
      { listed: false, blank: true, value: null, words: 'TotalCharges missing' },
      { listed: true, blank: true, value: null, words: 'TotalCharges missing' },
    ]);
  }, 120_000);

  it('sets "TotalCharges missing" beside TotalCharges, whose blanks the models see as 0, and names it once per subscriber', async () => {
    const used = Object.fromEntries(churn.features.map((f) => [f.name, f]));
    expect(used['TotalCharges'].missingShare).toBeGreaterThan(0);
    expect(used['TotalCharges missing']).toMatchObject({ source: 'user', type: 'numeric', missingShare: 0 });
    // a column without gaps has none
    expect(used['CustServ Calls missing']).toBeUndefined();
    const folder = join(dir, 'store', 'snapshots', '2026-05', 'v1');
    const twice = await withConnection(':memory:', (conn) =>
      queryRows<{ subscriber_id: string }>(
        conn,
        `SELECT subscriber_id FROM read_parquet($subscribers)
         WHERE len(list_distinct(reason_words)) < len(reason_words)
            OR len(list_filter(churn_reasons, r -> r.feature LIKE 'TotalCharges%')) > 1`,
        { subscribers: join(folder, 'subscribers.parquet') },
      ),
    );
    expect(twice).toEqual([]);
  }, 120_000);

  it('reproduces the snapshot byte for byte from its manifest: the user features join the recomputation', async () => {
    const report = await reproduceSnapshot(storeIn(dir), { month: '2026-05', version: 1 });
    expect(report.files.filter((file) => !file.identical)).toEqual([]);
    expect(report.identical).toBe(true);
  }, 120_000);

  it('records the mapping file it read; a mapping edited since is read from the snapshot', async () => {
    const manifest = await readManifest(storeIn(dir), '2026-05', 1);
    const mappingPath = join(dir, 'mapping.json');
    const text = await readFile(mappingPath, 'utf8');
    expect(manifest.mapping).toEqual({ path: mappingPath, sha256: sha256(text) });
    // the snapshot keeps a copy, as read: what the hash stands for after the file is edited
    expect(manifest.outputs.find((output) => output.file === 'mapping.json')?.sha256).toBe(sha256(text));
    expect(await readFile(join(dir, 'store', 'snapshots', '2026-05', 'v1', 'mapping.json'), 'utf8')).toBe(text);
    // and `snapshots show` says which
    expect(snapshotSummary(manifest, {}, true, 'manifest.json')).toContain(
      `  mapping       ${mappingPath} (sha256 ${sha256(text).slice(0, 12)})`,
    );
    // an analyst edits the mapping as they go: the snapshot still reproduces, from its copy
    await writeFile(mappingPath, text.replace('"tenure"', '"MonthlyCharges"'));
    try {
      const report = await reproduceSnapshot(storeIn(dir), { month: '2026-05', version: 1 });
      expect(report).toMatchObject({ identical: true, changes: [] });
      expect(report.notes).toContain(
        `the mapping file ${mappingPath} changed since the run read it: its copy in the snapshot (mapping.json) was read`,
      );
    } finally {
      await writeFile(mappingPath, text);
    }
  }, 120_000);

  it('splits the tree on the categorical column that carries the signal, and prints the rule readably', () => {
    expect(churn.features.find((f) => f.name === 'Contract')).toMatchObject({ source: 'user', type: 'categorical' });
    const top = Object.keys(churn.featureImportance)[0];
    expect(['Contract', 'Status']).toContain(top);
    expect(churn.topRules.map((r) => r.condition).join('\n')).toMatch(/Contract in \{Month-to-month[^}]*\}/);
    const totalCharges = churn.features.find((f) => f.name === 'TotalCharges');
    expect(totalCharges?.missingShare).toBeGreaterThan(0.005);
  });

  it("reaches scikit-learn's decision tree on the same file and split (one-hot categoricals, same depth and leaf size)", async () => {
    // the churn stage's own holdout rows, as row numbers of the file (ids are customers.csv#<row>)
    const rows = await withConnection(load.dbPath, (conn) =>
      queryRows<{ subscriber_id: string; churned: boolean }>(
        conn,
        "SELECT subscriber_id, churned_next_month AS churned FROM features WHERE purpose = 'train' ORDER BY row_idx",
      ),
    );
    const labels = Uint8Array.from(rows, (r) => (r.churned ? 1 : 0));
    const { holdoutRows } = stratifiedSplit(labels, load.params.holdoutShare, load.params.seed);
    const holdout = Array.from(holdoutRows, (i) => Number(rows[i].subscriber_id.split('#')[1]) - 1);
    const holdoutFile = join(dir, 'holdout.json');
    await writeFile(holdoutFile, JSON.stringify(holdout));
    const sklearn = runPythonJson<{ tree: number; forest: number }>(SKLEARN_SCRIPT, [
      csv,
      holdoutFile,
      String(load.params.treeDepth),
      String(load.params.treeMinLeaf),
    ]);
    console.log(
      `own-data example: segflow tree AUC ${churn.tree.holdout.rocAuc.toFixed(4)}, boosted ensemble ${churn.ensemble?.holdout.rocAuc.toFixed(4)}, scikit-learn tree ${sklearn.tree.toFixed(4)}, random forest ${sklearn.forest.toFixed(4)}; top rule: ${churn.topRules[0].condition}`,
    );
    // the readable tree against scikit-learn's tree (churn.holdout is the scoring model's: the ensemble)
    expect(Math.abs(churn.tree.holdout.rocAuc - sklearn.tree)).toBeLessThan(0.01);
  }, 300_000);

  it('names segments from signals the data has: no trend word, no two names apart only by a number', async () => {
    const names = cluster.segments.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).not.toMatch(/declining|growing|\(\d+\)/);
    // no data volumes in this file: no word or offer leans on data usage
    for (const name of names) expect(name).not.toMatch(/data|balanced/);
    for (const segment of cluster.segments) expect(segment.recommendedProduct).not.toMatch(/data package/);
    const manifest = await readManifest(storeIn(dir), '2026-05', 1);
    expect(manifest.metrics.churnFeatures.map((f) => f.name)).toEqual(expect.arrayContaining(['Contract', 'arpu']));
    expect(manifest.skippedFeatures.map((s) => s.feature)).toContain('dou');
  });
});

describe('churn labels from their own file, joined by id', () => {
  it('labels the customers it knows and counts the ids the input does not have', async () => {
    const dir = await tempDir();
    const csv = join(dir, 'customers.csv');
    const customers: TelcoCustomer[] = await writeTelcoCsv(csv, { customers: 2_000, seed: 15, withIds: true });
    const labels = join(dir, 'labels.csv');
    const unknown = Array.from({ length: 25 }, (_, i) => `X${i}`);
    await writeFile(
      labels,
      [
        'customerID,Churn',
        ...customers.map((c) => `${c.id},${c.churn ? 'Yes' : 'No'}`),
        ...unknown.map((id) => `${id},Yes`),
      ].join('\n'),
    );
    const mapping = join(dir, 'mapping.json');
    await writeFile(
      mapping,
      JSON.stringify({
        format: 'snapshot',
        columns: { subscriber_id: 'customerID', spend: 'MonthlyCharges', tenure_months: 'tenure' },
        features: {
          Contract: 'categorical',
          Status: 'categorical',
          'CustServ Calls': 'numeric',
          PaymentMethod: 'skip',
        },
      }),
    );
    const store = storeIn(dir);
    const load = await loadUsage(
      store,
      { workflowId: 'labels', runId: 'r1' },
      {
        month: '2026-05',
        input: csv,
        mapping,
        labels,
      },
    );
    expect(load.labels).toMatchObject({ kind: 'flag', rows: 2_025, unknownIds: 25, idColumn: 'customerID' });
    expect(load.skippedUserFeatures).toEqual([
      { feature: 'PaymentMethod', reason: 'skipped by the mapping' },
      // the object form uses only the columns it lists
      ...['Day Mins', 'Eve Mins', 'Night Mins', 'Intl Mins', 'TotalCharges'].map((feature) => ({
        feature,
        reason: "not listed in the mapping's features",
      })),
    ]);
    // Complaints is the contract's complaints but for case: read as it
    expect(load.columnMatches).toContainEqual({ name: 'complaints', column: 'Complaints', how: 'case' });
    const features = await computeFeatures(load.dbPath, load.params, {
      format: load.format,
      inputColumns: load.inputColumns,
      userFeatures: load.userFeatures,
    });
    expect(features.trainingRows).toBe(2_000);
    const churners = customers.filter((c) => c.churn).length;
    expect(features.trainingChurnRate).toBeCloseTo(churners / 2_000, 10);

    // a labels file marking every subscriber churned would give a model that flags everyone
    await writeFile(labels, ['customerID,Churn', ...customers.map((c) => `${c.id},Yes`)].join('\n'));
    const allChurned = await loadUsage(store, { workflowId: 'labels', runId: 'r2' }, { ...load.params, labels });
    await computeFeatures(allChurned.dbPath, allChurned.params, allChurned);
    await expect(trainAndScoreChurn(allChurned.dbPath, allChurned.params)).rejects.toMatchObject({
      name: 'DataQualityError',
      message: expect.stringContaining(
        `2000 subscribers last month, 2000 of them churned and 0 stayed (need at least 500, 10 x treeMinLeaf 50, with 10 churners and 10 stayers); does ${labels} label the subscribers of the month before 2026-05, churned and stayed`,
      ),
    });
  }, 60_000);
});

describe('user features across partitions', () => {
  it('gives the same features table with three partitions as with one (row-number ids hash by file row)', async () => {
    const dir = await tempDir();
    const csv = join(dir, 'customers.csv');
    await writeTelcoCsv(csv, { customers: 1_500, seed: 16 });
    const mapping = join(dir, 'mapping.json');
    await writeFile(mapping, JSON.stringify(TELCO_MAPPING));
    const store = storeIn(dir);
    const params = { month: '2026-05', input: csv, mapping };
    const featureRows = async (load: LoadSummary) =>
      withConnection(load.dbPath, (conn) =>
        queryRows(conn, 'SELECT * EXCLUDE (row_idx) FROM features ORDER BY purpose, subscriber_id'),
      );
    const single = await loadUsage(store, { workflowId: 'one', runId: 'r' }, params, 1);
    await computeFeatures(single.dbPath, single.params, single);
    const split = await loadUsage(store, { workflowId: 'three', runId: 'r' }, params, 3);
    const parts = [];
    for (const path of split.partitionDbPaths) parts.push(await computePartitionFeatures(path, split.params, split));
    await combineFeatures(split.dbPath, split.partitionDbPaths, split.params, split, parts);
    const [a, b] = [await featureRows(single), await featureRows(split)];
    expect(a).toHaveLength(3_000); // train and score rows of a snapshot
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(a[0]).toHaveProperty('user_0');
  }, 120_000);
});

describe('row-number ids', () => {
  it("number a CSV's rows in the file's order, the same on every run", async () => {
    const dir = await tempDir();
    const csv = join(dir, 'big.csv');
    // large enough that DuckDB numbers rows on several threads; position is the row's place in the file
    await withConnection(':memory:', async (conn) => {
      await setVariable(conn, 'target', csv);
      await conn.run(`COPY (SELECT range AS position, 10 + range % 7 AS charges, range % 2 = 0 AS gone FROM range(300000))
                      TO (getvariable('target')) (HEADER)`);
    });
    const mapping = join(dir, 'mapping.json');
    await writeFile(
      mapping,
      JSON.stringify({
        format: 'snapshot',
        columns: { subscriber_id: { rowNumber: true }, spend: 'charges', churn_label: 'gone' },
        features: { position: 'numeric' },
      }),
    );
    const load = await loadUsage(
      storeIn(dir),
      { workflowId: 'rows', runId: 'r' },
      { month: '2026-05', input: csv, mapping },
    );
    const [{ misplaced }] = await withConnection(load.dbPath, (conn) =>
      queryRows<{ misplaced: number }>(
        conn,
        "SELECT count(*) FILTER (WHERE split_part(subscriber_id, '#', 2)::BIGINT - 1 <> user_0) AS misplaced FROM user_feature_rows",
      ),
    );
    expect(misplaced).toBe(0);
  }, 120_000);
});
