/** `flowrecon sync ledger|stripe|all [--json] [--since D]` (CONTRACT 6). */
import { Argument, type Command } from 'commander';
import { FlowreconError } from '../errors.js';
import { progressLine } from '../ledger/progress.js';
import { ledgerCredential } from '../ledger/client.js';
import { syncLedger, type LedgerSyncResult } from '../ledger/sync.js';
import { createSyncLedgerApi } from '../ledger/threaded-client.js';
import { formatFlow } from '../money.js';
import { withRun } from '../ops/runs.js';
import { stopOnSignals } from './signals.js';
import { createContext, type AppContext } from './context.js';
import { parseDateArg } from './dates.js';
import { syncStripeCommand } from './stripe.js';

export interface LedgerCommandResult {
  run_id: string;
  pages: number;
  fetched: number;
  inserted: number;
  duplicates: number;
  breaks: number;
  balance: { available: string; reserved: string; as_of: string } | null;
}

/**
 * `flowrecon sync ledger` body: one recorded run (`sync-ledger`) of the
 * ledger sync, logging as `{stage: 'ledger', runId}`. Returns what `--json`
 * prints under "ledger".
 */
export async function syncLedgerCommand(
  ctx: AppContext,
  options: { signal?: AbortSignal; progress?: boolean } = {},
): Promise<LedgerCommandResult> {
  // Read before the database is opened, so missing credentials stop the command first (exit 2).
  const credential = ledgerCredential(ctx.config);
  const db = ctx.db();
  return withRun({ db, clock: ctx.clock, redactor: ctx.redactor }, 'sync-ledger', async (runId) => {
    const runLog = ctx.log.child({ stage: 'ledger', runId });
    // A backlog is fetched and validated on a worker thread, overlapping the SQLite writes.
    const api = createSyncLedgerApi(ctx.config, { log: runLog, redactor: ctx.redactor }, { credential });
    try {
      const progress = options.progress ? progressLine(process.stderr, 'sync ledger') : null;
      let result: LedgerSyncResult;
      try {
        result = await syncLedger(
          { db, api, clock: ctx.clock, log: runLog },
          {
            pageSize: ctx.config.agentflowPageSize,
            ...(options.signal ? { signal: options.signal } : {}),
            ...(progress ? { onPage: (p) => progress.update(p) } : {}),
          },
        );
      } finally {
        progress?.done();
      }
      if (result.aborted) {
        throw new FlowreconError(
          'INTERRUPTED',
          `sync ledger interrupted after ${result.pages} pages (${result.inserted} new movements committed); the next run continues from there`,
        );
      }
      const summary: LedgerCommandResult = {
        run_id: runId,
        pages: result.pages,
        fetched: result.fetched,
        inserted: result.inserted,
        duplicates: result.duplicates,
        breaks: result.breaks,
        balance: result.balance && {
          available: formatFlow(result.balance.balanceMicro),
          reserved: formatFlow(result.balance.reservedMicro),
          as_of: result.balance.asOf,
        },
      };
      const { run_id: _, balance: __, ...counts } = summary;
      return { result: summary, counts };
    } finally {
      await api.close();
    }
  });
}

function describeLedger(r: LedgerCommandResult): string {
  const balance = r.balance ? `; balance ${r.balance.available} FLOW, reserved ${r.balance.reserved}, as of ${r.balance.as_of}` : '';
  return `ledger: ${r.pages} pages, ${r.fetched} movements fetched, ${r.inserted} new, ${r.duplicates} repeated, ${r.breaks} chain breaks${balance}`;
}

export function registerLedgerCommands(program: Command): void {
  program
    .command('sync')
    .description('run one sync stage: the AgentFlow ledger, Stripe, or both (ledger first)')
    .addArgument(new Argument('<target>', 'what to sync').choices(['ledger', 'stripe', 'all']))
    .option('--json', 'print one JSON object on stdout')
    .option('--since <date>', 'Stripe: fetch objects created since this date (ISO date or timestamp)')
    .action(async (target: 'ledger' | 'stripe' | 'all', opts: { json?: boolean; since?: string }, cmd: Command) => {
      if (opts.since !== undefined && target === 'ledger') throw new FlowreconError('USAGE', '--since applies to sync stripe and sync all only');
      const since = opts.since === undefined ? undefined : parseDateArg(opts.since, '--since');
      const ctx = createContext(cmd);
      const interrupt = stopOnSignals(ctx.log);
      const out: Record<string, unknown> = {};
      try {
        if (target !== 'stripe') {
          const ledger = await syncLedgerCommand(ctx, { signal: interrupt.signal, progress: ctx.interactive && !opts.json });
          out.ledger = ledger;
          if (!opts.json) ctx.print(describeLedger(ledger));
        }
        if (target !== 'ledger') {
          const stripe = await syncStripeCommand(ctx, { ...(since === undefined ? {} : { since }), signal: interrupt.signal });
          out.stripe = stripe;
          if (!opts.json) ctx.print(`stripe: ${JSON.stringify(stripe)}`);
        }
        if (opts.json) ctx.print(JSON.stringify(out));
      } catch (err) {
        // Secrets learnt during the run (a session file's content) are known only to this context's redactor.
        if (err instanceof Error) err.message = ctx.redactor.scrub(err.message);
        throw err;
      } finally {
        interrupt.dispose();
        await ctx.close();
      }
    });
}
