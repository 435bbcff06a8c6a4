import pino from 'pino';

export const logLevels = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof logLevels)[number];
export type Logger = pino.Logger;

/**
 * JSON lines on stderr, so stdout stays free for command output. Writes are
 * synchronous so the last lines before an exit (a startup failure, a signal)
 * are not lost in a buffer.
 */
export function createLogger(level: LogLevel, fd = 2): Logger {
  return pino(
    { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ fd, sync: true }),
  );
}
