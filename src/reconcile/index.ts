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
import { applyFindings, readState } from './lifecycle.js';
import { Pricer } from './pricing.js';
import type { RuleContext } from './rules.js';
import { scan, type ScanResult, type Scope } from './scan.js';
import type { Probe } from './facts.js';

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

/** What an incremental run needs from the last one. */
interface IncrementalState {
  seq: number;
  syncedAt: string;
  /** The settings the outcomes were decided under; any change forces a full run. */
  fingerprint: string;
  /** When the last full run was (ISO). */
  fullAt: string;
}

/** A full run at least this often, whatever the incremental state says: a safety net, not a need. */
const FULL_EVERY_MS = 24 * 3600_000;

function fingerprint(config: Config): string {
  return JSON.stringify([
    config.flowUsdRate,
    config.markup,
    config.pricing,
    config.currency,
    config.priceToleranceCents,
    config.billingGraceMinutes,
    config.reservationTtlMinutes,
  ]);
}

/** Null = judge the whole book. */
function chooseScope(state: IncrementalState | null, config: Config, asOf: Date, full: boolean): Scope | null {
  if (full || state === null || state.fingerprint !== fingerprint(config)) return null;
  const sinceFull = asOf.getTime() - Date.parse(state.fullAt);
  if (!(sinceFull >= 0 && sinceFull < FULL_EVERY_MS)) return null;
  return { afterSeq: state.seq, syncedSince: state.syncedAt };
}

/** Open UNBILLED_CALL / ORPHAN_CHARGE rows this run did not judge: still candidates as counterparts. */
function standingProbes(db: Db, judged: NonNullable<ScanResult['judged']>): { charges: Probe[]; calls: Probe[] } {
  const rows = db.sqlite
    .prepare(
      `SELECT type, call_ids, stripe_charge_ids, expected_cents, billed_cents, occurred_at FROM discrepancies
        WHERE resolved_at IS NULL AND type IN ('UNBILLED_CALL', 'ORPHAN_CHARGE')`,
    )
    .all() as { type: string; call_ids: string; stripe_charge_ids: string; expected_cents: number | null; billed_cents: number | null; occurred_at: string }[];
  const out = { charges: [] as Probe[], calls: [] as Probe[] };
  for (const r of rows) {
    if (r.type === 'ORPHAN_CHARGE' && !judged.charges.has(r.stripe_charge_ids)) {
      out.charges.push({ cents: r.billed_cents ?? 0, atMs: Date.parse(r.occurred_at), id: r.stripe_charge_ids });
    } else if (r.type === 'UNBILLED_CALL' && !judged.calls.has(r.call_ids)) {
      out.calls.push({ cents: r.expected_cents ?? 0, atMs: Date.parse(r.occurred_at), id: r.call_ids });
    }
  }
  return out;
}

/**
 * Diff the database's two sides as of `clock.now()`, update the discrepancy lifecycle.
 * Incremental when the last run left a state under the same settings (and a
 * full run happened within a day); `full: true` forces the whole book.
 */
export async function reconcile(
  deps: ReconcileDeps,
  options: {
    runId: string;
    full?: boolean;
    /** Sees (and may corrupt) the scan before the invariants are checked: for tests of the checks. */
    afterScan?: (scan: ScanResult) => void;
  },
): Promise<ReconcileResult> {
  const asOf = deps.clock.now();
  const log = deps.log.child({ stage: 'reconcile', runId: options.runId });
  const started = performance.now();
  const ctx = ruleContext(deps.config, asOf);
  const previous = readState<IncrementalState>(deps.db);
  const scope = chooseScope(previous, deps.config, asOf, options.full === true);
  const result = deps.db.sqlite.transaction(() => scan(deps.db.sqlite, ctx, scope))();
  options.afterScan?.(result);
  checkInvariants(result.tally, result.inputs, result.findings);
  const standing = result.judged ? standingProbes(deps.db, result.judged) : { charges: [], calls: [] };
  addCounterparts(result.findings, [...result.waitingUnlinked, ...standing.charges], standing.calls);
  const state: IncrementalState = {
    seq: result.watermark.seq,
    syncedAt: result.watermark.syncedAt,
    fingerprint: fingerprint(deps.config),
    fullAt: scope === null ? asOf.toISOString() : (previous as IncrementalState).fullAt,
  };
  const counts = applyFindings(deps.db, result.findings, options.runId, asOf.toISOString(), {
    judged: result.judged,
    waiting: result.waiting,
    state,
  });
  const b = result.tally.buckets;
  log.info(
    {
      asOf: asOf.toISOString(),
      mode: scope === null ? 'full' : 'incremental',
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
