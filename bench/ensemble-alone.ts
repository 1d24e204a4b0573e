/**
 * The churn ensemble's training alone, on the rows a run trains on, beside scikit-learn's
 * HistGradientBoostingClassifier on the same file (bench/hgb-alone.py): in a run the ensemble
 * trains while the stage trains the readable tree and reads this month's rows, the peer's model
 * trains alone, so bench/run.ts also times both alone, alternately.
 *
 *   node --import tsx bench/ensemble-alone.ts <task file>
 *
 * trains once with the run's settings and prints {"seconds", "trees"}. writeEnsembleTask makes
 * the file: a JSON header line padded to 4096 bytes ({ rows, features, trainRows, categorical,
 * options }), then each feature column (float64), the labels (a byte per row) and the training
 * row indices (uint32), little-endian.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { boostingOptions, CHURN_FEATURES, readTrainingSet, stratifiedSplit } from '../activities/churn';
import { churnFeatureSpecs } from '../activities/churn-features';
import { queryOne, readSql, withReadOnlyConnection } from '../activities/duckdb';
import { trainBoosted, type BoostingOptions } from '../activities/ml/boosting';
import type { RunParams } from '../domain/params';

const HEADER_BYTES = 4096;

interface TaskHeader {
  rows: number;
  features: number;
  trainRows: number;
  names: string[];
  options: BoostingOptions;
}

/** Writes the training rows of the run database at `dbPath` as the churn stage reads them. */
export async function writeEnsembleTask(
  dbPath: string,
  params: RunParams,
  skippedFeatures: string[],
  file: string,
): Promise<TaskHeader> {
  return withReadOnlyConnection(dbPath, async (conn) => {
    const derived = CHURN_FEATURES.filter((name) => !skippedFeatures.includes(name));
    const specs = await churnFeatureSpecs(conn, derived, [], false);
    const meta = specs.map((spec) => spec.meta);
    const counts = await queryOne<{ train: number }>(
      conn,
      await readSql(new URL('../activities/churn.ts', import.meta.url).href, './churn/row_counts.sql'),
    );
    const expressions = specs.map((spec): [string, string] => [spec.meta.name, spec.sql]);
    const { training, labels } = await readTrainingSet(conn, expressions, counts.train, meta);
    const { trainRows } = stratifiedSplit(labels, params.holdoutShare, params.seed);
    const header: TaskHeader = {
      rows: training.rows,
      features: training.columns.length,
      trainRows: trainRows.length,
      names: training.names,
      options: boostingOptions(params, meta, trainRows.length),
    };
    const bytes = (array: ArrayBufferView) => Buffer.from(array.buffer, array.byteOffset, array.byteLength);
    await writeFile(file, [
      Buffer.from(JSON.stringify(header).padEnd(HEADER_BYTES)),
      ...training.columns.map(bytes),
      bytes(labels),
      bytes(trainRows),
    ]);
    return header;
  });
}

function trainFromFile(file: string): { seconds: number; trees: number } {
  const data = readFileSync(file);
  const header = JSON.parse(data.subarray(0, HEADER_BYTES).toString()) as TaskHeader;
  let at = HEADER_BYTES;
  // copies: typed arrays need aligned offsets
  const take = (bytes: number) => {
    const copy = new ArrayBuffer(bytes);
    new Uint8Array(copy).set(data.subarray(at, at + bytes));
    at += bytes;
    return copy;
  };
  const columns = Array.from({ length: header.features }, () => new Float64Array(take(header.rows * 8)));
  const labels = new Uint8Array(take(header.rows));
  const trainRows = new Uint32Array(take(header.trainRows * 4));
  const started = performance.now();
  const trained = trainBoosted(columns, labels, trainRows, header.options);
  return { seconds: (performance.now() - started) / 1000, trees: trained.model.trees.length };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file] = process.argv.slice(2);
  if (!file) throw new Error('usage: node --import tsx bench/ensemble-alone.ts <task file>');
  console.log(JSON.stringify(trainFromFile(file)));
}
