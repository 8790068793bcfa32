/** `run`, `schedule`, `status`, `alerts test` (CONTRACT 6, 9). Arguments in, stage functions called, nothing more. */
import type { Command } from 'commander';
import { JOBS } from '../../jobs/index.js';
import { FlowreconError } from '../errors.js';
import { createLedgerApi } from '../ledger/client.js';
import { createStripeApi } from '../stripe/client.js';
import { sendTestAlert } from '../alert/test.js';
import { runDaemon } from '../ops/daemon.js';
import { learnSessionSecret, type JobDeps } from '../ops/jobs.js';
import { formatStatus, readStatus } from '../ops/status.js';
import { runPipeline, type RunSummary } from '../pipeline/run.js';
import { createContext, type AppContext } from './context.js';
import { stopOnSignals } from './signals.js';

function jobDeps(ctx: AppContext): JobDeps {
  const apiDeps = { log: ctx.log, redactor: ctx.redactor };
  return {
    db: ctx.db(),
    config: ctx.config,
    clock: ctx.clock,
    log: ctx.log,
    redactor: ctx.redactor,
    ledgerApi: () => createLedgerApi(ctx.config, apiDeps),
    stripeApi: () => createStripeApi(ctx.config, apiDeps),
  };
}

function printSummary(ctx: AppContext, s: RunSummary): void {
  const byType = Object.entries(s.discrepancies.by_type)
    .map(([t, n]) => `${t} ${n}`)
    .join(', ');
  ctx.print(`run ${s.run_id}`);
  ctx.print(`discrepancies: ${s.discrepancies.open} open, ${s.discrepancies.new} new, ${s.discrepancies.resolved} resolved${byType ? ` (${byType})` : ''}`);
  if (s.balance) ctx.print(`balance: ${s.balance.available} FLOW available, ${s.balance.reserved} FLOW reserved, as of ${s.balance.as_of}`);
  ctx.print(`reports: ${s.reports.discrepancies}, ${s.reports.summary}`);
  const firing = s.alerts.filter((a) => a.state === 'firing').map((a) => a.type);
  ctx.print(`alerts firing: ${firing.length ? firing.join(', ') : 'none'}`);
}

export function registerOpsCommands(program: Command): void {
  program
    .command('run')
    .description('sync ledger, sync Stripe, reconcile, write reports, evaluate alerts: the scheduled job done once')
    .option('--json', 'print the run summary as one JSON object on stdout')
    .option('--fail-on-discrepancy', 'exit 3 when open discrepancies exist')
    .action(async (opts: { json?: boolean; failOnDiscrepancy?: boolean }, cmd: Command) => {
      const ctx = createContext(cmd);
      const stop = stopOnSignals(ctx.log);
      const deps = jobDeps(ctx);
      try {
        learnSessionSecret(deps);
        const ledgerApi = deps.ledgerApi();
        const stripeApi = deps.stripeApi();
        let summary: RunSummary;
        try {
          summary = await runPipeline({ ...deps, ledgerApi, stripeApi }, { signal: stop.signal });
        } catch (err) {
          // A requested shutdown is a clean stop: committed pages stay, the next run resumes from them.
          if (stop.signal.aborted && !(err instanceof FlowreconError && err.code === 'LOCKED')) {
            ctx.log.info('run stopped by signal; the next run resumes from the last committed page');
            return;
          }
          throw err;
        } finally {
          await ledgerApi.close().catch(() => undefined);
          await stripeApi.close().catch(() => undefined);
        }
        if (opts.json) ctx.print(JSON.stringify(summary));
        else printSummary(ctx, summary);
        if (opts.failOnDiscrepancy && summary.discrepancies.open > 0) {
          throw new FlowreconError('DISCREPANCIES', `${summary.discrepancies.open} open discrepancies (--fail-on-discrepancy)`);
        }
      } finally {
        stop.dispose();
        await ctx.close();
      }
    });

  program
    .command('schedule')
    .description('long-running daemon: the ledger, run and daily jobs on their cron schedules (SIGTERM/SIGINT stop it cleanly)')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = createContext(cmd);
      const stop = stopOnSignals(ctx.log);
      try {
        await runDaemon(jobDeps(ctx), JOBS, { signal: stop.signal });
      } finally {
        stop.dispose();
        await ctx.close();
      }
    });

  program
    .command('status')
    .description('balance, last syncs and runs, open discrepancies, alert states (from the database, no network)')
    .option('--json', 'print one JSON object on stdout')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const ctx = createContext(cmd);
      try {
        const status = await readStatus(ctx.db());
        ctx.print(opts.json ? JSON.stringify(status) : formatStatus(status));
      } finally {
        await ctx.close();
      }
    });

  const alerts = program.command('alerts').description('alert tools');
  alerts
    .command('test')
    .description('send one test alert to ALERT_WEBHOOK_URL')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = createContext(cmd);
      const outcome = await sendTestAlert({ config: ctx.config, clock: ctx.clock, log: ctx.log, redactor: ctx.redactor });
      ctx.print(`test alert delivered (HTTP ${outcome.status ?? '?'}, ${outcome.attempts} attempt${outcome.attempts === 1 ? '' : 's'}, Idempotency-Key ${outcome.eventId})`);
    });
  alerts.exitOverride();
}
