/**
 * Reconciliation: diff the two synced sides in the database as of
 * `clock.now()`, check the invariants, then update the discrepancy lifecycle
 * in one transaction. A failed invariant throws before anything is written.
 *
 * The reads run in one read transaction, so a sync committing meanwhile
 * cannot make the passes see two different databases.
 */
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Db } from '../db/connection.js';
import type { DiscrepancyType } from '../domain.js';
import type { Logger } from '../log.js';
import { addCounterparts } from './counterparts.js';
import { checkInvariants } from './invariants.js';
import { applyFindings } from './lifecycle.js';
import { Pricer } from './pricing.js';
import type { RuleContext } from './rules.js';
import { scan, type ScanResult } from './scan.js';

export interface ReconcileDeps {
  db: Db;
  config: Config;
  clock: Clock;
  log: Logger;
}

export interface ReconcileResult {
  runId: string;
  /** CONTRACT 6 `discrepancies` object. */
  discrepancies: { open: number; new: number; resolved: number; by_type: Partial<Record<DiscrepancyType, number>> };
  /** Open, unacknowledged discrepancies (the DISCREPANCIES alert's value). */
  unacknowledged: number;
  /** Ids first seen in this run. */
  newIds: string[];
}

export function ruleContext(config: Config, asOf: Date): RuleContext {
  return {
    asOfMs: asOf.getTime(),
    currency: config.currency.toLowerCase(),
    toleranceCents: config.priceToleranceCents,
    graceMinutes: config.billingGraceMinutes,
    ttlMinutes: config.reservationTtlMinutes,
    pricer: new Pricer(config),
  };
}

/** Diff the database's two sides as of `clock.now()`, update the discrepancy lifecycle. */
export async function reconcile(
  deps: ReconcileDeps,
  options: {
    runId: string;
    /** Sees (and may corrupt) the scan before the invariants are checked: for tests of the checks. */
    afterScan?: (scan: ScanResult) => void;
  },
): Promise<ReconcileResult> {
  const asOf = deps.clock.now();
  const log = deps.log.child({ stage: 'reconcile', runId: options.runId });
  const started = performance.now();
  const ctx = ruleContext(deps.config, asOf);
  const result = deps.db.sqlite.transaction(() => scan(deps.db.sqlite, ctx))();
  options.afterScan?.(result);
  checkInvariants(result.tally, result.inputs, result.findings);
  addCounterparts(result.findings, result.waitingUnlinked);
  const counts = applyFindings(deps.db, result.findings, options.runId, asOf.toISOString());
  const b = result.tally.buckets;
  log.info(
    {
      asOf: asOf.toISOString(),
      found: result.findings.length,
      open: counts.open,
      new: counts.new,
      resolved: counts.resolved,
      buckets: {
        matched: { calls: b.matched.calls, charges: b.matched.charges },
        discrepancy: { calls: b.discrepancy.calls, charges: b.discrepancy.charges },
        waiting: { calls: b.waiting.calls, charges: b.waiting.charges },
      },
      ms: Math.round(performance.now() - started),
    },
    'reconciled',
  );
  return {
    runId: options.runId,
    discrepancies: { open: counts.open, new: counts.new, resolved: counts.resolved, by_type: counts.by_type },
    unacknowledged: counts.unacknowledged,
    newIds: counts.newIds,
  };
}
