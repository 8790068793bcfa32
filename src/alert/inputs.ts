/** What the alert rules read from the database: the latest balance, spend, discrepancies, sync times. */
import type { Clock } from '../clock.js';
import type { Db } from '../db/connection.js';
import { safeInt } from '../money.js';

export interface BalanceSnapshot {
  accountId: string;
  balanceMicro: number;
  reservedMicro: number;
  asOf: string;
  fetchedAt: string;
}

export function latestSnapshot(db: Db): BalanceSnapshot | null {
  const row = db.sqlite
    .prepare('SELECT account_id, balance_micro, reserved_micro, as_of, fetched_at FROM balance_snapshots ORDER BY id DESC LIMIT 1')
    .get() as { account_id: string; balance_micro: number; reserved_micro: number; as_of: string; fetched_at: string } | undefined;
  if (!row) return null;
  return {
    accountId: row.account_id,
    balanceMicro: safeInt(row.balance_micro, 'balance_snapshots.balance_micro'),
    reservedMicro: safeInt(row.reserved_micro, 'balance_snapshots.reserved_micro'),
    asOf: row.as_of,
    fetchedAt: row.fetched_at,
  };
}

/**
 * Net FLOW out of the available balance in the 24 h up to `endIso`: minus the
 * sum of every movement but top-ups (reservations, the returns that offset
 * them, adjustments). A top-up raises the balance; it does not slow spending.
 */
export function netSpend24hMicro(db: Db, endIso: string): number {
  const start = new Date(Date.parse(endIso) - 86_400_000).toISOString();
  const row = db.sqlite
    .prepare(`SELECT COALESCE(SUM(amount_micro), 0) AS s FROM ledger_movements WHERE type <> 'topup' AND created_at > ? AND created_at <= ?`)
    .get(start, endIso) as { s: number };
  return -safeInt(row.s, 'net spend');
}

export function unacknowledgedCount(db: Db): number {
  const row = db.sqlite.prepare('SELECT COUNT(*) AS n FROM discrepancies WHERE resolved_at IS NULL AND acknowledged_at IS NULL').get() as { n: number };
  return row.n;
}

/** sync_state key the jobs stamp after each successful ledger sync. */
export const LEDGER_OK_KEY = 'ops.ledger_last_success_at';

export function markLedgerSyncOk(db: Db, clock: Clock): void {
  const now = clock.now().toISOString();
  db.sqlite
    .prepare(`INSERT INTO sync_state (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`)
    .run(LEDGER_OK_KEY, now, now);
}

/** The last successful ledger sync: our stamp, or the newest page fetched by any sync command. */
export function lastLedgerSyncOk(db: Db): string | null {
  const stamp = db.sqlite.prepare('SELECT value FROM sync_state WHERE name = ?').get(LEDGER_OK_KEY) as { value: string } | undefined;
  const snap = db.sqlite.prepare('SELECT MAX(fetched_at) AS t FROM balance_snapshots').get() as { t: string | null };
  const candidates = [stamp?.value, snap.t ?? undefined].filter((x): x is string => typeof x === 'string');
  if (candidates.length === 0) return null;
  return candidates.reduce((a, b) => (Date.parse(a) >= Date.parse(b) ? a : b));
}
