import { describe, expect, it } from 'vitest';
import { HalfTask, ThreadHelper } from '../../activities/ml/training-helper';
import { TrainingMemory } from '../../activities/ml/training-memory';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A memory whose walk adds exactly 1 to every row's margin: a half run twice shows as a 2. */
function countingMemory(rows: number): TrainingMemory {
  const memory = TrainingMemory.allocate({ rows, features: 1, fitRows: rows, validationRows: 0, depth: 1 });
  memory.walkRows.set(Uint32Array.from({ length: rows }, (_, i) => i));
  memory.next.fill(1); // the root sends every bin to leaf 1, which leads to itself
  memory.nodeValue[1] = 1;
  return memory;
}

describe("boosting's helper thread", () => {
  it('runs each request once, even when the wake-up for a request it already served arrives late', async () => {
    const rows = 10_000;
    const memory = countingMemory(rows);
    const helper = new ThreadHelper(memory);
    try {
      await sleep(2_000); // the thread starts (tsx) while this one is free
      helper.inHalves(HalfTask.Walk, 0, rows);
      expect([memory.margin[0], memory.margin[rows - 1]]).toEqual([1, 1]);
      // under load the training thread can be descheduled between publishing a request and
      // notifying: the helper sees the request while spinning, serves it and sleeps again
      // before that notify arrives, which then wakes it with nothing new to run
      await sleep(300);
      const control = (helper as unknown as { control: Int32Array }).control;
      Atomics.notify(control, 0);
      await sleep(300);
      expect([memory.margin[0], memory.margin[rows - 1]]).toEqual([1, 1]);
      helper.inHalves(HalfTask.Walk, 0, rows);
      expect([memory.margin[0], memory.margin[rows - 1]]).toEqual([2, 2]);
    } finally {
      helper.close();
    }
  }, 30_000);
});
