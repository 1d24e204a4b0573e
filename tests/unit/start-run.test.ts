import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { startMonthlyRun } from '../../pipelines/client';
import { loadConfig } from '../../worker/config';

describe('starting a monthly run', () => {
  it('names a second run of the month started in the same millisecond apart, instead of failing it', async () => {
    const ids: string[] = [];
    const client = {
      workflow: {
        start: async (_workflow: unknown, options: { workflowId: string }) => {
          ids.push(options.workflowId);
          if (ids.length === 1)
            throw new WorkflowExecutionAlreadyStartedError(
              'already started',
              options.workflowId,
              'monthlySegmentation',
            );
          return { workflowId: options.workflowId };
        },
      },
    } as unknown as Client;
    const { handle } = await startMonthlyRun(client, loadConfig(), {
      params: { month: '2026-06', input: 'data' },
      requestedBy: 'analyst',
      indexed: false,
    });
    expect(ids).toHaveLength(2);
    expect(ids[1]).toMatch(new RegExp(`^${ids[0]}-[0-9a-f]{6}$`));
    expect(handle.workflowId).toBe(ids[1]);
  });
});
