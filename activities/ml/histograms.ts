/**
 * Gradient histograms for boosting (boosting.ts): per (feature, bin) the sums of gradients and
 * hessians and the row count of a node's rows. A node's rows are always counted as two halves
 * added together, so the sums are the same floats whether one thread counts both halves or a
 * second thread (histogram-worker.ts) counts one of them: the model does not depend on the
 * number of cores.
 */
import { Worker } from 'node:worker_threads';
import { boostingKernel, kernelMemory, type BoostingKernel } from './kernel';
import { threadBootstrap } from './thread-bootstrap';

/** Doubles per feature in a histogram: 256 bins x (gradient, hessian, count). */
export const HISTOGRAM_STRIDE = 256 * 3;

/** Byte addresses in the shared memory counting reads and writes (HistogramMemory). */
export interface HistogramLayout {
  rows: number;
  features: number;
  /** Rows the order holds. */
  capacity: number;
  columnBins: number;
  gradient: number;
  hessian: number;
  order: number;
  /** Where a split writes its right side before copying it back after the left (capacity rows). */
  scratch: number;
  /** Per bin of the splitting feature: 1 when its rows go left (256 bytes). */
  goesLeft: number;
  allowed: number;
  /** Per counting thread: where it gathers a node's gradients, and the histograms it counts into. */
  regions: { ordered: number; out: number }[];
  bytes: number;
}

/**
 * What counting reads, and the histograms it writes, in one shared WebAssembly memory: the
 * training thread and its helper thread (ThreadCounter) count with the same WebAssembly kernel
 * (histogram-kernel.wat) over the same bytes. The fields are views into that memory.
 */
export class HistogramMemory {
  readonly rows: number;
  readonly features: number;
  /** Column-major bins: columnBins[f * rows + row] (one feature's column stays in cache while counted). */
  readonly columnBins: Uint8Array;
  readonly gradient: Float64Array;
  readonly hessian: Float64Array;
  /** Row indices in node order; a node is a range of it. */
  readonly order: Uint32Array;
  /** Per bin of the feature a node splits on: 1 when its rows go left. */
  readonly goesLeft: Uint8Array;
  /** The features the current tree may split on (the others' histograms stay zero). */
  readonly allowed: Uint8Array;

  /** A new memory for `rows` rows of `features` bins, `capacity` of them in a tree's order. */
  static allocate(rows: number, features: number, capacity: number): HistogramMemory {
    const { memory, at, bytes } = kernelMemory(histogramRegions(rows, features, capacity));
    const { ordered0, out0, ordered1, out1, ...single } = at;
    const regions = [
      { ordered: ordered0, out: out0 },
      { ordered: ordered1, out: out1 },
    ];
    return new HistogramMemory(memory, { rows, features, capacity, ...single, regions, bytes });
  }

  /** `memory` and `layout` are what a helper thread receives (both can be posted to it). */
  constructor(
    readonly memory: WebAssembly.Memory,
    readonly layout: HistogramLayout,
  ) {
    const { buffer } = memory;
    this.rows = layout.rows;
    this.features = layout.features;
    this.columnBins = new Uint8Array(buffer, layout.columnBins, layout.rows * layout.features);
    this.gradient = new Float64Array(buffer, layout.gradient, layout.rows);
    this.hessian = new Float64Array(buffer, layout.hessian, layout.rows);
    this.order = new Uint32Array(buffer, layout.order, layout.capacity);
    this.goesLeft = new Uint8Array(buffer, layout.goesLeft, 256);
    this.allowed = new Uint8Array(buffer, layout.allowed, layout.features);
  }

  /** The histograms counting region `region` writes. */
  out(region: number): Float64Array {
    return new Float64Array(this.memory.buffer, this.layout.regions[region].out, histogramLength(this.features));
  }
}

/**
 * The regions of a HistogramMemory for `rows` rows of `features` bins, `capacity` of them in a
 * tree's order: the boosted ensemble's largest kernel memory (the churn stage checks it fits).
 */
export function histogramRegions(rows: number, features: number, capacity: number) {
  const histograms = histogramLength(features) * 8;
  return {
    columnBins: rows * features,
    gradient: rows * 8,
    hessian: rows * 8,
    order: capacity * 4,
    scratch: capacity * 4,
    goesLeft: 256,
    allowed: features,
    // per counting thread: where it gathers a node's gradients, and its histograms
    ordered0: capacity * 16,
    out0: histograms,
    ordered1: capacity * 16,
    out1: histograms,
  };
}

/**
 * Doubles in a histogram set: every feature's, plus one spare feature's worth that counting
 * writes padding into (countRows counts four features per pass).
 */
export function histogramLength(features: number): number {
  return (features + 1) * HISTOGRAM_STRIDE;
}

/**
 * Counts the rows at `start..end` of the order into region `region`'s histograms (zeroed first):
 * their gradients are gathered into node order once, then the features' columns are counted four
 * at a time: each pass keeps four histograms in the first-level cache, and the four independent
 * additions per row do not wait on each other. Every cell adds its rows in the order's sequence,
 * so the floats do not depend on how features are grouped.
 */
export function countRows(
  inputs: HistogramMemory,
  kernel: BoostingKernel,
  region: number,
  start: number,
  end: number,
): Float64Array {
  const { layout, features, rows, allowed } = inputs;
  const { ordered, out: outAddress } = layout.regions[region];
  const out = inputs.out(region);
  out.fill(0);
  const n = end - start;
  if (n <= 0) return out;
  const order = layout.order + start * 4;
  kernel.gather(order, n, layout.gradient, layout.hessian, ordered);
  const used: number[] = [];
  for (let f = 0; f < features; f++) if (allowed[f]) used.push(f);
  const last = used.length - 1;
  const column = (k: number) => layout.columnBins + used[Math.min(k, last)] * rows;
  // a group short of four reads any column and counts it into the spare histogram
  const histogram = (k: number) => outAddress + (k <= last ? used[k] : features) * HISTOGRAM_STRIDE * 8;
  for (let k = 0; k < used.length; k += 4) {
    kernel.count4(
      column(k),
      column(k + 1),
      column(k + 2),
      column(k + 3),
      histogram(k),
      histogram(k + 1),
      histogram(k + 2),
      histogram(k + 3),
      order,
      n,
      ordered,
    );
  }
  return out;
}

/** Counts a node's histograms as two halves added. */
export interface HistogramCounter {
  count(start: number, end: number, out: Float64Array): void;
  close(): void;
}

/** out = the first half's histograms + the second's. */
function addHalves(out: Float64Array, first: Float64Array, second: Float64Array): void {
  for (let i = 0; i < out.length; i++) out[i] = first[i] + second[i];
}

/** Both halves on this thread. */
export class LocalCounter implements HistogramCounter {
  private readonly kernel: BoostingKernel;

  constructor(private readonly inputs: HistogramMemory) {
    this.kernel = boostingKernel(inputs.memory);
  }

  count(start: number, end: number, out: Float64Array): void {
    const middle = start + ((end - start) >> 1);
    const first = countRows(this.inputs, this.kernel, 0, start, middle);
    addHalves(out, first, countRows(this.inputs, this.kernel, 1, middle, end));
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
  memory: WebAssembly.Memory;
  layout: HistogramLayout;
  control: Int32Array;
  error: Uint8Array;
}

/**
 * The second half on a helper thread (counting region 1) while this thread counts the first
 * (region 0). The waiting thread blocks in Atomics.wait, so this runs in a worker thread (the
 * ensemble's), never on the activity's event loop.
 */
export class ThreadCounter implements HistogramCounter {
  private readonly worker: Worker;
  private readonly control: Int32Array;
  private readonly error: Uint8Array;
  private readonly kernel: BoostingKernel;
  private requests = 0;

  constructor(private readonly inputs: HistogramMemory) {
    this.control = new Int32Array(new SharedArrayBuffer(8 * 4));
    this.error = new Uint8Array(new SharedArrayBuffer(4096));
    this.kernel = boostingKernel(inputs.memory);
    const data: HistogramHelperData = {
      memory: inputs.memory,
      layout: inputs.layout,
      control: this.control,
      error: this.error,
    };
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
    const first = countRows(this.inputs, this.kernel, 0, start, middle);
    this.waitFor(request);
    addHalves(out, first, this.inputs.out(1));
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

/** The helper's loop: count the second half of each request into region 1. */
export function serveHistograms(data: HistogramHelperData): void {
  const { control, error } = data;
  let seen = 0;
  try {
    const inputs = new HistogramMemory(data.memory, data.layout);
    const kernel = boostingKernel(data.memory);
    for (;;) {
      Atomics.wait(control, Control.Request, seen);
      seen = Atomics.load(control, Control.Request);
      if (Atomics.load(control, Control.Stop)) return;
      countRows(inputs, kernel, 1, Atomics.load(control, Control.Start), Atomics.load(control, Control.End));
      Atomics.store(control, Control.Done, seen);
      Atomics.notify(control, Control.Done);
    }
  } catch (failure) {
    new TextEncoder().encodeInto(String(failure instanceof Error ? failure.stack : failure).slice(0, 4000), error);
    Atomics.store(control, Control.Failed, 1);
    Atomics.notify(control, Control.Done);
  }
}
