import { InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { UsageError } from '../domain/errors';
import { MAX_PARTITIONS } from '../domain/partitions';
import { addMonths, isMonth } from '../domain/month';
import stringWidth from 'string-width';
import { wrapWords } from '../domain/campaign-reading';

/**
 * Exit codes: 0 success, 1 the run failed or a check found problems, 2 bad usage or parameters,
 * 3 infrastructure unreachable, 4 nothing started (a `schedule trigger` its overlap policy
 * skipped), 130 interrupted (Ctrl-C) before the command finished.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, infrastructure: 3, skipped: 4, interrupted: 130 } as const;

/**
 * An option a command cannot run without, checked in its action: commander checks the options it
 * was told are required before unknown ones, so `run --mnth 2026-05` said "required option
 * '--month' not specified" and never named the typo. Declared as plain options (their help says
 * "required"), unknown options are named first, with the closest known one.
 */
export function required<T>(value: T | undefined, flags: string): T {
  if (value === undefined) throw new UsageError(`required option '${flags}' not specified`);
  return value;
}

/** The longest name or id a command records in the audit log or gives Temporal. */
const NAME_MAX = 200;

/**
 * A name the audit log records (`--requested-by`, `--actor`) or an id Temporal keeps (a schedule's),
 * for option `flag`: printed back by `runs list`, `runs show`, `snapshots show`, so no control or
 * direction characters (a newline forges a table line, an escape sequence rewrites the terminal, a
 * bidirectional override reorders a line), none empty, at most 200.
 */
export function recordedName(flag: string): (value: string) => string {
  return (value) => {
    if (value.trim() === '') throw new InvalidArgumentError('must not be empty');
    // not commander's message, which quotes the value as it is: the terminal would run its escapes
    if (/[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u.test(value))
      throw new UsageError(
        `${flag} ${JSON.stringify(value)} holds control or text-direction characters (a newline, a tab, an escape sequence, a right-to-left override): a name the audit log records or an id Temporal keeps may not`,
      );
    if (value.length > NAME_MAX) throw new InvalidArgumentError(`must be at most ${NAME_MAX} characters`);
    return value;
  };
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** A generated sample's months: the month scored and the one before it at least (data/generate.ts takes 2..120). */
export function sampleMonthsOption() {
  return new Option('--months <n>', 'months of usage, 2-120').argParser((value) => {
    const n = positiveInt(value);
    if (n < 2 || n > 120)
      throw new InvalidArgumentError('must be 2-120: the month scored and at least the one before it');
    return n;
  });
}

/** --partitions: how many activities the load and per-subscriber features are split into. */
export function partitionsOption() {
  return new Option(
    '--partitions <n>',
    `split the load and per-subscriber features into n activities (1-${MAX_PARTITIONS}); set it to the number of workers`,
  )
    .argParser((value) => {
      const n = positiveInt(value);
      if (n > MAX_PARTITIONS) throw new InvalidArgumentError(`must be at most ${MAX_PARTITIONS}`);
      return n;
    })
    .default(1);
}

/** --ui-port: where the dev server a command starts serves its Web UI. */
export function uiPortOption() {
  return new Option(
    '--ui-port <port>',
    'Web UI port of a dev server this command starts (default: gRPC port + 1000)',
  ).argParser((value) => {
    const port = positiveInt(value);
    if (port > 65_535) throw new InvalidArgumentError('must be a TCP port, 1-65535');
    return port;
  });
}

/**
 * `value` when Temporal reads it as a duration (30s, 2m, 1h), else a usage error naming `option`.
 * Checked as the command runs, not as its options parse: Temporal's parser loads with its client.
 */
export async function checkedDuration(option: string, value: string): Promise<string> {
  const { durationMs } = await import('../domain/durations');
  // Temporal reads a bare number as milliseconds: "--heartbeat-timeout 5" was 5 ms, and every stage's attempt was lost
  if (/^\s*[0-9.]+\s*$/.test(value))
    throw new UsageError(
      `${option}: "${value}" has no unit: write ${value.trim()}s, ${value.trim()}m or ${value.trim()}h`,
    );
  const ms = durationMs(value);
  if (ms === null) throw new UsageError(`${option}: "${value}" is not a duration such as 30s, 2m or 1h`);
  if (!(ms >= 1000)) throw new UsageError(`${option}: must be 1s or longer, got "${value}"`);
  return value;
}

/** An IANA time zone this Node knows (Temporal's server knows the same names). */
export function timeZoneArg(value: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
  } catch {
    throw new InvalidArgumentError('must be an IANA time zone such as UTC or Europe/Berlin');
  }
  return value;
}

export function monthArg(value: string): string {
  if (!isMonth(value)) throw new InvalidArgumentError('must be YYYY-MM with a month 01-12');
  return value;
}

/** --param k=8 --param treeDepth=5: values parse as JSON when they can (numbers, booleans), else text. */
function collectParam(pair: string, previous: Record<string, unknown>): Record<string, unknown> {
  const at = pair.indexOf('=');
  if (at < 1) throw new InvalidArgumentError(`expected name=value, got "${pair}"`);
  const raw = pair.slice(at + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // not JSON: keep the text
  }
  const name = pair.slice(0, at);
  // the later one would win unsaid
  if (name in previous)
    throw new InvalidArgumentError(
      `${name} is given twice (${JSON.stringify(previous[name])} and ${raw}): give it once`,
    );
  return { ...previous, [name]: value };
}

/** --param name=value, repeatable; the parameters are listed after the options. */
export function paramOption() {
  return new Option('--param <name=value>', 'run parameter, repeatable (listed below)')
    .argParser(collectParam)
    .default({}, 'none');
}

export function previousMonth(): string {
  const now = new Date();
  return addMonths(`${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`, -1);
}

/** Prints `value` as JSON, or through `human` for people. */
export function output<T>(json: boolean, value: T, human: (value: T) => string): void {
  console.log(json ? JSON.stringify(value, null, 2) : human(value));
}

/**
 * `text` padded to `width` terminal columns: a Chinese character takes two (a grid, a segment or
 * a column name of an operator's own data), so String.padEnd would misalign the columns after it.
 */
export function padColumns(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  const fill = ' '.repeat(Math.max(0, width - stringWidth(text)));
  return align === 'left' ? text + fill : fill + text;
}

/**
 * The width the listings and reports fit their text to (`snapshots list`, `runs list`, `cache
 * list`, `campaigns show`): fixed, not the terminal's, so what a pipe, a log or a test shows is
 * what the terminal showed.
 */
export const TEXT_WIDTH = 100;

/** `text` within `width` terminal columns: cut, ending in …, when it is wider (a Chinese character takes two). */
export function cutToWidth(text: string, width: number): string {
  if (stringWidth(text) <= width) return text;
  let cut = '';
  for (const { segment } of new Intl.Segmenter().segment(text)) {
    if (stringWidth(cut + segment) > width - 1) break;
    cut += segment;
  }
  return `${cut}…`;
}

/** A table's row: each value padded to its column's width (terminal columns), two spaces apart. */
function tableLine(values: string[], widths: number[]): string {
  return values
    .map((value, i) => padColumns(value, widths[i]))
    .join('  ')
    .trimEnd();
}

/**
 * A table of texts within `width` terminal columns: while it is wider, the `cut` columns narrow,
 * in their order, down to the width given for each (never below their header's), their values
 * ending in …. The last column is never cut, as it holds what the next command takes (a workflow
 * id): a value that does not fit beside its row takes a line of its own beneath it, indented.
 */
export function fittedTable(
  records: readonly Record<string, string>[],
  cut: Record<string, number> = {},
  width = TEXT_WIDTH,
): string {
  if (records.length === 0) return '(none)';
  const keys = Object.keys(records[0]);
  const widths = keys.map((key) => Math.max(stringWidth(key), ...records.map((row) => stringWidth(row[key]))));
  const over = () => widths.reduce((sum, w) => sum + w + 2, -2) - width;
  for (const [key, narrowest] of Object.entries(cut)) {
    const i = keys.indexOf(key);
    widths[i] = Math.max(narrowest, stringWidth(key), widths[i] - Math.max(0, over()));
  }
  const last = keys.length - 1;
  const lastAt = widths.slice(0, last).reduce((sum, w) => sum + w + 2, 0);
  widths[last] = Math.max(stringWidth(keys[last]), Math.min(widths[last], width - lastAt));
  const line = (values: string[]) => tableLine(values, widths);
  return [
    line(keys),
    line(widths.map((w) => '-'.repeat(w))),
    ...records.flatMap((row) => {
      const cells = keys.map((key, i) => (i === last ? row[key] : cutToWidth(row[key], widths[i])));
      return lastAt + stringWidth(cells[last]) <= width
        ? [line(cells)]
        : [line([...cells.slice(0, last), '']), `  ${cells[last]}`];
    }),
  ].join('\n');
}

/** A note under a listing, wrapped to TEXT_WIDTH, its continuation lines indented by two. */
export function wrappedNote(text: string): string {
  return wrapWords(text, TEXT_WIDTH, '  ').join('\n');
}

/** A fixed-width table for terminal output. */
export function table(records: readonly object[], columns?: string[]): string {
  if (records.length === 0) return '(none)';
  const rows = records as Record<string, unknown>[];
  const keys = columns ?? Object.keys(rows[0]);
  const cell = (value: unknown) =>
    typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(4) : String(value ?? '');
  const widths = keys.map((key) => Math.max(stringWidth(key), ...rows.map((row) => stringWidth(cell(row[key])))));
  const line = (values: string[]) => tableLine(values, widths);
  return [
    line(keys),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((row) => line(keys.map((key) => cell(row[key])))),
  ].join('\n');
}
