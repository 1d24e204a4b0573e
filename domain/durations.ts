import { msToNumber } from '@temporalio/common';

/**
 * A duration as Temporal reads it ("30s", "2m", "1h", or milliseconds), in milliseconds, or null
 * when it reads none. The command line (cli/options.ts) and the workflow check their durations
 * with it; the command line loads it only as it runs (it loads Temporal's code).
 */
export function durationMs(value: string): number | null {
  try {
    return msToNumber(value as Parameters<typeof msToNumber>[0]);
  } catch {
    return null;
  }
}
