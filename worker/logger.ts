import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import pino from 'pino';

/**
 * Routes the Temporal SDK's logs (worker, workflow and activity loggers, and the native core's,
 * which otherwise print ANSI-coloured text of their own) through pino as JSON lines on stderr.
 * Level from SEGFLOW_LOG_LEVEL (default `fallbackLevel`).
 *
 * `shutdownSignals: []` stops the SDK from shutting workers down on Ctrl-C by itself, for
 * commands that stop their worker in their own order (demo, run --local).
 */
export function installLogger(
  fallbackLevel: 'debug' | 'info' | 'warn' | 'error',
  options: { shutdownSignals?: NodeJS.Signals[] } = {},
): pino.Logger {
  const level = (process.env.SEGFLOW_LOG_LEVEL ?? fallbackLevel).toLowerCase();
  const logger = pino({ level, base: { service: 'segflow' } }, pino.destination(2));
  const toPino: Record<LogLevel, pino.Level> = {
    TRACE: 'trace',
    DEBUG: 'debug',
    INFO: 'info',
    WARN: 'warn',
    ERROR: 'error',
  };
  const sdkLevel = level.toUpperCase() as LogLevel;
  Runtime.install({
    logger: new DefaultLogger(sdkLevel, (entry) => {
      logger[toPino[entry.level]]({ ...entry.meta }, entry.message);
    }),
    telemetryOptions: {
      logging: { filter: { core: sdkLevel === 'DEBUG' ? 'DEBUG' : 'WARN', other: 'ERROR' }, forward: {} },
    },
    ...(options.shutdownSignals ? { shutdownSignals: options.shutdownSignals } : {}),
  });
  return logger;
}
