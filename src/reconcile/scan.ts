/**
 * The set-based part: three streaming passes over indexed tables, each row
 * seen once, nothing loaded whole.
 *
 *   charges  succeeded charges in charge-id order, each with the calls it
 *            names (links in (charge_id, call_id) order). A charge whose calls
 *            no other charge names is a component on its own and is judged at
 *            once; a charge sharing a call with another is set aside (rare),
 *            and those are joined into components and judged after the pass.
 *   calls    every call once, with whether a succeeded charge names it: the
 *            pending ones (stale reservations) and the final ones nobody bills.
 *   breaks   the recorded balance_after chain breaks.
 *
 * Plus two independent aggregates, the invariant's input totals.
 * better-sqlite3 allows no other statement while an iterator is open, so
 * everything a pass needs comes in its own rows.
 */
import type { Sqlite } from '../db/connection.js';
import type { CallStatus } from '../domain.js';
import { safeInt } from '../money.js';
import type { BreakFacts, CallFacts, ChargeFacts, Finding, Probe } from './facts.js';
import type { Totals } from './invariants.js';
import { Tally } from './invariants.js';
import { judgeBreak, judgeComponent, judgeLoneCall, type RuleContext } from './rules.js';

const CHARGES_SQL = `
SELECT ch.charge_id, ch.created, ch.currency, ch.amount_captured,
       COALESCE((SELECT SUM(r.amount) FROM stripe_refunds r
                  WHERE r.charge_id = ch.charge_id AND r.status = 'succeeded'), 0) AS refunded,
       cc.call_id, lc.status, lc.net_micro, lc.agent_slug, lc.started_at, lc.finished_at,
       CASE WHEN cc.call_id IS NULL THEN 0
            ELSE (SELECT COUNT(*) FROM stripe_charge_calls c2 WHERE c2.call_id = cc.call_id) END AS links
  FROM stripe_charges ch
  LEFT JOIN stripe_charge_calls cc ON cc.charge_id = ch.charge_id
  LEFT JOIN ledger_calls lc ON lc.call_id = cc.call_id
 WHERE ch.status = 'succeeded'
 ORDER BY ch.charge_id, cc.call_id`;

const CALLS_SQL = `
SELECT lc.call_id, lc.status, lc.net_micro, lc.agent_slug, lc.started_at, lc.finished_at,
       EXISTS (SELECT 1 FROM stripe_charge_calls cc JOIN stripe_charges ch ON ch.charge_id = cc.charge_id
                WHERE cc.call_id = lc.call_id AND ch.status = 'succeeded') AS named
  FROM ledger_calls lc`;

const BREAKS_SQL = `
SELECT movement_id, missing_micro, expected_balance_micro, actual_balance_micro, created_at
  FROM ledger_breaks ORDER BY seq`;

const CALL_TOTALS_SQL = `SELECT COUNT(*), COALESCE(SUM(net_micro), 0) FROM ledger_calls WHERE status <> 'pending'`;
const CHARGE_TOTALS_SQL = `
SELECT (SELECT COUNT(*) FROM stripe_charges WHERE status = 'succeeded'),
       (SELECT COALESCE(SUM(amount_captured), 0) FROM stripe_charges WHERE status = 'succeeded')
     - (SELECT COALESCE(SUM(r.amount), 0) FROM stripe_refunds r JOIN stripe_charges ch ON ch.charge_id = r.charge_id
         WHERE r.status = 'succeeded' AND ch.status = 'succeeded')`;

type Row = unknown[];

interface Pending {
  charge: ChargeFacts;
  calls: CallFacts[];
}

export interface ScanResult {
  findings: Finding[];
  tally: Tally;
  inputs: Totals;
  /** Live charges naming no call, still within the grace: counterpart candidates. */
  waitingUnlinked: Probe[];
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

export function scan(sqlite: Sqlite, ctx: RuleContext): ScanResult {
  const findings: Finding[] = [];
  const tally = new Tally();
  const waitingCharges: ChargeFacts[] = [];
  const shared: Pending[] = [];

  // Pass 1: charges.
  let cur: { charge: Omit<ChargeFacts, 'callIds' | 'unknownIds'>; calls: CallFacts[]; unknown: string[]; shared: boolean } | null = null;
  const flush = () => {
    if (!cur) return;
    const charge: ChargeFacts = { ...cur.charge, callIds: cur.calls.map((c) => c.callId), unknownIds: cur.unknown };
    if (cur.shared) shared.push({ charge, calls: cur.calls });
    else judgeComponent([charge], cur.calls, ctx, tally, findings, waitingCharges);
    cur = null;
  };
  for (const row of sqlite.prepare(CHARGES_SQL).raw().iterate() as IterableIterator<Row>) {
    const chargeId = row[0] as string;
    if (cur === null || cur.charge.chargeId !== chargeId) {
      flush();
      cur = {
        charge: {
          chargeId,
          createdS: safeInt(row[1], `stripe_charges.created of ${chargeId}`),
          currency: String(row[2]).toLowerCase(),
          capturedCents: safeInt(row[3], `stripe_charges.amount_captured of ${chargeId}`),
          refundedCents: safeInt(row[4], `refunds of ${chargeId}`),
        },
        calls: [],
        unknown: [],
        shared: false,
      };
    }
    const callId = row[5] as string | null;
    if (callId === null) continue; // names no call
    if (row[6] === null) cur.unknown.push(callId);
    else cur.calls.push(callFrom(row, 5));
    if ((row[11] as number) > 1) cur.shared = true;
  }
  flush();
  judgeShared(shared, ctx, tally, findings, waitingCharges);

  // Pass 2: calls.
  for (const row of sqlite.prepare(CALLS_SQL).raw().iterate() as IterableIterator<Row>) {
    judgeLoneCall(callFrom(row, 0), row[6] === 1, ctx, tally, findings);
  }

  // Pass 3: chain breaks.
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

  const [calls, flow] = sqlite.prepare(CALL_TOTALS_SQL).raw().get() as [number, number];
  const [charges, billed] = sqlite.prepare(CHARGE_TOTALS_SQL).raw().get() as [number, number];
  return {
    findings,
    tally,
    inputs: { calls, flowMicro: flow, charges, billedCents: billed },
    waitingUnlinked: waitingCharges.map((ch) => ({
      cents: ch.capturedCents - ch.refundedCents,
      atMs: ch.createdS * 1000,
      id: ch.chargeId,
    })),
  };
}

/** Charges sharing calls: union-find into components, each judged as one group. */
function judgeShared(shared: readonly Pending[], ctx: RuleContext, tally: Tally, findings: Finding[], waiting: ChargeFacts[]): void {
  if (shared.length === 0) return;
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let root = x;
    while (parent.get(root) !== root) root = parent.get(root) as string;
    let node = x;
    while (node !== root) {
      const next = parent.get(node) as string;
      parent.set(node, root);
      node = next;
    }
    return root;
  };
  const union = (a: string, b: string) => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(ra < rb ? rb : ra, ra < rb ? ra : rb);
  };
  for (const p of shared) {
    const node = `ch\u0000${p.charge.chargeId}`;
    parent.set(node, node);
    for (const c of p.calls) {
      const cn = `ca\u0000${c.callId}`;
      if (!parent.has(cn)) parent.set(cn, cn);
      union(node, cn);
    }
  }
  const components = new Map<string, { charges: ChargeFacts[]; calls: Map<string, CallFacts> }>();
  for (const p of shared) {
    const root = find(`ch\u0000${p.charge.chargeId}`);
    let comp = components.get(root);
    if (!comp) components.set(root, (comp = { charges: [], calls: new Map() }));
    comp.charges.push(p.charge);
    for (const c of p.calls) comp.calls.set(c.callId, c);
  }
  for (const comp of components.values()) {
    const calls = [...comp.calls.values()].sort((a, b) => (a.callId < b.callId ? -1 : a.callId > b.callId ? 1 : 0));
    judgeComponent(comp.charges, calls, ctx, tally, findings, waiting); // charges already in id order
  }
}
