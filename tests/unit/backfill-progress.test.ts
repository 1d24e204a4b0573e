import { describe, expect, it } from 'vitest';
import { backfillProgressLine } from '../../cli/commands/schedule';

describe('schedule backfill while it waits', () => {
  it('says in a line which months ended, which run, which wait for a worker and which have not started', () => {
    expect(
      backfillProgressLine({
        published: new Map([['2026-01', 1]]),
        failed: new Map([['2026-02', 'DataQualityError: ...']]),
        cancelled: [],
        missing: ['2026-03', '2026-04', '2026-05'],
        workflowIds: new Map([
          ['2026-01', 'w1'],
          ['2026-02', 'w2'],
          ['2026-03', 'w3'],
          ['2026-04', 'w4'],
        ]),
        waiting: ['2026-04'],
      }),
    ).toBe(
      '2 of 5 months ended (2026-01 v1, 2026-02 failed); running: 2026-03; waiting for a worker: 2026-04; not started yet: 2026-05',
    );
  });
});
