/**
 * Persisting validated movements: each movement once (by id), the per-call
 * aggregate in ledger_calls kept in step, and every break of the
 * `balance_after` chain recorded. Synchronous; call it inside one transaction
 * together with the cursor update so a page is all-or-nothing.
 *
 * Built for backfills of millions of rows: a page is written with a few
 * multi-row statements instead of two statements per movement. Repeats are
 * found with one indexed lookup per page, sequence numbers are assigned here
 * (we hold the write lock, so max(seq) cannot move under us), and a call's
 * movements within a page are folded into one upsert.
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

type Statement = BetterSqlite3.Statement<unknown[], unknown>;

/** Rows per multi-row statement: well under SQLite's bound-parameter limit (32766) for 11 columns. */
const CHUNK = 100;

const MOVEMENT_COLS = 11;
const CALL_COLS = 11;

interface Statements {
  last: Statement;
  existing: Map<number, Statement>;
  insert: Map<number, Statement>;
  upsertCall: Map<number, Statement>;
  insertBreak: Statement;
}

const cache = new WeakMap<Sqlite, Statements>();

const placeholders = (rows: number, cols: number): string => {
  const one = `(${new Array(cols).fill('?').join(', ')})`;
  return new Array(rows).fill(one).join(', ');
};

function statements(sqlite: Sqlite): Statements {
  let s = cache.get(sqlite);
  if (!s) {
    s = {
      last: sqlite.prepare('SELECT seq, balance_after_micro FROM ledger_movements ORDER BY seq DESC LIMIT 1'),
      existing: new Map(),
      insert: new Map(),
      upsertCall: new Map(),
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

function sized(sqlite: Sqlite, map: Map<number, Statement>, rows: number, sql: (rows: number) => string): Statement {
  let st = map.get(rows);
  if (!st) {
    st = sqlite.prepare(sql(rows));
    map.set(rows, st);
  }
  return st;
}

const existingSql = (n: number) => `SELECT movement_id FROM ledger_movements WHERE movement_id IN (${new Array(n).fill('?').join(', ')})`;

const insertSql = (n: number) =>
  `INSERT INTO ledger_movements
     (seq, movement_id, account_id, type, amount_micro, balance_after_micro, call_id, agent_slug, call_status, created_at, synced_at)
   VALUES ${placeholders(n, MOVEMENT_COLS)}`;

// Folds a page's worth of one call into its aggregate; the CASE/COALESCE keep the first values ever seen.
const upsertCallSql = (n: number) =>
  `INSERT INTO ledger_calls
     (call_id, agent_slug, started_at, reserved_micro, returned_micro, adjusted_micro, net_micro, status, finished_at, first_seq, last_seq)
   VALUES ${placeholders(n, CALL_COLS)}
   ON CONFLICT (call_id) DO UPDATE SET
     agent_slug     = COALESCE(ledger_calls.agent_slug, excluded.agent_slug),
     started_at     = COALESCE(ledger_calls.started_at, excluded.started_at),
     reserved_micro = ledger_calls.reserved_micro + excluded.reserved_micro,
     returned_micro = ledger_calls.returned_micro + excluded.returned_micro,
     adjusted_micro = ledger_calls.adjusted_micro + excluded.adjusted_micro,
     net_micro      = ledger_calls.net_micro + excluded.net_micro,
     status         = CASE WHEN ledger_calls.status = 'pending' THEN excluded.status ELSE ledger_calls.status END,
     finished_at    = COALESCE(ledger_calls.finished_at, excluded.finished_at),
     last_seq       = excluded.last_seq`;

interface CallDelta {
  callId: string;
  agentSlug: string | null;
  startedAt: string | null;
  reserved: number;
  returned: number;
  adjusted: number;
  net: number;
  status: 'pending' | 'succeeded' | 'failed';
  finishedAt: string | null;
  firstSeq: number;
  lastSeq: number;
}

/** Run a multi-row statement over `rows` items, CHUNK at a time, each item contributing `cols` values. */
function inChunks<T>(
  sqlite: Sqlite,
  map: Map<number, Statement>,
  sql: (n: number) => string,
  items: readonly T[],
  cols: number,
  values: (item: T, out: unknown[]) => void,
): void {
  for (let i = 0; i < items.length; i += CHUNK) {
    const n = Math.min(CHUNK, items.length - i);
    const params: unknown[] = [];
    params.length = 0;
    for (let j = i; j < i + n; j++) values(items[j] as T, params);
    if (params.length !== n * cols) throw new Error('store: parameter count mismatch');
    sized(sqlite, map, n, sql).run(...params);
  }
}

export function storeMovements(sqlite: Sqlite, accountId: string, movements: readonly Movement[], syncedAt: string): StoreResult {
  const st = statements(sqlite);
  const last = st.last.get() as { seq: number; balance_after_micro: number } | undefined;
  let previous = last?.balance_after_micro ?? null;
  let seq = last?.seq ?? 0;
  if (movements.length === 0) return { inserted: 0, duplicates: 0, breaks: 0, lastBalanceAfterMicro: previous };

  // Repeats: ids already held (at-least-once delivery) or twice in this page.
  const seen = new Set<string>();
  for (let i = 0; i < movements.length; i += CHUNK) {
    const ids = movements.slice(i, i + CHUNK).map((m) => m.id);
    const held = sized(sqlite, st.existing, ids.length, existingSql).pluck().all(...ids) as string[];
    for (const id of held) seen.add(id);
  }

  const fresh: { m: Movement; seq: number }[] = [];
  const calls = new Map<string, CallDelta>();
  let breaks = 0;
  for (const m of movements) {
    if (seen.has(m.id)) continue;
    seen.add(m.id);
    seq += 1;
    fresh.push({ m, seq });
    // The chain is checked in feed order; the first movement ever starts from 0.
    const expected = (previous ?? 0) + m.amountMicro;
    if (m.balanceAfterMicro !== expected) {
      st.insertBreak.run(m.id, seq, expected, m.balanceAfterMicro, m.balanceAfterMicro - expected, m.createdAt);
      breaks += 1;
    }
    previous = m.balanceAfterMicro;
    if (m.callId === null) continue;
    const final = FINAL_STATUS[m.type];
    let c = calls.get(m.callId);
    if (!c) {
      c = {
        callId: m.callId,
        agentSlug: null,
        startedAt: null,
        reserved: 0,
        returned: 0,
        adjusted: 0,
        net: 0,
        status: 'pending',
        finishedAt: null,
        firstSeq: seq,
        lastSeq: seq,
      };
      calls.set(m.callId, c);
    }
    c.agentSlug ??= m.agentSlug;
    if (m.type === 'reserve') {
      c.startedAt ??= m.createdAt;
      c.reserved -= m.amountMicro;
    }
    if (final) {
      c.returned += m.amountMicro;
      if (c.status === 'pending') c.status = final;
      c.finishedAt ??= m.createdAt;
    }
    if (m.type === 'adjustment') c.adjusted += m.amountMicro;
    c.net -= m.amountMicro;
    c.lastSeq = seq;
  }

  inChunks(sqlite, st.insert, insertSql, fresh, MOVEMENT_COLS, ({ m, seq: s }, out) => {
    out.push(s, m.id, accountId, m.type, m.amountMicro, m.balanceAfterMicro, m.callId, m.agentSlug, m.callStatus, m.createdAt, syncedAt);
  });
  inChunks(sqlite, st.upsertCall, upsertCallSql, [...calls.values()], CALL_COLS, (c, out) => {
    out.push(c.callId, c.agentSlug, c.startedAt, c.reserved, c.returned, c.adjusted, c.net, c.status, c.finishedAt, c.firstSeq, c.lastSeq);
  });

  return { inserted: fresh.length, duplicates: movements.length - fresh.length, breaks, lastBalanceAfterMicro: previous };
}
