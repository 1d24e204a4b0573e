/**
 * Boosting's per-row work in two halves: counting a node's histograms, and adding a new tree's
 * leaf values to the margins (with the next round's gradients and the validation loss terms).
 * The training thread runs the first half and a helper thread (training-worker.ts) the second,
 * or the training thread both (LocalHelper). Every half writes its own rows (or, counting, its own histograms, added
 * after), so the floats are the same on one thread and on two.
 */
import { Worker } from 'node:worker_threads';
import { countRows } from './histograms';
import { boostingKernel, type BoostingKernel } from './kernel';
import { threadBootstrap } from './thread-bootstrap';
import { TrainingMemory, type TrainingLayout } from './training-memory';

/** What a half runs over its share of start..end. */
export const HalfTask = {
  /** Histograms of order[start..end) into the half's counting region. */
  Count: 0,
  /** Adds the new tree's leaf values to the margins of the rows at walkRows[start..end), then their gradients or loss terms. */
  Walk: 1,
} as const;
export type HalfTask = (typeof HalfTask)[keyof typeof HalfTask];

/** Runs `task` over from..to; counting writes region `region`. */
function runHalf(
  memory: TrainingMemory,
  kernel: BoostingKernel,
  task: HalfTask,
  region: number,
  from: number,
  to: number,
): void {
  const { layout } = memory;
  switch (task) {
    case HalfTask.Count:
      countRows(memory, kernel, region, from, to);
      return;
    case HalfTask.Walk:
      if (to > from)
        kernel.addLeafValues(
          layout.walkRows + from * 4,
          to - from,
          layout.rowBins,
          layout.features,
          layout.next,
          layout.nodeFeature,
          layout.nodeValue,
          layout.depth,
          layout.margin,
          layout.labels,
          layout.gradient,
          layout.hessian,
          layout.lossTerms,
        );
      return;
  }
}

/** Runs half tasks over a training memory, on this thread alone or with a helper. */
export abstract class TrainingHelper {
  readonly kernel: BoostingKernel;

  constructor(readonly memory: TrainingMemory) {
    this.kernel = boostingKernel(memory.memory);
  }

  /** Runs `task` over start..end in two halves. */
  abstract inHalves(task: HalfTask, start: number, end: number): void;

  abstract close(): void;

  /** out = the histograms of order[start..end): its two halves' added. */
  count(start: number, end: number, out: Float64Array): void {
    this.inHalves(HalfTask.Count, start, end);
    const first = this.memory.out(0);
    const second = this.memory.out(1);
    for (let i = 0; i < out.length; i++) out[i] = first[i] + second[i];
  }

  protected runHalf(task: HalfTask, region: number, from: number, to: number): void {
    runHalf(this.memory, this.kernel, task, region, from, to);
  }
}

function middleOf(start: number, end: number): number {
  return start + ((end - start) >> 1);
}

/** Both halves on this thread. */
export class LocalHelper extends TrainingHelper {
  inHalves(task: HalfTask, start: number, end: number): void {
    const middle = middleOf(start, end);
    this.runHalf(task, 0, start, middle);
    this.runHalf(task, 1, middle, end);
  }

  close(): void {}
}

/** Slots of the control words shared with the helper thread. */
const Control = {
  /** Bumped by the training thread for each request. */
  Request: 0,
  /** Set to the request number by the helper when done. */
  Done: 1,
  Start: 2,
  End: 3,
  /** 1 once the helper failed; its message is in the error bytes. */
  Failed: 4,
  Stop: 5,
  Task: 6,
} as const;

/** Ranges shorter than this run both halves on the training thread. */
const SHARED_ROWS = 4_096;

/**
 * Loads of a control word before sleeping on it (a few microseconds): enough to catch a request
 * or an answer that follows at once. A longer spin (milliseconds) kept the waiting thread on a
 * core between all of a tree's requests, which the churn stage's other threads (the readable
 * tree, this month's read, DuckDB) then lacked, and made the training itself no faster
 * (docs/status.md, "Session 24").
 */
const SPINS = 2_000;

/** How long to wait for the helper before concluding it is gone. */
const HELPER_TIMEOUT_MS = 120_000;

/** What the helper thread receives as its workerData. */
export interface TrainingHelperData {
  memory: WebAssembly.Memory;
  layout: TrainingLayout;
  control: Int32Array;
  error: Uint8Array;
}

/**
 * The second half on a helper thread (counting region 1) while this thread runs the first
 * (region 0). The waiting thread blocks in Atomics.wait, so this runs in a worker thread (the
 * ensemble's), never on the activity's event loop.
 */
export class ThreadHelper extends TrainingHelper {
  private readonly worker: Worker;
  private readonly control: Int32Array;
  private readonly error: Uint8Array;
  private requests = 0;

  constructor(memory: TrainingMemory) {
    super(memory);
    this.control = new Int32Array(new SharedArrayBuffer(8 * 4));
    this.error = new Uint8Array(new SharedArrayBuffer(4096));
    const data: TrainingHelperData = {
      memory: memory.memory,
      layout: memory.layout,
      control: this.control,
      error: this.error,
    };
    this.worker = new Worker(threadBootstrap(new URL('./training-worker.ts', import.meta.url)), {
      eval: true,
      workerData: data,
      execArgv: [],
    });
    this.worker.unref();
  }

  inHalves(task: HalfTask, start: number, end: number): void {
    const middle = middleOf(start, end);
    if (end - start < SHARED_ROWS) {
      // a few rows: waking the helper would cost more than it saves
      this.runHalf(task, 0, start, middle);
      this.runHalf(task, 1, middle, end);
      return;
    }
    const request = ++this.requests;
    Atomics.store(this.control, Control.Task, task);
    Atomics.store(this.control, Control.Start, middle);
    Atomics.store(this.control, Control.End, end);
    Atomics.store(this.control, Control.Request, request);
    Atomics.notify(this.control, Control.Request);
    this.runHalf(task, 0, start, middle);
    this.waitFor(request);
  }

  private waitFor(request: number): void {
    const deadline = Date.now() + HELPER_TIMEOUT_MS;
    for (let spins = 0; spins < SPINS; spins++) if (Atomics.load(this.control, Control.Done) === request) return;
    for (;;) {
      const done = Atomics.load(this.control, Control.Done);
      if (done === request) return;
      if (Atomics.load(this.control, Control.Failed))
        throw new Error(`training helper thread failed: ${new TextDecoder().decode(this.error).replace(/\0+$/, '')}`);
      if (Date.now() > deadline) throw new Error('training helper thread did not answer');
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

/** The helper's loop: run the second half of each request (counting into region 1). */
export function serveTraining(data: TrainingHelperData): void {
  const { control, error } = data;
  let seen = 0;
  try {
    const memory = new TrainingMemory(data.memory, data.layout);
    const kernel = boostingKernel(data.memory);
    for (;;) {
      for (let spins = 0; spins < SPINS && Atomics.load(control, Control.Request) === seen; spins++);
      // Woken is not asked: the training thread publishes a request, then notifies. Descheduled in
      // between, its notify can come after this thread saw the request while spinning, served it
      // and went to sleep again; it then wakes this thread with nothing new. Running the last
      // request again added its leaf values twice, or counted into its region while the training
      // thread counted a small node there (a different model, under load only).
      while (Atomics.load(control, Control.Request) === seen) Atomics.wait(control, Control.Request, seen);
      seen = Atomics.load(control, Control.Request);
      if (Atomics.load(control, Control.Stop)) return;
      const task = Atomics.load(control, Control.Task) as HalfTask;
      runHalf(memory, kernel, task, 1, Atomics.load(control, Control.Start), Atomics.load(control, Control.End));
      Atomics.store(control, Control.Done, seen);
      Atomics.notify(control, Control.Done);
    }
  } catch (failure) {
    new TextEncoder().encodeInto(String(failure instanceof Error ? failure.stack : failure).slice(0, 4000), error);
    Atomics.store(control, Control.Failed, 1);
    Atomics.notify(control, Control.Done);
  }
}
