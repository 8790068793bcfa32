/**
 * Persisting validated movements: each movement once (by id), the per-call
 * aggregate in ledger_calls kept in step, and every break of the
 * `balance_after` chain recorded. Synchronous; call it inside one transaction
 * together with the cursor update so a page is all-or-nothing.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { Sqlite } from '../db/connection.js';
import type { Movement } from '../domain.js';

export interface StoreResult {
  inserted: number;
  duplicates: number;
  breaks: number;
  /** balance_after of the last movement held after this call (null if none). */
  lastBalanceAfterMicro: number | null;
}

const FINAL_STATUS: Partial<Record<Movement['type'], 'succeeded' | 'failed'>> = {
  settle: 'succeeded',
  release: 'failed',
  refund: 'failed',
};

interface Statements {
  lastBalance: BetterSqliteStatement;
  insert: BetterSqliteStatement;
  upsertCall: BetterSqliteStatement;
  insertBreak: BetterSqliteStatement;
}
type BetterSqliteStatement = BetterSqlite3.Statement<unknown[], unknown>;

const cache = new WeakMap<Sqlite, Statements>();

function statements(sqlite: Sqlite): Statements {
  let s = cache.get(sqlite);
  if (!s) {
    s = {
      lastBalance: sqlite.prepare('SELECT balance_after_micro FROM ledger_movements ORDER BY seq DESC LIMIT 1').pluck(),
      insert: sqlite.prepare(
        `INSERT INTO ledger_movements
           (movement_id, account_id, type, amount_micro, balance_after_micro, call_id, agent_slug, call_status, created_at, synced_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (movement_id) DO NOTHING`,
      ),
      // One statement folds a movement into its call's aggregate.
      upsertCall: sqlite.prepare(
        `INSERT INTO ledger_calls
           (call_id, agent_slug, started_at, reserved_micro, returned_micro, adjusted_micro, net_micro, status, finished_at, first_seq, last_seq)
         VALUES (@call_id, @agent_slug, @started_at, @reserved, @returned, @adjusted, @net, @status, @finished_at, @seq, @seq)
         ON CONFLICT (call_id) DO UPDATE SET
           agent_slug     = COALESCE(ledger_calls.agent_slug, excluded.agent_slug),
           started_at     = COALESCE(ledger_calls.started_at, excluded.started_at),
           reserved_micro = ledger_calls.reserved_micro + excluded.reserved_micro,
           returned_micro = ledger_calls.returned_micro + excluded.returned_micro,
           adjusted_micro = ledger_calls.adjusted_micro + excluded.adjusted_micro,
           net_micro      = ledger_calls.net_micro + excluded.net_micro,
           status         = CASE WHEN ledger_calls.status = 'pending' THEN excluded.status ELSE ledger_calls.status END,
           finished_at    = COALESCE(ledger_calls.finished_at, excluded.finished_at),
           last_seq       = excluded.last_seq`,
      ),
      insertBreak: sqlite.prepare(
        `INSERT INTO ledger_breaks (movement_id, seq, expected_balance_micro, actual_balance_micro, missing_micro, created_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (movement_id) DO NOTHING`,
      ),
    };
    cache.set(sqlite, s);
  }
  return s;
}

export function storeMovements(sqlite: Sqlite, accountId: string, movements: readonly Movement[], syncedAt: string): StoreResult {
  const st = statements(sqlite);
  let previous = (st.lastBalance.get() as number | undefined) ?? null;
  let inserted = 0;
  let breaks = 0;
  for (const m of movements) {
    const info = st.insert.run(
      m.id,
      accountId,
      m.type,
      m.amountMicro,
      m.balanceAfterMicro,
      m.callId,
      m.agentSlug,
      m.callStatus,
      m.createdAt,
      syncedAt,
    );
    if (info.changes === 0) continue; // repeated by the feed: kept once
    inserted += 1;
    const seq = Number(info.lastInsertRowid);
    // The chain is checked in feed order; the first movement ever starts from 0.
    const expected = (previous ?? 0) + m.amountMicro;
    if (m.balanceAfterMicro !== expected) {
      st.insertBreak.run(m.id, seq, expected, m.balanceAfterMicro, m.balanceAfterMicro - expected, m.createdAt);
      breaks += 1;
    }
    previous = m.balanceAfterMicro;
    if (m.callId !== null) {
      const final = FINAL_STATUS[m.type];
      st.upsertCall.run({
        call_id: m.callId,
        agent_slug: m.agentSlug,
        started_at: m.type === 'reserve' ? m.createdAt : null,
        reserved: m.type === 'reserve' ? -m.amountMicro : 0,
        returned: final ? m.amountMicro : 0,
        adjusted: m.type === 'adjustment' ? m.amountMicro : 0,
        net: -m.amountMicro,
        status: final ?? 'pending',
        finished_at: final ? m.createdAt : null,
        seq,
      });
    }
  }
  return { inserted, duplicates: movements.length - inserted, breaks, lastBalanceAfterMicro: previous };
}
