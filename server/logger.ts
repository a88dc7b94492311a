import { type DestinationStream, type Logger, pino } from 'pino';
import type { LogLevel } from './config.ts';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level: LogLevel;
  replica: string;
}

/**
 * JSON lines on stdout with `replica` on every line, so logs of many replicas
 * interleaved by Docker or the scenario runner can still be told apart.
 * (A child logger keeps pino's own `pid` and `hostname` fields as well.)
 */
export function createLogger({ level, replica }: LoggerOptions, destination?: DestinationStream): Logger {
  const options = { level, timestamp: pino.stdTimeFunctions.isoTime };
  const root = destination ? pino(options, destination) : pino(options);
  return root.child({ replica });
}
