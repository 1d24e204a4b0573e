import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sigmoid, trainBoosted, type BoostingOptions } from '../../activities/ml/boosting';
import { HalfTask, LocalHelper, ThreadHelper } from '../../activities/ml/training-helper';
import { histogramLength, HISTOGRAM_STRIDE, TrainingMemory } from '../../activities/ml/training-memory';
import { assertEnsembleFits } from '../../activities/churn';
import { InvalidParamsError } from '../../domain/errors';
import { boostingKernel, kernelMemory, KERNEL_MEMORY_LIMIT } from '../../activities/ml/kernel';
import { seededRandom } from '../../activities/ml/random';
import { compileKernel } from '../../scripts/build-wasm';

function sharedInputs(rows: number, features: number, depth = 1): TrainingMemory {
  const random = seededRandom(5);
  const inputs = TrainingMemory.allocate({ rows, features, fitRows: rows, validationRows: 0, depth });
  inputs.allowed.fill(1);
  for (let i = 0; i < rows * features; i++) inputs.columnBins[i] = Math.floor(random() * 40);
  for (let i = 0; i < rows; i++) {
    inputs.gradient[i] = random() - 0.3;
    inputs.hessian[i] = random() / 4;
    inputs.order[i] = rows - 1 - i;
  }
  inputs.allowed[1] = 0;
  return inputs;
}

describe('histogram counting', () => {
  it('sums every cell in row order, the same floats on one thread and on two', () => {
    // 8 features, 7 of them allowed: one full group of four and one padded group
    const features = 8;
    const inputs = sharedInputs(5_001, features);
    const local = new LocalHelper(inputs);
    const threaded = new ThreadHelper(inputs);
    try {
      for (const [start, end] of [
        [0, 5_001],
        [17, 2_500],
        [100, 4_700],
        [4_000, 4_001],
      ]) {
        const one = new Float64Array(histogramLength(features));
        const two = new Float64Array(histogramLength(features));
        local.count(start, end, one);
        threaded.count(start, end, two);
        expect(Buffer.from(two.buffer).equals(Buffer.from(one.buffer))).toBe(true);
        // the reference: each cell its two halves' rows added in order, then the halves added
        const middle = start + ((end - start) >> 1);
        for (let f = 0; f < features; f++) {
          if (f === 1) {
            // a feature the tree may not split on is not counted
            expect(one.subarray(HISTOGRAM_STRIDE, 2 * HISTOGRAM_STRIDE).every((value) => value === 0)).toBe(true);
            continue;
          }
          const expected = new Float64Array(HISTOGRAM_STRIDE);
          const half = new Float64Array(HISTOGRAM_STRIDE);
          for (const [from, to, sums] of [
            [start, middle, expected],
            [middle, end, half],
          ] as const)
            for (let i = from; i < to; i++) {
              const row = inputs.order[i];
              const cell = inputs.columnBins[f * inputs.rows + row] * 3;
              sums[cell] += inputs.gradient[row];
              sums[cell + 1] += inputs.hessian[row];
              sums[cell + 2] += 1;
            }
          for (let i = 0; i < HISTOGRAM_STRIDE; i++) expected[i] += half[i];
          expect(Array.from(one.subarray(f * HISTOGRAM_STRIDE, (f + 1) * HISTOGRAM_STRIDE))).toEqual(
            Array.from(expected),
          );
        }
      }
    } finally {
      threaded.close();
    }
  });

  it("walks the rows to a tree's leaves and computes their log-loss as boosting's JavaScript does, on one thread and on two", () => {
    const rows = 9_000;
    const features = 3;
    const memory = sharedInputs(rows, features, 2);
    const random = seededRandom(8);
    // margins, labels (bit 1: a validation row) and a tree of depth 2 on features 2 then 0
    for (let row = 0; row < rows; row++) {
      memory.margin[row] = Math.fround((random() - 0.5) * 40);
      memory.labels[row] = (random() < 0.3 ? 1 : 0) | (random() < 0.2 ? 2 : 0);
      memory.rowBins.set([random() * 40, random() * 40, random() * 40].map(Math.floor), row * features);
    }
    memory.walkRows.set(Uint32Array.from({ length: rows }, (_, i) => i));
    const next = (node: number, bin: number) =>
      node === 0 ? (bin < 20 ? 1 : 2) : node === 1 ? (bin < 9 ? 3 : 4) : node;
    for (let node = 0; node < 5; node++)
      for (let bin = 0; bin < 256; bin++) memory.next[node * 256 + bin] = next(node, bin);
    memory.nodeFeature.set([2, 0, 0, 0, 0]);
    memory.nodeValue.set([0, 0, Math.fround(0.125), Math.fround(-0.3), Math.fround(0.7)]);
    const margins = memory.margin.slice();
    const expected = Array.from({ length: rows }, (_, row) => {
      const bins = memory.rowBins.subarray(row * features, (row + 1) * features);
      let node = 0;
      for (let step = 0; step < 2; step++) node = next(node, bins[memory.nodeFeature[node]]);
      const margin = Math.fround(margins[row] + memory.nodeValue[node]);
      const p = sigmoid(margin);
      const label = memory.labels[row] & 1;
      if (memory.labels[row] & 2) {
        const clamped = Math.min(Math.max(p, 1e-15), 1 - 1e-15);
        return [margin, label ? Math.log(clamped) : Math.log(1 - clamped)];
      }
      return [margin, p - label, Math.max(p * (1 - p), 1e-16)];
    });
    const outcome = () =>
      Array.from({ length: rows }, (_, row) =>
        memory.labels[row] & 2
          ? [memory.margin[row], memory.lossTerms[row]]
          : [memory.margin[row], memory.gradient[row], memory.hessian[row]],
      );
    const threaded = new ThreadHelper(memory);
    try {
      for (const helper of [new LocalHelper(memory), threaded]) {
        memory.margin.set(margins);
        helper.inHalves(HalfTask.Walk, 0, rows);
        expect(outcome()).toEqual(expected);
      }
    } finally {
      threaded.close();
    }
  });

  // V8 built for x64 computes Math.exp and Math.log with fdlibm's operations and no fused
  // multiply-adds, as the kernel does; a build that fuses them (arm64) may differ in the last bit
  it.runIf(process.arch === 'x64')(
    "computes exp and log as Math.exp and Math.log do, bit for bit (the log-loss's, in WebAssembly)",
    () => {
      const kernel = boostingKernel(kernelMemory({ none: 16 }).memory) as unknown as {
        exp(x: number): number;
        log(x: number): number;
      };
      const random = seededRandom(11);
      const bits = new Float64Array(1);
      const words = new Uint32Array(bits.buffer);
      const anyDouble = () => {
        words[0] = random() * 2 ** 32;
        words[1] = random() * 2 ** 32;
        return bits[0];
      };
      const special = [0, -0, 1, -1, 0.5, 2, Infinity, -Infinity, NaN, 5e-324, 1e-310, 2 ** -28, -(2 ** -29)];
      const expArguments = [
        ...special,
        709.78,
        709.79,
        -745.13,
        -745.14,
        ...Array.from({ length: 200_000 }, () => (random() - 0.5) * 80),
        ...Array.from({ length: 100_000 }, () => (random() - 0.5) * 1_500),
        ...Array.from({ length: 100_000 }, anyDouble),
      ];
      expect(expArguments.filter((x) => !Object.is(kernel.exp(x), Math.exp(x)))).toEqual([]);
      const logArguments = [
        ...special,
        1e-15,
        1 - 1e-15,
        1 + 2 ** -21,
        1 - 2 ** -22,
        ...Array.from({ length: 200_000 }, () => random()),
        ...Array.from({ length: 100_000 }, () => 1 - random() * 1e-6),
        ...Array.from({ length: 100_000 }, () => Math.abs(anyDouble())),
      ];
      expect(logArguments.filter((x) => !Object.is(kernel.log(x), Math.log(x)))).toEqual([]);
    },
  );

  it('runs the committed kernel compiled from its source (npx tsx scripts/build-wasm.ts after editing the .wat)', async () => {
    const committed = readFileSync(new URL('../../activities/ml/histogram-kernel.wasm', import.meta.url));
    expect(Buffer.from(await compileKernel()).equals(committed)).toBe(true);
  });

  it("splits a node's rows by their bins, each side in its order (the kernel's partition)", () => {
    const features = 3;
    const inputs = sharedInputs(2_000, features);
    const kernel = boostingKernel(inputs.memory);
    const { layout } = inputs;
    const feature = 2;
    const column = inputs.columnBins.subarray(feature * inputs.rows, (feature + 1) * inputs.rows);
    const goesLeft = Uint8Array.from({ length: 256 }, (_, bin) => (bin % 3 === 0 || bin > 30 ? 1 : 0));
    inputs.goesLeft.set(goesLeft);
    const [start, end] = [150, 1_700];
    const before = Array.from(inputs.order.subarray(start, end));
    const outside = [Array.from(inputs.order.subarray(0, start)), Array.from(inputs.order.subarray(end))];
    const left = kernel.partition(
      layout.order + start * 4,
      end - start,
      layout.columnBins + feature * inputs.rows,
      layout.goesLeft,
      layout.scratch,
    );
    const expectedLeft = before.filter((row) => goesLeft[column[row]] === 1);
    const expectedRight = before.filter((row) => goesLeft[column[row]] === 0);
    expect(left).toBe(expectedLeft.length);
    expect(Array.from(inputs.order.subarray(start, end))).toEqual([...expectedLeft, ...expectedRight]);
    // rows outside the node stay where they were
    expect([Array.from(inputs.order.subarray(0, start)), Array.from(inputs.order.subarray(end))]).toEqual(outside);
  });

  it('refuses a kernel memory over 4 GiB, and the churn stage says so before training', () => {
    expect(() => kernelMemory({ a: KERNEL_MEMORY_LIMIT / 2, b: KERNEL_MEMORY_LIMIT / 2 + 16 })).toThrow(
      /needs 4\.0 GiB, more than the 4 GiB/,
    );
    // the benchmark's 10M run trains on ~6.4M rows of 19 features: it fits
    const options = { maxDepth: 5 };
    expect(() => assertEnsembleFits(8_000_000, 19, 6_400_000, options)).not.toThrow();
    expect(() => assertEnsembleFits(50_000_000, 19, 40_000_000, options)).toThrow(InvalidParamsError);
    expect(() => assertEnsembleFits(50_000_000, 19, 40_000_000, options)).toThrow(/churnModel 'tree'/);
  });

  it('trains the same model with a helper thread as without', () => {
    const random = seededRandom(9);
    const rows = 6_000;
    const columns = Array.from({ length: 5 }, () => Float64Array.from({ length: rows }, () => random()));
    // a categorical feature too, with missing codes
    columns.push(Float64Array.from({ length: rows }, () => (random() < 0.05 ? Number.NaN : Math.floor(random() * 6))));
    const labels = Uint8Array.from({ length: rows }, (_, i) =>
      random() < 0.1 + 0.5 * columns[0][i] * columns[1][i] + (columns[5][i] === 2 ? 0.3 : 0) ? 1 : 0,
    );
    const trainRows = Uint32Array.from({ length: rows }, (_, i) => i);
    const options: BoostingOptions = {
      trees: 15,
      maxDepth: 4,
      learningRate: 0.2,
      minLeafSize: 10,
      rowSubsample: 0.7,
      seed: 4,
      categorical: [false, false, false, false, false, true],
    };
    const one = trainBoosted(columns, labels, trainRows, options);
    const two = trainBoosted(columns, labels, trainRows, { ...options, threads: 2 });
    expect(JSON.stringify(two.model)).toBe(JSON.stringify(one.model));
    expect(one.model.trees.length).toBeGreaterThan(1);
    expect(one.model.trees.some((tree) => tree.rightCategories.some((set) => set.length > 0))).toBe(true);
  });
});
