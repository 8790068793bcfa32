// STUB (issue 3 owner replaces the body; keep the exported names and shapes).
import type { Command } from 'commander';
import { FlowreconError } from '../errors.js';
import type { AppContext } from './context.js';

/** Commands of the Stripe area, if any beyond `sync stripe` (which lives in cli/ledger.ts's `sync`). */
export function registerStripeCommands(program: Command): void {
  void program;
}

/** `flowrecon sync stripe` body; `sync` in cli/ledger.ts dispatches here. Returns a JSON-able result. */
export async function syncStripeCommand(ctx: AppContext, options: { since?: string }): Promise<Record<string, unknown>> {
  void ctx;
  void options;
  throw new FlowreconError('INTERNAL', 'sync stripe not implemented yet');
}
