import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateDemo } from '../src/demo/generate.js';
import { computeTruth, keyOf, splitLargestRemainder, DEFAULT_RULES } from '../src/demo/truth.js';
import { parseFlowMicro } from '../src/money.js';
import { LedgerFeedBuilder } from '../src/standins/ledger-feed.js';
import { StripeDataBuilder } from '../src/standins/stripe-data.js';

const NOW = Date.parse('2026-12-04T12:00:00.000Z');
const small = () => generateDemo({ calls: 1500, days: 2, seed: 11, now: NOW });

test('the same seed gives byte-identical data; another seed does not', () => {
  const a = generateDemo({ calls: 1500, days: 2, seed: 11, now: NOW });
  const b = generateDemo({ calls: 1500, days: 2, seed: 11, now: NOW });
  assert.equal(JSON.stringify(a), JSON.stringify(b));
  const c = generateDemo({ calls: 1500, days: 2, seed: 12, now: NOW });
  assert.notEqual(JSON.stringify(a.agentflow.movements), JSON.stringify(c.agentflow.movements));
});

test('a later now shifts the history in time and changes no number', () => {
  const a = small();
  const b = generateDemo({ calls: 1500, days: 2, seed: 11, now: NOW + 86_400_000 + 1234 });
  const strip = (d: ReturnType<typeof small>) => ({
    amounts: d.agentflow.movements.map((m) => [m.id, m.type, m.amount, m.balance_after, m.call_id]),
    charges: d.stripe.charges.map((c) => [c.id, c.amount, c.amount_refunded, c.status, c.currency, c.metadata]),
    problems: d.truth.discrepancies.map((p) => [p.type, p.callIds, p.chargeIds, p.flowNetMicro, p.expectedCents, p.billedCents]),
    calls: d.truth.calls.map(({ started_at, ...rest }) => (void started_at, rest)),
  });
  assert.deepEqual(strip(b), strip(a));
  assert.equal(Date.parse(b.agentflow.movements[0]?.created_at ?? '') - Date.parse(a.agentflow.movements[0]?.created_at ?? ''), 86_401_000);
});

test('the feed is consistent except at the injected drifts', () => {
  const d = small();
  const ms = d.agentflow.movements;
  assert.equal(new Set(ms.map((m) => m.id)).size, ms.length, 'movement ids are unique');
  let prev = 0;
  let breaks = 0;
  let lastTime = 0;
  const reserves = new Map<string, number>();
  for (const m of ms) {
    const amount = parseFlowMicro(m.amount);
    const after = parseFlowMicro(m.balance_after);
    if (after !== prev + amount) breaks += 1;
    assert.ok(after >= 0, `balance stays positive (${m.id} ${m.balance_after})`);
    const t = Date.parse(m.created_at);
    assert.ok(t >= lastTime, `created_at ascending at ${m.id}`);
    lastTime = t;
    assert.match(m.amount, /^-?\d+\.\d{6}$/);
    if (m.type === 'reserve') {
      assert.ok(amount < 0);
      reserves.set(m.call_id as string, (reserves.get(m.call_id as string) ?? 0) + 1);
    }
    if (['settle', 'release', 'refund'].includes(m.type)) assert.ok(reserves.has(m.call_id as string), `${m.id} follows its reserve`);
    prev = after;
  }
  assert.equal(breaks, d.injected.filter((p) => p.type === 'BALANCE_DRIFT').length);
  assert.ok(breaks >= 3);
  assert.ok([...reserves.values()].every((n) => n === 1), 'one reserve per call');
  assert.ok(Date.parse(d.now) - lastTime >= 60_000, 'history ends before now');
});

test('every charge agrees with its refunds and payment intent', () => {
  const d = small();
  const pis = new Set(d.stripe.paymentIntents.map((p) => p.id));
  const ids = d.stripe.charges.map((c) => c.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const c of d.stripe.charges) {
    const refunds = d.stripe.refunds.filter((r) => r.charge === c.id && r.status === 'succeeded').reduce((s, r) => s + r.amount, 0);
    assert.equal(c.amount_refunded, refunds, `${c.id} amount_refunded`);
    assert.equal(c.refunded, c.amount_captured > 0 && refunds >= c.amount_captured, `${c.id} refunded flag`);
    assert.ok(c.amount_refunded <= c.amount_captured);
    assert.ok(Number.isInteger(c.amount) && c.amount > 0);
    if (c.payment_intent) assert.ok(pis.has(c.payment_intent));
    assert.ok(c.created * 1000 <= Date.parse(d.now) - 5 * 60_000, `${c.id} made before now - 5 min`);
  }
  for (const r of d.stripe.refunds) {
    const c = d.stripe.charges.find((x) => x.id === r.charge);
    assert.ok(c && r.created >= c.created, `${r.id} after its charge`);
  }
});

test('every injected problem is in the truth and nothing else is', () => {
  const d = small();
  const injected = d.injected.map((p) => keyOf(p)).sort();
  const truth = d.truth.discrepancies.map((p) => keyOf({ type: p.type, callIds: p.callIds, chargeIds: p.chargeIds })).sort();
  assert.deepEqual(truth, injected);
  const types = new Set(d.truth.discrepancies.map((p) => p.type));
  for (const t of ['BALANCE_DRIFT', 'STALE_RESERVATION', 'ORPHAN_CHARGE', 'UNBILLED_CALL', 'CURRENCY_MISMATCH', 'DUPLICATE_CHARGE', 'REFUND_NOT_PASSED_ON', 'OVER_REFUNDED', 'AMOUNT_MISMATCH']) {
    assert.ok(types.has(t), `${t} injected`);
  }
  const orphans = d.truth.discrepancies.filter((p) => p.type === 'ORPHAN_CHARGE');
  assert.ok(orphans.some((p) => p.callIds.length === 0) && orphans.some((p) => p.callIds.length > 0), 'both kinds of orphan');
  // Each call and charge in at most one problem.
  const calls = d.truth.discrepancies.flatMap((p) => p.callIds);
  const charges = d.truth.discrepancies.flatMap((p) => p.chargeIds);
  assert.equal(new Set(calls).size, calls.length);
  assert.equal(new Set(charges).size, charges.length);
});

test('the history has the realistic shapes the demo promises', () => {
  const d = small();
  const ch = d.stripe.charges;
  const key = DEFAULT_RULES.callIdKey;
  assert.ok(ch.some((c) => (c.metadata[key] ?? '').includes(',')), 'batch charges');
  assert.ok(ch.some((c) => (c.metadata[key] ?? '').includes(', ')), 'batch ids with spaces');
  assert.ok(ch.some((c) => c.metadata[key] === undefined && d.stripe.paymentIntents.find((p) => p.id === c.payment_intent)?.metadata[key]), 'linked through the PaymentIntent');
  assert.ok(ch.some((c) => c.status === 'failed'), 'declined charges');
  assert.ok(d.stripe.refunds.some((r) => r.status === 'failed'), 'a failed refund');
  assert.ok(d.stripe.refunds.some((r) => r.status === 'succeeded' && r.created - (ch.find((c) => c.id === r.charge)?.created ?? 0) > 86_400), 'refunds days later');
  const statuses = new Set(d.truth.calls.map((c) => c.status));
  assert.deepEqual([...statuses].sort(), ['failed', 'pending', 'succeeded']);
  assert.ok(d.agentflow.movements.some((m) => m.type === 'release') && d.agentflow.movements.some((m) => m.type === 'refund'));
  assert.ok(d.agentflow.movements.filter((m) => m.type === 'topup').length >= 2);
  assert.equal(d.truth.calls.length, 1500);
  const slugs = new Set(d.truth.calls.map((c) => c.agent_slug));
  assert.ok(slugs.size >= 4, 'several agents');
});

test('the default size is about 20,000 calls over a week and is quick to make', () => {
  const t0 = performance.now();
  const d = generateDemo({ seed: 1, now: NOW });
  const ms = performance.now() - t0;
  assert.equal(d.truth.calls.length, 20_000);
  assert.ok(d.agentflow.movements.length > 38_000);
  assert.ok(d.stripe.charges.length > 10_000);
  const span = Date.parse(d.now) - Date.parse(d.agentflow.movements[0]?.created_at ?? '');
  assert.equal(span, 7 * 86_400_000);
  assert.ok(ms < 15_000, `generated in ${ms} ms`);
});

// The oracle itself, on hand-made cases whose answers are worked out from the contract.
test('truth: a hand-made ledger and Stripe set', () => {
  const now = Date.parse('2026-12-04T12:00:00.000Z');
  const feed = new LedgerFeedBuilder({ start: '2026-12-04T06:00:00.000Z', stepMs: 60_000 });
  feed.topup('1000');
  feed.call({ callId: 'c_ok', agentSlug: 'a', reserve: '10', settle: '8.8' }); // net 1.2 -> 1.5 cents -> 2 (half-even)
  feed.call({ callId: 'c_half', agentSlug: 'a', reserve: '10', settle: '8' }); // net 2.0 -> 2.5 cents -> 2 (half-even, half-up says 3)
  feed.call({ callId: 'c_rel', agentSlug: 'a', reserve: '10', release: true }); // net 0, never charged: fine
  feed.call({ callId: 'c_unb', agentSlug: 'a', reserve: '10', settle: '2' }); // net 8 -> 10 cents, never charged
  feed.call({ callId: 'c_b1', agentSlug: 'a', reserve: '10', settle: '6' }); // net 4 -> 5 cents
  feed.call({ callId: 'c_b2', agentSlug: 'a', reserve: '10', settle: '2' }); // net 8 -> 10 cents
  feed.add({ type: 'adjustment', amount: '-5' }, { drop: true });
  feed.call({ callId: 'c_ref', agentSlug: 'a', reserve: '10', refund: '6' }); // failed, net 4 -> 5 cents
  feed.add({ type: 'reserve', amount: '-3', callId: 'c_stale', agentSlug: 'a' });
  const s = new StripeDataBuilder(['k']);
  const t = (h: number) => Math.floor(now / 1000) - h * 3600;
  const ok = s.addCharge({ created: t(3), amount: 2, callIds: ['c_ok'] });
  s.addCharge({ created: t(3), amount: 2, callIds: ['c_half'], callIdsOn: 'payment_intent' });
  const batch = s.addCharge({ created: t(3), amount: 16, callIds: ' c_b1 , c_b2' }); // one cent too much
  const ref = s.addCharge({ created: t(3), amount: 12, callIds: ['c_ref'] });
  s.addRefund(ref.id, { created: t(2), amount: 2 }); // billed 10 for 5: refund not passed on
  const orphan = s.addCharge({ created: t(2), amount: 300 });
  s.addCharge({ created: t(0) - 60, amount: 300 }); // young: not an orphan yet
  const truth = computeTruth(feed.dataset({}), s.dataset, now);
  const rows = truth.discrepancies.map((p) => [p.type, p.callIds.join(';'), p.chargeIds.join(';'), p.billedCents ?? null, p.expectedCents ?? null]);
  assert.deepEqual(rows, [
    ['BALANCE_DRIFT', '', '', null, null],
    ['STALE_RESERVATION', 'c_stale', '', null, null],
    ['ORPHAN_CHARGE', '', orphan.id, null, null],
    ['UNBILLED_CALL', 'c_unb', '', null, null],
    ['REFUND_NOT_PASSED_ON', 'c_ref', ref.id, 10, 5],
    ['AMOUNT_MISMATCH', 'c_b1;c_b2', batch.id, 16, 15],
  ]);
  assert.equal(truth.discrepancies[0]?.flowNetMicro, -5_000_000);
  const byId = new Map(truth.calls.map((c) => [c.call_id, c]));
  assert.deepEqual(byId.get('c_ok'), {
    call_id: 'c_ok',
    agent_slug: 'a',
    started_at: byId.get('c_ok')?.started_at,
    status: 'succeeded',
    flow_reserved: '10.000000',
    flow_returned: '8.800000',
    flow_net: '1.200000',
    expected_usd: '0.02',
    charged_usd: '0.02',
    refunded_usd: '0.00',
    margin_usd: '0.01', // 2 - cost round(1.2 x 0.01 x 100 = 1.2) = 1
    stripe_charge_ids: ok.id,
  });
  assert.equal(byId.get('c_half')?.expected_usd, '0.02');
  // Batch of 16 cents over expected 5 and 10: 5.33 / 10.67 -> 5 + 10, the spare cent to the larger remainder (c_b2).
  assert.equal(byId.get('c_b1')?.charged_usd, '0.05');
  assert.equal(byId.get('c_b2')?.charged_usd, '0.11');
  assert.equal(byId.get('c_stale')?.expected_usd, '');
  assert.equal(byId.get('c_stale')?.margin_usd, '');
  assert.equal(byId.get('c_ref')?.refunded_usd, '0.02');
  assert.equal(byId.get('c_ref')?.margin_usd, '0.06'); // 12 - 2 - cost 4
});

test('truth: largest-remainder split, ties to the smaller call id', () => {
  assert.deepEqual([...splitLargestRemainder(10, [{ callId: 'b', weight: 1 }, { callId: 'a', weight: 1 }, { callId: 'c', weight: 1 }])].sort(), [
    ['a', 4],
    ['b', 3],
    ['c', 3],
  ]);
  assert.deepEqual([...splitLargestRemainder(7, [{ callId: 'x', weight: 3 }, { callId: 'y', weight: 1 }])], [
    ['x', 5],
    ['y', 2],
  ]);
});
