import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { stepFraction, type StepProgress } from '../domain/progress';
import type { RunProgress } from '../workflows/monthly-segmentation';
import { elapsed } from './format';

/** Shows a followed run's progress; `stop` before printing anything else. */
export interface ProgressDisplay {
  update(progress: RunProgress): void;
  stop(): void;
}

/**
 * A live bar per stage on a terminal, plain lines otherwise (logs, pipes, CI). `label` goes before
 * each stage's name: the month, where several runs are shown one after another (`schedule backfill`).
 */
export function progressDisplay(stream: NodeJS.WriteStream = process.stdout, label = ''): ProgressDisplay {
  return stream.isTTY
    ? new StageBars(stream, label)
    : new ProgressLines((line) => stream.write(`${line}\n`), undefined, undefined, label);
}

/**
 * "1,200,000 / 4,800,000 rows scanned", or '' when the step counts no rows. DuckDB's count of the
 * rows its statement scans, every table and pass of it: not the input's rows, which a step reads
 * with joins and several passes (an analyst took 1,980,701 for a miscount of 207,288 input rows).
 */
export function describeRows(detail: StepProgress | undefined): string {
  if (detail?.rowsTotal === undefined) return '';
  const n = (value: number) => value.toLocaleString('en-US');
  return `${n(detail.rowsDone ?? 0)} / ${n(detail.rowsTotal)} rows scanned`;
}

const PER_MILLE = 1000;

class StageBars implements ProgressDisplay {
  private readonly bars: MultiBar;
  private readonly byStage = new Map<string, SingleBar>();
  private current: string | undefined;

  constructor(
    stream: NodeJS.WriteStream,
    private readonly label: string,
  ) {
    this.bars = new MultiBar(
      {
        stream,
        format: '{stage} [{bar}] {percentage}% {rows} {step}',
        hideCursor: true,
        clearOnComplete: false,
        autopadding: true,
      },
      Presets.shades_classic,
    );
  }

  update(progress: RunProgress): void {
    if (progress.stage !== this.current && this.current) this.finish(this.current);
    if (!isRunning(progress.stage)) return;
    this.current = progress.stage;
    let bar = this.byStage.get(progress.stage);
    if (!bar) {
      const stage = this.label ? `${this.label} ${progress.stage.padEnd(8)}` : progress.stage.padEnd(8);
      bar = this.bars.create(PER_MILLE, 0, { stage, rows: '', step: '' });
      this.byStage.set(progress.stage, bar);
    }
    const fraction = progress.detail ? stepFraction(progress.detail) : undefined;
    bar.update(fraction === undefined ? 0 : Math.floor(fraction * PER_MILLE), {
      rows: describeRows(progress.detail),
      step: progress.detail?.step ?? '',
    });
  }

  private finish(stage: string): void {
    this.byStage.get(stage)?.update(PER_MILLE, { rows: '', step: 'done' });
  }

  stop(): void {
    this.bars.stop();
  }
}

/** A line when a stage starts, and one every few seconds while it reports rows. */
export class ProgressLines implements ProgressDisplay {
  private stage = '';
  private lastDetailAt = 0;

  constructor(
    private readonly print: (line: string) => void,
    private readonly detailEveryMs = 5_000,
    private readonly now = () => Date.now(),
    private readonly label = '',
  ) {}

  update(progress: RunProgress): void {
    if (progress.stage !== this.stage) {
      this.stage = progress.stage;
      this.lastDetailAt = this.now();
      const stage = this.label ? `${this.label} ${progress.stage}` : progress.stage;
      this.print(`${elapsed()}  [${String(progress.percent).padStart(3)}%] ${stage}`);
      return;
    }
    const rows = describeRows(progress.detail);
    if (!rows || this.now() - this.lastDetailAt < this.detailEveryMs) return;
    this.lastDetailAt = this.now();
    const fraction = progress.detail ? stepFraction(progress.detail) : undefined;
    const percent = fraction === undefined ? '' : ` (${Math.round(fraction * 100)}%)`;
    this.print(`${elapsed()}         ${progress.detail?.step ?? progress.stage}, ${rows}${percent}`);
  }

  stop(): void {}
}

function isRunning(stage: RunProgress['stage']): boolean {
  return stage !== 'done' && stage !== 'failed' && stage !== 'cancelled';
}
