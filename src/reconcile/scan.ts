/**
 * The set-based part: streaming passes over indexed tables, each row seen
 * once, nothing loaded whole.
 *
 *   calls    every call (in scope) with the succeeded charges naming it. A
 *            call no succeeded charge names is judged alone; a call with one
 *            succeeded charge that names only it (the common case) is judged
 *            with it at once; a call in a batch or named by several charges
 *            is set aside.
 *   shared   the calls set aside, closed under "names" into components (a
 *            batch charge and all its calls, a call and all its charges),
 *            each judged as one group. Usually a few percent of the book.
 *   orphans  succeeded charges naming no call the ledger has.
 *   breaks   the recorded balance_after chain breaks.
 *
 * Plus independent aggregates over the same scope: the invariant's inputs.
 *
 * Incremental runs narrow the scope to what can have changed since the last
 * run: calls with movements after its last seq, charges and refunds synced
 * since its newest sync time (the whole component of each), and everything
 * that was waiting (pending calls, calls within the grace, waiting charges).
 * Outcomes of everything else do not depend on time once decided, so they
 * stand. better-sqlite3 allows no other statement while an iterator is open,
 * so a pass only collects; temp tables are filled between passes. Temp
 * tables have no statistics, so joins starting from one are written as CROSS
 * JOIN, which SQLite never reorders: the small table drives.
 */
import type { Sqlite } from '../db/connection.js';
import type { CallStatus } from '../domain.js';
import { safeInt } from '../money.js';
import type { BreakFacts, CallFacts, ChargeFacts, Finding, Probe } from './facts.js';
import { Tally, type Totals } from './invariants.js';
import { judgeBreak, judgeComponent, judgeLoneCall, type RuleContext } from './rules.js';

// Succeeded refunds per charge, summed once per run into temp.rc_refunds.
const REFUNDS = (charge: string) => `COALESCE((SELECT rf.amount FROM temp.rc_refunds rf WHERE rf.charge_id = ${charge}), 0)`;

// Rows grouped per call: a LEFT JOIN keeps ledger_calls as the outer loop.
const callsSql = (scoped: boolean) => `
SELECT lc.call_id, lc.status, lc.net_micro, lc.agent_slug, lc.started_at, lc.finished_at,
       ch.charge_id, ch.created, ch.currency, ch.amount_captured,
       CASE WHEN ch.charge_id IS NULL THEN 0 ELSE ${REFUNDS('ch.charge_id')} END,
       CASE WHEN ch.charge_id IS NULL THEN 0 ELSE (SELECT COUNT(*) FROM stripe_charge_calls c2 WHERE c2.charge_id = ch.charge_id) END
  FROM ${scoped ? 'temp.rc_scope_calls s CROSS JOIN ledger_calls lc ON lc.call_id = s.call_id' : 'ledger_calls lc'}
  LEFT JOIN stripe_charge_calls cc ON cc.call_id = lc.call_id
  LEFT JOIN stripe_charges ch ON ch.charge_id = cc.charge_id AND ch.status = 'succeeded'`;

/**
 * The fast path of a full run at a single price: a call with exactly one link,
 * to a succeeded charge in CURRENCY with no other link, final, billed within
 * the tolerance of its price, is matched — which is what judgeComponent
 * decides for such a single component (none of rules 3 and 5-9 can apply).
 * Such rows never reach JavaScript as rows: the WHERE clause hands their
 * FLOW and cents to `flowrecon_matched` (a registered function that adds
 * them to the tally and drops the row), so one scan both sums the matched and
 * streams the rest to the rules. The expected cents are Pricer's half-even
 * fraction applied in integers, only where they cannot overflow.
 */
const fastMatched = `(
  lc.status <> 'pending' AND ch.charge_id IS NOT NULL AND lower(ch.currency) = @cur
  AND lc.net_micro BETWEEN 0 AND @limit
  AND NOT EXISTS (SELECT 1 FROM temp.rc_multi_calls m WHERE m.call_id = lc.call_id)
  AND NOT EXISTS (SELECT 1 FROM temp.rc_multi_charges m WHERE m.charge_id = ch.charge_id)
  AND abs(ch.amount_captured - COALESCE(rf.amount, 0)
          - ((lc.net_micro * @num) / @den
             + (2 * ((lc.net_micro * @num) % @den) > @den
                OR (2 * ((lc.net_micro * @num) % @den) = @den AND ((lc.net_micro * @num) / @den) % 2 = 1)))) <= @tol)`;

const FAST_SQL = `
SELECT lc.call_id, lc.status, lc.net_micro, lc.agent_slug, lc.started_at, lc.finished_at,
       ch.charge_id, ch.created, ch.currency, ch.amount_captured, COALESCE(rf.amount, 0),
       CASE WHEN ch.charge_id IS NULL THEN 0
            WHEN EXISTS (SELECT 1 FROM temp.rc_multi_charges m WHERE m.charge_id = ch.charge_id) THEN 2 ELSE 1 END
  FROM ledger_calls lc
  LEFT JOIN stripe_charge_calls cc ON cc.call_id = lc.call_id
  LEFT JOIN stripe_charges ch ON ch.charge_id = cc.charge_id AND ch.status = 'succeeded'
  LEFT JOIN temp.rc_refunds rf ON rf.charge_id = ch.charge_id
 WHERE CASE WHEN ${fastMatched} THEN flowrecon_matched(lc.net_micro, ch.amount_captured - COALESCE(rf.amount, 0)) = 0 ELSE 1 END`;

const orphansSql = (scoped: boolean) => `
SELECT ch.charge_id, ch.created, ch.currency, ch.amount_captured, ${REFUNDS('ch.charge_id')},
       (SELECT group_concat(c3.call_id, char(31) ORDER BY c3.call_id) FROM stripe_charge_calls c3 WHERE c3.charge_id = ch.charge_id)
  FROM ${scoped ? 'temp.rc_dirty_charges d CROSS JOIN stripe_charges ch ON ch.charge_id = d.charge_id' : 'stripe_charges ch'}
 WHERE ch.status = 'succeeded'
   AND NOT EXISTS (SELECT 1 FROM stripe_charge_calls cc JOIN ledger_calls lc ON lc.call_id = cc.call_id WHERE cc.charge_id = ch.charge_id)`;

const SHARED_SQL = `
SELECT ch.charge_id, ch.created, ch.currency, ch.amount_captured, ${REFUNDS('ch.charge_id')},
       cc.call_id, lc.status, lc.net_micro, lc.agent_slug, lc.started_at, lc.finished_at
  FROM temp.rc_shared_charges d
  CROSS JOIN stripe_charges ch ON ch.charge_id = d.charge_id
  CROSS JOIN stripe_charge_calls cc ON cc.charge_id = ch.charge_id
  LEFT JOIN ledger_calls lc ON lc.call_id = cc.call_id
 ORDER BY d.charge_id, cc.call_id`;

const BREAKS_SQL = `
SELECT movement_id, missing_micro, expected_balance_micro, actual_balance_micro, created_at FROM ledger_breaks ORDER BY seq`;

const TEMP_TABLES = ['rc_scope_calls', 'rc_dirty_charges', 'rc_shared_calls', 'rc_shared_charges', 'rc_judged_calls', 'rc_judged_charges', 'rc_multi_calls', 'rc_multi_charges'];

type Row = unknown[];

export interface Scope {
  /** Calls with a movement after this seq changed. */
  readonly afterSeq: number;
  /** Charges and refunds synced at or after this time changed. */
  readonly syncedSince: string;
}

export interface ScanResult {
  findings: Finding[];
  tally: Tally;
  inputs: Totals;
  /** Live charges naming no call, still within the grace: counterpart candidates. */
  waitingUnlinked: Probe[];
  /** What must be judged again next run even if unchanged: pending calls, waiting calls and charges. */
  waiting: { calls: string[]; charges: string[] };
  /** Incremental runs only: every call and charge judged (a discrepancy about anything else stands). */
  judged: { calls: Set<string>; charges: Set<string> } | null;
  /** The newest ledger seq and Stripe sync time seen: the next run's scope starts there. */
  watermark: { seq: number; syncedAt: string };
  /** ms per pass, for logs and the benchmark. */
  ms: Record<string, number>;
}

function callFrom(row: Row, at: number): CallFacts {
  return {
    callId: row[at] as string,
    status: row[at + 1] as CallStatus,
    netMicro: safeInt(row[at + 2], `ledger_calls.net_micro of ${String(row[at])}`),
    agentSlug: row[at + 3] as string | null,
    startedAt: row[at + 4] as string | null,
    finishedAt: row[at + 5] as string | null,
  };
}

function chargeFrom(row: Row, at: number, callIds: readonly string[], unknownIds: readonly string[]): ChargeFacts {
  const chargeId = row[at] as string;
  return {
    chargeId,
    createdS: safeInt(row[at + 1], `stripe_charges.created of ${chargeId}`),
    currency: String(row[at + 2]).toLowerCase(),
    capturedCents: safeInt(row[at + 3], `stripe_charges.amount_captured of ${chargeId}`),
    refundedCents: safeInt(row[at + 4], `refunds of ${chargeId}`),
    callIds,
    unknownIds,
  };
}

/** Records buckets into the tally, and in incremental runs which entities were judged and which wait. */
class Recorder extends Tally {
  readonly waitingCalls: string[] = [];
  readonly waitingCharges: string[] = [];
  readonly judgedCalls: Set<string> | null;
  readonly judgedCharges: Set<string> | null;
  constructor(incremental: boolean) {
    super();
    this.judgedCalls = incremental ? new Set() : null;
    this.judgedCharges = incremental ? new Set() : null;
  }
  override call(call: CallFacts, bucket: 'matched' | 'discrepancy' | 'waiting'): void {
    super.call(call, bucket);
    if (bucket === 'waiting') this.waitingCalls.push(call.callId);
  }
  override charge(charge: ChargeFacts, bucket: 'matched' | 'discrepancy' | 'waiting'): void {
    super.charge(charge, bucket);
    this.judgedCharges?.add(charge.chargeId);
    if (bucket === 'waiting') this.waitingCharges.push(charge.chargeId);
  }
  seenCall(call: CallFacts): void {
    this.judgedCalls?.add(call.callId);
    if (call.status === 'pending') this.waitingCalls.push(call.callId);
  }
}

function tempTables(sqlite: Sqlite): void {
  for (const t of TEMP_TABLES) {
    const col = t.endsWith('calls') ? 'call_id' : 'charge_id';
    sqlite.exec(`CREATE TEMP TABLE IF NOT EXISTS ${t} (${col} TEXT PRIMARY KEY) WITHOUT ROWID`);
    sqlite.exec(`DELETE FROM temp.${t}`);
  }
  sqlite.exec(`CREATE TEMP TABLE IF NOT EXISTS rc_refunds (charge_id TEXT PRIMARY KEY, amount INTEGER NOT NULL) WITHOUT ROWID`);
  sqlite.exec(`DELETE FROM temp.rc_refunds`);
  sqlite.exec(
    `INSERT INTO temp.rc_refunds SELECT charge_id, SUM(amount) FROM stripe_refunds
      WHERE status = 'succeeded' AND charge_id IS NOT NULL GROUP BY charge_id`,
  );
}

/** The fast path's parameters, or null when it cannot be used (prices vary, or the fraction is too large for int64). */
function fastParams(ctx: RuleContext): Record<string, string | number | bigint> | null {
  const f = ctx.pricer.uniformExpected();
  if (f === null || f.den > 1n << 60n || f.num <= 0n || f.num > 1n << 30n) return null;
  return { num: f.num, den: f.den, limit: (1n << 62n) / f.num, tol: ctx.toleranceCents, cur: ctx.currency };
}

function fastTables(sqlite: Sqlite): void {
  sqlite.exec(`INSERT INTO temp.rc_multi_calls SELECT call_id FROM stripe_charge_calls GROUP BY call_id HAVING COUNT(*) > 1`);
  sqlite.exec(`INSERT INTO temp.rc_multi_charges SELECT charge_id FROM stripe_charge_calls GROUP BY charge_id HAVING COUNT(*) > 1`);
}

function buildScope(sqlite: Sqlite, scope: Scope): void {
  const p = { seq: scope.afterSeq, since: scope.syncedSince };
  sqlite.prepare(`INSERT OR IGNORE INTO temp.rc_dirty_charges SELECT charge_id FROM stripe_charges WHERE synced_at >= @since`).run(p);
  sqlite.prepare(`INSERT OR IGNORE INTO temp.rc_dirty_charges SELECT charge_id FROM stripe_refunds WHERE synced_at >= @since AND charge_id IS NOT NULL`).run(p);
  sqlite.exec(`INSERT OR IGNORE INTO temp.rc_dirty_charges SELECT id FROM reconcile_waiting WHERE kind = 'charge'`);
  sqlite.prepare(`INSERT OR IGNORE INTO temp.rc_scope_calls SELECT call_id FROM ledger_calls WHERE last_seq > @seq`).run(p);
  sqlite.exec(`INSERT OR IGNORE INTO temp.rc_scope_calls SELECT id FROM reconcile_waiting WHERE kind = 'call'`);
  sqlite.exec(
    `INSERT OR IGNORE INTO temp.rc_scope_calls
     SELECT cc.call_id FROM temp.rc_dirty_charges d CROSS JOIN stripe_charge_calls cc ON cc.charge_id = d.charge_id
       CROSS JOIN ledger_calls lc ON lc.call_id = cc.call_id`,
  );
}

export function scan(sqlite: Sqlite, ctx: RuleContext, scope: Scope | null = null): ScanResult {
  const ms: Record<string, number> = {};
  let lap = performance.now();
  const mark = (name: string) => {
    const now = performance.now();
    ms[name] = Math.round(now - lap);
    lap = now;
  };
  const findings: Finding[] = [];
  const rec = new Recorder(scope !== null);
  const waitingUnlinked: ChargeFacts[] = [];
  tempTables(sqlite);
  if (scope) buildScope(sqlite, scope);
  mark('scope');

  // Pass 1: calls, with the succeeded charges naming them.
  const shared: string[] = [];
  let call: CallFacts | null = null;
  let charges: { row: Row; links: number }[] = [];
  const flush = () => {
    if (call === null) return;
    rec.seenCall(call);
    judgeLoneCall(call, charges.length > 0, ctx, rec, findings);
    if (charges.length === 1 && charges[0]!.links === 1) {
      judgeComponent([chargeFrom(charges[0]!.row, 6, [call.callId], [])], [call], ctx, rec, findings, waitingUnlinked);
    } else if (charges.length > 0) shared.push(call.callId);
  };
  const fast = scope === null ? fastParams(ctx) : null;
  let rows: IterableIterator<Row>;
  if (fast) {
    fastTables(sqlite);
    mark('fastTables');
    sqlite.function('flowrecon_matched', { deterministic: false }, (net, billed) => {
      rec.addMatched(1, net as number, 1, billed as number);
      return 1;
    });
    rows = sqlite.prepare(FAST_SQL).raw().iterate(fast) as IterableIterator<Row>;
  } else {
    rows = sqlite.prepare(callsSql(scope !== null)).raw().iterate() as IterableIterator<Row>;
  }
  for (const row of rows) {
    if (call === null || call.callId !== row[0]) {
      flush();
      call = callFrom(row, 0);
      charges = [];
    }
    if (row[6] !== null) charges.push({ row, links: row[11] as number });
  }
  flush();
  mark('calls');

  // Pass 2: the shared components, closed under "names", then judged whole.
  judgeShared(sqlite, shared, ctx, rec, findings, waitingUnlinked);
  mark('shared');

  // Pass 3: charges naming no call the ledger has.
  for (const row of sqlite.prepare(orphansSql(scope !== null)).raw().iterate() as IterableIterator<Row>) {
    const ids = row[5] === null ? [] : String(row[5]).split('\u001f');
    judgeComponent([chargeFrom(row, 0, [], ids)], [], ctx, rec, findings, waitingUnlinked);
  }

  // Pass 4: chain breaks (always all of them: few, and a break never goes away by itself).
  for (const row of sqlite.prepare(BREAKS_SQL).raw().iterate() as IterableIterator<Row>) {
    const b: BreakFacts = {
      movementId: row[0] as string,
      missingMicro: safeInt(row[1], 'ledger_breaks.missing_micro'),
      expectedBalanceMicro: safeInt(row[2], 'ledger_breaks.expected_balance_micro'),
      actualBalanceMicro: safeInt(row[3], 'ledger_breaks.actual_balance_micro'),
      createdAt: row[4] as string,
    };
    findings.push(judgeBreak(b, ctx));
  }
  mark('orphansBreaks');

  const inputs = inputTotals(sqlite, rec);
  const seq = (sqlite.prepare(`SELECT COALESCE(MAX(seq), 0) FROM ledger_movements`).pluck().get() as number) ?? 0;
  const syncedAt = (sqlite
    .prepare(`SELECT MAX(m) FROM (SELECT MAX(synced_at) AS m FROM stripe_charges UNION ALL SELECT MAX(synced_at) FROM stripe_refunds)`)
    .pluck()
    .get() as string | null) ?? '';
  mark('totals');
  return {
    findings,
    tally: rec,
    inputs,
    waitingUnlinked: waitingUnlinked.filter((ch) => ch.callIds.length === 0).map((ch) => ({
      cents: ch.capturedCents - ch.refundedCents,
      atMs: ch.createdS * 1000,
      id: ch.chargeId,
    })),
    waiting: { calls: rec.waitingCalls, charges: rec.waitingCharges },
    judged: rec.judgedCalls && rec.judgedCharges ? { calls: rec.judgedCalls, charges: rec.judgedCharges } : null,
    watermark: { seq, syncedAt },
    ms,
  };
}

/** The invariant's inputs, straight from the tables: the whole book, or exactly what this run judged. */
function inputTotals(sqlite: Sqlite, rec: Recorder): Totals {
  let calls = 'ledger_calls lc';
  let charges = 'stripe_charges ch';
  if (rec.judgedCalls && rec.judgedCharges) {
    const insCall = sqlite.prepare(`INSERT OR IGNORE INTO temp.rc_judged_calls VALUES (?)`);
    for (const id of rec.judgedCalls) insCall.run(id);
    const insCharge = sqlite.prepare(`INSERT OR IGNORE INTO temp.rc_judged_charges VALUES (?)`);
    for (const id of rec.judgedCharges) insCharge.run(id);
    calls = 'temp.rc_judged_calls j CROSS JOIN ledger_calls lc ON lc.call_id = j.call_id';
    charges = 'temp.rc_judged_charges j CROSS JOIN stripe_charges ch ON ch.charge_id = j.charge_id';
  }
  const [callCount, flow] = sqlite
    .prepare(`SELECT COUNT(*), COALESCE(SUM(lc.net_micro), 0) FROM ${calls} WHERE lc.status <> 'pending'`)
    .raw()
    .get() as [number, number];
  const [chargeCount, captured] = sqlite
    .prepare(`SELECT COUNT(*), COALESCE(SUM(ch.amount_captured), 0) FROM ${charges} WHERE ch.status = 'succeeded'`)
    .raw()
    .get() as [number, number];
  // Summed from stripe_refunds itself, not from the run's per-charge sums.
  const refundsFrom = rec.judgedCharges
    ? `${charges} CROSS JOIN stripe_refunds r ON r.charge_id = ch.charge_id`
    : 'stripe_refunds r JOIN stripe_charges ch ON ch.charge_id = r.charge_id';
  const refunded = sqlite
    .prepare(`SELECT COALESCE(SUM(r.amount), 0) FROM ${refundsFrom} WHERE r.status = 'succeeded' AND ch.status = 'succeeded'`)
    .pluck()
    .get() as number;
  return { calls: callCount, flowMicro: flow, charges: chargeCount, billedCents: captured - refunded };
}

/** Charges sharing calls: closed into components with temp tables, then union-find, each judged as one group. */
function judgeShared(sqlite: Sqlite, seeds: readonly string[], ctx: RuleContext, rec: Recorder, findings: Finding[], waiting: ChargeFacts[]): void {
  if (seeds.length === 0) return;
  const insCall = sqlite.prepare(`INSERT OR IGNORE INTO temp.rc_shared_calls VALUES (?)`);
  for (const id of seeds) insCall.run(id);
  const addCharges = sqlite.prepare(
    `INSERT OR IGNORE INTO temp.rc_shared_charges
     SELECT cc.charge_id FROM temp.rc_shared_calls s CROSS JOIN stripe_charge_calls cc ON cc.call_id = s.call_id
       CROSS JOIN stripe_charges ch ON ch.charge_id = cc.charge_id AND ch.status = 'succeeded'`,
  );
  const addCalls = sqlite.prepare(
    `INSERT OR IGNORE INTO temp.rc_shared_calls
     SELECT cc.call_id FROM temp.rc_shared_charges d CROSS JOIN stripe_charge_calls cc ON cc.charge_id = d.charge_id
       CROSS JOIN ledger_calls lc ON lc.call_id = cc.call_id`,
  );
  // A full scan hands over closed components; an incremental one may need a few rounds.
  for (let round = 0; round < 1000; round += 1) {
    addCharges.run();
    if (addCalls.run().changes === 0) break;
  }

  interface Pending {
    charge: ChargeFacts;
    calls: CallFacts[];
  }
  const pending: Pending[] = [];
  let cur: { row: Row; calls: CallFacts[]; unknown: string[] } | null = null;
  const flush = () => {
    if (!cur) return;
    pending.push({ charge: chargeFrom(cur.row, 0, cur.calls.map((c) => c.callId), cur.unknown), calls: cur.calls });
    cur = null;
  };
  for (const row of sqlite.prepare(SHARED_SQL).raw().iterate() as IterableIterator<Row>) {
    if (cur === null || cur.row[0] !== row[0]) {
      flush();
      cur = { row, calls: [], unknown: [] };
    }
    if (row[6] === null) cur.unknown.push(row[5] as string);
    else cur.calls.push(callFrom(row, 5));
  }
  flush();

  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let root = x;
    while (parent.get(root) !== root) root = parent.get(root) as string;
    for (let node = x; node !== root; ) {
      const next = parent.get(node) as string;
      parent.set(node, root);
      node = next;
    }
    return root;
  };
  for (const p of pending) {
    const node = `ch\u0000${p.charge.chargeId}`;
    if (!parent.has(node)) parent.set(node, node);
    for (const c of p.calls) {
      const cn = `ca\u0000${c.callId}`;
      if (!parent.has(cn)) parent.set(cn, cn);
      const ra = find(node);
      const rb = find(cn);
      if (ra !== rb) parent.set(rb, ra);
    }
  }
  const components = new Map<string, { charges: ChargeFacts[]; calls: Map<string, CallFacts> }>();
  for (const p of pending) {
    const root = find(`ch\u0000${p.charge.chargeId}`);
    let comp = components.get(root);
    if (!comp) components.set(root, (comp = { charges: [], calls: new Map() }));
    comp.charges.push(p.charge);
    for (const c of p.calls) comp.calls.set(c.callId, c);
  }
  for (const comp of components.values()) {
    const calls = [...comp.calls.values()].sort((a, b) => (a.callId < b.callId ? -1 : a.callId > b.callId ? 1 : 0));
    // Calls pulled in by the closure were not seen by pass 1.
    for (const c of calls) if (!rec.judgedCalls?.has(c.callId)) rec.judgedCalls?.add(c.callId);
    judgeComponent(comp.charges, calls, ctx, rec, findings, waiting); // charges already in id order
  }
}
