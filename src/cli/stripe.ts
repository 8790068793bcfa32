/**
 * `flowrecon sync stripe` (dispatched from the `sync` command in cli/ledger.ts):
 * builds the SDK client at the edge, runs the sync as a recorded run, closes
 * everything it opened.
 */
import type { Command } from 'commander';
import { FlowreconError } from '../errors.js';
import { createStripeApi } from '../stripe/client.js';
import { syncStripe } from '../stripe/sync.js';
import { withRun } from '../ops/runs.js';
import type { AppContext } from './context.js';
import { parseDateArg } from './dates.js';

/** Commands of the Stripe area, if any beyond `sync stripe` (which lives in cli/ledger.ts's `sync`). */
export function registerStripeCommands(program: Command): void {
  void program;
}

/** `flowrecon sync stripe` body; `sync` in cli/ledger.ts dispatches here. Returns a JSON-able result. */
export async function syncStripeCommand(
  ctx: AppContext,
  options: { since?: string; signal?: AbortSignal },
): Promise<Record<string, unknown>> {
  const since = options.since !== undefined ? new Date(parseDateArg(options.since, '--since')) : undefined;
  // Before the database or the network: a missing key is a settings error.
  const stripe = createStripeApi(ctx.config, ctx);
  const db = ctx.db();
  // Ctrl-C stops between pages, leaving the cursor where the last committed page put it.
  const controller = new AbortController();
  const stop = () => controller.abort(new Error('interrupted'));
  const outer = options.signal;
  outer?.addEventListener('abort', stop, { once: true });
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await withRun({ db, clock: ctx.clock, redactor: ctx.redactor }, 'sync-stripe', async (runId) => {
      const log = ctx.log.child({ stage: 'stripe', runId });
      const result = await syncStripe(
        { db, stripe, config: ctx.config, clock: ctx.clock, log },
        { ...(since ? { since } : {}), signal: controller.signal },
      );
      if (result.aborted) {
        throw new FlowreconError(
          'INTERRUPTED',
          `sync stripe interrupted (${result.charges} charges, ${result.refunds} refunds committed); the next run continues from there`,
        );
      }
      const out = { run_id: runId, stage: 'stripe', ...result };
      return { result: out, counts: { ...result } };
    });
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    outer?.removeEventListener('abort', stop);
    await stripe.close();
  }
}
