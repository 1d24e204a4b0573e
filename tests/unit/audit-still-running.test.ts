import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { stillRunning } from '../../pipelines/audit-crosscheck';
import type { AuditProblem } from '../../store/audit-verify';

/** A client whose describe answers each run id's status from `statuses` (and fails for the others). */
function clientAnswering(statuses: Record<string, string>): Client {
  const getHandle = (_workflowId: string, runId: string) => ({
    describe: async () => {
      const name = statuses[runId];
      if (!name) throw new Error('workflow not found');
      return { status: { name } };
    },
  });
  return { workflow: { getHandle } } as unknown as Client;
}

describe('audit verify with Temporal: a run without an end', () => {
  it('is no finding while Temporal holds it running; ended, unknown or other findings stay', async () => {
    const finding = (runId: string): AuditProblem => ({
      where: 'audit seq 1',
      problem: `RUN WITHOUT AN END: run wf (${runId}) …`,
      run: { workflowId: 'wf', runId },
    });
    const problems = [finding('long-stage'), finding('terminated'), finding('forgotten'), { where: 'x', problem: 'y' }];
    const client = clientAnswering({ 'long-stage': 'RUNNING', terminated: 'TERMINATED' });
    expect(await stillRunning(client, problems)).toEqual([problems[0]]);
  });
});
