import { describe, expect, it } from 'vitest';
import { BackfillProgress, backfillProgressLine } from '../../cli/commands/schedule';
import { ProgressLines } from '../../cli/progress';
import { progressSince } from '../../pipelines/client';
import type { ScheduledMonths } from '../../pipelines/schedules';
import type { RunProgress } from '../../workflows/monthly-segmentation';

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

describe("schedule backfill shows the running month's stage", () => {
  const at = (month: string, stage: RunProgress['stage'], stagesDone: number, detail?: RunProgress['detail']) => ({
    month,
    stage,
    stagesDone,
    stagesTotal: 5,
    percent: stagesDone * 20,
    detail,
  });
  const months = (published: [string, number][], running: string[], notStarted: string[]): ScheduledMonths => ({
    published: new Map(published),
    failed: new Map(),
    cancelled: [],
    missing: [...running, ...notStarted],
    workflowIds: new Map([...published.map(([month]) => month), ...running].map((month) => [month, `wf-${month}`])),
    waiting: [],
  });

  /** A backfill's progress printed as plain lines into `lines`, its clock `now` (ProgressLines' detail every 5 s). */
  const printedInto = (
    lines: string[],
    query: ConstructorParameters<typeof BackfillProgress>[0],
    now: () => number = () => 0,
  ): BackfillProgress =>
    new BackfillProgress(
      query,
      (month) => new ProgressLines((line) => lines.push(line), 5_000, now, month),
      (line) => lines.push(line),
    );

  it("prints the running month's stage from its progress query as plain lines: once a stage, rows every few seconds", async () => {
    const lines: string[] = [];
    let now = 0;
    const answers: (RunProgress | Error)[] = [
      at('2026-03', 'load', 0),
      at('2026-03', 'load', 0, { step: 'load: reading and checking rows', rowsDone: 10, rowsTotal: 40 }),
      new Error('query timed out: no worker answered'),
      at('2026-03', 'features', 1, { step: 'features: 02_aggregates.sql', rowsDone: 5, rowsTotal: 50 }),
      at('2026-03', 'features', 1, { step: 'features: 02_aggregates.sql', rowsDone: 25, rowsTotal: 50 }),
      // the churn stage ended beside the clustering between two queries: both are shown
      at('2026-03', 'publish', 4),
      // joined as it trains: the stages before named too
      at('2026-04', 'churn', 3),
    ];
    const asked: string[] = [];
    const progress = printedInto(
      lines,
      (workflowId, last) => {
        asked.push(workflowId);
        const answer = answers.shift()!;
        return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(progressSince(last, answer));
      },
      () => now,
    );
    const marchRunning = months([], ['2026-03'], ['2026-04']);
    await progress.update(marchRunning);
    now = 1_000;
    await progress.update(marchRunning);
    // a query that fails shows nothing and fails nothing
    await progress.update(marchRunning);
    now = 2_000;
    await progress.update(marchRunning);
    now = 8_000;
    await progress.update(marchRunning);
    await progress.update(marchRunning);
    await progress.update(months([['2026-03', 1]], ['2026-04'], []));
    await progress.update(
      months(
        [
          ['2026-03', 1],
          ['2026-04', 1],
        ],
        [],
        [],
      ),
    );
    progress.stop();
    expect(asked).toEqual([...Array(6).fill('wf-2026-03'), 'wf-2026-04']);
    expect(lines.map((line) => line.replace(/^\s*\d+\.\ds\s+/, ''))).toEqual([
      '0 of 2 months ended; running: 2026-03; not started yet: 2026-04',
      '[  0%] 2026-03 load',
      '[ 20%] 2026-03 features',
      'features: 02_aggregates.sql, 25 / 50 rows scanned (50%)',
      '[ 40%] 2026-03 cluster',
      '[ 60%] 2026-03 churn',
      '[ 80%] 2026-03 publish',
      '1 of 2 months ended (2026-03 v1); running: 2026-04',
      '[  0%] 2026-04 load',
      '[ 20%] 2026-04 features',
      '[ 40%] 2026-04 cluster',
      '[ 60%] 2026-04 churn',
      '2 of 2 months ended (2026-03 v1, 2026-04 v1)',
    ]);
  });

  it('keeps the stages it showed of a month when the months line changes while it runs', async () => {
    const lines: string[] = [];
    const answers = [at('2026-03', 'features', 1), at('2026-03', 'features', 1), at('2026-03', 'cluster', 2)];
    const progress = printedInto(lines, (_workflowId, last) => Promise.resolve(progressSince(last, answers.shift()!)));
    await progress.update(months([], ['2026-03'], ['2026-04']));
    // April's run starts and waits for a worker while March's runs on: a new line, the same run
    const aprilWaiting = months([], ['2026-03', '2026-04'], []);
    await progress.update({ ...aprilWaiting, waiting: ['2026-04'] });
    await progress.update({ ...aprilWaiting, waiting: ['2026-04'] });
    progress.stop();
    expect(lines.map((line) => line.replace(/^\s*\d+\.\ds\s+/, ''))).toEqual([
      '0 of 2 months ended; running: 2026-03; not started yet: 2026-04',
      '[  0%] 2026-03 load',
      '[ 20%] 2026-03 features',
      '0 of 2 months ended; running: 2026-03; waiting for a worker: 2026-04',
      // the stage it is in, said again beneath the line (a terminal's bar drawn again), and none before it
      '[ 20%] 2026-03 features',
      '[ 40%] 2026-03 cluster',
    ]);
  });

  it('asks one query at a time, and shows nothing of a month that ended while its query was out', async () => {
    const lines: string[] = [];
    let answer: (progress: RunProgress) => void = () => {};
    let asked = 0;
    const progress = printedInto(lines, (_workflowId, last) => {
      asked++;
      return new Promise<RunProgress>((resolve) => (answer = resolve)).then((now) => progressSince(last, now));
    });
    const running = months([], ['2026-03'], []);
    const first = progress.update(running);
    void progress.update(running);
    void progress.update(running);
    expect(asked).toBe(1);
    await progress.update(months([['2026-03', 1]], [], []));
    answer(at('2026-03', 'publish', 4));
    await first;
    expect(lines.map((line) => line.replace(/^\s*\d+\.\ds\s+/, ''))).toEqual([
      '0 of 1 months ended; running: 2026-03',
      '1 of 1 months ended (2026-03 v1)',
    ]);
  });
});
