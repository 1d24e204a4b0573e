import { DefaultLogger, Runtime, type LogEntry, type LogLevel } from '@temporalio/worker';
import pino from 'pino';
import { NON_RETRYABLE_ERROR_TYPES, UsageError } from '../domain/errors';

/** The levels SEGFLOW_LOG_LEVEL takes: pino's; the Temporal SDK's logger, which stops at error, takes fatal and silent as error. */
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/**
 * Routes the Temporal SDK's logs (worker, workflow and activity loggers, and the native core's,
 * which otherwise print ANSI-coloured text of their own) through pino as JSON lines on stderr.
 * Level from SEGFLOW_LOG_LEVEL (default `fallbackLevel`).
 *
 * `shutdownSignals: []` stops the SDK from shutting workers down on Ctrl-C by itself, for
 * commands that stop their worker in their own order (demo, run --local). `line`, for those
 * commands' worker: each entry as a line of text for the terminal (or nothing), instead of JSON.
 */
export function installLogger(
  fallbackLevel: 'debug' | 'info' | 'warn' | 'error',
  options: { shutdownSignals?: NodeJS.Signals[]; line?: (entry: LogEntry) => string | undefined } = {},
): pino.Logger {
  const level = (process.env.SEGFLOW_LOG_LEVEL ?? fallbackLevel).toLowerCase();
  if (!LOG_LEVELS.includes(level))
    throw new UsageError(
      `SEGFLOW_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(process.env.SEGFLOW_LOG_LEVEL)}`,
    );
  const logger = pino(loggerOptions(level), pino.destination(2));
  const toPino: Record<LogLevel, pino.Level> = {
    TRACE: 'trace',
    DEBUG: 'debug',
    INFO: 'info',
    WARN: 'warn',
    ERROR: 'error',
  };
  const sdkLevel = (level === 'fatal' || level === 'silent' ? 'ERROR' : level.toUpperCase()) as LogLevel;
  Runtime.install({
    logger: new DefaultLogger(sdkLevel, (entry) => {
      if (!options.line) logger[toPino[entry.level]]({ ...entry.meta }, entry.message);
      else {
        const text = options.line(entry);
        if (text !== undefined) process.stderr.write(`${text}\n`);
      }
    }),
    telemetryOptions: {
      logging: { filter: { core: sdkLevel === 'DEBUG' ? 'DEBUG' : 'WARN', other: 'ERROR' }, forward: {} },
    },
    ...(options.shutdownSignals ? { shutdownSignals: options.shutdownSignals } : {}),
  });
  return logger;
}

/**
 * pino's options: the SDK's entries carry a failure under `error`, which pino writes as `{}`
 * unless serialised as an error (type, message, stack, cause).
 */
export function loggerOptions(level: string): pino.LoggerOptions {
  return { level, base: { service: 'segflow' }, serializers: { error: pino.stdSerializers.err } };
}

/**
 * A worker log entry as the one-command stack prints it: what failed and why, in a line. The
 * command reports the run's own failure itself, so the worker's "Workflow failed" and an
 * activity's failure that is never retried (it is the run's) are left out: an attempt that
 * Temporal retries is what the terminal would otherwise not show.
 */
export function workerLogLine(entry: LogEntry): string | undefined {
  const meta = entry.meta ?? {};
  if (entry.message === 'Workflow failed') return undefined;
  if (meta.error instanceof Error && (NON_RETRYABLE_ERROR_TYPES as readonly string[]).includes(meta.error.name))
    return undefined;
  const subject = [meta.activityType, meta.attempt === undefined ? undefined : `attempt ${meta.attempt}`]
    .filter((part) => part !== undefined)
    .join(', ');
  const error = meta.error instanceof Error ? `: ${meta.error.name}: ${meta.error.message}` : '';
  return `worker ${entry.level.toLowerCase()}: ${entry.message}${subject ? ` (${subject})` : ''}${error}`;
}
