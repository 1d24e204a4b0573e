/**
 * The churn ensemble on two worker threads (ensemble-worker.ts): one trains and calibrates while
 * the activity's own thread goes on with other work, then both score half the holdout and half
 * of this month's rows. With `startNow` the first starts with the stage, so its start-up (~200 ms:
 * tsx compiling the worker's modules, which load neither DuckDB nor Temporal) overlaps the work
 * before training; otherwise, like the second, once training or scoring is asked for: a rerun
 * that finds the model and its scores stored needs neither.
 * The activity heartbeats while it waits for them, and a cancelled run terminates them.
 */
import { codeChanged } from '../code-identity';
import { compileModel, rowMajorValues, type CompiledModel } from './compiled-model';
import type { EnsembleRequest, EnsembleTask, ScoredRows, TrainedEnsemble } from './ensemble';
import { rowNumbers } from './feature-matrix';
import { WorkerThread, whileHeartbeating } from './thread';

export interface EnsembleHoldout extends TrainedEnsemble {
  /** Holdout probabilities before and after calibration. */
  holdoutUncalibrated: Float64Array;
  holdoutCalibrated: Float64Array;
}

export interface EnsembleResult extends EnsembleHoldout {
  /** Probabilities of the scored rows: the published scores. */
  scores: Float64Array;
  /** Per scored row, `reasons` feature indices (-1 = none) and their contributions (log-odds). */
  reasonFeatures: Int16Array;
  reasonContributions: Float64Array;
  /** Wall seconds scoring this month's rows with their reasons, and the holdout. */
  scoreSeconds: number;
}

export interface ScoringInput {
  /** The training columns and the holdout rows among them. */
  columns: Float64Array[];
  holdoutRows: Uint32Array;
  /** This month's subscribers, same feature order. */
  scoreColumns: Float64Array[];
  /** Reasons kept per scored row. */
  reasons: number;
  /** Per feature, the feature its contribution joins before the reasons are picked (-1: none; scoreWithReasons). */
  foldInto?: Int16Array;
}

const WORKER = new URL('./ensemble-worker.ts', import.meta.url);

export class EnsembleThreads {
  readonly #stage: string;
  readonly #codeHash: string;
  #first: WorkerThread | null = null;
  #second: WorkerThread | null = null;
  #training: Promise<TrainedEnsemble> | null = null;
  /** Each started thread's check that it compiled the model code this process hashed. */
  readonly #sameCode: Promise<void>[] = [];

  /** `codeHash`: the model code's hash as this process loaded it (ensemble-cache.ts), which the threads' must equal. */
  constructor(stage: string, options: { startNow: boolean; codeHash: string }) {
    this.#stage = stage;
    this.#codeHash = options.codeHash;
    if (options.startNow) this.#startFirst();
  }

  #startFirst(): WorkerThread {
    return (this.#first ??= this.#start());
  }

  #startSecond(): WorkerThread {
    return (this.#second ??= this.#start());
  }

  #start(): WorkerThread {
    const thread = new WorkerThread(WORKER, this.#stage);
    const request: EnsembleRequest = { codeHash: true };
    const same = thread.request<string>(request).then((hash) => {
      if (hash !== this.#codeHash)
        throw codeChanged("the churn models' code (activities/ml)", 'a new thread compiled other files');
    });
    same.catch(() => undefined); // awaited before any result of the thread is used
    this.#sameCode.push(same);
    return thread;
  }

  /** Starts training in the first thread and returns at once. */
  train(task: EnsembleTask): void {
    const request: EnsembleRequest = { train: task };
    this.#training = this.#startFirst().request<TrainedEnsemble>(request);
    this.#startSecond(); // ready by scoring
  }

  /** Scores with an ensemble trained before (ensemble-cache.ts) instead of training. */
  useTrained(trained: TrainedEnsemble): void {
    this.#training = Promise.resolve(trained);
  }

  /**
   * Waits for the trained model, then scores the holdout and this month's rows on both threads,
   * the holdout first: `meanwhile` gets it and runs on this thread while the rows are scored.
   */
  async score<T>(
    input: ScoringInput,
    meanwhile: (holdout: EnsembleHoldout) => Promise<T>,
  ): Promise<{ result: EnsembleResult; meanwhile: T }> {
    if (!this.#training) throw new Error('EnsembleThreads.score before train');
    const threads = [this.#startFirst(), this.#startSecond()];
    const holdout = halves(input.holdoutRows).map((rows) => rowMajorValues(input.columns, rows));
    const rows = rowNumbers(input.scoreColumns[0]?.length ?? 0, Uint32Array);
    const current = halves(rows).map((part) => rowMajorValues(input.scoreColumns, part));
    const trained = await whileHeartbeating(this.#training, this.#stage);
    // both threads started above: their code checks are all in
    await Promise.all(this.#sameCode);

    const started = performance.now();
    const calibrated = compileModel(trained.model);
    const uncalibrated = compileModel(trained.uncalibrated);
    // both models' holdout probabilities from one walk: calibration only scales leaf values
    const holdoutParts = threads.map((thread, i) =>
      scoreIn(thread, calibrated, holdout[i], 0, { move: true, also: uncalibrated }),
    );
    // moved, not copied: each thread copies its half once more, into the kernel's memory (at 10M rows, 300 MB a half)
    const rowParts = threads.map((thread, i) =>
      scoreIn(thread, calibrated, current[i], input.reasons, { move: true, foldInto: input.foldInto }),
    );
    const scoredHoldout = joinScored(await whileHeartbeating(Promise.all(holdoutParts), this.#stage));
    const evaluated: EnsembleHoldout = {
      ...trained,
      holdoutUncalibrated: scoredHoldout.alsoProbabilities,
      holdoutCalibrated: scoredHoldout.probabilities,
    };
    const [extra, scoredRows] = await Promise.all([
      meanwhile(evaluated),
      whileHeartbeating(Promise.all(rowParts), this.#stage),
    ]);
    const scored = joinScored(scoredRows);
    const result: EnsembleResult = {
      ...evaluated,
      scores: scored.probabilities,
      reasonFeatures: scored.reasonFeatures,
      reasonContributions: scored.reasonContributions,
      scoreSeconds: (performance.now() - started) / 1000,
    };
    return { result, meanwhile: extra };
  }

  async terminate(): Promise<void> {
    await Promise.all([this.#first, this.#second].map((thread) => thread?.terminate()));
  }
}

function halves(rows: Uint32Array): Uint32Array[] {
  const middle = Math.ceil(rows.length / 2);
  return [rows.subarray(0, middle), rows.subarray(middle)];
}

/**
 * Scores `values` in `thread` (and under `also`, the same trees with other leaf values); with
 * `move`, their buffer goes to the thread (unusable here after).
 */
function scoreIn(
  thread: WorkerThread,
  model: CompiledModel,
  values: Float32Array,
  reasons: number,
  options: { move?: boolean; also?: CompiledModel; foldInto?: Int16Array } = {},
) {
  const request: EnsembleRequest = {
    score: {
      model,
      values,
      reasons,
      ...(options.also ? { also: options.also } : {}),
      ...(options.foldInto ? { foldInto: options.foldInto } : {}),
    },
  };
  return thread.request<ScoredRows>(request, options.move ? [values.buffer as ArrayBuffer] : []);
}

/** The parts' rows one after the other. */
function joinScored(parts: ScoredRows[]): ScoredRows {
  return {
    probabilities: concat(
      Float64Array,
      parts.map((part) => part.probabilities),
    ),
    reasonFeatures: concat(
      Int16Array,
      parts.map((part) => part.reasonFeatures),
    ),
    reasonContributions: concat(
      Float64Array,
      parts.map((part) => part.reasonContributions),
    ),
    alsoProbabilities: concat(
      Float64Array,
      parts.map((part) => part.alsoProbabilities),
    ),
  };
}

function concat<T extends Float64Array | Int16Array>(type: new (length: number) => T, arrays: T[]): T {
  const out = new type(arrays.reduce((sum, array) => sum + array.length, 0));
  let at = 0;
  for (const array of arrays) {
    out.set(array, at);
    at += array.length;
  }
  return out;
}
