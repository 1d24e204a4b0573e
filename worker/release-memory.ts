import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/**
 * Collects garbage as each activity ends, when node exposes `gc` (bin/segflow starts it with
 * --expose-gc; without it this does nothing). A stage's typed arrays are unreachable once it
 * returns, but V8 collects them only when its own heap asks for it, and the next stage may not:
 * publishing's memory is DuckDB's, which V8 does not see. At 10M subscribers the churn stage left
 * ~2.7 GB behind and publishing's ~6 GB came on top (docs/benchmark.md, "10M, session 13").
 */
export const releaseMemoryAfterActivities: ActivityInterceptorsFactory = () => ({
  inbound: {
    async execute(input, next) {
      try {
        return await next(input);
      } finally {
        (globalThis as { gc?: () => void }).gc?.();
      }
    },
  },
});
