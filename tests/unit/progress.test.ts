import { describe, expect, it } from 'vitest';
import { describeRows, ProgressLines } from '../../cli/progress';
import { combineProgress, stepFraction, type ActivityProgress } from '../../domain/progress';
import type { RunProgress } from '../../workflows/monthly-segmentation';

const report = (activityId: string, rest: Partial<ActivityProgress>): ActivityProgress => ({
  activityId,
  stage: 'load',
  step: 'load: reading and checking rows',
  ...rest,
});

describe('progress inside a stage', () => {
  it('sums rows over the partitions of a stage and names the latest step', () => {
    const combined = combineProgress([
      report('3', { rowsDone: 100, rowsTotal: 400 }),
      report('4', { step: 'load: partition 2 of 2', rowsDone: 50, rowsTotal: 400 }),
    ]);
    expect(combined).toEqual({ step: 'load: partition 2 of 2', rowsDone: 150, rowsTotal: 800 });
    expect(combineProgress([])).toBeUndefined();
  });

  it('measures a step by its files and the rows of the current one', () => {
    expect(stepFraction({ step: 'features: 02', done: 1, total: 4, rowsDone: 50, rowsTotal: 100 })).toBe(0.375);
    expect(stepFraction({ step: 'cluster: assigning', rowsDone: 30, rowsTotal: 120 })).toBe(0.25);
    expect(stepFraction({ step: 'churn: training' })).toBeUndefined();
  });

  it('prints plain lines: one per stage, and rows at most every few seconds', () => {
    const lines: string[] = [];
    let now = 0;
    const printer = new ProgressLines(
      (line) => lines.push(line.trim()),
      5_000,
      () => now,
    );
    const at = (stage: RunProgress['stage'], detail?: RunProgress['detail']): RunProgress => ({
      month: '2026-06',
      stage,
      stagesDone: 0,
      stagesTotal: 5,
      percent: 0,
      detail,
    });
    printer.update(at('load'));
    now = 1_000;
    printer.update(at('load', { step: 'load: rows', rowsDone: 10, rowsTotal: 40 }));
    now = 6_000;
    printer.update(at('load', { step: 'load: rows', rowsDone: 20, rowsTotal: 40 }));
    printer.update(at('features'));
    expect(lines.map((line) => line.replace(/^\d+\.\ds\s+/, ''))).toEqual([
      '[  0%] load',
      'load: rows, 20 / 40 rows scanned (50%)',
      '[  0%] features',
    ]);
    expect(describeRows({ step: 'x', rowsDone: 1_500_000, rowsTotal: 3_000_000 })).toBe(
      '1,500,000 / 3,000,000 rows scanned',
    );
  });
});
