/** Shutdown plumbing: one signal for "stop soon", and the error a stopped job ends with. */
import { FlowreconError } from '../errors.js';

/** A signal aborted when any of the given ones is. */
export function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  return present.length === 1 ? (present[0] as AbortSignal) : AbortSignal.any(present);
}

/** The job stopped between transactions because shutdown was asked for; the next run resumes from what was committed. */
export function interrupted(stage: string): FlowreconError {
  return new FlowreconError('INTERNAL', `interrupted during ${stage} by a shutdown signal; committed work is kept and the next run resumes from it`);
}

export function throwIfStopped(signal: AbortSignal | undefined, stage: string): void {
  if (signal?.aborted) {
    const reason: unknown = signal.reason;
    // A lost lease is its own failure; anything else is a requested shutdown.
    if (reason instanceof FlowreconError && reason.code === 'LOCKED') throw reason;
    throw interrupted(stage);
  }
}
