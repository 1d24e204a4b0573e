import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DOUBLE, INTEGER, UTINYINT, listValue, type DuckDBConnection } from '@duckdb/node-api';
import { DecisionTreeClassifier } from 'ml-cart';
import { DataQualityError } from '../domain/errors';
import type { RunParams } from '../domain/params';
import { RISK_BANDS } from '../domain/rules';
import { checkpoint } from './context';
import { queryOne, setVariable, withConnection } from './duckdb';
import { appendColumns, pickRows, readColumns, replaceNaN, type ColumnSet } from './ml/columns';
import { binFeatures, predictProbabilities, trainHistogramTree } from './ml/histogram-tree';
import { classifierMetrics, rocCurve, type ClassifierMetrics } from './ml/metrics';
import { seededRandom, shuffle } from './ml/random';
import { featureImportance, leafRules, type LeafRule } from './ml/tree-rules';
import { churnFeatureSpecs, fillNumericGaps, missingShares, type FeatureUse } from './churn-features';
import { categoryCounts, type FeatureMatrix, type FeatureMeta } from './ml/feature-matrix';
import type { UserFeature } from './user-features';

/** Churn warning signals and stability the tree may split on (features.sql columns). */
export const CHURN_FEATURES = [
  'arpu',
  'mou',
  'dou',
  'sms',
  'frequency',
  'recency_days',
  'payment_delay_avg',
  'complaints_recent',
  'mou_trend',
  'dou_trend',
  'spend_trend',
  'recharge_trend',
  'spend_slope_rel',
  'spend_volatility',
  'tenure_months',
  'contract_months_left',
  'sticky_services',
  'call_circle',
  'stability_score',
] as const;

export interface ChurnSummary {
  modelPath: string;
  trainingRows: number;
  holdoutRows: number;
  holdout: ClassifierMetrics;
  /** Holdout ROC curve, at most 101 points. */
  holdoutRoc: { fpr: number; tpr: number }[];
  /** The riskiest leaves, as readable rules. */
  topRules: LeafRule[];
  featureImportance: Record<string, number>;
  /** Every feature the model was given: source, type, missing share (training rows) and importance. */
  features: FeatureUse[];
  scoredRows: number;
  riskBandCounts: Record<string, number>;
  trainSeconds: number;
  seconds: number;
}

/**
 * Trains the churn tree on last month's subscribers (label: gone this month), measures it on a
 * stratified holdout, and scores this month's subscribers. Writes table
 * `scores(row_idx, churn_score, risk_band)` and the model (ml-cart JSON) beside the database.
 */
export async function trainAndScoreChurn(
  dbPath: string,
  params: RunParams,
  /** Features the input could not support (FeatureSummary.skippedFeatures). */
  skippedFeatures: string[] = [],
  /** The user's own features (load stage), and whether the mapping opened the feature set (then plan and region enter too). */
  user: { features: UserFeature[]; openFeatureSet: boolean } = { features: [], openFeatureSet: false },
): Promise<ChurnSummary> {
  const started = performance.now();
  return withConnection(dbPath, async (conn) => {
    const derived = CHURN_FEATURES.filter((name) => !skippedFeatures.includes(name));
    const specs = await churnFeatureSpecs(conn, derived, user.features, user.openFeatureSet);
    const meta = specs.map((spec) => spec.meta);
    const expressions = specs.map((spec): [string, string] => [spec.meta.name, spec.sql]);
    // training rows need a known outcome: a user's label may be missing for some subscribers
    const counts = await queryOne<{ train: number; score: number; churners: number }>(
      conn,
      `SELECT count(*) FILTER (WHERE purpose = 'train' AND churned_next_month IS NOT NULL) AS train, count(*) FILTER (WHERE purpose = 'score') AS score,
              count(*) FILTER (WHERE churned_next_month) AS churners FROM features`,
    );
    if (counts.train < 10 * params.treeMinLeaf || counts.churners < 10) {
      throw new DataQualityError(
        `too little history to train a churn model: ${counts.train} subscribers last month, ${counts.churners} of them churned ` +
          `(need at least ${10 * params.treeMinLeaf} and 10); does the input hold the month before ${params.month}?`,
      );
    }
    const { training, labels, missing } = await readTrainingSet(conn, expressions, counts.train, meta);
    /** What the tree (and an ensemble) trains on: the columns with their metadata. */
    const matrix: FeatureMatrix = { columns: training.columns, features: meta, rows: training.rows };

    await checkpoint({ stage: 'churn: training' });
    const { trainRows, holdoutRows } = stratifiedSplit(labels, params.holdoutShare, params.seed);
    const trainStarted = performance.now();
    const binned = binFeatures(matrix.columns, undefined, undefined, categoryCounts(matrix.features));
    const model = trainHistogramTree(binned, labels, trainRows, {
      maxDepth: params.treeDepth,
      minLeafSize: params.treeMinLeaf,
    });
    const trainSeconds = (performance.now() - trainStarted) / 1000;
    DecisionTreeClassifier.load(model); // the published model must load in ml-cart (categorical nodes: docs/own-data.md)

    const trainingScores = predictProbabilities(model, training.columns);
    const holdoutScores = pickRows(trainingScores, holdoutRows);
    const holdoutLabels = pickRows(labels, holdoutRows);
    const holdout = classifierMetrics(holdoutScores, holdoutLabels);
    let trainPositives = 0;
    for (const row of trainRows) trainPositives += labels[row];

    await checkpoint({ stage: 'churn: scoring' });
    const current = await readColumns(
      conn,
      expressions,
      "FROM features WHERE purpose = 'score' ORDER BY row_idx",
      counts.score,
    );
    fillNumericGaps(current.columns, meta);
    const scores = predictProbabilities(model, current.columns);
    const riskBandCounts = await writeScores(conn, scores);

    const modelPath = join(dirname(dbPath), 'churn-model.json');
    // the features' metadata (sources, category labels) only where a feature is not derived, so
    // monthly usage without user features keeps its model file as it was
    const described = meta.some((feature) => feature.source === 'user' || feature.categorical);
    await writeFile(
      modelPath,
      JSON.stringify({ ...model, featureNames: training.names, ...(described ? { features: meta } : {}) }) + '\n',
    );
    const importance = featureImportance(model, training.names);
    return {
      modelPath,
      trainingRows: trainRows.length,
      holdoutRows: holdoutRows.length,
      holdout,
      holdoutRoc: rocCurve(holdoutScores, holdoutLabels),
      topRules: leafRules(model, training.names, trainPositives / trainRows.length, meta).slice(0, 5),
      featureImportance: importance,
      features: meta.map((feature, f) => ({
        name: feature.name,
        source: feature.source,
        type: feature.categorical ? 'categorical' : 'numeric',
        missingShare: missing[f],
        importance: importance[feature.name] ?? 0,
      })),
      scoredRows: scores.length,
      riskBandCounts,
      trainSeconds,
      seconds: (performance.now() - started) / 1000,
    };
  });
}

/** The churn features the input supports, as column expressions for readColumns. */
export function churnFeatureExpressions(skippedFeatures: string[]): [string, string][] {
  return CHURN_FEATURES.filter((name) => !skippedFeatures.includes(name)).map((name): [string, string] => [
    name,
    `"${name}"`,
  ]);
}

/**
 * Last month's subscribers with a known outcome, in row order: feature columns (numeric NaN as
 * 0; a categorical NaN stays, the missing category), labels, and each column's missing share.
 */
export async function readTrainingSet(
  conn: DuckDBConnection,
  expressions: [string, string][],
  rows: number,
  meta?: readonly FeatureMeta[],
): Promise<{ training: ColumnSet; labels: Uint8Array; missing: number[] }> {
  const training = await readColumns(
    conn,
    [...expressions, ['label', 'churned_next_month::INTEGER']],
    "FROM features WHERE purpose = 'train' AND churned_next_month IS NOT NULL ORDER BY row_idx",
    rows,
  );
  const labels = Uint8Array.from(training.columns.pop() as Float64Array);
  training.names.pop();
  const missing = missingShares(training.columns);
  if (meta) fillNumericGaps(training.columns, meta);
  else replaceNaN(training);
  return { training, labels, missing };
}

/** Splits row indices so churners and stayers are held out in the same proportion. */
export function stratifiedSplit(
  labels: Uint8Array,
  holdoutShare: number,
  seed: number,
): { trainRows: Uint32Array; holdoutRows: Uint32Array } {
  const random = seededRandom(seed);
  const train: number[] = [];
  const holdout: number[] = [];
  for (const label of [0, 1]) {
    const members = Uint32Array.from(
      labels.reduce<number[]>((acc, value, i) => (value === label ? (acc.push(i), acc) : acc), []),
    );
    shuffle(members, random);
    const cut = Math.round(members.length * holdoutShare);
    members.forEach((row, i) => (i < cut ? holdout : train).push(row));
  }
  return { trainRows: Uint32Array.from(train).sort(), holdoutRows: Uint32Array.from(holdout).sort() };
}

/** The first band (highest first) whose minimum the score reaches. */
function riskBandIndex(score: number): number {
  const index = RISK_BANDS.findIndex((band) => score >= band.minScore);
  return index === -1 ? RISK_BANDS.length - 1 : index;
}

/** Table `scores(row_idx, churn_score, risk_band)`; bands travel as their index in RISK_BANDS and become names in SQL. */
async function writeScores(conn: DuckDBConnection, scores: Float64Array): Promise<Record<string, number>> {
  const bandIndex = new Uint8Array(scores.length);
  const bandCounts: Record<string, number> = Object.fromEntries(RISK_BANDS.map((b) => [b.band, 0]));
  for (let i = 0; i < scores.length; i++) {
    bandIndex[i] = riskBandIndex(scores[i]);
    bandCounts[RISK_BANDS[bandIndex[i]].band] += 1;
  }
  await conn.run('CREATE OR REPLACE TEMP TABLE scored_rows (row_idx INTEGER, churn_score DOUBLE, band UTINYINT)');
  const rowIdx = Int32Array.from({ length: scores.length }, (_, i) => i);
  await appendColumns(
    conn,
    'scored_rows',
    [INTEGER, DOUBLE, UTINYINT],
    [rowIdx, scores, bandIndex],
    'churn: writing scores',
  );
  await setVariable(conn, 'risk_bands', listValue(RISK_BANDS.map((b) => b.band)));
  await conn.run(
    "CREATE OR REPLACE TABLE scores AS SELECT row_idx, churn_score, getvariable('risk_bands')[band + 1] AS risk_band FROM scored_rows",
  );
  await conn.run('DROP TABLE scored_rows');
  return bandCounts;
}
