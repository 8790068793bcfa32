/**
 * The incremental Stripe sync, end to end in one process: the real `stripe`
 * SDK against the stand-in over loopback, a real SQLite file, one manual
 * clock for both sides.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { upsertCharge } from '../src/stripe/store.js';
import { exportCharges } from '../src/stripe/export.js';
import type { StripeApi } from '../src/stripe/client.js';
import { syncStripe } from '../src/stripe/sync.js';
import type { StripeDataBuilder } from '../src/standins/stripe-data.js';
import { DAY, storedCharges, stripeRig, type StripeRig } from './fixtures/stripe-rig.js';

const rigs: StripeRig[] = [];
after(async () => {
  for (const r of rigs) await r.close();
});
async function rig(options: Parameters<typeof stripeRig>[0] = {}): Promise<StripeRig> {
  const r = await stripeRig(options);
  rigs.push(r);
  return r;
}

/** Minor units as a decimal string, written out independently of the code under test. */
function money(amount: number, currency: string): string {
  if (currency === 'jpy') return String(amount);
  return `${Math.floor(amount / 100)}.${String(amount % 100).padStart(2, '0')}`;
}

function exportRows(r: StripeRig, file: string): Promise<Record<string, string>[]> {
  return exportCharges(r.db, { from: '2020-01-01T00:00:00.000Z', to: '2030-01-01T00:00:00.000Z' }, file).then(
    () => parse(readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[],
  );
}

function expectedRows(r: StripeRig, calls: Map<string, string[]>): Record<string, string>[] {
  return [...r.standin.dataset.charges]
    .sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : 1))
    .map((c) => ({
      charge_id: c.id,
      created_at: new Date(c.created * 1000).toISOString(),
      status: c.status,
      currency: c.currency,
      amount: money(c.amount, c.currency),
      amount_captured: money(c.amount_captured, c.currency),
      amount_refunded: money(c.amount_refunded, c.currency),
      call_ids: [...(calls.get(c.id) ?? [])].sort().join(';'),
      payment_intent: c.payment_intent ?? '',
      customer: c.customer ?? '',
    }));
}

/** A varied account: succeeded, failed and pending charges, batches, PI-only links, refunds, a yen charge. */
function populate(b: StripeDataBuilder, now: number, calls: Map<string, string[]>, count: number, from: number): void {
  for (let i = 0; i < count; i++) {
    const created = from + i * 577;
    const ids = i % 7 === 0 ? [`call_${i}_a`, `call_${i}_b`, `call_${i}_c`] : [`call_${i}`];
    const c = b.addCharge({
      created,
      amount: 100 + (i % 50) * 13,
      currency: i % 31 === 0 ? 'jpy' : 'usd',
      status: i % 17 === 0 ? 'failed' : i % 23 === 0 ? 'pending' : 'succeeded',
      callIds: ids,
      callIdsOn: i % 3 === 0 ? 'payment_intent' : 'charge',
      customer: i % 4 === 0 ? null : `cus_${i % 9}`,
    });
    calls.set(c.id, ids);
    if (c.status === 'succeeded' && i % 5 === 0) b.addRefund(c.id, { created: Math.min(now, created + 3600), amount: i % 2 ? undefined : 50 });
  }
}

describe('stripe sync against the stand-in', () => {
  it('a first sync then an incremental one store exactly the stand-in data, once', async () => {
    const calls = new Map<string, string[]>();
    const r = await rig({ build: (b, now) => populate(b, now, calls, 260, now - 20 * DAY) });
    const first = await r.sync();
    assert.equal(first.aborted, false);
    assert.equal(first.charges, 260);
    const out = join(r.dir, 'charges-1.csv');
    assert.deepEqual(await exportRows(r, out), expectedRows(r, calls));

    // Later: new charges, a refund on an old one.
    r.clock.advance(3600_000);
    for (let i = 0; i < 30; i++) {
      const c = r.standin.createCharge({ amount: 500 + i, callIds: [`late_${i}`], created: r.nowSec() - i * 7 });
      calls.set(c.id, [`late_${i}`]);
    }
    const old = r.standin.dataset.charges.find((c) => c.status === 'succeeded' && c.amount_refunded === 0 && c.currency === 'usd')!;
    r.standin.refundNow(old.id, { amount: 40 });
    r.standin.resetStats();
    const second = await r.sync();
    assert.equal(second.aborted, false);
    assert.ok(r.standin.stats.requests < 15, `incremental sync sent ${r.standin.stats.requests} requests; it should not re-list everything`);
    assert.deepEqual(await exportRows(r, join(r.dir, 'charges-2.csv')), expectedRows(r, calls));

    const counts = r.db.sqlite
      .prepare(
        `SELECT (SELECT count(*) FROM stripe_charges) AS charges, (SELECT count(*) FROM stripe_refunds) AS refunds,
                (SELECT count(*) FROM stripe_charge_calls) AS links`,
      )
      .get() as { charges: number; refunds: number; links: number };
    assert.deepEqual(counts, {
      charges: r.standin.dataset.charges.length,
      refunds: r.standin.dataset.refunds.length,
      links: [...calls.values()].reduce((n, ids) => n + ids.length, 0),
    });
    // A third sync with nothing new changes nothing.
    r.clock.advance(600_000);
    await r.sync();
    assert.deepEqual(await exportRows(r, join(r.dir, 'charges-3.csv')), expectedRows(r, calls));
  });

  it('catches a refund made now on a charge created 6 days ago, in the same sync', async () => {
    let chargeId = '';
    const r = await rig({
      build: (b, now) => {
        chargeId = b.addCharge({ created: now - 6 * DAY, amount: 1250, callIds: ['call_old'] }).id;
      },
    });
    await r.sync();
    r.clock.advance(3600_000);
    const refund = r.standin.refundNow(chargeId, { amount: 1250, reason: 'requested_by_customer' });
    // The refund is seconds old: its events are still inside the lag, so only the refunds pass can see it.
    await r.sync();
    const charge = r.db.sqlite.prepare('SELECT amount_refunded, refunded FROM stripe_charges WHERE charge_id = ?').get(chargeId);
    assert.deepEqual(charge, { amount_refunded: 1250, refunded: 1 });
    const row = r.db.sqlite.prepare('SELECT charge_id, amount, status, reason FROM stripe_refunds WHERE refund_id = ?').get(refund.id);
    assert.deepEqual(row, { charge_id: chargeId, amount: 1250, status: 'succeeded', reason: 'requested_by_customer' });
  });

  it('updates a charge whose status changed after its first sync, through events', async () => {
    let pending = '';
    let relabeled = '';
    const r = await rig({
      build: (b, now) => {
        pending = b.addCharge({ created: now - 3 * DAY, amount: 900, status: 'pending', callIds: ['call_p'] }).id;
        relabeled = b.addCharge({ created: now - 4 * DAY, amount: 300, callIds: ['call_wrong'] }).id;
      },
    });
    await r.sync();
    assert.equal(storedCharges(r.db).get(pending)?.status, 'pending');

    r.clock.advance(600_000);
    r.standin.setChargeStatus(pending, 'succeeded');
    r.standin.updateCharge(relabeled, { metadata: { agentflow_call_id: 'call_right_1, call_right_2' } });
    r.clock.advance(120_000); // past the event lag
    r.standin.resetStats();
    const result = await r.sync();
    assert.ok(result.events >= 2);
    assert.ok((r.standin.stats.byRoute['GET /v1/charges/:id'] ?? 0) >= 2, 'the changed charges are re-fetched');
    const stored = storedCharges(r.db);
    assert.equal(stored.get(pending)?.status, 'succeeded');
    assert.deepEqual(stored.get(relabeled)?.call_ids, ['call_right_1', 'call_right_2']);
  });

  it('an older event never rolls a row back', async () => {
    let id = '';
    const r = await rig({
      build: (b, now) => {
        id = b.addCharge({ created: now - 2 * DAY, amount: 700, status: 'pending', callIds: ['call_x'] }).id;
      },
    });
    await r.sync();
    r.clock.advance(300_000);
    const stale = structuredClone(r.standin.data.charge(id)); // pending, as it was
    r.standin.setChargeStatus(id, 'succeeded');
    r.clock.advance(120_000);
    await r.sync();
    assert.equal(storedCharges(r.db).get(id)?.status, 'succeeded');

    // An event carrying the old snapshot surfaces late (older `created` than the change).
    const late = r.standin.data.addEvent('charge.updated', { ...stale, metadata: {} }, r.nowSec() - 200);
    r.clock.advance(120_000);
    await r.sync();
    assert.ok(r.db.sqlite.prepare('SELECT 1 FROM stripe_events WHERE event_id = ?').get(late.id), 'the late event was applied');
    assert.deepEqual(storedCharges(r.db).get(id), { status: 'succeeded', amount_refunded: 0, disputed: 0, call_ids: ['call_x'] });

    // And the store itself refuses an older snapshot outright.
    const version = r.db.sqlite.prepare('SELECT version_ms FROM stripe_charges WHERE charge_id = ?').pluck().get(id) as number;
    const older = {
      id, created: stale.created, status: 'failed', currency: 'usd', amount: 700, amount_captured: 0, amount_refunded: 0,
      captured: false, refunded: false, disputed: false, livemode: false, payment_intent: null, payment_intent_object: null,
      customer: null, description: null, metadata: {}, refunds: null,
    };
    const applied = upsertCharge(r.db.sqlite, older, { ids: [], raw: null, source: null }, version - 1, new Date().toISOString());
    assert.equal(applied, false);
    assert.deepEqual(storedCharges(r.db).get(id), { status: 'succeeded', amount_refunded: 0, disputed: 0, call_ids: ['call_x'] });
  });

  it('links a charge named only in its PaymentIntent, and a batch charge to all three calls', async () => {
    const ids: Record<string, string> = {};
    const r = await rig({
      build: (b, now) => {
        ids.pi = b.addCharge({ created: now - DAY, amount: 100, callIds: 'call_pi_only', callIdsOn: 'payment_intent' }).id;
        ids.batch = b.addCharge({ created: now - DAY + 1, amount: 300, callIds: ' call_b1 , call_b2,call_b3 ,' }).id;
        ids.blank = b.addCharge({
          created: now - DAY + 2,
          amount: 100,
          metadata: { agentflow_call_id: '  ' },
          paymentIntentMetadata: { agentflow_call_id: 'call_from_pi' },
        }).id;
        ids.none = b.addCharge({ created: now - DAY + 3, amount: 100 }).id;
      },
    });
    await r.sync();
    const rows = r.db.sqlite.prepare('SELECT charge_id, call_ids_raw, call_ids_source FROM stripe_charges').all() as {
      charge_id: string;
      call_ids_raw: string | null;
      call_ids_source: string | null;
    }[];
    const byId = new Map(rows.map((x) => [x.charge_id, x]));
    const stored = storedCharges(r.db);
    assert.deepEqual(stored.get(ids.pi!)?.call_ids, ['call_pi_only']);
    assert.equal(byId.get(ids.pi!)?.call_ids_source, 'payment_intent');
    assert.deepEqual(stored.get(ids.batch!)?.call_ids, ['call_b1', 'call_b2', 'call_b3']);
    assert.equal(byId.get(ids.batch!)?.call_ids_raw, ' call_b1 , call_b2,call_b3 ,');
    assert.deepEqual(stored.get(ids.blank!)?.call_ids, ['call_from_pi']);
    assert.deepEqual(stored.get(ids.none!)?.call_ids, []);
    assert.equal(byId.get(ids.none!)?.call_ids_source, null);
    // The PaymentIntents came expanded in the list call, not one request per charge.
    assert.equal(r.standin.stats.byRoute['GET /v1/payment_intents/:id'] ?? 0, 0);
  });

  it('keeps refund failures and disputes current, and stores every refund of a re-fetched charge', async () => {
    let id = '';
    const r = await rig({
      build: (b, now) => {
        id = b.addCharge({ created: now - 50 * DAY, amount: 5000, callIds: ['call_many'] }).id;
        // Twelve refunds long ago, before `since`: more than one page of the charge's expanded refunds.
        for (let i = 0; i < 12; i++) b.addRefund(id, { created: now - 49 * DAY + i, amount: 100 });
      },
    });
    await r.sync({ since: new Date((r.nowSec() - 10 * DAY) * 1000) });
    assert.equal(storedCharges(r.db).has(id), false, 'outside the first window');

    r.clock.advance(60_000);
    r.standin.refundNow(id, { amount: 200 });
    await r.sync();
    assert.equal(r.db.sqlite.prepare('SELECT count(*) FROM stripe_refunds WHERE charge_id = ?').pluck().get(id), 13);
    assert.equal(storedCharges(r.db).get(id)?.amount_refunded, 1400);

    const failing = r.standin.dataset.refunds.find((x) => x.charge === id && x.created < r.nowSec() - DAY)!;
    r.clock.advance(60_000);
    r.standin.setRefundStatus(failing.id, 'failed');
    r.standin.data.disputeCharge(id, r.nowSec());
    r.clock.advance(120_000);
    await r.sync();
    assert.equal(r.db.sqlite.prepare('SELECT status FROM stripe_refunds WHERE refund_id = ?').pluck().get(failing.id), 'failed');
    assert.deepEqual(
      { ...storedCharges(r.db).get(id), call_ids: undefined },
      { status: 'succeeded', amount_refunded: 1300, disputed: 1, call_ids: undefined },
    );
  });

  it('falls back to re-listing when the event cursor is older than Stripe keeps events', async () => {
    let id = '';
    const r = await rig({
      build: (b, now) => {
        id = b.addCharge({ created: now - 5 * DAY, amount: 800, status: 'pending', callIds: ['call_gap'] }).id;
      },
    });
    await r.sync();
    r.clock.advance(DAY * 1000);
    r.standin.setChargeStatus(id, 'failed'); // its event will have expired by the next sync
    r.clock.advance(34 * DAY * 1000);
    const result = await r.sync();
    assert.equal(result.relisted, true);
    assert.match(r.logText(), /event cursor is older than Stripe keeps events/);
    assert.equal(storedCharges(r.db).get(id)?.status, 'failed');
  });

  it('stops between pages on abort and the next sync finishes the window', async () => {
    const calls = new Map<string, string[]>();
    const r = await rig({ build: (b, now) => populate(b, now, calls, 250, now - 10 * DAY) });
    const controller = new AbortController();
    let pages = 0;
    const api = r.api;
    const stopping: StripeApi = {
      listCharges: async (...args) => {
        const page = await api.listCharges(...args);
        if (++pages === 1) controller.abort();
        return page;
      },
      listRefunds: (...args) => api.listRefunds(...args),
      listEvents: (...args) => api.listEvents(...args),
      retrieveCharge: (...args) => api.retrieveCharge(...args),
      retrieveRefund: (...args) => api.retrieveRefund(...args),
      retrievePaymentIntent: (...args) => api.retrievePaymentIntent(...args),
      get requestCount() {
        return api.requestCount;
      },
      close: () => api.close(),
    };
    const partial = await syncStripe({ db: r.db, stripe: stopping, config: r.config, clock: r.clock, log: r.log }, { signal: controller.signal });
    assert.equal(partial.aborted, true);
    assert.equal(partial.charges, 100);
    const cursor = JSON.parse(r.db.sqlite.prepare("SELECT value FROM sync_state WHERE name = 'stripe.charges'").pluck().get() as string);
    assert.ok(cursor.window?.after, 'the window in progress and its position are stored');
    const rest = await r.sync();
    assert.equal(rest.aborted, false);
    assert.deepEqual(await exportRows(r, join(r.dir, 'after-abort.csv')), expectedRows(r, calls));
  });
});
