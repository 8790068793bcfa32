// STUB (issue 5 owner replaces the body; keep the exported names and shapes).
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Db } from '../db/connection.js';
import { FlowreconError } from '../errors.js';
import type { LedgerApi } from '../ledger/client.js';
import type { Logger } from '../log.js';
import type { Redactor } from '../secrets.js';
import type { StripeApi } from '../stripe/client.js';

export interface PipelineDeps {
  db: Db;
  config: Config;
  clock: Clock;
  log: Logger;
  redactor: Redactor;
  ledgerApi: LedgerApi;
  stripeApi: StripeApi;
}

/** CONTRACT 6 `run --json` object. */
export interface RunSummary {
  run_id: string;
  discrepancies: { open: number; new: number; resolved: number; by_type: Record<string, number> };
  reports: { discrepancies: string; summary: string };
  balance: { available: string; reserved: string; as_of: string } | null;
  alerts: { type: string; state: 'ok' | 'firing' }[];
}

/** The scheduled job done once: sync ledger, sync Stripe, reconcile, write reports, evaluate alerts. */
export async function runPipeline(deps: PipelineDeps, options: { signal?: AbortSignal; reportsDir?: string } = {}): Promise<RunSummary> {
  void deps;
  void options;
  throw new FlowreconError('INTERNAL', 'run pipeline not implemented yet');
}
