import { WorkflowFailedError } from '@temporalio/client';
import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  RetryState,
  TimeoutFailure,
  TimeoutType,
} from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { runEndedOtherwise } from '../../cli/commands/run';
import { workflowIdArg } from '../../cli/commands/runs';
import { EXIT } from '../../cli/options';
import { InfrastructureError, innermostFailure, isStoreWriteFailure, UsageError } from '../../domain/errors';
import { describeRunFailure } from '../../pipelines/client';
import { segflow } from '../helpers';

/** A failed run as the client sees it: the workflow failed because its load activity did. */
function failedRun(cause: Error): WorkflowFailedError {
  const activity = new ActivityFailure(
    'activity failed',
    'loadMonth',
    '1',
    RetryState.NON_RETRYABLE_FAILURE,
    'w',
    cause,
  );
  return new WorkflowFailedError('workflow failed', activity, RetryState.NON_RETRYABLE_FAILURE);
}

describe('the innermost failure of a run', () => {
  it("names the activity's typed error and its message, for the audit log and the CLI alike", () => {
    const typed = ApplicationFailure.create({ type: 'InputFileError', message: 'input not found: /data/june' });
    expect(innermostFailure(failedRun(typed))).toEqual({
      type: 'InputFileError',
      message: 'input not found: /data/june',
    });
    expect(describeRunFailure(failedRun(typed))).toBe('InputFileError: input not found: /data/june');
  });

  it('falls back to the error name when the innermost failure has no type', () => {
    const timeout = new TimeoutFailure('activity Heartbeat timeout', undefined, TimeoutType.HEARTBEAT);
    expect(innermostFailure(failedRun(timeout))).toEqual({
      type: 'TimeoutFailure',
      message: 'activity Heartbeat timeout',
    });
    expect(innermostFailure(ApplicationFailure.create({ message: 'untyped' }))).toEqual({
      type: 'ApplicationFailure',
      message: 'untyped',
    });
    expect(innermostFailure('not an error')).toEqual({ type: 'unknown', message: 'not an error' });
  });

  it('says a cancelled run published nothing, not "Workflow canceled"', () => {
    const cancelled = new WorkflowFailedError(
      'Workflow execution cancelled',
      new CancelledFailure('Workflow canceled'),
      RetryState.NON_RETRYABLE_FAILURE,
    );
    expect(describeRunFailure(cancelled)).toBe(
      'CancelledFailure: the run was cancelled and published nothing (segflow runs show, with its workflow id, says who asked)',
    );
  });

  it('says a followed run that was cancelled was cancelled, not that it failed, exit 1 as docs/cli.md says', async () => {
    const cancelled = new WorkflowFailedError(
      'Workflow execution cancelled',
      new CancelledFailure('Workflow canceled'),
      RetryState.NON_RETRYABLE_FAILURE,
    );
    expect(await runEndedOtherwise(cancelled, 'segflow-2026-06-x')).toEqual({
      text: "run cancelled: it published nothing ('segflow runs show segflow-2026-06-x' says who asked)",
      exit: EXIT.failed,
    });
    const typed = ApplicationFailure.create({ type: 'InputFileError', message: 'input not found: /data/june' });
    expect(await runEndedOtherwise(failedRun(typed), 'w')).toEqual({
      text: 'run failed: InputFileError: input not found: /data/june',
      exit: EXIT.failed,
    });
    expect(await runEndedOtherwise(new InfrastructureError('Temporal stopped answering'), 'w')).toEqual({
      text: 'Temporal stopped answering',
      exit: EXIT.infrastructure,
    });
  });

  it('refuses an empty workflow id as bad usage (exit 2), before reaching Temporal', async () => {
    expect(() => workflowIdArg('runs cancel', '')).toThrow(UsageError);
    expect(() => workflowIdArg('runs follow', '  ')).toThrow(UsageError);
    expect(workflowIdArg('runs cancel', 'segflow-2026-06-x')).toBe('segflow-2026-06-x');
    // nothing listens here: a run id that got past the check would fail to connect (exit 3)
    const cancel = await segflow(['runs', 'cancel', ''], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(cancel.code).toBe(EXIT.usage);
    expect(cancel.output).toContain("runs cancel: the workflow id is empty; give a run's workflow id");
  }, 60_000);

  it('reports any other client error by its message alone', () => {
    expect(describeRunFailure(new Error('cannot reach Temporal'))).toBe('cannot reach Temporal');
  });
});

describe('a store write that retrying cannot fix', () => {
  it("is told by Node's errno or DuckDB's message: no space, read-only, not permitted (an immutable folder), a file in the path", () => {
    const errno = (code: string) => Object.assign(new Error(`${code}: x`), { code });
    for (const error of [
      errno('ENOSPC'),
      errno('EACCES'),
      errno('EROFS'),
      errno('ENOTDIR'),
      new Error('IO Error: Could not write file "/store/x.parquet": No space left on device'),
      new Error('IO Error: Cannot open file "/store/file/x.parquet": Not a directory'),
      new Error('IO Error: Cannot open file "/store/.staging/x.parquet": Operation not permitted'),
    ])
      expect(isStoreWriteFailure(error), error.message).toBe(true);
    expect(isStoreWriteFailure(new Error('Binder Error: column "x" not found'))).toBe(false);
  });
});
