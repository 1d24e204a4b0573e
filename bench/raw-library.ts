/**
 * One measurement of a raw library on a run's own rows, for bench/run.ts, in a process of its
 * own so the benchmark can stop it at the cap. Reads the rows from a features database (not
 * timed), prints one JSON line.
 *
 *   tsx bench/raw-library.ts kmeans <features.duckdb> <k> <seed>
 *     ml-kmeans (k-means++) on every scored subscriber's standardised clustering features.
 *   tsx bench/raw-library.ts cart <features.duckdb> <rows> <depth> <minLeaf> <holdoutShare> <seed>
 *     ml-cart's own train on <rows> of the run's training rows (seeded sample of the training
 *     split), and segflow's histogram tree on the same rows; both scored on the whole holdout.
 */
import { kmeans } from 'ml-kmeans';
import { DecisionTreeClassifier } from 'ml-cart';
import { churnFeatureExpressions, readTrainingSet, stratifiedSplit } from '../activities/churn';
import { CLUSTER_FEATURES } from '../activities/cluster';
import { queryOne, withConnection } from '../activities/duckdb';
import { readColumns } from '../activities/ml/columns';
import { pickRows, rowNumbers } from '../activities/ml/feature-matrix';
import { binFeatures, predictProbabilities, trainHistogramTree } from '../activities/ml/histogram-tree';
import { inertiaOf, standardisation, standardisedRow } from '../activities/ml/kmeans';
import { classifierMetrics } from '../activities/ml/metrics';
import { sampleIndices, seededRandom } from '../activities/ml/random';

const [job, dbPath, ...rest] = process.argv.slice(2);
const numbers = rest.map(Number);
const seconds = (since: number) => (performance.now() - since) / 1000;

async function rawKMeans(k: number, seed: number) {
  const data = await withConnection(dbPath, async (conn) => {
    const { rows } = await queryOne<{ rows: number }>(
      conn,
      "SELECT count(*) AS rows FROM features WHERE purpose = 'score'",
    );
    return readColumns(
      conn,
      Object.entries(CLUSTER_FEATURES),
      "FROM features WHERE purpose = 'score' ORDER BY row_idx",
      rows,
    );
  });
  const { means, stdDevs } = standardisation(data.columns);
  const points = Array.from({ length: data.rows }, (_, row) => standardisedRow(data.columns, row, means, stdDevs));
  const started = performance.now();
  const fit = kmeans(points, k, { initialization: 'kmeans++', seed });
  const elapsed = seconds(started);
  return {
    rows: data.rows,
    seconds: elapsed,
    iterations: fit.iterations,
    inertia: inertiaOf(points, fit.centroids, fit.clusters),
  };
}

async function rawCart(rows: number, maxDepth: number, minLeaf: number, holdoutShare: number, seed: number) {
  const { training, labels } = await withConnection(dbPath, async (conn) => {
    const { train } = await queryOne<{ train: number }>(
      conn,
      "SELECT count(*) AS train FROM features WHERE purpose = 'train' AND churned_next_month IS NOT NULL",
    );
    return readTrainingSet(conn, churnFeatureExpressions([]), train);
  });
  const { trainRows, holdoutRows } = stratifiedSplit(labels, holdoutShare, seed);
  const subset =
    rows >= trainRows.length
      ? trainRows
      : pickRows(trainRows, sampleIndices(trainRows.length, rows, seededRandom(seed)));
  const columns = training.columns.map((column) => pickRows(column, subset));
  const subsetLabels = pickRows(labels, subset);
  const holdoutColumns = training.columns.map((column) => pickRows(column, holdoutRows));
  const holdoutLabels = pickRows(labels, holdoutRows);

  const cartStarted = performance.now();
  const cart = new DecisionTreeClassifier({ gainFunction: 'gini', maxDepth, minNumSamples: minLeaf, gainThreshold: 0 });
  cart.train(
    Array.from({ length: subset.length }, (_, i) => columns.map((column) => column[i])),
    Array.from(subsetLabels),
  );
  const cartSeconds = seconds(cartStarted);
  const cartScores = Float64Array.from({ length: holdoutRows.length }, (_, i) => {
    const distribution = cart.root.classify(holdoutColumns.map((column) => column[i]));
    return distribution.columns > 1 ? distribution.get(0, 1) : 0;
  });

  const oursStarted = performance.now();
  const model = trainHistogramTree(binFeatures(columns), subsetLabels, rowNumbers(subset.length, Uint32Array), {
    maxDepth,
    minLeafSize: minLeaf,
  });
  const oursSeconds = seconds(oursStarted);
  return {
    rows: subset.length,
    cartSeconds,
    cartAuc: classifierMetrics(cartScores, holdoutLabels).rocAuc,
    oursSeconds,
    oursAuc: classifierMetrics(predictProbabilities(model, holdoutColumns), holdoutLabels).rocAuc,
  };
}

const result =
  job === 'kmeans'
    ? await rawKMeans(numbers[0], numbers[1])
    : await rawCart(numbers[0], numbers[1], numbers[2], numbers[3], numbers[4]);
console.log(JSON.stringify(result));
