import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { DOUBLE, INTEGER, UTINYINT, listValue, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api';
import { DecisionTreeClassifier } from 'ml-cart';
import { DataQualityError, InvalidParamsError } from '../domain/errors';
import { DEFAULT_BOOST_MAX_TRAINING_ROWS, type RunParams } from '../domain/params';
import type { EnsembleTask } from './ml/ensemble';
import { RISK_BANDS } from '../domain/rules';
import { tooLittleHistory } from '../domain/training-history';
import { reasonTable, writeReasons } from './churn-reasons';
import { checkpoint } from './context';
import { queryOne, readSql, setVariable, withReadOnlyConnection, writeParquetView } from './duckdb';
import { appendColumnsTable, readColumns, releaseColumns, replaceNaN, type ColumnSet } from './ml/columns';
import type { BoostedModel } from './ml/boosted-model';
import { boostedImportance, trainingShape, type BoostingOptions } from './ml/boosting';
import { brierScore, reliabilityCurve } from './ml/calibration';
import { EnsembleThreads, type EnsembleHoldout } from './ml/ensemble-threads';
import { kernelBytes, KERNEL_MEMORY_LIMIT } from './ml/kernel';
import { trainingRegions } from './ml/training-memory';
import { binFeatures, predictProbabilities, trainHistogramTree } from './ml/histogram-tree';
import { classifierMetrics, rocCurve } from './ml/metrics';
import { xgboostModelText } from './ml/xgboost-export';
import { seededRandom, shuffle } from './ml/random';
import { featureImportance, leafCounts, leafRules } from './ml/tree-rules';
import {
  churnFeatureSpecs,
  derivedChurnFeatures,
  fillNumericGaps,
  missingIndicators,
  missingShares,
  indicatorFolds,
  reasonSlots,
  type NumericGaps,
} from './churn-features';
import type { ChurnSummary, EnsembleSummary, ModelEvaluation } from './churn-summary';
import { categoryCounts, pickRows, rowNumbers, type FeatureMeta } from './ml/feature-matrix';
import type { UserFeature } from './user-features';
import {
  ensembleCodeHash,
  ensembleKey,
  rowsDigest,
  findEnsemble,
  holdsEnsembleFor,
  type EnsembleReuse,
  restoreScoredOutput,
  scoredOutputKey,
  type ScoringRows,
  storeEnsemble,
  storeScoredOutput,
  findTree,
  storeTree,
  treeKey,
  type TreeTask,
} from './ensemble-cache';
import { holdoutFile, scoredTableFile, writeExplainer, type ExplainerCache } from './stage-outputs';
import { featuresFile } from '../store/layout';
import { hashFile } from '../store/hashing';
import type { StageCacheAccess, StageCacheUse } from '../store/artifacts';

export { CHURN_FEATURES } from '../domain/churn-features';

/** Reasons kept per scored subscriber. */
export const CHURN_REASONS = 3;

/** The readable tree as trainHistogramTree returns it and churn-model.json holds it (ml-cart's format). */
type TreeModel = ReturnType<typeof trainHistogramTree>;
/** What the holdout said of the readable tree, stored beside it (ensemble-cache.ts). */
type TreeEvaluation = Omit<ModelEvaluation, 'trainSeconds'>;
/** The stage cache, the readable tree's key there, and what looking it up found. */
interface TreeLookup {
  access: StageCacheAccess;
  key: string;
  found: Awaited<ReturnType<typeof findTree<TreeModel, TreeEvaluation>>>;
}

/**
 * Trains the churn models on last month's subscribers (label: gone this month): the readable
 * tree and (by default) a boosted ensemble in worker threads (trained beside the tree, scored on
 * two threads), both measured on one stratified holdout, and scores this month's subscribers with
 * the chosen one. Reads the run database without writing it and leaves
 * `scores(row_idx, churn_score, risk_band)` and `churn_reasons(row_idx, churn_reasons,
 * reason_words)` as Parquet files in the run folder (activities/stage-outputs.ts), and the models
 * (ml-cart JSON, XGBoost JSON) beside the database.
 */
export async function trainAndScoreChurn(
  dbPath: string,
  params: RunParams,
  /** Features the input could not support (FeatureSummary.skippedFeatures). */
  skippedFeatures: string[] = [],
  /** The user's own features (load stage), and whether the mapping opened the feature set (then plan and region enter too). */
  user: { features: UserFeature[]; openFeatureSet: boolean } = { features: [], openFeatureSet: false },
  cache?: StageCacheAccess,
): Promise<ChurnSummary> {
  // a month with a stored ensemble is most likely an analyst's rerun, which reuses it and needs
  // no thread; otherwise the first thread starts now, ready by the time the ensemble trains
  const threads =
    params.churnModel === 'boosted'
      ? new EnsembleThreads('churn: boosted ensemble', {
          startNow: !(cache?.allowed && (await holdsEnsembleFor(cache.store, params.month))),
          codeHash: ensembleCodeHash(),
        })
      : null;
  try {
    return await trainAndScore(dbPath, params, skippedFeatures, user, threads, cache);
  } finally {
    await threads?.terminate();
  }
}

async function trainAndScore(
  dbPath: string,
  params: RunParams,
  skippedFeatures: string[],
  user: { features: UserFeature[]; openFeatureSet: boolean },
  threads: EnsembleThreads | null,
  cache: StageCacheAccess | undefined,
): Promise<ChurnSummary> {
  const started = performance.now();
  return withReadOnlyConnection(dbPath, async (conn) => {
    const derived = derivedChurnFeatures(skippedFeatures);
    const given = await churnFeatureSpecs(conn, derived, user.features, user.openFeatureSet);
    // training rows need a known outcome: a user's label may be missing for some subscribers
    const counts = await queryOne<{ train: number; score: number; churners: number }>(
      conn,
      await readSql(import.meta.url, './churn/row_counts.sql'),
    );
    // both outcomes: a model of churners alone (a labels file marking everyone) would flag every subscriber
    const stayers = counts.train - counts.churners;
    if (counts.train < 10 * params.treeMinLeaf || counts.churners < 10 || stayers < 10)
      throw new DataQualityError(tooLittleHistory(counts, params));
    const read = await readTrainingSet(
      conn,
      given.map((spec): [string, string] => [spec.meta.name, spec.sql]),
      counts.train,
      given.map((spec) => spec.meta),
    );
    const { labels } = read;
    // a column of the user's with no value in the training month teaches the models nothing: left out, said
    const unused = given.map((spec, f) => spec.meta.source === 'user' && read.missing[f] === 1);
    const kept = given.flatMap((_, f) => (unused[f] ? [] : [f]));
    const unusedFeatures = given
      .filter((_, f) => unused[f])
      .map((spec) => ({ feature: spec.meta.name, reason: 'no value in the training month' }));
    const indicators = missingIndicators(
      kept.map((f) => given[f]),
      kept.map((f) => read.missing[f]),
      given.map((spec) => spec.meta.name),
      kept.map(
        (f) =>
          given[f].meta.source === 'user' &&
          read.missing[f] > 0 &&
          oneValueWhereGiven(read.training.columns[f], read.gaps?.[f]),
      ),
    );
    const indicated = new Set(indicators.map((spec) => spec.meta.missingOf));
    const specs = [
      ...kept.map((f) =>
        indicated.has(given[f].meta.name) ? { ...given[f], meta: { ...given[f].meta, gaps: true as const } } : given[f],
      ),
      ...indicators,
    ];
    const meta = specs.map((spec) => spec.meta);
    const expressions = specs.map((spec): [string, string] => [spec.meta.name, spec.sql]);
    // what the expressions read besides the features table, for publishing to read them again
    const variables = Object.fromEntries(
      specs.flatMap((spec) => (spec.levels ? [[spec.levels.variable, spec.levels.values]] : [])),
    );
    const missing = [...kept.map((f) => read.missing[f]), ...indicators.map(() => 0)];
    const training: ColumnSet = {
      names: [...kept.map((f) => read.training.names[f]), ...indicators.map((spec) => spec.meta.name)],
      columns: [
        ...kept.map((f) => read.training.columns[f]),
        ...indicators.map((spec) =>
          indicatorColumn(read.gaps?.[given.findIndex((g) => g.meta.name === spec.meta.missingOf)], read.training.rows),
        ),
      ],
      rows: read.training.rows,
    };

    const { trainRows, holdoutRows } = stratifiedSplit(labels, params.holdoutShare, params.seed);
    // the ensemble trains in its thread while this one trains the tree and reads this month's rows
    const task = ensembleTask(training.columns, labels, trainRows, params, meta);
    // both models' keys cover the same rows (unless the ensemble trains on a sample): hashed once
    const rows = cache ? rowsDigest(training.columns, labels) : '';
    const sameRows = task.columns === training.columns;
    const cachedEnsemble =
      threads && cache
        ? await findEnsemble(cache.store, ensembleKey(task, sameRows ? rows : undefined), cache.allowed)
        : null;
    const treeTask: TreeTask = {
      columns: training.columns,
      labels,
      trainRows,
      holdoutRows,
      options: { maxDepth: params.treeDepth, minLeafSize: params.treeMinLeaf },
      features: meta,
    };
    let storedTree: TreeLookup | null = null;
    if (cache) {
      const key = treeKey(treeTask, rows);
      storedTree = { access: cache, key, found: await findTree<TreeModel, TreeEvaluation>(cache, key) };
    }
    // after the lookups, which report checking a stored ensemble or tree as a step of their own
    await checkpoint({ stage: 'churn: training' });
    if (cachedEnsemble?.trained) threads?.useTrained(cachedEnsemble.trained);
    else if (threads) {
      assertEnsembleFits(task.labels.length, meta.length, task.trainRows.length, task.options);
      threads.train(task);
    }
    const holdoutLabels = pickRows(labels, holdoutRows);
    const { model, tree, holdoutScores, treeCache } = await readableTree(
      treeTask,
      holdoutLabels,
      storedTree,
      params.month,
    );
    const { trainSeconds } = tree;
    // before scoring lets go of the training columns
    const heldOutLeaves = leafCounts(model, training.columns, holdoutRows, labels);
    let trainPositives = 0;
    for (const row of trainRows) trainPositives += labels[row];

    await checkpoint({ stage: 'churn: scoring' });
    /** This month's rows, gap-filled as the training rows (read only where they are scored), and the gaps filled. */
    const readCurrent = async () => {
      const current = await readColumns(
        conn,
        expressions,
        "FROM features WHERE purpose = 'score' ORDER BY row_idx",
        counts.score,
      );
      const gaps = fillNumericGaps(current.columns, meta);
      return { current, gaps };
    };

    const modelPath = join(dirname(dbPath), 'churn-model.json');
    // the features' metadata (sources, category labels) only where a feature is not derived, so
    // monthly usage without user features keeps its model file as it was
    const described = meta.some((feature) => feature.source === 'user' || feature.categorical);
    await writeFile(
      modelPath,
      JSON.stringify({ ...model, featureNames: training.names, ...(described ? { features: meta } : {}) }) + '\n',
    );
    let scored: { ensemble: EnsembleSummary | null; scoredRows: number; riskBandCounts: Record<string, number> };
    if (threads) {
      scored = await scoreWithEnsemble(conn, threads, {
        dbPath,
        month: params.month,
        training,
        ensembleRows: task.trainRows.length,
        holdoutRows,
        holdoutLabels,
        scoring: { expressions, rows: counts.score },
        variables,
        readCurrent,
        meta,
        cache,
        cachedEnsemble,
      });
    } else {
      const { current } = await readCurrent();
      const scores = predictProbabilities(model, current.columns);
      releaseColumns(training, current);
      await writeReasons(conn, reasonTable(null, current, meta), scoredTableFile(dirname(dbPath), 'churn_reasons'));
      scored = {
        ensemble: null,
        scoredRows: scores.length,
        riskBandCounts: await writeScores(conn, scores, dirname(dbPath)),
      };
    }
    const { scoredRows, riskBandCounts } = scored;
    await writeHoldout(
      conn,
      dirname(dbPath),
      { rows: holdoutRows, labels: holdoutLabels, treeScores: holdoutScores },
      threads !== null,
    );
    const ensemble =
      scored.ensemble && task.sampledFrom
        ? { ...scored.ensemble, trainingSample: { rows: task.trainRows.length, of: task.sampledFrom } }
        : scored.ensemble;
    const scoring = ensemble ?? tree;
    const importance = featureImportance(model, training.names);
    return {
      model: params.churnModel,
      modelPath,
      trainingRows: trainRows.length,
      holdoutRows: holdoutRows.length,
      holdout: scoring.holdout,
      holdoutRoc: scoring.holdoutRoc,
      tree,
      ensemble,
      topRules: leafRules(model, training.names, trainPositives / trainRows.length, meta, heldOutLeaves).slice(0, 5),
      featureImportance: importance,
      features: meta.map((feature, f) => ({
        name: feature.name,
        source: feature.source,
        type: feature.categorical ? 'categorical' : 'numeric',
        missingShare: missing[f],
        importance: (ensemble?.featureImportance ?? importance)[feature.name] ?? 0,
        ...(feature.missingOf !== undefined ? { missingOf: feature.missingOf } : {}),
      })),
      ...(unusedFeatures.length > 0 ? { unusedFeatures } : {}),
      scoredRows,
      riskBandCounts,
      trainSeconds,
      ...(treeCache ? { treeCache } : {}),
      seconds: (performance.now() - started) / 1000,
    };
  });
}

/**
 * The readable tree and its holdout evaluation: the stored ones (`cache.found`, from findTree),
 * or trained and measured here and, with a stage cache, stored under `cache.key` for later runs.
 */
async function readableTree(
  task: TreeTask,
  holdoutLabels: Uint8Array,
  /** The stage cache, the tree's key and what looking it up found (none for a reproduction). */
  cache: TreeLookup | null,
  month: string,
): Promise<{ model: TreeModel; tree: ModelEvaluation; holdoutScores: Float64Array; treeCache?: StageCacheUse }> {
  const stored = cache?.found.tree;
  if (cache && stored) {
    const { artifact, reason } = cache.found;
    DecisionTreeClassifier.load(stored.model); // as when it was trained: the published model must load in ml-cart
    const treeCache = { key: cache.key, reused: artifact ? [artifact] : [], reason, stored: [] };
    // for the published holdout: a walk of the held-out rows, milliseconds
    const holdoutScores = predictProbabilities(stored.model, pickColumns([...task.columns], task.holdoutRows));
    return { model: stored.model, tree: { ...stored.evaluation, trainSeconds: 0 }, holdoutScores, treeCache };
  }
  const trainStarted = performance.now();
  const binned = binFeatures([...task.columns], undefined, undefined, categoryCounts(task.features));
  const model = trainHistogramTree(binned, task.labels, task.trainRows, task.options);
  const trainSeconds = (performance.now() - trainStarted) / 1000;
  DecisionTreeClassifier.load(model); // the published model must load in ml-cart (categorical nodes: docs/own-data.md)
  const holdoutScores = predictProbabilities(model, pickColumns([...task.columns], task.holdoutRows));
  const evaluation = {
    holdout: classifierMetrics(holdoutScores, holdoutLabels),
    holdoutRoc: rocCurve(holdoutScores, holdoutLabels),
  };
  const tree = { ...evaluation, trainSeconds };
  if (!cache) return { model, tree, holdoutScores };
  const kept = await storeTree(cache.access, cache.key, month, { model, evaluation }, task.trainRows.length);
  const treeCache = { key: cache.key, reused: [], reason: cache.found.reason, stored: [kept] };
  return { model, tree, holdoutScores, treeCache };
}

/**
 * Scores this month's rows with the ensemble (trained in its thread, or taken from the stage
 * cache) and writes the scores and churn_reasons tables; or, when the cache holds what scoring
 * this ensemble on these rows wrote, copies those tables in. Stores what it computed for later runs.
 */
async function scoreWithEnsemble(
  conn: DuckDBConnection,
  threads: EnsembleThreads,
  input: {
    dbPath: string;
    month: string;
    training: ColumnSet;
    /** The rows the ensemble trains on (ensembleTask): the stored ensemble's row count. */
    ensembleRows: number;
    holdoutRows: Uint32Array;
    holdoutLabels: Uint8Array;
    /** What readCurrent reads (the stored scores' key: ensemble-cache.ts). */
    scoring: Omit<ScoringRows, 'features'>;
    /** The session variables the expressions read (categorical levels). */
    variables: Record<string, string[]>;
    readCurrent: () => Promise<{ current: ColumnSet; gaps: NumericGaps }>;
    meta: readonly FeatureMeta[];
    cache: StageCacheAccess | undefined;
    cachedEnsemble: EnsembleReuse | null;
  },
): Promise<{ ensemble: EnsembleSummary; scoredRows: number; riskBandCounts: Record<string, number> }> {
  const { dbPath, training, cache, cachedEnsemble } = input;
  const slots = reasonSlots(input.meta, CHURN_REASONS);
  const scoredKey = cachedEnsemble
    ? scoredOutputKey(
        cachedEnsemble.key,
        {
          features: cache?.featuresKey
            ? `stage:${cache.featuresKey}`
            : `file:${(await hashFile(featuresFile(dbPath))).sha256}`,
          ...input.scoring,
        },
        input.meta,
        slots,
      )
    : null;
  const scored: ScoredFeatures = {
    expressions: input.scoring.expressions,
    variables: input.variables,
    meta: input.meta,
    ...(cache && scoredKey ? { cache: { access: cache, scoredKey, month: input.month } } : {}),
  };
  const restored =
    cache?.allowed && cachedEnsemble?.trained && scoredKey
      ? await restoreScoredOutput<EnsembleEvaluation>(conn, cache.store, scoredKey, dirname(dbPath))
      : null;
  if (cachedEnsemble?.trained && scoredKey && restored && 'output' in restored) {
    await checkpoint({ stage: 'churn: stored scores' });
    const { evaluation, scoredRows, riskBandCounts } = restored.output;
    const ensemble: EnsembleSummary = {
      ...evaluation,
      modelPath: await writeEnsembleModel(dbPath, cachedEnsemble.trained.model, scored),
      trainSeconds: 0,
      scoreSeconds: 0,
      cache: {
        key: cachedEnsemble.key,
        scoredKey,
        reused: [cachedEnsemble.artifact, restored.artifact].filter((artifact) => artifact !== null),
        reason: `${cachedEnsemble.reason}; this month's rows and scoring code unchanged`,
        stored: [],
      },
    };
    return { ensemble, scoredRows, riskBandCounts };
  }

  const { current, gaps } = await input.readCurrent();
  const { result, meanwhile: evaluation } = await threads.score(
    {
      columns: training.columns,
      holdoutRows: input.holdoutRows,
      scoreColumns: current.columns,
      reasons: slots,
      foldInto: indicatorFolds(current.names, input.meta),
    },
    (holdout) => evaluateEnsemble(dbPath, holdout, scored, input.holdoutLabels),
  );
  const ensemble: EnsembleSummary = {
    ...evaluation,
    ...(cachedEnsemble?.trained ? { trainSeconds: 0 } : {}),
    scoreSeconds: result.scoreSeconds,
    featureImportance: boostedImportance(result.model, training.names),
  };
  const reasons = reasonTable(
    {
      features: result.reasonFeatures,
      contributions: result.reasonContributions,
      k: slots,
    },
    current,
    input.meta,
    undefined,
    gaps,
  );
  await writeEnsembleHoldout(conn, dirname(dbPath), input.holdoutRows, result.holdoutCalibrated);
  // what is left is DuckDB's work, which needs the memory of the threads (their kernels' copies
  // and the shared training columns) and of the columns this thread read (docs/benchmark.md,
  // "10M, session 16")
  await threads.terminate();
  releaseColumns(training, current);
  await writeReasons(conn, reasons, scoredTableFile(dirname(dbPath), 'churn_reasons'));
  const scoredRows = result.scores.length;
  const riskBandCounts = await writeScores(conn, result.scores, dirname(dbPath));
  if (cache && cachedEnsemble && scoredKey) {
    const { modelPath: _path, trainSeconds: _train, scoreSeconds: _score, ...stable } = ensemble;
    const output = { evaluation: stable, riskBandCounts, scoredRows };
    const { store, run } = cache;
    ensemble.cache = {
      key: cachedEnsemble.key,
      scoredKey,
      reused: cachedEnsemble.artifact ? [cachedEnsemble.artifact] : [],
      reason:
        restored && 'missing' in restored
          ? `${cachedEnsemble.reason}; scores: ${restored.missing}`
          : cachedEnsemble.reason,
      stored: [
        ...(cachedEnsemble.trained
          ? []
          : [await storeEnsemble(store, run, cachedEnsemble.key, input.month, result, input.ensembleRows)]),
        await storeScoredOutput(store, run, scoredKey, input.month, output, dirname(dbPath)),
      ],
    };
  }
  return { ensemble, scoredRows, riskBandCounts };
}

/**
 * Stops a boosted run whose training rows would not fit the ensemble's kernel memory (4 GiB, at
 * ~136 bytes per training row with 19 features and a quarter held out: some 31M training rows,
 * 41M subscribers last month) with what to do instead, before any thread starts; retrying cannot
 * help.
 */
export function assertEnsembleFits(
  rows: number,
  features: number,
  trainRows: number,
  options: Pick<BoostingOptions, 'maxDepth' | 'validationShare'>,
): void {
  const bytes = kernelBytes(trainingRegions(trainingShape(rows, features, trainRows, options)));
  if (bytes <= KERNEL_MEMORY_LIMIT) return;
  throw new InvalidParamsError(
    `churnModel 'boosted' cannot train on ${trainRows} rows of ${features} features: its WebAssembly memory ` +
      `would need ${(bytes / 2 ** 30).toFixed(1)} GiB, more than the 4 GiB one WebAssembly memory can hold. ` +
      "Run with churnModel 'tree' (the readable tree alone), or on a sample of subscribers.",
  );
}

/** Below this many training rows a histogram helper thread costs more to start than it saves. */
const HELPER_THREAD_ROWS = 50_000;

/** The ensemble's settings from the run's parameters (the benchmark trains with them alone too). */
export function boostingOptions(params: RunParams, meta: readonly FeatureMeta[], trainRows: number): BoostingOptions {
  return {
    trees: params.boostTrees,
    maxDepth: params.boostDepth,
    learningRate: params.boostLearningRate,
    minLeafSize: Math.max(1, Math.round(params.treeMinLeaf / 2)),
    rowSubsample: params.boostRowSubsample,
    featureSubsample: params.boostFeatureSubsample,
    seed: params.seed,
    categorical: meta.map((feature) => feature.categorical),
    // the model is the same either way (histograms.ts): a second core only makes it sooner
    threads: trainRows >= HELPER_THREAD_ROWS && availableParallelism() > 1 ? 2 : 1,
  };
}

function pickColumns(columns: Float64Array[], rows: Uint32Array): Float64Array[] {
  return columns.map((column) => pickRows(column, rows));
}

/** The scored rows' features: how each is read from the features table, and what it is. */
interface ScoredFeatures {
  expressions: [string, string][];
  variables: Record<string, string[]>;
  meta: readonly FeatureMeta[];
  /** Where publishing may find and store the dispatch list's exact reasons for these scores. */
  cache?: ExplainerCache;
}

/**
 * The ensemble as it is published, XGBoost's JSON format, beside the database; and what
 * publishing reads to explain the dispatch list's subscribers exactly (dispatch-reasons.ts).
 */
async function writeEnsembleModel(dbPath: string, model: BoostedModel, features: ScoredFeatures): Promise<string> {
  const modelPath = join(dirname(dbPath), 'churn-model-xgboost.json');
  await writeFile(
    modelPath,
    xgboostModelText(
      model,
      features.expressions.map(([name]) => name),
    ) + '\n',
  );
  await writeExplainer(dirname(dbPath), {
    model,
    expressions: features.expressions,
    variables: features.variables,
    meta: [...features.meta],
    reasons: CHURN_REASONS,
    ...(features.cache ? { cache: features.cache } : {}),
  });
  return modelPath;
}

/** What scoring measures on the holdout, before and after calibration (stored with the scores for reuse). */
type EnsembleEvaluation = Omit<EnsembleSummary, 'modelPath' | 'trainSeconds' | 'scoreSeconds' | 'cache'>;

/** Writes the XGBoost model file and measures the ensemble on the holdout, before and after calibration. */
async function evaluateEnsemble(
  dbPath: string,
  result: EnsembleHoldout,
  features: ScoredFeatures,
  holdoutLabels: Uint8Array,
): Promise<Omit<EnsembleSummary, 'featureImportance' | 'scoreSeconds'>> {
  return {
    modelPath: await writeEnsembleModel(dbPath, result.model, features),
    holdout: classifierMetrics(result.holdoutCalibrated, holdoutLabels),
    holdoutRoc: rocCurve(result.holdoutCalibrated, holdoutLabels),
    trainSeconds: result.trainSeconds,
    trees: result.bestRound,
    calibration: { method: 'platt', ...result.calibration },
    brier: {
      uncalibrated: brierScore(result.holdoutUncalibrated, holdoutLabels),
      calibrated: brierScore(result.holdoutCalibrated, holdoutLabels),
    },
    reliability: reliabilityCurve(result.holdoutCalibrated, holdoutLabels),
  };
}

/** The churn features the input supports, as column expressions for readColumns. */
export function churnFeatureExpressions(skippedFeatures: string[]): [string, string][] {
  return derivedChurnFeatures(skippedFeatures).map((name): [string, string] => [name, `"${name}"`]);
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
): Promise<{ training: ColumnSet; labels: Uint8Array; missing: number[]; gaps?: NumericGaps }> {
  // shared: the ensemble's thread trains on them without a copy (1.2 GB at 10M subscribers)
  const training = await readColumns(
    conn,
    [...expressions, ['label', 'churned_next_month::INTEGER']],
    "FROM features WHERE purpose = 'train' AND churned_next_month IS NOT NULL ORDER BY row_idx",
    rows,
    { shared: true },
  );
  const labels = Uint8Array.from(training.columns.pop() as Float64Array);
  training.names.pop();
  const missing = missingShares(training.columns);
  if (!meta) {
    replaceNaN(training);
    return { training, labels, missing };
  }
  return { training, labels, missing, gaps: fillNumericGaps(training.columns, meta) };
}

/**
 * Whether the column holds one value other than 0 on every row but its gaps (a flag written 1 or
 * blank): the value itself says whether it is there. Not a 0 (a flag declared "numeric" written
 * 0 or blank): the gaps read as 0 too, so only an indicator tells them apart.
 */
function oneValueWhereGiven(column: Float64Array, gapRows: Uint32Array | undefined): boolean {
  let first: number | undefined;
  for (let row = 0, gap = 0; row < column.length; row++) {
    if (gapRows !== undefined && gap < gapRows.length && gapRows[gap] === row) {
      gap++;
      continue;
    }
    if (first === undefined) first = column[row];
    else if (column[row] !== first) return false;
  }
  return first !== 0;
}

/** 1 at the rows whose value was missing (`gapRows`, from fillNumericGaps), else 0; in shared memory as the training columns are. */
function indicatorColumn(gapRows: Uint32Array | undefined, rows: number): Float64Array {
  const column = new Float64Array(new SharedArrayBuffer(rows * Float64Array.BYTES_PER_ELEMENT));
  for (const row of gapRows ?? []) column[row] = 1;
  return column;
}

/** Splits row indices so churners and stayers are held out in the same proportion. */
export function stratifiedSplit(
  labels: Uint8Array,
  holdoutShare: number,
  seed: number,
): { trainRows: Uint32Array; holdoutRows: Uint32Array } {
  const { taken, left } = stratifiedCut(
    labels,
    rowNumbers(labels.length, Uint32Array),
    holdoutShare,
    seededRandom(seed),
  );
  return { trainRows: left, holdoutRows: taken };
}

/**
 * `share` of the (distinct) `rows` of each label, drawn at random, and the rows of either label
 * left; both ascending. Each label's rows in the order of `rows` are shuffled and the first
 * `share` of them taken. Typed arrays and a mark per row, no sort: at 6M rows the arrays of
 * numbers and their sort took 2.4 s of the churn stage before the ensemble could start.
 */
export function stratifiedCut(
  labels: Uint8Array,
  rows: Uint32Array,
  share: number,
  random: () => number,
): { taken: Uint32Array; left: Uint32Array } {
  const LEFT = 1;
  const TAKEN = 2;
  const marks = new Uint8Array(labels.length);
  let members = 0;
  let taken = 0;
  for (const label of [0, 1]) {
    let size = 0;
    for (let i = 0; i < rows.length; i++) if (labels[rows[i]] === label) size++;
    const ofLabel = new Uint32Array(size);
    for (let i = 0, m = 0; i < rows.length; i++) if (labels[rows[i]] === label) ofLabel[m++] = rows[i];
    shuffle(ofLabel, random);
    const cut = Math.round(size * share);
    for (let i = 0; i < size; i++) marks[ofLabel[i]] = i < cut ? TAKEN : LEFT;
    members += size;
    taken += cut;
  }
  const out = { taken: new Uint32Array(taken), left: new Uint32Array(members - taken) };
  for (let row = 0, t = 0, l = 0; row < marks.length; row++) {
    if (marks[row] === TAKEN) out.taken[t++] = row;
    else if (marks[row] === LEFT) out.left[l++] = row;
  }
  return out;
}

/** Mixed into the seed for the ensemble's sample, so it draws apart from the holdout split. */
const SAMPLE_STREAM = 0x5eed;

/**
 * What the ensemble trains on: every training row, or above `boostMaxTrainingRows` a seeded
 * sample of them with each label's share kept (at 10M subscribers, a third of the 6M training
 * rows: the holdout AUC 0.9050 against 0.9056, docs/churn-models.md). A sample's columns are
 * copied, into shared memory (posted to the ensemble's thread without a copy), so binning and the
 * training memory hold the sample only. `sampledFrom` is the training rows' count when sampled.
 */
export function ensembleTask(
  columns: Float64Array[],
  labels: Uint8Array,
  trainRows: Uint32Array,
  params: RunParams,
  meta: readonly FeatureMeta[],
): EnsembleTask & { sampledFrom?: number } {
  const limit = params.boostMaxTrainingRows ?? DEFAULT_BOOST_MAX_TRAINING_ROWS;
  if (trainRows.length <= limit)
    return { columns, labels, trainRows, options: boostingOptions(params, meta, trainRows.length) };
  const share = limit / trainRows.length;
  const { taken } = stratifiedCut(labels, trainRows, share, seededRandom((params.seed ^ SAMPLE_STREAM) >>> 0));
  return {
    columns: columns.map((column) => pickRows(column, taken, { shared: true })),
    labels: pickRows(labels, taken),
    trainRows: rowNumbers(taken.length, Uint32Array),
    options: boostingOptions(params, meta, taken.length),
    sampledFrom: trainRows.length,
  };
}

/** The first band (highest first) whose minimum the score reaches. */
function riskBandIndex(score: number): number {
  const index = RISK_BANDS.findIndex((band) => score >= band.minScore);
  return index === -1 ? RISK_BANDS.length - 1 : index;
}

/**
 * View `scores(row_idx, churn_score, risk_band)` over scores.parquet in `runDir`; bands travel as
 * their index in RISK_BANDS and become names in SQL.
 */
async function writeScores(
  conn: DuckDBConnection,
  scores: Float64Array,
  runDir: string,
): Promise<Record<string, number>> {
  const bandIndex = new Uint8Array(scores.length);
  const bandCounts: Record<string, number> = Object.fromEntries(RISK_BANDS.map((b) => [b.band, 0]));
  for (let i = 0; i < scores.length; i++) {
    bandIndex[i] = riskBandIndex(scores[i]);
    bandCounts[RISK_BANDS[bandIndex[i]].band] += 1;
  }
  await setVariable(conn, 'risk_bands', listValue(RISK_BANDS.map((b) => b.band)));
  await writeColumnsParquet(
    conn,
    {
      table: 'scored_rows',
      columns: [
        ['row_idx', INTEGER, rowNumbers(scores.length, Int32Array)],
        ['churn_score', DOUBLE, scores],
        ['band', UTINYINT, bandIndex],
      ],
      stage: 'churn: writing scores',
    },
    { view: 'scores', query: await readSql(import.meta.url, './churn/scores.sql') },
    scoredTableFile(runDir, 'scores'),
  );
  return bandCounts;
}

/**
 * Columns of this thread as a Parquet file: appended to the temporary table `table` (its columns
 * named and typed as given), then `query` over it written to `path` and read after as the
 * connection's view `view`.
 */
async function writeColumnsParquet(
  conn: DuckDBConnection,
  { table, columns, stage }: { table: string; columns: [string, DuckDBType, ArrayLike<number>][]; stage: string },
  { view, query }: { view: string; query: string },
  path: string,
): Promise<void> {
  await appendColumnsTable(conn, table, columns, stage);
  await writeParquetView(conn, view, query, path, 'connection');
  await conn.run(`DROP TABLE ${table}`);
}

/** The ensemble's calibrated holdout scores, `ensemble_holdout(training_row, churn_score)`, stored with its scores. */
async function writeEnsembleHoldout(
  conn: DuckDBConnection,
  runDir: string,
  holdoutRows: Uint32Array,
  scores: Float64Array,
): Promise<void> {
  await writeColumnsParquet(
    conn,
    {
      table: 'ensemble_holdout_rows',
      columns: [
        ['training_row', INTEGER, Int32Array.from(holdoutRows)],
        ['churn_score', DOUBLE, scores],
      ],
      stage: 'churn: writing the holdout',
    },
    { view: 'ensemble_holdout', query: 'FROM ensemble_holdout_rows ORDER BY training_row' },
    scoredTableFile(runDir, 'ensemble_holdout'),
  );
}

/**
 * The holdout the models were measured on, for publishing (holdout.parquet): each held-out row
 * of the training month by its place among the training rows, whether it churned, the score the
 * published metrics were measured on (the calibrated ensemble's, from the connection's view
 * `ensemble_holdout`, or the tree's) and the readable tree's.
 */
async function writeHoldout(
  conn: DuckDBConnection,
  runDir: string,
  holdout: { rows: Uint32Array; labels: Uint8Array; treeScores: Float64Array },
  ensemble: boolean,
): Promise<void> {
  await writeColumnsParquet(
    conn,
    {
      table: 'holdout_rows',
      columns: [
        ['training_row', INTEGER, Int32Array.from(holdout.rows)],
        ['churned', UTINYINT, holdout.labels],
        ['tree_score', DOUBLE, holdout.treeScores],
      ],
      stage: 'churn: writing the holdout',
    },
    {
      view: 'churn_holdout',
      query: `SELECT h.training_row, h.churned = 1 AS churned, ${ensemble ? 'e.churn_score' : 'h.tree_score AS churn_score'}, h.tree_score
     FROM holdout_rows h ${ensemble ? 'JOIN ensemble_holdout e USING (training_row)' : ''}
     ORDER BY h.training_row`,
    },
    holdoutFile(runDir),
  );
}
