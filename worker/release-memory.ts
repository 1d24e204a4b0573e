import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { collectGarbage } from '../activities/memory';

/**
 * Array buffers still held when an activity ends above which a full collection pays. One takes
 * 30-50 ms with the workflow bundle loaded: after every activity of a run, small ones included,
 * the benchmark's orchestration time grew by 0.6-0.8 s at 1M (docs/benchmark.md, session 13).
 */
export const COLLECT_ABOVE_BYTES = 256 * 2 ** 20;

/**
 * Collects garbage as an activity ends holding more than `aboveBytes` of array buffers, when node
 * exposes `gc` (bin/segflow starts it with --expose-gc; without it this does nothing). A stage's
 * typed arrays are unreachable once it returns, but V8 collects them only when its own heap asks
 * for it, and the next stage may not: publishing's memory is DuckDB's, which V8 does not see. At
 * 10M subscribers the churn stage left ~2.7 GB behind and publishing's ~6 GB came on top
 * (docs/benchmark.md, "10M, session 13").
 */
export function releaseMemoryAfterActivities(aboveBytes = COLLECT_ABOVE_BYTES): ActivityInterceptorsFactory {
  return () => ({
    inbound: {
      async execute(input, next) {
        try {
          return await next(input);
        } finally {
          if (process.memoryUsage().arrayBuffers > aboveBytes) collectGarbage();
        }
      },
    },
  });
}
