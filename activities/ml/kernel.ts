/**
 * The WebAssembly kernel (histogram-kernel.wat, compiled to histogram-kernel.wasm by
 * `npx tsx scripts/build-wasm.ts`): the per-row inner loops of binning (histogram-tree.ts), of
 * training (histograms.ts, boosting.ts) and of scoring with a compiled model (compiled-model.ts).
 * V8 checks the bounds of every typed-array access in the JavaScript versions of these loops;
 * WebAssembly's are guarded by the address space.
 */
import { readFileSync } from 'node:fs';

/** histogram-kernel.wat's exports; every argument is a byte address or a count. */
export interface BoostingKernel {
  gather(order: number, n: number, gradient: number, hessian: number, ordered: number): void;
  count4(
    a: number,
    b: number,
    c: number,
    d: number,
    histogramA: number,
    histogramB: number,
    histogramC: number,
    histogramD: number,
    order: number,
    n: number,
    ordered: number,
  ): void;
  /** Bins `rows` f64 values at `column` against 256 f64 edges (padded with +Infinity), a byte every `stride` from `out`. */
  binColumn(column: number, rows: number, edges: number, out: number, stride: number): void;
  /** Moves the rows (of n at `order`) whose bin in `column` goes left to the front, both sides in order; returns how many went left. */
  partition(order: number, n: number, column: number, goesLeft: number, scratch: number): number;
  /** Walks n rows to the new tree's leaves, adds their values to the margins, and gives fit rows their gradients and hessians, validation rows their loss terms. */
  addLeafValues(
    rows: number,
    n: number,
    bins: number,
    features: number,
    next: number,
    feature: number,
    value: number,
    depth: number,
    margin: number,
    labels: number,
    gradient: number,
    hessian: number,
    loss: number,
  ): void;
  /** `size` of the n row indices at `rows`, in order, to `out`, one mulberry32 draw per row from `state`; returns the state after. */
  sampleAscending(rows: number, n: number, size: number, state: number, out: number): number;
  /** Where a compiled model's arrays are (compiled-model.ts); addMargins and addCredits walk it. */
  setModel(
    stride: number,
    nodes: number,
    categoryBits: number,
    categoryWords: number,
    value: number,
    step: number,
    roots: number,
    depths: number,
    trees: number,
  ): void;
  /** Where a second model's leaf values (same trees) are; addMargins with `margins2` adds them there. */
  setSecondValues(value2: number): void;
  /** Rows from..to (at most a block: `nodes` holds one i32 per row); `margins2` 0 for one model. */
  addMargins(values: number, from: number, to: number, margins: number, nodes: number, margins2: number): void;
  addCredits(values: number, from: number, to: number, margins: number, credit: number, nodes: number): void;
  /** Where exact TreeSHAP tables are (tree-shap.ts ShapTables); addShap walks them. */
  setShapModel(
    stride: number,
    nodes: number,
    categoryBits: number,
    categoryWords: number,
    distinct: number,
    table: number,
    treeStart: number,
    treeSize: number,
    trees: number,
    masks: number,
  ): void;
  /** Adds rows from..to's (at most a block) SHAP values, f64 per feature per row, to `out`. */
  addShap(values: number, from: number, to: number, out: number): void;
  /** Each of n rows' k largest positive credits (addCredits' block), largest first: features (i16) at `slots`, values (f64) at `kept`; zeroes the credits. */
  keepLargest(credit: number, n: number, slots: number, kept: number, k: number): void;
}

let kernelModule: WebAssembly.Module | undefined;

/** The kernel on `memory`, for this thread (the compiled module is kept per thread). */
export function boostingKernel(memory: WebAssembly.Memory): BoostingKernel {
  kernelModule ??= new WebAssembly.Module(readFileSync(new URL('./histogram-kernel.wasm', import.meta.url)));
  return new WebAssembly.Instance(kernelModule, { env: { memory } }).exports as unknown as BoostingKernel;
}

/**
 * A kernel on a new memory holding copies of `arrays` and empty `scratch` regions of the given
 * bytes; `at` gives every region's byte address.
 */
export function kernelWith<Copied extends string, Scratch extends string>(
  arrays: Record<Copied, ArrayBufferView>,
  scratch: Record<Scratch, number>,
): { memory: WebAssembly.Memory; at: Record<Copied | Scratch, number>; kernel: BoostingKernel } {
  const copied = Object.entries(arrays) as [Copied, ArrayBufferView][];
  const sizes = Object.fromEntries(copied.map(([name, array]) => [name, array.byteLength])) as Record<Copied, number>;
  const { memory, at } = kernelMemory<Copied | Scratch>({ ...sizes, ...scratch });
  for (const [name, array] of copied)
    new Uint8Array(memory.buffer, at[name], array.byteLength).set(
      new Uint8Array(array.buffer, array.byteOffset, array.byteLength),
    );
  return { memory, at, kernel: boostingKernel(memory) };
}

/** A WebAssembly memory (32-bit addresses) holds at most 65,536 pages of 64 KiB: 4 GiB. */
export const KERNEL_MEMORY_LIMIT = 65_536 * 65_536;

/** A region's bytes in a kernel memory: its size rounded up to 16, so every region is aligned. */
function aligned(size: number): number {
  return Math.ceil(size / 16) * 16;
}

/** The bytes kernelMemory takes for regions of these sizes. */
export function kernelBytes(sizes: Record<string, number>): number {
  return Object.values(sizes).reduce((sum, size) => sum + aligned(size), 0);
}

/**
 * A shared memory the kernel can use, with a 16-byte aligned region of each requested size; `at`
 * gives their byte addresses. More than KERNEL_MEMORY_LIMIT is a RangeError (callers that can
 * name the cause check kernelBytes first).
 */
export function kernelMemory<Name extends string>(
  sizes: Record<Name, number>,
): { memory: WebAssembly.Memory; at: Record<Name, number>; bytes: number } {
  let bytes = 0;
  const at = {} as Record<Name, number>;
  for (const name of Object.keys(sizes) as Name[]) {
    at[name] = bytes;
    bytes += aligned(sizes[name]);
  }
  if (bytes > KERNEL_MEMORY_LIMIT)
    throw new RangeError(
      `the WebAssembly kernel needs ${(bytes / 2 ** 30).toFixed(1)} GiB, more than the 4 GiB one WebAssembly memory can hold`,
    );
  const pages = Math.max(1, Math.ceil(bytes / 65_536));
  return { memory: new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }), at, bytes };
}
