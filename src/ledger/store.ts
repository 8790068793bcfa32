/**
 * Persisting validated movements: each movement once (by id), the per-call
 * aggregate in ledger_calls kept in step, and every break of the
 * `balance_after` chain recorded. Synchronous; call it inside one transaction
 * together with the cursor update so a page is all-or-nothing.
 *
 * Built for backfills of millions of rows: a page is written with a few
 * multi-row statements instead of two statements per movement. Repeats are
 * found with one indexed range probe per page (a fresh page, the common case,
 * costs one index seek; only a page that overlaps held ids looks them up one
 * by one), sequence numbers are assigned here (we hold the write lock, so
 * max(seq) cannot move under us), and a call's movements within a page are
 * folded into one upsert.
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

/**
 * Most rows per multi-row statement, well under SQLite's bound-parameter limit
 * (32766) for 11 columns. Statements come in power-of-two sizes only (a page of
 * 500 is 256 + 128 + 64 + 32 + 16 + 4 rows): each size is a prepared statement
 * kept for the connection, and a big statement holds a large compiled program,
 * so one per exact page or call count would cost tens of megabytes.
 */
const CHUNK = 256;
/** Ids per lookup of held movements (only for pages that overlap what is held; rare, so sizes are not rounded). */
const LOOKUP_CHUNK = 100;

/** account_id and synced_at are the same for every row of a call to storeMovements: bound once per statement, by name. */
const MOVEMENT_COLS = 9;
const CALL_COLS = 11;

interface Statements {
  last: Statement;
  anyHeldBetween: Statement;
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

const movementRows = (rows: number): string => new Array(rows).fill('(?, ?, @account, ?, ?, ?, ?, ?, ?, ?, @synced)').join(', ');

function statements(sqlite: Sqlite): Statements {
  let s = cache.get(sqlite);
  if (!s) {
    s = {
      last: sqlite.prepare('SELECT seq, balance_after_micro FROM ledger_movements ORDER BY seq DESC LIMIT 1'),
      anyHeldBetween: sqlite.prepare('SELECT 1 FROM ledger_movements WHERE movement_id BETWEEN ? AND ? LIMIT 1').pluck(),
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
   VALUES ${movementRows(n)}`;

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

/**
 * Run a multi-row statement over `items`, CHUNK at a time, each item contributing
 * `cols` positional values; `named` (if any) is bound once per statement.
 */
function inChunks<T>(
  sqlite: Sqlite,
  map: Map<number, Statement>,
  sql: (n: number) => string,
  items: readonly T[],
  cols: number,
  values: (item: T, out: unknown[]) => void,
  named?: Record<string, unknown>,
): void {
  for (let i = 0, n = 0; i < items.length; i += n) {
    const left = items.length - i;
    n = left >= CHUNK ? CHUNK : 1 << (31 - Math.clz32(left)); // the largest power of two <= left
    const params: unknown[] = [];
    for (let j = i; j < i + n; j++) values(items[j] as T, params);
    if (params.length !== n * cols) throw new Error('store: parameter count mismatch');
    if (named) params.push(named);
    sized(sqlite, map, n, sql).run(...params);
  }
}

// JS orders strings by UTF-16 code unit, SQLite's BINARY collation by UTF-8 byte, i.e. by code point.
// The two agree unless a string holds a surrogate (U+D800..U+DFFF) or a code unit above it.
const ORDERS_LIKE_SQLITE = /^[\u0000-\ud7ff]*$/;

/**
 * Ids of `movements` already held. A page whose ids span a range in which nothing is held
 * (every new page of a backfill) costs one index seek instead of an IN lookup of every id.
 */
function heldIds(sqlite: Sqlite, st: Statements, movements: readonly Movement[]): string[] {
  let lo = (movements[0] as Movement).id;
  let hi = lo;
  let comparable = true;
  for (const m of movements) {
    if (!ORDERS_LIKE_SQLITE.test(m.id)) {
      comparable = false;
      break;
    }
    if (m.id < lo) lo = m.id;
    else if (m.id > hi) hi = m.id;
  }
  if (comparable && st.anyHeldBetween.get(lo, hi) === undefined) return [];
  const held: string[] = [];
  for (let i = 0; i < movements.length; i += LOOKUP_CHUNK) {
    const ids = movements.slice(i, i + LOOKUP_CHUNK).map((m) => m.id);
    for (const id of sized(sqlite, st.existing, ids.length, existingSql).pluck().all(...ids) as string[]) held.push(id);
  }
  return held;
}

export function storeMovements(sqlite: Sqlite, accountId: string, movements: readonly Movement[], syncedAt: string): StoreResult {
  const st = statements(sqlite);
  const last = st.last.get() as { seq: number; balance_after_micro: number } | undefined;
  let previous = last?.balance_after_micro ?? null;
  let seq = last?.seq ?? 0;
  if (movements.length === 0) return { inserted: 0, duplicates: 0, breaks: 0, lastBalanceAfterMicro: previous };

  // Repeats: ids already held (at-least-once delivery) or twice in this page.
  const seen = new Set<string>(heldIds(sqlite, st, movements));

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

  inChunks(
    sqlite,
    st.insert,
    insertSql,
    fresh,
    MOVEMENT_COLS,
    ({ m, seq: s }, out) => {
      out.push(s, m.id, m.type, m.amountMicro, m.balanceAfterMicro, m.callId, m.agentSlug, m.callStatus, m.createdAt);
    },
    { account: accountId, synced: syncedAt },
  );
  inChunks(sqlite, st.upsertCall, upsertCallSql, [...calls.values()], CALL_COLS, (c, out) => {
    out.push(c.callId, c.agentSlug, c.startedAt, c.reserved, c.returned, c.adjusted, c.net, c.status, c.finishedAt, c.firstSeq, c.lastSeq);
  });

  return { inserted: fresh.length, duplicates: movements.length - fresh.length, breaks, lastBalanceAfterMicro: previous };
}
