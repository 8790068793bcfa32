/**
 * The Stripe tables: upserts keyed on Stripe's ids that refuse to let an older
 * snapshot overwrite a newer one (`version_ms`), the charge-to-call link rows,
 * the applied-event log and the sync cursors. Synchronous: call inside an
 * `immediate()` transaction together with the cursor the rows belong to.
 */
import type { Sqlite } from '../db/connection.js';
import type { ChargeCallIds } from './callids.js';
import type { ChargeSnapshot, EventSummary, RefundSnapshot } from './types.js';

function statements(sqlite: Sqlite) {
  return {
    upsertCharge: sqlite.prepare(
      `INSERT INTO stripe_charges (charge_id, created, status, currency, amount, amount_captured, amount_refunded, captured, refunded,
         disputed, payment_intent, customer, description, metadata_json, call_ids_raw, call_ids_source, livemode, version_ms, synced_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (charge_id) DO UPDATE SET
         created = excluded.created, status = excluded.status, currency = excluded.currency, amount = excluded.amount,
         amount_captured = excluded.amount_captured, amount_refunded = excluded.amount_refunded, captured = excluded.captured,
         refunded = excluded.refunded, disputed = excluded.disputed, payment_intent = excluded.payment_intent,
         customer = excluded.customer, description = excluded.description, metadata_json = excluded.metadata_json,
         call_ids_raw = excluded.call_ids_raw, call_ids_source = excluded.call_ids_source, livemode = excluded.livemode,
         version_ms = excluded.version_ms, synced_at = excluded.synced_at
       WHERE excluded.version_ms >= stripe_charges.version_ms`,
    ),
    deleteLinks: sqlite.prepare('DELETE FROM stripe_charge_calls WHERE charge_id = ?'),
    insertLink: sqlite.prepare('INSERT OR IGNORE INTO stripe_charge_calls (charge_id, call_id) VALUES (?, ?)'),
    chargeVersion: sqlite.prepare('SELECT version_ms FROM stripe_charges WHERE charge_id = ?').pluck(),
    chargeLinkSource: sqlite.prepare('SELECT version_ms, call_ids_raw, call_ids_source FROM stripe_charges WHERE charge_id = ?'),
    refundRow: sqlite.prepare('SELECT amount, status, version_ms FROM stripe_refunds WHERE refund_id = ?'),
    upsertRefund: sqlite.prepare(
      `INSERT INTO stripe_refunds (refund_id, charge_id, payment_intent, amount, currency, status, reason, created, version_ms, synced_at)
       VALUES (@refund_id, @charge_id, @payment_intent, @amount, @currency, @status, @reason, @created, @version_ms, @synced_at)
       ON CONFLICT (refund_id) DO UPDATE SET
         charge_id = excluded.charge_id, payment_intent = excluded.payment_intent, amount = excluded.amount,
         currency = excluded.currency, status = excluded.status, reason = excluded.reason, created = excluded.created,
         version_ms = excluded.version_ms, synced_at = excluded.synced_at
       WHERE excluded.version_ms >= stripe_refunds.version_ms`,
    ),
    eventSeen: sqlite.prepare('SELECT 1 FROM stripe_events WHERE event_id = ?').pluck(),
    insertEvent: sqlite.prepare(
      'INSERT OR IGNORE INTO stripe_events (event_id, type, created, object_id, processed_at) VALUES (?, ?, ?, ?, ?)',
    ),
    readState: sqlite.prepare('SELECT value FROM sync_state WHERE name = ?').pluck(),
    writeState: sqlite.prepare(
      `INSERT INTO sync_state (name, value, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
    ),
  };
}

const cache = new WeakMap<Sqlite, ReturnType<typeof statements>>();
function st(sqlite: Sqlite): ReturnType<typeof statements> {
  let s = cache.get(sqlite);
  if (!s) cache.set(sqlite, (s = statements(sqlite)));
  return s;
}

/**
 * Store one charge snapshot taken at `versionMs` and, when it wins, replace its
 * call links. Returns false when the stored row is newer (nothing changed).
 */
export function upsertCharge(sqlite: Sqlite, charge: ChargeSnapshot, calls: ChargeCallIds, versionMs: number, syncedAt: string): boolean {
  const s = st(sqlite);
  const before = s.chargeLinkSource.get(charge.id) as { version_ms: number; call_ids_raw: string | null; call_ids_source: string | null } | undefined;
  if (before && before.version_ms > versionMs) return false;
  const applied =
    s.upsertCharge.run(
      charge.id,
      charge.created,
      charge.status,
      charge.currency.toLowerCase(),
      charge.amount,
      charge.amount_captured,
      charge.amount_refunded,
      charge.captured ? 1 : 0,
      charge.refunded ? 1 : 0,
      charge.disputed ? 1 : 0,
      charge.payment_intent,
      charge.customer,
      charge.description,
      JSON.stringify(charge.metadata),
      calls.raw,
      calls.source,
      charge.livemode ? 1 : 0,
      versionMs,
      syncedAt,
    ).changes > 0;
  // The links follow from the raw value and where it came from: rewrite them only when those moved.
  const linksMoved = !before || before.call_ids_raw !== calls.raw || before.call_ids_source !== calls.source;
  if (applied && linksMoved) {
    if (before) s.deleteLinks.run(charge.id);
    for (const id of calls.ids) s.insertLink.run(charge.id, id);
  }
  return applied;
}

export type RefundUpsert = 'inserted' | 'changed' | 'unchanged' | 'stale';

/** Store one refund snapshot; says whether it was new, changed what we knew, or lost to a newer row. */
export function upsertRefund(sqlite: Sqlite, refund: RefundSnapshot, versionMs: number, syncedAt: string): RefundUpsert {
  const s = st(sqlite);
  const before = s.refundRow.get(refund.id) as { amount: number; status: string; version_ms: number } | undefined;
  if (before && before.version_ms > versionMs) return 'stale';
  s.upsertRefund.run({
    refund_id: refund.id,
    charge_id: refund.charge,
    payment_intent: refund.payment_intent,
    amount: refund.amount,
    currency: refund.currency.toLowerCase(),
    status: refund.status,
    reason: refund.reason,
    created: refund.created,
    version_ms: versionMs,
    synced_at: syncedAt,
  });
  if (!before) return 'inserted';
  return before.amount !== refund.amount || before.status !== refund.status ? 'changed' : 'unchanged';
}

/** When the stored snapshot of a charge was taken, or undefined if we have none. */
export function chargeVersionMs(sqlite: Sqlite, chargeId: string): number | undefined {
  return st(sqlite).chargeVersion.get(chargeId) as number | undefined;
}

/** The refund as we know it, to tell whether a listed one changed. */
export function storedRefund(sqlite: Sqlite, refundId: string): { amount: number; status: string } | undefined {
  return st(sqlite).refundRow.get(refundId) as { amount: number; status: string } | undefined;
}

export function eventSeen(sqlite: Sqlite, eventId: string): boolean {
  return st(sqlite).eventSeen.get(eventId) !== undefined;
}

export function recordEvent(sqlite: Sqlite, event: EventSummary, processedAt: string): void {
  st(sqlite).insertEvent.run(event.id, event.type, event.created, event.object_id, processedAt);
}

export function readState<T>(sqlite: Sqlite, name: string): T | undefined {
  const raw = st(sqlite).readState.get(name) as string | undefined;
  return raw === undefined ? undefined : (JSON.parse(raw) as T);
}

export function writeState(sqlite: Sqlite, name: string, value: unknown, at: string): void {
  st(sqlite).writeState.run(name, JSON.stringify(value), at);
}
