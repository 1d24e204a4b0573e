import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import pino from 'pino';

/**
 * Routes the Temporal SDK's logs (worker, workflow and activity loggers) through pino as JSON
 * lines on stderr. Level from SEGFLOW_LOG_LEVEL (default `fallbackLevel`).
 */
export function installLogger(fallbackLevel: 'debug' | 'info' | 'warn' | 'error'): pino.Logger {
  const level = (process.env.SEGFLOW_LOG_LEVEL ?? fallbackLevel).toLowerCase();
  const logger = pino({ level, base: { service: 'segflow' } }, pino.destination(2));
  const toPino: Record<LogLevel, pino.Level> = {
    TRACE: 'trace',
    DEBUG: 'debug',
    INFO: 'info',
    WARN: 'warn',
    ERROR: 'error',
  };
  Runtime.install({
    logger: new DefaultLogger(level.toUpperCase() as LogLevel, (entry) => {
      logger[toPino[entry.level]]({ ...entry.meta }, entry.message);
    }),
  });
  return logger;
}
