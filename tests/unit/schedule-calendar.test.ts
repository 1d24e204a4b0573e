import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../domain/errors';
import { monthBefore } from '../../domain/month';
import { backfillMonths, calendarText } from '../../pipelines/schedules';

describe("a schedule's calendar as people read it", () => {
  it('reads the ranges Temporal describes a calendar field with, and a plain value', () => {
    // what describe() returns for a schedule created with dayOfMonth 2, hour 3, minute 0
    expect(calendarText([{ start: 2, end: 2, step: 1 }])).toBe('2');
    expect(calendarText([{ start: 0 }])).toBe('0');
    expect(calendarText([{ start: 1, end: 5, step: 1 }])).toBe('1-5');
    expect(calendarText([{ start: 0, end: 30, step: 15 }, { start: 45 }])).toBe('0-30/15,45');
    expect(calendarText(3)).toBe('3');
  });
});

describe('a backfill', () => {
  it('refuses a month that has not ended, before asking Temporal anything', async () => {
    const thisMonth = new Date().toISOString().slice(0, 7);
    await expect(backfillMonths({} as Client, 'monthly', '2020-01', thisMonth)).rejects.toThrow(
      new UsageError(
        `--to ${thisMonth} has not ended yet: the last month a backfill can process is ${monthBefore(new Date())}`,
      ),
    );
  });
});
