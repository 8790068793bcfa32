/**
 * The `run` job done once: ledger sync, Stripe sync, reconcile, reports,
 * alerts — under the `run` lease, recorded as a run. Every stage is a
 * dependency, so tests and the demo can swap any of them.
 */
import { isAbsolute, relative } from 'node:path';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Db } from '../db/connection.js';
import { isFlowreconError } from '../errors.js';
import type { LedgerApi } from '../ledger/client.js';
import type { Logger } from '../log.js';
import { formatFlow } from '../money.js';
import type { Redactor } from '../secrets.js';
import type { StripeApi } from '../stripe/client.js';
import { evaluateAlerts } from '../alert/index.js';
import { latestSnapshot, markLedgerSyncOk } from '../alert/inputs.js';
import { anySignal, interrupted, throwIfStopped } from '../ops/abort.js';
import { withLease } from '../ops/lease.js';
import { abandonStaleRuns, withRun } from '../ops/runs.js';
import { stagesWith, type Stages } from '../ops/stages.js';

export interface PipelineDeps {
  db: Db;
  config: Config;
  clock: Clock;
  log: Logger;
  redactor: Redactor;
  ledgerApi: LedgerApi;
  stripeApi: StripeApi;
  /** Replace stage functions (tests, demo). */
  stages?: Partial<Stages>;
  /** Lease holder identity; defaults to this process. */
  holder?: string;
}

/** CONTRACT 6 `run --json` object. */
export interface RunSummary {
  run_id: string;
  discrepancies: { open: number; new: number; resolved: number; by_type: Record<string, number> };
  reports: { discrepancies: string; summary: string };
  balance: { available: string; reserved: string; as_of: string } | null;
  alerts: { type: string; state: 'ok' | 'firing' }[];
}

/** Paths under the working directory are shown relative to it (as the contract's example), others as written. */
export function displayPath(path: string, cwd = process.cwd()): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** The scheduled job done once: sync ledger, sync Stripe, reconcile, write reports, evaluate alerts. */
export async function runPipeline(deps: PipelineDeps, options: { signal?: AbortSignal; reportsDir?: string } = {}): Promise<RunSummary> {
  const { db, config, clock } = deps;
  const stages = stagesWith(deps.stages);
  const leaseOptions = {
    ttlSeconds: config.leaseTtlSeconds,
    waitSeconds: config.leaseWaitSeconds,
    ...(deps.holder ? { holder: deps.holder } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  return withLease(deps, 'run', leaseOptions, (lease) => {
    abandonStaleRuns(db, clock, 'run');
    return withRun(deps, 'run', async (runId) => {
      const signal = anySignal(options.signal, lease.lost);
      const log = deps.log.child({ job: 'run', runId });
      const alertDeps = { ...deps, log };
      const started = clock.now().getTime();
      log.info('run started');

      let ledger;
      try {
        // The ledger job syncs the same feed: hold its lease too, so the two never sync at once across processes.
        ledger = await withLease(deps, 'ledger', leaseOptions, (ledgerLease) =>
          stages.syncLedger(
            { db, api: deps.ledgerApi, clock, log: log.child({ stage: 'ledger' }) },
            { pageSize: config.agentflowPageSize, signal: anySignal(signal, ledgerLease.lost) },
          ),
        );
      } catch (err) {
        // The run fails; its alerts are still raised first (AUTH_FAILED on a 401, SYNC_STALE when overdue).
        await evaluateAlerts(alertDeps, { types: ['AUTH_FAILED', 'SYNC_STALE'], ...(isFlowreconError(err, 'AUTH') ? { authFailed: true } : {}), signal });
        throw err;
      }
      throwIfStopped(signal, 'the ledger sync');
      if (ledger.aborted) throw interrupted('the ledger sync');
      markLedgerSyncOk(db, clock);

      let stripe, rec, reports;
      try {
        stripe = await stages.syncStripe({ db, stripe: deps.stripeApi, config, clock, log: log.child({ stage: 'stripe' }) }, { signal });
        throwIfStopped(signal, 'the Stripe sync');
        if (stripe.aborted) throw interrupted('the Stripe sync');

        rec = await stages.reconcile({ db, config, clock, log: log.child({ stage: 'reconcile' }) }, { runId });
        reports = await stages.writeRunReports({ db, config, clock }, { runId, ...(options.reportsDir ? { dir: options.reportsDir } : {}) });
      } catch (err) {
        // The ledger is fresh even though a later stage failed: its alerts still count.
        if (!signal.aborted) await evaluateAlerts(alertDeps, { types: ['LOW_BALANCE', 'LOW_RUNWAY', 'AUTH_FAILED', 'SYNC_STALE'], authFailed: false, signal });
        throw err;
      }

      const alerts = await evaluateAlerts(alertDeps, {
        types: ['LOW_BALANCE', 'LOW_RUNWAY', 'DISCREPANCIES', 'AUTH_FAILED', 'SYNC_STALE'],
        authFailed: false,
        newDiscrepancies: rec.discrepancies.new,
        signal,
      });

      const snap = latestSnapshot(db);
      const summary: RunSummary = {
        run_id: runId,
        discrepancies: {
          open: rec.discrepancies.open,
          new: rec.discrepancies.new,
          resolved: rec.discrepancies.resolved,
          by_type: { ...rec.discrepancies.by_type } as Record<string, number>,
        },
        reports: { discrepancies: displayPath(reports.discrepancies), summary: displayPath(reports.summary) },
        balance: snap ? { available: formatFlow(snap.balanceMicro), reserved: formatFlow(snap.reservedMicro), as_of: snap.asOf } : null,
        alerts: alerts.states,
      };
      const counts = {
        ledger: { pages: ledger.pages, fetched: ledger.fetched, inserted: ledger.inserted, duplicates: ledger.duplicates, breaks: ledger.breaks },
        stripe: { charges: stripe.charges, refunds: stripe.refunds, events: stripe.events },
        discrepancies: summary.discrepancies,
        alerts: alerts.events.length,
        ms: clock.now().getTime() - started,
      };
      log.info({ counts }, 'run finished');
      return { result: summary, counts };
    });
  });
}
