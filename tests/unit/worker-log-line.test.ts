import type { LogEntry } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { InputFileError, SchemaContractError } from '../../domain/errors';
import { loggerOptions, workerLogLine } from '../../worker/logger';

const entry = (message: string, meta: Record<string, unknown>): LogEntry => ({
  level: 'WARN',
  message,
  meta,
  timestampNanos: 0n,
});

describe("the one-command stack's worker lines", () => {
  it('show an attempt Temporal retries, with its error, in one line of text', () => {
    expect(
      workerLogLine(
        entry('Activity failed', { activityType: 'computeFeatures', attempt: 1, error: new Error('disk hiccup') }),
      ),
    ).toBe('worker warn: Activity failed (computeFeatures, attempt 1): Error: disk hiccup');
  });

  it("leave out what the command reports itself: the run's failure and a failure never retried", () => {
    expect(
      workerLogLine(entry('Workflow failed', { workflowType: 'monthlySegmentation', error: new Error('x') })),
    ).toBe(undefined);
    const contract = new SchemaContractError('usage.csv lacks required column(s): data_mb');
    expect(workerLogLine(entry('Activity failed', { activityType: 'planLoad', attempt: 1, error: contract }))).toBe(
      undefined,
    );
  });
});

describe("the worker's JSON log", () => {
  it("writes an entry's error with its type and message (pino wrote it as {})", () => {
    const lines: string[] = [];
    const logger = pino(loggerOptions('info'), { write: (line: string) => lines.push(line) });
    logger.warn({ error: new InputFileError('no input under /data') }, 'Workflow failed');
    expect(JSON.parse(lines[0]).error).toMatchObject({ type: 'InputFileError', message: 'no input under /data' });
  });
});
