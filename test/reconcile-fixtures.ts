/**
 * Scenario builder for reconciliation tests: ledger movements go through the
 * real `storeMovements` (so ledger_calls and ledger_breaks are what the sync
 * would make), Stripe rows are inserted as the Stripe sync stores them.
 * Times are minutes relative to the scenario's `asOf`.
 */
import { join } from 'node:path';
import { ManualClock } from '../src/clock.js';
import { configFor, type Config } from '../src/config.js';
import { openDatabase, type Db } from '../src/db/connection.js';
import type { Movement, MovementType } from '../src/domain.js';
import { storeMovements } from '../src/ledger/store.js';
import { reconcile, type ReconcileResult } from '../src/reconcile/index.js';
import type { ScanResult } from '../src/reconcile/scan.js';
import { memoryLogger, tempDir } from './helpers.js';

/** Tests spawning the real CLI (real clock) set FLOWRECON_TEST_AS_OF to now before importing this module. */
export const AS_OF = process.env.FLOWRECON_TEST_AS_OF ?? '2026-12-04T10:00:00.000Z';
const AS_OF_MS = Date.parse(AS_OF);

export const at = (minutesBeforeAsOf: number): string => new Date(AS_OF_MS - minutesBeforeAsOf * 60_000).toISOString();
export const flow = (f: number): number => Math.round(f * 1_000_000);

export interface CallSpec {
  id: string;
  slug?: string;
  /** FLOW reserved. */
  reserve: number;
  /** Minutes before asOf the reserve happened. */
  start: number;
  /** The final movement, if any: minutes before asOf, type, and FLOW returned. */
  end?: { at: number; type: 'settle' | 'release' | 'refund'; returned: number };
  /** Adjustments: FLOW (signed) at minutes before asOf. */
  adjust?: { at: number; amount: number }[];
}

export interface ChargeSpec {
  id: string;
  /** Call ids named in metadata; [] = names none. */
  calls: string[];
  /** Cents captured. */
  amount: number;
  /** Minutes before asOf. */
  created: number;
  currency?: string;
  status?: 'succeeded' | 'failed' | 'pending';
  refunds?: { amount: number; status?: string; created?: number }[];
  /** Linked through the PaymentIntent's metadata rather than the charge's own. */
  viaPaymentIntent?: boolean;
  description?: string;
  customer?: string;
}

let movementCounter = 0;

/** Movements for some calls in time order, with a consistent balance_after chain from a topup. */
export function movementsFor(calls: readonly CallSpec[], options: { topup?: number; topupAt?: number } = {}): Movement[] {
  type Ev = { atMin: number; order: number; type: MovementType; amount: number; call: CallSpec | null };
  const evs: Ev[] = [{ atMin: options.topupAt ?? 100_000, order: 0, type: 'topup', amount: flow(options.topup ?? 1_000_000), call: null }];
  calls.forEach((c, i) => {
    evs.push({ atMin: c.start, order: i * 10 + 1, type: 'reserve', amount: -flow(c.reserve), call: c });
    for (const a of c.adjust ?? []) evs.push({ atMin: a.at, order: i * 10 + 2, type: 'adjustment', amount: flow(a.amount), call: c });
    if (c.end) evs.push({ atMin: c.end.at, order: i * 10 + 3, type: c.end.type, amount: flow(c.end.returned), call: c });
  });
  evs.sort((a, b) => b.atMin - a.atMin || a.order - b.order);
  let balance = 0;
  return evs.map((e) => {
    balance += e.amount;
    movementCounter += 1;
    const status = e.type === 'reserve' ? 'pending' : e.type === 'settle' ? 'succeeded' : e.type === 'release' || e.type === 'refund' ? 'failed' : null;
    return {
      id: `mv_${String(movementCounter).padStart(8, '0')}`,
      type: e.type,
      amountMicro: e.amount,
      balanceAfterMicro: balance,
      callId: e.call?.id ?? null,
      agentSlug: e.call ? (e.call.slug ?? 'summarize') : null,
      callStatus: e.call ? status : null,
      createdAt: at(e.atMin),
    };
  });
}

export function storeLedger(db: Db, movements: readonly Movement[], pageSize = 500): void {
  for (let i = 0; i < movements.length; i += pageSize) {
    db.sqlite.transaction(() => storeMovements(db.sqlite, 'acc_test', movements.slice(i, i + pageSize), AS_OF))();
  }
}

let refundCounter = 0;

export function insertCharge(db: Db, c: ChargeSpec, callIdKey = 'agentflow_call_id'): void {
  const createdS = Math.floor((AS_OF_MS - c.created * 60_000) / 1000);
  const refunds = c.refunds ?? [];
  const refunded = refunds.filter((r) => (r.status ?? 'succeeded') === 'succeeded').reduce((s, r) => s + r.amount, 0);
  const raw = c.calls.length > 0 ? c.calls.join(', ') : null;
  const metadata = raw !== null && !c.viaPaymentIntent ? { [callIdKey]: raw } : {};
  const status = c.status ?? 'succeeded';
  db.sqlite
    .prepare(
      `INSERT INTO stripe_charges (charge_id, created, status, currency, amount, amount_captured, amount_refunded, captured,
         refunded, disputed, payment_intent, customer, description, metadata_json, call_ids_raw, call_ids_source, livemode,
         version_ms, synced_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
    )
    .run(
      c.id,
      createdS,
      status,
      c.currency ?? 'usd',
      c.amount,
      status === 'succeeded' ? c.amount : 0,
      refunded,
      status === 'succeeded' ? 1 : 0,
      refunded >= c.amount && c.amount > 0 ? 1 : 0,
      `pi_${c.id}`,
      c.customer ?? 'cus_test',
      c.description ?? null,
      JSON.stringify(metadata),
      raw,
      raw === null ? null : c.viaPaymentIntent ? 'payment_intent' : 'charge',
      createdS * 1000,
      AS_OF,
    );
  for (const id of new Set(c.calls)) {
    db.sqlite.prepare(`INSERT INTO stripe_charge_calls (charge_id, call_id) VALUES (?, ?)`).run(c.id, id);
  }
  for (const r of refunds) {
    refundCounter += 1;
    const created = Math.floor((AS_OF_MS - (r.created ?? c.created) * 60_000) / 1000);
    db.sqlite
      .prepare(
        `INSERT INTO stripe_refunds (refund_id, charge_id, payment_intent, amount, currency, status, reason, created, version_ms, synced_at)
         VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)`,
      )
      .run(`re_${refundCounter}`, c.id, `pi_${c.id}`, r.amount, c.currency ?? 'usd', r.status ?? 'succeeded', created, created * 1000, AS_OF);
  }
}

export interface World {
  dir: string;
  db: Db;
  config: Config;
  clock: ManualClock;
  run(runId?: string, afterScan?: (scan: ScanResult) => void): Promise<ReconcileResult>;
  open(): OpenRow[];
}

export interface OpenRow {
  discrepancy_id: string;
  type: string;
  call_ids: string;
  stripe_charge_ids: string;
  flow_net_micro: number | null;
  expected_cents: number | null;
  billed_cents: number | null;
  delta_cents: number | null;
  occurred_at: string;
  detail: string;
  first_seen_run_id: string;
  acknowledged_at: string | null;
}

let runCounter = 0;

/** A fresh database in a temp dir with the given settings. Close it with `world.db.close()`. */
export function world(env: Record<string, string> = {}, dir = tempDir('flowrecon-rec-')): World {
  const config = configFor({ FLOWRECON_DB: join(dir, 'flowrecon.db'), FLOWRECON_REPORTS_DIR: join(dir, 'reports'), LOG_LEVEL: 'silent', ...env }, dir);
  const db = openDatabase(config.dbPath);
  const clock = new ManualClock(AS_OF);
  const { log } = memoryLogger(undefined, 'silent');
  return {
    dir,
    db,
    config,
    clock,
    run: (runId?: string, afterScan?: (scan: ScanResult) => void) => {
      runCounter += 1;
      return reconcile({ db, config, clock, log }, { runId: runId ?? `run_test_${runCounter}`, ...(afterScan ? { afterScan } : {}) });
    },
    open: () =>
      db.sqlite
        .prepare(`SELECT * FROM discrepancies WHERE resolved_at IS NULL ORDER BY type, call_ids, stripe_charge_ids`)
        .all() as OpenRow[],
  };
}
