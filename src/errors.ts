/**
 * The closed set of failures flowrecon reports. One class, one code union;
 * the CLI turns a code into an exit code in exactly one place (`exitCodeFor`).
 */
export type ErrorCode =
  | 'USAGE' // bad command line
  | 'CONFIG' // a setting is invalid
  | 'AUTH' // AgentFlow session or Stripe key refused
  | 'NETWORK' // retries exhausted, timeouts, refused connections
  | 'BAD_FEED' // a response broke the pinned wire format
  | 'STRIPE' // Stripe answered an error we cannot ride out
  | 'DATABASE' // migration or storage failure
  | 'INVARIANT' // reconciliation buckets do not add up
  | 'LOCKED' // another process holds the job's lease
  | 'DISCREPANCIES' // --fail-on-discrepancy and some are open
  | 'INTERRUPTED' // stopped by SIGTERM/SIGINT between pages: a clean stop, the next run continues
  | 'INTERNAL';

export class FlowreconError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FlowreconError';
    this.code = code;
  }
}

export function isFlowreconError(err: unknown, code?: ErrorCode): err is FlowreconError {
  return err instanceof FlowreconError && (code === undefined || err.code === code);
}

/** Wrap anything thrown into a FlowreconError, keeping the original as `cause`. */
export function coerceError(err: unknown, code: ErrorCode = 'INTERNAL'): FlowreconError {
  if (err instanceof FlowreconError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new FlowreconError(code, message, { cause: err });
}

/**
 * CONTRACT 6: 0 success, 1 a run failed, 2 bad usage or settings, 3 discrepancies with --fail-on-discrepancy.
 * A stop on request (SIGTERM) is a clean exit: what was committed stays and the next run continues.
 */
export function exitCodeFor(err: unknown): 0 | 1 | 2 | 3 {
  if (!(err instanceof FlowreconError)) return 1;
  switch (err.code) {
    case 'USAGE':
    case 'CONFIG':
      return 2;
    case 'DISCREPANCIES':
      return 3;
    case 'INTERRUPTED':
      return 0;
    default:
      return 1;
  }
}
