/**
 * A realistic, seeded history for the demo and the end-to-end tests: an app
 * reselling AgentFlow agent calls, its FLOW ledger (top-ups, reserves, settles,
 * releases, refunds, adjustments) and its Stripe charges and refunds, ending at
 * `now`. Most of it is right; a handful of each CONTRACT 7 mistake is injected,
 * each on its own calls and charges and clear of the billing grace and the
 * reservation TTL, so that under the rule order each is exactly one row.
 *
 * Everything is derived from the seed and offsets from `now`: the same seed
 * gives the same data shifted in time, and the same report numbers.
 */
import { LedgerFeedBuilder } from '../standins/ledger-feed.js';
import { IdSequence, StripeDataBuilder, type ChargeSpec } from '../standins/stripe-data.js';
import type { AgentflowDataset, StripeDataset } from '../standins/types.js';
import { roundHalfEven } from '../money.js';
import { Rng } from './random.js';
import { computeTruth, DEFAULT_RULES, expectedCentsOf, priceFor, type Truth, type TruthRules } from './truth.js';

export interface GenerateOptions {
  /** Agent calls in the history (default 20,000). */
  calls?: number;
  /** Days of history (default 7). */
  days?: number;
  seed?: number;
  /** End of the history (default: the current time). */
  now?: Date | number | string;
  /** Pricing, currency, metadata key, grace and TTL: the settings the app bills with and the truth checks against. */
  rules?: Partial<TruthRules>;
  /** How many of each mistake (default: about one per 4,000 calls, 3..8). */
  problemsPerType?: number;
  accountId?: string;
  sessions?: string[];
  apiKeys?: string[];
  stripeKeys?: string[];
}

export interface InjectedProblem {
  type: string;
  callIds: string[];
  chargeIds: string[];
  /** How it was made, for people reading a failing test. */
  note: string;
}

export interface DemoData {
  agentflow: AgentflowDataset;
  stripe: StripeDataset;
  /** The truth as of `now`. Recompute with computeTruth after changing the data sets. */
  truth: Truth;
  injected: InjectedProblem[];
  rules: TruthRules;
  now: string;
  /** Typical FLOW spent per hour (micro), for choosing alert thresholds. */
  spendPerHourMicro: number;
  /** The Stripe id sequence, so later edits keep ids unique. */
  stripeIds: IdSequence;
}

interface Agent {
  slug: string;
  reserveMicro: number;
  weight: number;
  batch: boolean;
}

const AGENTS: readonly Agent[] = [
  { slug: 'summarize', reserveMicro: 8_000_000, weight: 30, batch: true },
  { slug: 'translate', reserveMicro: 20_000_000, weight: 20, batch: true },
  { slug: 'image-gen', reserveMicro: 50_000_000, weight: 15, batch: false },
  { slug: 'code-review', reserveMicro: 150_000_000, weight: 15, batch: false },
  { slug: 'research', reserveMicro: 400_000_000, weight: 12, batch: false },
  { slug: 'deep-research', reserveMicro: 1_200_000_000, weight: 8, batch: false },
];

const CUSTOMER_NAMES = ['Ada Lovelace', 'Grace Hopper', 'Alan Turing', 'Edsger Dijkstra', 'Barbara Liskov', 'Ken Thompson', 'Frances Allen', 'Donald Knuth'];
/** One customer whose name a spreadsheet would run as a formula: exports must neutralise it. */
const HOSTILE_NAME = "=HYPERLINK(\"http://evil.example\",\"click\")";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

type Outcome = 'settle' | 'release' | 'refund' | 'pending';

interface CallPlan {
  id: string;
  agent: Agent;
  customer: number;
  startMs: number;
  finishMs: number;
  outcome: Outcome;
  reserveMicro: number;
  /** What the final movement returns. */
  returnMicro: number;
  adjustMicro: number;
  adjustMs: number;
  /** Net FLOW cost including the adjustment. */
  netMicro: number;
  expectedCents: number;
  /** Price of the whole reservation: what "full price" means for a failed call. */
  fullCents: number;
  tie: boolean;
  /** Set once the call is spoken for by an injected problem or a trap. */
  role: string | null;
}

interface StripeAction {
  atMs: number;
  order: number;
  run: (b: StripeDataBuilder) => void;
}

export function generateDemo(options: GenerateOptions = {}): DemoData {
  const callCount = options.calls ?? 20_000;
  const days = options.days ?? 7;
  const seed = options.seed ?? 1;
  if (!Number.isInteger(callCount) || callCount < 200) throw new RangeError('generateDemo: calls must be a whole number >= 200');
  if (!Number.isInteger(days) || days < 1 || days > 60) throw new RangeError('generateDemo: days must be a whole number from 1 to 60');
  const rules: TruthRules = { ...DEFAULT_RULES, ...(options.rules ?? {}) };
  const K = options.problemsPerType ?? Math.min(8, Math.max(3, Math.round(callCount / 4000)));
  const rng = new Rng(seed);
  // Whole seconds, so Stripe's unix-second times and the feed's ISO times agree.
  const nowMs = Math.floor(new Date(options.now ?? Date.now()).getTime() / 1000) * 1000;
  const startMs = nowMs - Math.round(days * DAY);
  // The margins below (bills within 20 min, young calls inside 45 min) are cut for these floors.
  if (rules.billingGraceMinutes < 30 || rules.reservationTtlMinutes < 60) {
    throw new RangeError('generateDemo: needs a billing grace of at least 30 minutes and a reservation TTL of at least 60');
  }
  // The trailing-24h window edge stays quiet so the runway is the same however long the run takes.
  const quietFrom = nowMs - DAY - 15 * MIN;
  const quietTo = nowMs - DAY + 3 * MIN;
  const iso = (ms: number) => new Date(ms).toISOString();
  const sec = (ms: number) => Math.floor(ms / 1000);
  const priceOf = (agent: Agent, atMs: number) => priceFor(rules.pricing, agent.slug, iso(atMs));

  // ---- the calls -------------------------------------------------------------------------
  const from = startMs + 10 * MIN;
  const to = nowMs - 3 * MIN;
  const quietLen = quietTo > from && quietFrom < to ? Math.min(quietTo, to) - Math.max(quietFrom, from) : 0;
  const starts: number[] = [];
  for (let i = 0; i < callCount; i++) {
    let t = from + Math.floor(rng.float() * (to - from - quietLen));
    if (quietLen > 0 && t >= quietFrom) t += quietLen;
    starts.push(Math.floor(t / 1000) * 1000);
  }
  starts.sort((a, b) => a - b);

  const calls: CallPlan[] = starts.map((s, i) => {
    const agent = rng.weighted(AGENTS);
    const reserveMicro = agent.reserveMicro;
    const finishMs = s + rng.int(2, 180) * 1000;
    const young = s > nowMs - 45 * MIN;
    let outcome: Outcome;
    if (finishMs > nowMs - 2 * MIN || (young && rng.chance(0.35))) outcome = 'pending';
    else if (rng.chance(0.03)) outcome = rng.chance(0.5) ? 'release' : 'refund';
    else outcome = 'settle';
    let returnMicro = 0;
    let tie = false;
    if (outcome === 'release') returnMicro = reserveMicro;
    if (outcome === 'refund') returnMicro = Math.round((reserveMicro * rng.int(300, 900)) / 1000 / 1000) * 1000;
    if (outcome === 'settle') {
      const r = rng.float();
      if (r < 0.02) returnMicro = 0; // used the whole card price
      else if (r < 0.025) returnMicro = reserveMicro; // cost nothing
      else if (r < 0.04) {
        // A net of an odd multiple of 0.4 FLOW lands on half a cent at the default price: half-even matters.
        const maxJ = Math.floor((reserveMicro / 400_000 - 1) / 2);
        const net = 400_000 * (2 * rng.int(0, maxJ) + 1);
        returnMicro = reserveMicro - net;
        tie = true;
      } else {
        const net = Math.max(1000, Math.round((reserveMicro * rng.int(150, 999)) / 1000 / 1000) * 1000);
        returnMicro = reserveMicro - net;
      }
    }
    let adjustMicro = 0;
    let adjustMs = 0;
    const net0 = reserveMicro - returnMicro;
    if (outcome === 'settle' && !tie && net0 > 100_000 && finishMs < nowMs - 3 * HOUR && rng.chance(0.01)) {
      const size = Math.max(1000, Math.round((net0 * rng.int(5, 20)) / 100 / 1000) * 1000);
      adjustMicro = rng.chance(0.7) ? size : -size; // a credit for a slow call, or a late surcharge
      adjustMs = finishMs + rng.int(60, 300) * 1000;
    }
    const netMicro = net0 - adjustMicro;
    const price = priceOf(agent, s);
    return {
      id: `call_${String(i + 1).padStart(6, '0')}`,
      agent,
      customer: rng.int(0, 39),
      startMs: s,
      finishMs,
      outcome,
      reserveMicro,
      returnMicro,
      adjustMicro,
      adjustMs,
      netMicro,
      expectedCents: outcome === 'pending' ? 0 : expectedCentsOf(netMicro, price),
      fullCents: expectedCentsOf(reserveMicro, price),
      tie,
      role: null,
    };
  });

  // ---- which calls carry the mistakes ------------------------------------------------------
  const injected: InjectedProblem[] = [];
  const old = (c: CallPlan) => c.outcome !== 'pending' && c.finishMs < nowMs - 2 * HOUR && c.adjustMicro === 0;
  const pool = (pred: (c: CallPlan) => boolean) => calls.filter((c) => c.role === null && pred(c));
  const claim = (list: CallPlan[], role: string) => {
    for (const c of list) c.role = role;
    return list;
  };
  const settled = (c: CallPlan) => old(c) && c.outcome === 'settle' && !c.tie && c.expectedCents >= 2;
  // Mistakes on the dearer agents, so the USD at stake is worth a look.
  const dear = (c: CallPlan) => settled(c) && !c.agent.batch;

  const stale = claim(rng.take(pool((c) => c.outcome === 'settle' && c.startMs < nowMs - 3 * HOUR && c.adjustMicro === 0), K), 'stale');
  for (const c of stale) c.outcome = 'pending';
  const unbilled = claim(rng.take(pool(dear), K - 1), 'unbilled');
  unbilled.push(...claim(rng.take(pool((c) => old(c) && c.outcome === 'refund' && c.expectedCents > 0), 1), 'unbilled'));
  const currency = claim(rng.take(pool(dear), K), 'currency');
  const duplicate = claim(rng.take(pool(dear), K), 'duplicate');
  const rnpoRelease = claim(rng.take(pool((c) => old(c) && c.outcome === 'release' && c.fullCents > 0), Math.ceil(K / 2)), 'rnpo');
  const rnpoRefund = claim(rng.take(pool((c) => old(c) && c.outcome === 'refund' && c.fullCents > c.expectedCents), K - rnpoRelease.length), 'rnpo');
  const overKinds = ['partial', 'goodwill', 'full'] as const;
  const over: { call: CallPlan; kind: (typeof overKinds)[number] }[] = [];
  for (let i = 0; i < K; i++) {
    const kind = overKinds[i % 3] as (typeof overKinds)[number];
    const list =
      kind === 'goodwill'
        ? rng.take(pool(dear), 1)
        : rng.take(pool((c) => old(c) && c.outcome === 'refund' && c.fullCents > c.expectedCents && c.expectedCents >= 2), 1);
    const call = list[0] ?? rng.take(pool(settled), 1)[0];
    if (!call) continue;
    call.role = 'over';
    over.push({ call, kind: list[0] ? kind : 'goodwill' });
  }
  const amountKinds = ['wrong', 'batch', 'halfup', 'under'] as const;
  const amount: { calls: CallPlan[]; kind: (typeof amountKinds)[number] }[] = [];
  for (let i = 0; i < K; i++) {
    let kind = amountKinds[i % 4] as (typeof amountKinds)[number];
    let list: CallPlan[] = [];
    if (kind === 'batch') list = rng.take(pool((c) => settled(c) && c.agent.batch), rng.int(2, 3));
    if (kind === 'halfup') list = rng.take(pool((c) => old(c) && c.outcome === 'settle' && c.tie && halfUpDiffers(c, rules)), 1);
    if (kind === 'under') list = rng.take(pool((c) => old(c) && c.outcome === 'refund' && c.expectedCents >= 2), 1);
    if (list.length === 0 || (kind === 'batch' && list.length < 2)) {
      for (const c of list) c.role = null;
      kind = 'wrong';
      list = rng.take(pool(dear), 1);
    }
    if (list.length === 0) continue;
    claim(list, 'amount');
    amount.push({ calls: list, kind });
  }
  // Traps: right, but easy to get wrong.
  const refundedDuplicate = claim(rng.take(pool(settled), 2), 'trap-refunded-duplicate');
  const chargedAtStart = claim(rng.take(pool((c) => c.outcome === 'pending' && c.startMs > nowMs - 40 * MIN && c.startMs < nowMs - 10 * MIN), 1), 'trap-charged-pending');
  const pendingCharge = claim(
    rng.take(pool((c) => c.outcome === 'settle' && c.finishMs > nowMs - 20 * MIN && c.expectedCents > 0), 1),
    'trap-pending-charge',
  );

  // ---- the ledger ----------------------------------------------------------------------------
  const meanNet = calls.reduce((s, c) => s + (c.outcome === 'pending' ? c.reserveMicro : c.netMicro), 0) / calls.length;
  const spendPerHourMicro = Math.round((meanNet * callCount) / (days * 24));
  const roundFlow = (micro: number) => Math.max(1_000_000_000, Math.round(micro / 1_000_000_000) * 1_000_000_000);
  const topupMicro = roundFlow(12 * spendPerHourMicro);
  const lowWaterMicro = roundFlow(4 * spendPerHourMicro);

  interface LedgerEvent {
    atMs: number;
    order: number;
    type: 'reserve' | 'settle' | 'release' | 'refund' | 'adjustment';
    amount: number;
    call: CallPlan | null;
  }
  const events: LedgerEvent[] = [];
  let order = 0;
  for (const c of calls) {
    events.push({ atMs: c.startMs, order: order++, type: 'reserve', amount: -c.reserveMicro, call: c });
    if (c.outcome !== 'pending') events.push({ atMs: c.finishMs, order: order++, type: c.outcome, amount: c.returnMicro, call: c });
    if (c.adjustMicro !== 0) events.push({ atMs: c.adjustMs, order: order++, type: 'adjustment', amount: c.adjustMicro, call: c });
  }
  const loose = Math.max(2 * K, Math.ceil(days * 2));
  for (let i = 0; i < loose; i++) {
    let t = startMs + HOUR + Math.floor(rng.float() * (days * DAY - 3 * HOUR));
    if (t >= quietFrom && t <= quietTo) t = quietFrom - HOUR;
    const size = rng.int(10, 500) * 1_000_000;
    events.push({ atMs: Math.floor(t / 1000) * 1000, order: order++, type: 'adjustment', amount: rng.chance(0.5) ? -size : size, call: null });
  }
  events.sort((a, b) => a.atMs - b.atMs || a.order - b.order);

  const feed = new LedgerFeedBuilder({ start: iso(startMs), stepMs: 0, idPrefix: 'mv_' });
  feed.add({ type: 'topup', amount: topupMicro * 2, createdAt: iso(startMs) });
  for (const e of events) {
    if (e.amount < 0 && feed.balanceMicro + e.amount < lowWaterMicro) feed.add({ type: 'topup', amount: topupMicro, createdAt: iso(e.atMs) });
    const c = e.call;
    feed.add({
      type: e.type,
      amount: e.amount,
      callId: c?.id ?? null,
      agentSlug: c?.agent.slug ?? null,
      callStatus: c === null ? null : e.type === 'reserve' ? 'pending' : c.outcome === 'settle' ? 'succeeded' : 'failed',
      createdAt: iso(e.atMs),
    });
  }

  // BALANCE_DRIFT: movements that moved the balance but never reached the feed.
  const served = feed.movements;
  const dropIdx = new Set<number>();
  const canDrop = (i: number) => i > 0 && i < served.length - 1 && !dropIdx.has(i - 1) && !dropIdx.has(i + 1) && !dropIdx.has(i);
  const topupIdx = served.map((m, i) => (m.type === 'topup' && canDrop(i) ? i : -1)).filter((i) => i > 0);
  const looseIdx = served.map((m, i) => (m.type === 'adjustment' && m.call_id === null && canDrop(i) ? i : -1)).filter((i) => i > 0);
  for (const i of rng.take(topupIdx, Math.ceil(K / 2))) if (canDrop(i)) dropIdx.add(i);
  const dropCount = dropIdx.size;
  for (const i of rng.take(looseIdx, K - dropCount)) if (canDrop(i)) dropIdx.add(i);
  for (const i of [...dropIdx].sort((a, b) => a - b)) {
    const m = served[i];
    const next = served[i + 1];
    if (m && next) injected.push({ type: 'BALANCE_DRIFT', callIds: [], chargeIds: [], note: `${m.type} ${m.id} (${m.amount}) left out; chain breaks at ${next.id}` });
  }
  const movements = served.filter((_, i) => !dropIdx.has(i));
  feed.dropped.push(...served.filter((_, i) => dropIdx.has(i)));
  const agentflow: AgentflowDataset = {
    accountId: options.accountId ?? 'acc_demo',
    movements,
    sessions: options.sessions ?? ['demo-session'],
    ...(options.apiKeys ? { apiKeys: options.apiKeys } : {}),
  };
  for (const c of stale) injected.push({ type: 'STALE_RESERVATION', callIds: [c.id], chargeIds: [], note: 'reserved, never settled' });

  // ---- Stripe ---------------------------------------------------------------------------------
  // Everything is planned first, then made in time order, so ids run in time order; a Ref gets
  // its charge id when the charge is made (always before any refund of it, which comes later).
  interface Ref {
    id: string;
  }
  const stripeIds = new IdSequence('d');
  const actions: StripeAction[] = [];
  let aorder = 0;
  const latest = nowMs - 5 * MIN;
  const customers = Array.from({ length: 40 }, (_, i) => ({
    id: `cus_demo${String(i + 1).padStart(4, '0')}`,
    name: i === 7 ? HOSTILE_NAME : `${CUSTOMER_NAMES[i % CUSTOMER_NAMES.length]} ${i + 1}`,
    email: `user${i + 1}@example.com`,
  }));
  const charge = (atMs: number, spec: Omit<ChargeSpec, 'created'> & { customerIdx?: number }): Ref => {
    const ref: Ref = { id: '' };
    const { customerIdx, ...rest } = spec;
    const cust = customers[customerIdx ?? 0];
    actions.push({
      atMs,
      order: aorder++,
      run: (b) => {
        ref.id = b.addCharge({
          callIdKey: rules.callIdKey,
          customer: cust?.id ?? null,
          customerName: cust?.name ?? null,
          customerEmail: cust?.email ?? null,
          ...rest,
          created: sec(atMs),
        }).id;
      },
    });
    return ref;
  };
  /** Refund `amount` (default: what is left) of a charge at `atMs`. */
  const refund = (ref: Ref, atMs: number, amount?: number, status: 'succeeded' | 'failed' = 'succeeded'): Ref => {
    actions.push({
      atMs,
      order: aorder++,
      run: (b) => void b.addRefund(ref.id, { created: sec(atMs), status, reason: 'requested_by_customer', ...(amount !== undefined ? { amount } : {}) }),
    });
    return ref;
  };
  const link = (): Pick<ChargeSpec, 'callIdsOn' | 'withPaymentIntent'> => {
    const r = rng.float();
    return r < 0.7 ? { callIdsOn: 'charge' } : r < 0.95 ? { callIdsOn: 'payment_intent' } : { callIdsOn: 'charge', withPaymentIntent: false };
  };
  const readyOf = (c: CallPlan) => (c.adjustMicro !== 0 ? c.adjustMs : c.finishMs);
  const billAt = (c: CallPlan) => readyOf(c) + rng.int(60, 20 * 60) * 1000;
  const desc = (c: CallPlan) => `AgentFlow ${c.agent.slug} call`;
  const daysLater = (t: number) => Math.min(t + rng.int(1, 3) * DAY + rng.int(0, 3600) * 1000, nowMs - 10 * MIN);
  /** The common case: one charge for one call at the right price. */
  const single = (c: CallPlan, at: number, extra: Partial<ChargeSpec> = {}): Ref =>
    charge(at, { amount: c.expectedCents, callIds: [c.id], customerIdx: c.customer, description: desc(c), ...link(), ...extra });
  /** One charge for several calls; `delta` cents off the right total. */
  const batch = (cust: number, list: CallPlan[], delta = 0): Ref => {
    const at = Math.max(...list.map(readyOf)) + rng.int(60, 20 * 60) * 1000;
    const sep = rng.chance(0.3) ? ', ' : ',';
    return charge(at, {
      amount: list.reduce((s, c) => s + c.expectedCents, 0) + delta,
      callIds: list.map((c) => c.id).join(sep),
      customerIdx: cust,
      description: `AgentFlow usage: ${list.length} calls`,
      callIdsOn: rng.chance(0.7) ? 'charge' : 'payment_intent',
    });
  };

  const queues = new Map<number, { calls: CallPlan[]; size: number }>();
  for (const c of calls) {
    if (c.role !== null || c.outcome === 'pending') continue;
    if (c.outcome === 'release') {
      if (rng.chance(0.2)) {
        const at = billAt(c);
        const back = daysLater(at);
        // Charged the card price up front, refunded in full when the call failed.
        if (back > at && at <= latest) refund(single(c, at, { amount: c.fullCents }), back);
      }
      continue;
    }
    if (c.expectedCents <= 0) continue; // nothing to bill
    const at = billAt(c);
    if (at > latest) continue; // not billed yet; the call is still inside the grace
    if (c.outcome === 'refund') {
      const back = daysLater(at);
      if (c.fullCents > c.expectedCents && back > at && rng.chance(0.5)) {
        refund(single(c, at, { amount: c.fullCents }), back, c.fullCents - c.expectedCents);
      } else single(c, at);
      continue;
    }
    if (c.agent.batch && readyOf(c) < nowMs - 3 * HOUR && rng.chance(0.6)) {
      let q = queues.get(c.customer);
      if (!q) queues.set(c.customer, (q = { calls: [], size: rng.int(2, 6) }));
      q.calls.push(c);
      if (q.calls.length >= q.size) {
        batch(c.customer, q.calls);
        q.calls = [];
        q.size = rng.int(2, 6);
      }
      continue;
    }
    const r = rng.float();
    if (r < 0.03) {
      // A declined card, then a retry that went through.
      charge(at - 60_000, { amount: c.expectedCents, callIds: [c.id], customerIdx: c.customer, status: 'failed', description: desc(c) });
      single(c, at);
    } else if (r < 0.035) {
      // A refund the bank bounced: no money moved, the charge still bills in full.
      refund(single(c, at), daysLater(at), c.expectedCents, 'failed');
    } else single(c, at);
  }
  for (const [cust, q] of queues) {
    if (q.calls.length === 1) single(q.calls[0] as CallPlan, billAt(q.calls[0] as CallPlan));
    else if (q.calls.length > 1) batch(cust, q.calls);
  }

  // The injected problems on the Stripe side; their charge ids are read once the charges exist.
  const later: { type: string; callIds: string[]; refs: Ref[]; note: string }[] = [];
  for (const [i, c] of unbilled.entries()) {
    if (i === 0) charge(billAt(c), { amount: c.expectedCents, callIds: [c.id], customerIdx: c.customer, status: 'failed', description: desc(c) });
    later.push({ type: 'UNBILLED_CALL', callIds: [c.id], refs: [], note: i === 0 ? 'only a declined charge' : 'never charged' });
  }
  const orphanCount = K + 1;
  for (let i = 0; i < orphanCount; i++) {
    const at = nowMs - rng.int(2 * 60, Math.floor((days * DAY) / MIN) - 60) * MIN;
    const cents = rng.int(100, 5000);
    if (i < Math.ceil(orphanCount / 2)) {
      const ref = charge(at, { amount: cents, customerIdx: rng.int(0, 39), description: 'Manual charge', metadata: { order_ref: `ord_${1000 + i}` } });
      later.push({ type: 'ORPHAN_CHARGE', callIds: [], refs: [ref], note: 'names no call' });
    } else {
      const named = i === orphanCount - 1 && orphanCount > 2 ? [`call_ext_${9000 + i}`, `call_ext_${9100 + i}`] : [`call_ext_${9000 + i}`];
      const ref = charge(at, { amount: cents, callIds: named.join(','), customerIdx: rng.int(0, 39), description: 'AgentFlow call', ...link() });
      later.push({ type: 'ORPHAN_CHARGE', callIds: named, refs: [ref], note: 'names calls the ledger does not have' });
    }
  }
  for (const c of currency) later.push({ type: 'CURRENCY_MISMATCH', callIds: [c.id], refs: [single(c, billAt(c), { currency: 'eur' })], note: 'billed in EUR' });
  for (const [i, c] of duplicate.entries()) {
    const at = billAt(c);
    const refs = [single(c, at), single(c, at + rng.int(30, 180) * 1000, i === 0 ? { callIdsOn: 'payment_intent' } : {})];
    later.push({ type: 'DUPLICATE_CHARGE', callIds: [c.id], refs, note: 'charged twice' });
  }
  for (const c of [...rnpoRelease, ...rnpoRefund]) {
    const ref = single(c, billAt(c), { amount: c.fullCents });
    later.push({ type: 'REFUND_NOT_PASSED_ON', callIds: [c.id], refs: [ref], note: `${c.outcome}: charged the full card price, never refunded` });
  }
  for (const { call: c, kind } of over) {
    const at = billAt(c);
    const back = daysLater(at);
    let ref: Ref;
    if (kind === 'goodwill') ref = refund(single(c, at), back, rng.int(1, c.expectedCents - 1));
    else if (kind === 'full') ref = refund(single(c, at, { amount: c.fullCents }), back);
    else ref = refund(single(c, at, { amount: c.fullCents }), back, c.fullCents - c.expectedCents + rng.int(1, c.expectedCents - 1));
    later.push({ type: 'OVER_REFUNDED', callIds: [c.id], refs: [ref], note: `${kind}: refunded more than came back` });
  }
  for (const { calls: group, kind } of amount) {
    const c = group[0] as CallPlan;
    if (kind === 'batch') {
      const sum = group.reduce((s, x) => s + x.expectedCents, 0);
      const delta = rng.chance(0.5) ? rng.int(1, 5) : -rng.int(1, Math.min(5, sum - 1));
      later.push({ type: 'AMOUNT_MISMATCH', callIds: group.map((x) => x.id), refs: [batch(c.customer, group, delta)], note: `batch total off by ${delta}` });
      continue;
    }
    let cents =
      kind === 'halfup'
        ? halfUpCents(c, rules)
        : kind === 'under'
          ? c.expectedCents - rng.int(1, c.expectedCents - 1)
          : Math.max(1, c.expectedCents + (rng.chance(0.5) ? 1 : -1) * rng.int(1, 30));
    if (cents === c.expectedCents) cents += 1;
    later.push({ type: 'AMOUNT_MISMATCH', callIds: [c.id], refs: [single(c, billAt(c), { amount: cents })], note: `${kind}: billed ${cents} for ${c.expectedCents}` });
  }

  // Traps: right, but easy to get wrong.
  for (const c of refundedDuplicate) {
    const at = billAt(c);
    single(c, at);
    refund(single(c, at + 90_000), at + rng.int(10, 60) * MIN); // the double charge, caught and refunded in full
  }
  for (const c of chargedAtStart) single(c, c.startMs + 30_000, { amount: c.fullCents }); // waits: the call is still running
  for (const c of pendingCharge) single(c, Math.min(c.finishMs + 60_000, latest), { status: 'pending' });
  charge(nowMs - 10 * MIN, { amount: 250, customerIdx: 3, description: 'Manual charge' }); // inside the grace
  refund(charge(nowMs - 2 * DAY, { amount: 990, customerIdx: 5, description: 'Manual charge' }), nowMs - 2 * DAY + HOUR); // not live

  actions.sort((a, b) => a.atMs - b.atMs || a.order - b.order);
  const builder = new StripeDataBuilder(options.stripeKeys ?? ['sk_test_demo'], { ids: stripeIds });
  for (const a of actions) a.run(builder);
  for (const p of later) injected.push({ type: p.type, callIds: [...p.callIds].sort(), chargeIds: p.refs.map((r) => r.id).sort(), note: p.note });

  const stripe = builder.dataset;
  const truth = computeTruth(agentflow, stripe, nowMs, rules);
  return { agentflow, stripe, truth, injected, rules, now: iso(nowMs), spendPerHourMicro, stripeIds };
}

function exact(c: CallPlan, rules: TruthRules): { num: bigint; den: bigint } {
  const { rate, markup } = priceFor(rules.pricing, c.agent.slug, new Date(c.startMs).toISOString());
  return { num: BigInt(c.netMicro) * rate.num * (markup.den + markup.num) * 100n, den: 1_000_000n * rate.den * markup.den };
}

/** What a half-up rounding would bill: the classic off-by-a-cent. */
function halfUpCents(c: CallPlan, rules: TruthRules): number {
  const { num, den } = exact(c, rules);
  return Number((2n * num + den) / (2n * den));
}

function halfUpDiffers(c: CallPlan, rules: TruthRules): boolean {
  const { num, den } = exact(c, rules);
  return halfUpCents(c, rules) !== Number(roundHalfEven(num, den));
}
