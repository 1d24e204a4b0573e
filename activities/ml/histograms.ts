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
  /** Row-major bins: bins[row * features + f]. */
  bins: Uint8Array;
  features: number;
  gradient: Float64Array;
  hessian: Float64Array;
  /** Row indices in node order; a node is a range of it. */
  order: Uint32Array;
  /** The features the current tree may split on (the others' histograms stay zero). */
  allowed: Uint8Array;
}

/** Adds the rows at `start..end` of the order to `out` (features x HISTOGRAM_STRIDE doubles). */
export function countRows(inputs: HistogramInputs, start: number, end: number, out: Float64Array): void {
  const { bins, features, gradient, hessian, order, allowed } = inputs;
  const offsets: number[] = [];
  const columns: number[] = [];
  for (let f = 0; f < features; f++)
    if (allowed[f]) {
      offsets.push(f * HISTOGRAM_STRIDE);
      columns.push(f);
    }
  const used = offsets.length;
  for (let i = start; i < end; i++) {
    const row = order[i];
    const base = row * features;
    const g = gradient[row];
    const h = hessian[row];
    for (let k = 0; k < used; k++) {
      const cell = offsets[k] + bins[base + columns[k]] * 3;
      out[cell] += g;
      out[cell + 1] += h;
      out[cell + 2] += 1;
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

  constructor(private readonly inputs: HistogramInputs) {
    this.half = new Float64Array(inputs.features * HISTOGRAM_STRIDE);
  }

  count(start: number, end: number, out: Float64Array): void {
    const middle = start + ((end - start) >> 1);
    out.fill(0);
    this.half.fill(0);
    countRows(this.inputs, start, middle, out);
    countRows(this.inputs, middle, end, this.half);
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
  private requests = 0;

  /** `inputs` must be backed by SharedArrayBuffers. */
  constructor(private readonly inputs: HistogramInputs) {
    this.control = new Int32Array(new SharedArrayBuffer(8 * 4));
    this.half = new Float64Array(new SharedArrayBuffer(inputs.features * HISTOGRAM_STRIDE * 8));
    this.error = new Uint8Array(new SharedArrayBuffer(4096));
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
    countRows(this.inputs, start, middle, out);
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
  try {
    for (;;) {
      Atomics.wait(control, Control.Request, seen);
      seen = Atomics.load(control, Control.Request);
      if (Atomics.load(control, Control.Stop)) return;
      out.fill(0);
      countRows(inputs, Atomics.load(control, Control.Start), Atomics.load(control, Control.End), out);
      Atomics.store(control, Control.Done, seen);
      Atomics.notify(control, Control.Done);
    }
  } catch (failure) {
    new TextEncoder().encodeInto(String(failure instanceof Error ? failure.stack : failure).slice(0, 4000), error);
    Atomics.store(control, Control.Failed, 1);
    Atomics.notify(control, Control.Done);
  }
}
