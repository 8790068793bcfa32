/**
 * One case per discrepancy code and per trap that must not be reported.
 * Prices: FLOW_USD_RATE 0.01, MARKUP 0.25, so 1 FLOW costs the user 1.25 cents;
 * 160 FLOW is exactly 2.00 USD. Grace 30 min, TTL 60 min unless a case says.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { insertCharge, movementsFor, storeLedger, world, type CallSpec, type ChargeSpec } from './reconcile-fixtures.js';

interface Expect {
  type: string;
  calls?: string;
  charges?: string;
  flow?: number | null;
  expected?: number | null;
  billed?: number | null;
  delta?: number | null;
  detail?: RegExp;
}

interface Case {
  name: string;
  env?: Record<string, string>;
  calls?: CallSpec[];
  charges?: ChargeSpec[];
  /** Break the balance chain: add this FLOW to every balance_after from movement index `at`. */
  drift?: { at: number; amount: number };
  expect: Expect[];
}

const settled = (id: string, reserve: number, net: number, end = 120, extra: Partial<CallSpec> = {}): CallSpec => ({
  id,
  reserve,
  start: end + 1,
  end: { at: end, type: 'settle', returned: reserve - net },
  ...extra,
});

const CASES: Case[] = [
  // ------------------------------------------------------------ each code
  {
    name: 'BALANCE_DRIFT: a movement missing from the feed',
    calls: [settled('call_1', 200, 160)],
    charges: [{ id: 'ch_1', calls: ['call_1'], amount: 200, created: 110 }],
    drift: { at: 2, amount: -5 },
    expect: [{ type: 'BALANCE_DRIFT', calls: '', charges: '', flow: -5_000_000, expected: null, billed: null, delta: null, detail: /missing from the feed/ }],
  },
  {
    name: 'STALE_RESERVATION: reserved 2 h ago, nothing final (its charge waits)',
    calls: [{ id: 'call_1', reserve: 3, start: 120 }],
    charges: [{ id: 'ch_1', calls: ['call_1'], amount: 999, created: 110 }],
    expect: [{ type: 'STALE_RESERVATION', calls: 'call_1', charges: '', flow: 3_000_000, expected: null, billed: null }],
  },
  {
    name: 'ORPHAN_CHARGE: a live charge naming no call',
    charges: [{ id: 'ch_1', calls: [], amount: 200, created: 90 }],
    expect: [{ type: 'ORPHAN_CHARGE', calls: '', charges: 'ch_1', billed: 200, expected: null, delta: null, detail: /names no call id/ }],
  },
  {
    name: 'ORPHAN_CHARGE: a charge naming a call the ledger does not have',
    charges: [{ id: 'ch_1', calls: ['call_nope'], amount: 200, created: 90 }],
    expect: [{ type: 'ORPHAN_CHARGE', calls: 'call_nope', charges: 'ch_1', billed: 200 }],
  },
  {
    name: 'ORPHAN_CHARGE: a batch with one unknown id lists only the unknown ids',
    calls: [settled('call_a', 200, 160)],
    charges: [{ id: 'ch_1', calls: ['call_a', 'call_zz', 'call_yy'], amount: 400, created: 90 }],
    expect: [{ type: 'ORPHAN_CHARGE', calls: 'call_yy;call_zz', charges: 'ch_1' }],
  },
  {
    name: 'UNBILLED_CALL: final, past the grace, no succeeded charge (a failed one does not count)',
    calls: [settled('call_1', 200, 160)],
    charges: [{ id: 'ch_f', calls: ['call_1'], amount: 200, created: 100, status: 'failed' }],
    expect: [{ type: 'UNBILLED_CALL', calls: 'call_1', charges: '', flow: 160_000_000, expected: 200, billed: 0, delta: -200 }],
  },
  {
    name: 'UNBILLED_CALL names a probable counterpart: an unlinked charge of that amount within an hour',
    calls: [settled('call_1', 200, 160, 120)],
    charges: [
      { id: 'ch_far', calls: [], amount: 200, created: 300 },
      { id: 'ch_near', calls: [], amount: 200, created: 100 },
    ],
    expect: [
      { type: 'ORPHAN_CHARGE', charges: 'ch_far' },
      { type: 'ORPHAN_CHARGE', charges: 'ch_near', detail: /probable match: call_1/ },
      { type: 'UNBILLED_CALL', calls: 'call_1', detail: /probable match: ch_near/ },
    ],
  },
  {
    name: 'CURRENCY_MISMATCH: the charge is in EUR',
    calls: [settled('call_1', 200, 160)],
    charges: [{ id: 'ch_1', calls: ['call_1'], amount: 200, created: 110, currency: 'eur' }],
    expect: [{ type: 'CURRENCY_MISMATCH', calls: 'call_1', charges: 'ch_1', expected: 200, billed: null, delta: null }],
  },
  {
    name: 'CURRENCY_MISMATCH wins over DUPLICATE_CHARGE: one USD and one EUR charge on a call',
    calls: [settled('call_1', 200, 160)],
    charges: [
      { id: 'ch_usd', calls: ['call_1'], amount: 200, created: 110 },
      { id: 'ch_eur', calls: ['call_1'], amount: 180, created: 100, currency: 'eur' },
    ],
    expect: [{ type: 'CURRENCY_MISMATCH', calls: 'call_1', charges: 'ch_eur;ch_usd' }],
  },
  {
    name: 'DUPLICATE_CHARGE: two live charges name one call',
    calls: [settled('call_1', 200, 160)],
    charges: [
      { id: 'ch_2', calls: ['call_1'], amount: 200, created: 100 },
      { id: 'ch_1', calls: ['call_1'], amount: 200, created: 110 },
    ],
    expect: [{ type: 'DUPLICATE_CHARGE', calls: 'call_1', charges: 'ch_1;ch_2', expected: 200, billed: 400, delta: 200 }],
  },
  {
    name: 'REFUND_NOT_PASSED_ON: a partly refunded failed call billed at the full price',
    calls: [{ id: 'call_1', reserve: 200, start: 121, end: { at: 120, type: 'refund', returned: 40 } }],
    charges: [{ id: 'ch_1', calls: ['call_1'], amount: 250, created: 110 }],
    expect: [{ type: 'REFUND_NOT_PASSED_ON', calls: 'call_1', charges: 'ch_1', flow: 160_000_000, expected: 200, billed: 250, delta: 50 }],
  },
  {
    name: 'REFUND_NOT_PASSED_ON: a fully released call still charged',
    calls: [{ id: 'call_1', reserve: 200, start: 121, end: { at: 120, type: 'release', returned: 200 } }],
    charges: [{ id: 'ch_1', calls: ['call_1'], amount: 250, created: 110 }],
    expect: [{ type: 'REFUND_NOT_PASSED_ON', calls: 'call_1', charges: 'ch_1', expected: 0, billed: 250, delta: 250 }],
  },
  {
    name: 'OVER_REFUNDED: refunded more than the FLOW that came back',
    calls: [settled('call_1', 200, 160)],
    charges: [{ id: 'ch_1', calls: ['call_1'], amount: 200, created: 110, refunds: [{ amount: 120 }] }],
    expect: [{ type: 'OVER_REFUNDED', calls: 'call_1', charges: 'ch_1', expected: 200, billed: 80, delta: -120 }],
  },
  {
    name: 'AMOUNT_MISMATCH: billed 2.10 for 2.00',
    calls: [settled('call_1', 200, 160)],
    charges: [{ id: 'ch_1', calls: ['call_1'], amount: 210, created: 110 }],
    expect: [
      {
        type: 'AMOUNT_MISMATCH',
        calls: 'call_1',
        charges: 'ch_1',
        expected: 200,
        billed: 210,
        delta: 10,
        detail: /expected 2\.00 USD = 160\.000000 FLOW x 0\.01 x 1\.25, rounded half-even from 2\.00; billed 2\.10 by ch_1/,
      },
    ],
  },
  {
    name: 'AMOUNT_MISMATCH: half-up would give 13, half-even gives 12 (12.5 cents)',
    calls: [settled('call_1', 20, 10)],
    charges: [{ id: 'ch_1', calls: ['call_1'], amount: 13, created: 110 }],
    expect: [{ type: 'AMOUNT_MISMATCH', expected: 12, billed: 13, delta: 1, detail: /rounded half-even from 0\.125/ }],
  },
  {
    name: 'AMOUNT_MISMATCH: a batch charge short of the sum of its calls',
    calls: [settled('call_a', 200, 160), settled('call_b', 100, 80, 100)],
    charges: [{ id: 'ch_1', calls: ['call_a', 'call_b'], amount: 250, created: 90 }],
    expect: [{ type: 'AMOUNT_MISMATCH', calls: 'call_a;call_b', charges: 'ch_1', expected: 300, billed: 250, delta: -50 }],
  },
  {
    name: 'an adjustment counts in the net cost',
    calls: [settled('call_1', 200, 160, 120, { adjust: [{ at: 60, amount: 40 }] })],
    charges: [{ id: 'ch_1', calls: ['call_1'], amount: 200, created: 110 }],
    expect: [{ type: 'AMOUNT_MISMATCH', flow: 120_000_000, expected: 150, billed: 200, delta: 50 }],
  },
  // ----------------------------------------------------- must NOT report
  { name: 'trap: a correct single charge', calls: [settled('call_1', 200, 160)], charges: [{ id: 'ch_1', calls: ['call_1'], amount: 200, created: 110 }], expect: [] },
  {
    name: 'trap: a charge linked only through its PaymentIntent',
    calls: [settled('call_1', 200, 160)],
    charges: [{ id: 'ch_1', calls: ['call_1'], amount: 200, created: 110, viaPaymentIntent: true }],
    expect: [],
  },
  {
    name: 'trap: a correct batch charge',
    calls: [settled('call_a', 200, 160), settled('call_b', 100, 80, 100), settled('call_c', 1, 0.8, 90)],
    charges: [{ id: 'ch_1', calls: ['call_a', 'call_b', 'call_c'], amount: 301, created: 80 }],
    expect: [],
  },
  {
    name: 'trap: a correct refund made days after its charge',
    calls: [{ id: 'call_1', reserve: 200, start: 5000, end: { at: 4999, type: 'refund', returned: 40 } }],
    charges: [{ id: 'ch_1', calls: ['call_1'], amount: 250, created: 4990, refunds: [{ amount: 50, created: 10 }] }],
    expect: [],
  },
  { name: 'trap: a call inside the grace', calls: [settled('call_1', 200, 160, 10)], expect: [] },
  { name: 'trap: a young reservation', calls: [{ id: 'call_1', reserve: 3, start: 20 }], expect: [] },
  {
    name: 'trap: a failed call fully released and never charged',
    calls: [{ id: 'call_1', reserve: 200, start: 121, end: { at: 120, type: 'release', returned: 200 } }],
    expect: [],
  },
  {
    name: 'trap: a failed call fully released, its charge refunded in full',
    calls: [{ id: 'call_1', reserve: 200, start: 121, end: { at: 120, type: 'release', returned: 200 } }],
    charges: [{ id: 'ch_1', calls: ['call_1'], amount: 250, created: 110, refunds: [{ amount: 250 }] }],
    expect: [],
  },
  {
    name: 'trap: half-even rounding (12.5 cents billed 12)',
    calls: [settled('call_1', 20, 10)],
    charges: [{ id: 'ch_1', calls: ['call_1'], amount: 12, created: 110 }],
    expect: [],
  },
  {
    name: 'trap: a live charge and a fully refunded one on the same call (not a duplicate)',
    calls: [settled('call_1', 200, 160)],
    charges: [
      { id: 'ch_1', calls: ['call_1'], amount: 200, created: 110, refunds: [{ amount: 200 }] },
      { id: 'ch_2', calls: ['call_1'], amount: 200, created: 100 },
    ],
    expect: [],
  },
  { name: 'trap: a call costing nothing, never charged', calls: [settled('call_1', 5, 0)], expect: [] },
  {
    name: 'trap: a charge whose call is not final yet waits',
    calls: [{ id: 'call_1', reserve: 5, start: 20 }],
    charges: [{ id: 'ch_1', calls: ['call_1'], amount: 999, created: 15 }],
    expect: [],
  },
  { name: 'trap: an unlinked charge inside the grace', charges: [{ id: 'ch_1', calls: [], amount: 200, created: 10 }], expect: [] },
  {
    name: 'trap: failed and pending charges are ignored',
    calls: [settled('call_1', 200, 160)],
    charges: [
      { id: 'ch_1', calls: ['call_1'], amount: 200, created: 110 },
      { id: 'ch_2', calls: ['call_1'], amount: 200, created: 100, status: 'failed' },
      { id: 'ch_3', calls: [], amount: 500, created: 100, status: 'pending' },
    ],
    expect: [],
  },
  {
    name: 'trap: within PRICE_TOLERANCE_CENTS',
    env: { PRICE_TOLERANCE_CENTS: '5' },
    calls: [settled('call_1', 200, 160)],
    charges: [{ id: 'ch_1', calls: ['call_1'], amount: 205, created: 110 }],
    expect: [],
  },
  {
    name: 'trap: a fully refunded charge naming an unknown call is not an orphan',
    charges: [{ id: 'ch_1', calls: ['call_nope'], amount: 200, created: 110, refunds: [{ amount: 200 }] }],
    expect: [],
  },
  {
    name: 'trap: a fully refunded charge in another currency naming an unknown call is nothing to judge (and no crash)',
    charges: [{ id: 'ch_1', calls: ['call_nope'], amount: 200, created: 110, currency: 'eur', refunds: [{ amount: 200 }] }],
    expect: [],
  },
  {
    name: 'BILLING_GRACE_MINUTES moves the line (grace 180: a call 2 h old is not yet due)',
    env: { BILLING_GRACE_MINUTES: '180' },
    calls: [settled('call_1', 200, 160)],
    expect: [],
  },
  {
    name: 'RESERVATION_TTL_MINUTES moves the line (TTL 10: a 20 min reservation is stale)',
    env: { RESERVATION_TTL_MINUTES: '10' },
    calls: [{ id: 'call_1', reserve: 3, start: 20 }],
    expect: [{ type: 'STALE_RESERVATION', calls: 'call_1' }],
  },
];

describe('discrepancy rules, one case each', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const w = world(c.env);
      after(() => w.db.close());
      const movements = movementsFor(c.calls ?? []);
      if (c.drift) {
        const { at: from, amount } = c.drift;
        movements.forEach((m, i) => {
          if (i >= from) (m as { balanceAfterMicro: number }).balanceAfterMicro += amount * 1_000_000;
        });
      }
      storeLedger(w.db, movements);
      for (const ch of c.charges ?? []) insertCharge(w.db, ch);
      await w.run();
      const rows = w.open();
      const got = rows.map((r) => `${r.type} [${r.call_ids}] [${r.stripe_charge_ids}]`);
      assert.equal(rows.length, c.expect.length, `found: ${got.join(' | ')}`);
      const expected = [...c.expect].sort((a, b) =>
        a.type !== b.type ? (a.type < b.type ? -1 : 1) : (a.calls ?? '') < (b.calls ?? '') ? -1 : (a.calls ?? '') > (b.calls ?? '') ? 1 : (a.charges ?? '') < (b.charges ?? '') ? -1 : 1,
      );
      expected.forEach((e, i) => {
        const r = rows[i]!;
        assert.equal(r.type, e.type, `row ${i}: ${got.join(' | ')}`);
        if (e.calls !== undefined) assert.equal(r.call_ids, e.calls);
        if (e.charges !== undefined) assert.equal(r.stripe_charge_ids, e.charges);
        if (e.flow !== undefined) assert.equal(r.flow_net_micro, e.flow);
        if (e.expected !== undefined) assert.equal(r.expected_cents, e.expected);
        if (e.billed !== undefined) assert.equal(r.billed_cents, e.billed);
        if (e.delta !== undefined) assert.equal(r.delta_cents, e.delta);
        if (e.detail) assert.match(r.detail, e.detail);
      });
    });
  }
});
