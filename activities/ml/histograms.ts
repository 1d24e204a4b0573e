/**
 * Gradient histograms for boosting (boosting.ts): per (feature, bin) the sums of gradients and
 * hessians and the row count of a node's rows. A node's rows are always counted as two halves
 * added together, so the sums are the same floats whether one thread counts both halves or a
 * second thread (histogram-worker.ts) counts one of them: the model does not depend on the
 * number of cores.
 */
import { Worker } from 'node:worker_threads';
import { threadBootstrap } from './thread-bootstrap';

/** Doubles per feature in a histogram: 256 bins x (gradient, hessian, count). */
export const HISTOGRAM_STRIDE = 256 * 3;

/** What counting reads, in shared memory for the helper thread. */
export interface HistogramInputs {
  /** Column-major bins: columnBins[f * rows + row] (one feature's column stays in cache while counted). */
  columnBins: Uint8Array;
  rows: number;
  features: number;
  gradient: Float64Array;
  hessian: Float64Array;
  /** Row indices in node order; a node is a range of it. */
  order: Uint32Array;
  /** The features the current tree may split on (the others' histograms stay zero). */
  allowed: Uint8Array;
}

/**
 * Doubles in a histogram set: every feature's, plus one spare feature's worth that counting
 * writes padding into (countRows counts four features per pass).
 */
export function histogramLength(features: number): number {
  return (features + 1) * HISTOGRAM_STRIDE;
}

/**
 * Adds the rows at `start..end` of the order to `out` (histogramLength(features) doubles): their
 * gradients are gathered into node order once (`ordered`, 2 doubles per row), then the features'
 * columns are counted four at a time: each pass keeps four histograms in the first-level cache,
 * and the four independent additions per row do not wait on each other (one feature at a time,
 * rows landing in the same bin would). Every cell adds its rows in the order's sequence, so the
 * floats do not depend on how features are grouped.
 */
export function countRows(
  inputs: HistogramInputs,
  start: number,
  end: number,
  out: Float64Array,
  ordered: Float64Array,
): void {
  const { columnBins, rows, features, gradient, hessian, order, allowed } = inputs;
  const n = end - start;
  for (let i = 0; i < n; i++) {
    const row = order[start + i];
    ordered[2 * i] = gradient[row];
    ordered[2 * i + 1] = hessian[row];
  }
  const used: number[] = [];
  for (let f = 0; f < features; f++) if (allowed[f]) used.push(f);
  const padding = features * HISTOGRAM_STRIDE;
  const last = used.length - 1;
  for (let k = 0; k < used.length; k += 4) {
    // a group short of four reads any column and counts it into the spare histogram
    const a = used[k] * rows;
    const b = used[Math.min(k + 1, last)] * rows;
    const c = used[Math.min(k + 2, last)] * rows;
    const d = used[Math.min(k + 3, last)] * rows;
    const offsetA = used[k] * HISTOGRAM_STRIDE;
    const offsetB = k + 1 <= last ? used[k + 1] * HISTOGRAM_STRIDE : padding;
    const offsetC = k + 2 <= last ? used[k + 2] * HISTOGRAM_STRIDE : padding;
    const offsetD = k + 3 <= last ? used[k + 3] * HISTOGRAM_STRIDE : padding;
    for (let i = 0; i < n; i++) {
      const row = order[start + i];
      const g = ordered[2 * i];
      const h = ordered[2 * i + 1];
      const cellA = offsetA + columnBins[a + row] * 3;
      const cellB = offsetB + columnBins[b + row] * 3;
      const cellC = offsetC + columnBins[c + row] * 3;
      const cellD = offsetD + columnBins[d + row] * 3;
      out[cellA] += g;
      out[cellB] += g;
      out[cellC] += g;
      out[cellD] += g;
      out[cellA + 1] += h;
      out[cellB + 1] += h;
      out[cellC + 1] += h;
      out[cellD + 1] += h;
      out[cellA + 2] += 1;
      out[cellB + 2] += 1;
      out[cellC + 2] += 1;
      out[cellD + 2] += 1;
    }
  }
}

/** Counts a node's histograms as two halves added. */
export interface HistogramCounter {
  count(start: number, end: number, out: Float64Array): void;
  close(): void;
}

/** Both halves on this thread. */
export class LocalCounter implements HistogramCounter {
  private readonly half: Float64Array;
  private readonly ordered: Float64Array;

  constructor(private readonly inputs: HistogramInputs) {
    this.half = new Float64Array(histogramLength(inputs.features));
    this.ordered = new Float64Array(inputs.order.length * 2);
  }

  count(start: number, end: number, out: Float64Array): void {
    const middle = start + ((end - start) >> 1);
    out.fill(0);
    this.half.fill(0);
    countRows(this.inputs, start, middle, out, this.ordered);
    countRows(this.inputs, middle, end, this.half, this.ordered);
    for (let i = 0; i < out.length; i++) out[i] += this.half[i];
  }

  close(): void {}
}

/** Slots of the control words shared with the helper thread. */
const Control = {
  /** Bumped by the counting thread for each request. */
  Request: 0,
  /** Set to the request number by the helper when done. */
  Done: 1,
  Start: 2,
  End: 3,
  /** 1 once the helper failed; its message is in the error bytes. */
  Failed: 4,
  Stop: 5,
} as const;

/** How long to wait for the helper before concluding it is gone. */
const HELPER_TIMEOUT_MS = 120_000;

/** What the helper thread receives as its workerData. */
export interface HistogramHelperData {
  inputs: HistogramInputs;
  control: Int32Array;
  out: Float64Array;
  error: Uint8Array;
}

/**
 * The second half on a helper thread while this thread counts the first. The waiting thread
 * blocks in Atomics.wait, so this runs in a worker thread (the ensemble's), never on the
 * activity's event loop.
 */
export class ThreadCounter implements HistogramCounter {
  private readonly worker: Worker;
  private readonly control: Int32Array;
  private readonly half: Float64Array;
  private readonly error: Uint8Array;
  private readonly ordered: Float64Array;
  private requests = 0;

  /** `inputs` must be backed by SharedArrayBuffers. */
  constructor(private readonly inputs: HistogramInputs) {
    this.control = new Int32Array(new SharedArrayBuffer(8 * 4));
    this.half = new Float64Array(new SharedArrayBuffer(histogramLength(inputs.features) * 8));
    this.error = new Uint8Array(new SharedArrayBuffer(4096));
    this.ordered = new Float64Array(inputs.order.length * 2);
    const data: HistogramHelperData = { inputs, control: this.control, out: this.half, error: this.error };
    this.worker = new Worker(threadBootstrap(new URL('./histogram-worker.ts', import.meta.url)), {
      eval: true,
      workerData: data,
      execArgv: [],
    });
    this.worker.unref();
  }

  count(start: number, end: number, out: Float64Array): void {
    const middle = start + ((end - start) >> 1);
    const request = ++this.requests;
    Atomics.store(this.control, Control.Start, middle);
    Atomics.store(this.control, Control.End, end);
    Atomics.store(this.control, Control.Request, request);
    Atomics.notify(this.control, Control.Request);
    out.fill(0);
    countRows(this.inputs, start, middle, out, this.ordered);
    this.waitFor(request);
    const half = this.half;
    for (let i = 0; i < out.length; i++) out[i] += half[i];
  }

  private waitFor(request: number): void {
    const deadline = Date.now() + HELPER_TIMEOUT_MS;
    for (;;) {
      const done = Atomics.load(this.control, Control.Done);
      if (done === request) return;
      if (Atomics.load(this.control, Control.Failed))
        throw new Error(`histogram helper thread failed: ${new TextDecoder().decode(this.error).replace(/\0+$/, '')}`);
      if (Date.now() > deadline) throw new Error('histogram helper thread did not answer');
      Atomics.wait(this.control, Control.Done, done, 100);
    }
  }

  close(): void {
    Atomics.store(this.control, Control.Stop, 1);
    Atomics.store(this.control, Control.Request, ++this.requests);
    Atomics.notify(this.control, Control.Request);
    void this.worker.terminate();
  }
}

/** The helper's loop: count the second half of each request into the shared buffer. */
export function serveHistograms(data: HistogramHelperData): void {
  const { control, out, inputs, error } = data;
  let seen = 0;
  const ordered = new Float64Array(inputs.order.length * 2);
  try {
    for (;;) {
      Atomics.wait(control, Control.Request, seen);
      seen = Atomics.load(control, Control.Request);
      if (Atomics.load(control, Control.Stop)) return;
      out.fill(0);
      countRows(inputs, Atomics.load(control, Control.Start), Atomics.load(control, Control.End), out, ordered);
      Atomics.store(control, Control.Done, seen);
      Atomics.notify(control, Control.Done);
    }
  } catch (failure) {
    new TextEncoder().encodeInto(String(failure instanceof Error ? failure.stack : failure).slice(0, 4000), error);
    Atomics.store(control, Control.Failed, 1);
    Atomics.notify(control, Control.Done);
  }
}
