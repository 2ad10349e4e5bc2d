// One pino logger for the daemon: JSON lines on stdout, level from the config.
import pino, { type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({ level, base: { svc: 'tether' }, timestamp: pino.stdTimeFunctions.isoTime });
}
