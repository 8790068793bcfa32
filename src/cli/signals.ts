/**
 * SIGTERM / SIGINT as an AbortSignal: the stages stop between pages, after the
 * transaction in flight, and the command exits cleanly. `dispose` removes the
 * handlers so a finished command leaves nothing behind.
 */
import { FlowreconError } from '../errors.js';
import type { Logger } from '../log.js';

export interface StopSignal {
  readonly signal: AbortSignal;
  dispose(): void;
}

export function stopOnSignals(log?: Logger): StopSignal {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    log?.info({ signal: name }, 'shutdown requested: finishing the current transaction');
    controller.abort(new FlowreconError('INTERRUPTED', `interrupted by ${name}`));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
  };
}
