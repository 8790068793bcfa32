/**
 * The app's Stripe side of the history: one charge per call mostly, batch
 * charges for the cheap agents, links through the PaymentIntent, declined
 * cards, refunds passed on days later; then the injected mistakes and traps.
 */
import { IdSequence, StripeDataBuilder, type ChargeSpec } from '../standins/stripe-data.js';
import type { StripeDataset } from '../standins/types.js';
import { DAY, halfUpCents, HOUR, MIN, sec, type CallPlan, type Frame, type InjectedProblem } from './model.js';
import type { Mistakes } from './mistakes.js';

const CUSTOMER_NAMES = ['Ada Lovelace', 'Grace Hopper', 'Alan Turing', 'Edsger Dijkstra', 'Barbara Liskov', 'Ken Thompson', 'Frances Allen', 'Donald Knuth'];
/** One customer whose name a spreadsheet would run as a formula: exports must neutralise it. */
const HOSTILE_NAME = '=HYPERLINK("http://evil.example","click")';

interface StripeAction {
  atMs: number;
  order: number;
  run: (b: StripeDataBuilder) => void;
}

export function buildStripe(
  frame: Frame,
  calls: CallPlan[],
  mistakes: Mistakes,
  options: { stripeKeys?: string[] },
): { stripe: StripeDataset; injected: InjectedProblem[]; stripeIds: IdSequence } {
  const { rng, rules, nowMs, days, K } = frame;
  const { unbilled, currency, duplicate, rnpo, over, amount } = mistakes;
  const { refundedDuplicate, chargedAtStart, pendingCharge } = mistakes.traps;
  const injected: InjectedProblem[] = [];
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
  for (const c of rnpo) {
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

  return { stripe: builder.dataset, injected, stripeIds };
}
