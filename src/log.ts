/**
 * One root logger per process (JSON lines on stderr), a child per stage and run:
 * `log.child({ stage: 'ledger', runId })`. Errors are logged as `{ err }`.
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import type { Redactor } from './secrets.js';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  redactor: Redactor;
  /** Where lines go; defaults to stderr. Tests pass an in-memory stream. */
  destination?: DestinationStream;
}

const REDACT_PATHS = [
  'headers.cookie',
  'headers.authorization',
  'headers["set-cookie"]',
  '*.headers.cookie',
  '*.headers.authorization',
  '*.headers["set-cookie"]',
  'err.headers',
  'err.raw.headers',
  'err.requestHeaders',
  'config.agentflowSession',
  'config.agentflowApiKey',
  'config.stripeApiKey',
];

export function createLogger(options: LoggerOptions): Logger {
  const { redactor } = options;
  return pino(
    {
      level: options.level ?? 'info',
      base: { app: 'flowrecon' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      hooks: {
        // Backstop: a secret value anywhere in the line is masked before it is written.
        streamWrite: (line: string) => redactor.scrub(line),
      },
    },
    options.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

/** A logger that writes nothing, for code paths that need one. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
