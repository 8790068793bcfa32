/**
 * The Stripe client under trouble: 429 storms, 500s, timeouts, pacing, a
 * refused key, a missing key. Real SDK, stand-in over loopback.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { configFor } from '../src/config.js';
import { FlowreconError } from '../src/errors.js';
import { Redactor } from '../src/secrets.js';
import { createStripeApi } from '../src/stripe/client.js';
import type { StripeDataBuilder } from '../src/standins/stripe-data.js';
import { DAY, storedCharges, stripeRig, type StripeRig } from './fixtures/stripe-rig.js';
import { memoryLogger } from './helpers.js';

const rigs: StripeRig[] = [];
after(async () => {
  for (const r of rigs) await r.close();
});
async function rig(options: Parameters<typeof stripeRig>[0] = {}): Promise<StripeRig> {
  const r = await stripeRig(options);
  rigs.push(r);
  return r;
}

const charges = (n: number) => (b: StripeDataBuilder, now: number) => {
  for (let i = 0; i < n; i++) {
    const c = b.addCharge({ created: now - 5 * DAY + i * 60, amount: 100 + i, callIds: [`call_${i}`] });
    if (i % 9 === 0) b.addRefund(c.id, { created: c.created + 30, amount: 10 });
  }
};

function tableCounts(r: StripeRig): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of ['stripe_charges', 'stripe_refunds', 'stripe_charge_calls', 'stripe_events', 'sync_state']) {
    out[t] = r.db.sqlite.prepare(`SELECT count(*) FROM ${t}`).pluck().get() as number;
  }
  return out;
}

describe('stripe client faults', () => {
  it('rides out a 429 storm', async () => {
    const r = await rig({ build: charges(350), faults: { rateLimitNext: 5 } });
    const result = await r.sync();
    assert.equal(r.standin.stats.rateLimited, 5);
    assert.equal(result.charges, 350);
    assert.equal(storedCharges(r.db).size, 350);
    assert.match(r.logText(), /Stripe answered 429, retrying/);
  });

  it('rides out 429s and 500s sprinkled through a sync, and loses nothing', async () => {
    const r = await rig({ build: charges(600), faults: { rateLimitEvery: 3, serverErrorEvery: 4, retryAfterSeconds: 0 } });
    await r.sync();
    assert.ok(r.standin.stats.rateLimited >= 2 && r.standin.stats.serverErrors >= 1, JSON.stringify(r.standin.stats.byRoute));
    const stored = storedCharges(r.db);
    assert.equal(stored.size, 600);
    for (const c of r.standin.dataset.charges) assert.equal(stored.get(c.id)?.amount_refunded, c.amount_refunded, c.id);
    assert.equal(tableCounts(r).stripe_refunds, r.standin.dataset.refunds.length);
  });

  it('gives up after the bounded retries with a clear error, leaving the database as it was', async () => {
    const r = await rig({ build: charges(20), faults: { serverErrorEvery: 1 }, env: { STRIPE_MAX_RETRIES: '3' } });
    const before = tableCounts(r);
    await assert.rejects(r.sync(), (err: unknown) => {
      assert.ok(err instanceof FlowreconError);
      assert.equal(err.code, 'STRIPE');
      assert.match(err.message, /list charges: Stripe answered 500 and 3 retries did not get through/);
      return true;
    });
    assert.equal(r.standin.stats.serverErrors, 4);
    assert.deepEqual(tableCounts(r), before);
  });

  it('treats a request that outlives STRIPE_TIMEOUT_MS as a network failure and retries it', async () => {
    const r = await rig({ build: charges(3), latencyMs: 300, env: { STRIPE_TIMEOUT_MS: '60', STRIPE_MAX_RETRIES: '1' } });
    await assert.rejects(r.sync(), (err: unknown) => err instanceof FlowreconError && err.code === 'NETWORK' && /connection failed/.test(err.message));
    assert.equal(r.standin.stats.byRoute['GET /v1/charges'], 2);
  });

  it('paces requests to STRIPE_MAX_RPS', async () => {
    // 90 charges in pages of 10 plus refunds and events: about a dozen requests at 5 per second.
    const r = await rig({ build: charges(90), env: { STRIPE_MAX_RPS: '5' } });
    await r.sync({ pageSize: 10 });
    const times = r.standin.stats.times;
    assert.ok(times.length >= 11, `${times.length} requests`);
    for (let i = 5; i < times.length; i++) {
      // Any six consecutive requests span about a second (arrival times jitter on a loaded machine).
      assert.ok(times[i]! - times[i - 5]! >= 900, `requests ${i - 5}..${i} within ${times[i]! - times[i - 5]!} ms`);
    }
  });

  it('a refused key: AUTH error saying so, the key nowhere in the message or the logs', async () => {
    const canary = 'sk_test_CANARYwrongKey9d8e7f6a';
    const r = await rig({ build: charges(5) });
    const redactor = new Redactor();
    const mem = memoryLogger(redactor);
    const config = configFor({ STRIPE_API_KEY: canary, STRIPE_API_BASE: r.standin.url, FLOWRECON_DB: join(r.dir, 'x.db') });
    const api = createStripeApi(config, { log: mem.log, redactor });
    try {
      await assert.rejects(api.listCharges({ limit: 1 }), (err: unknown) => {
        assert.ok(err instanceof FlowreconError);
        assert.equal(err.code, 'AUTH');
        assert.match(err.message, /Stripe refused the API key/);
        assert.equal(err.cause, undefined, 'no SDK error (which quotes a masked key) is carried along');
        for (const part of [canary, canary.slice(-4), canary.slice(0, 12), '****']) assert.ok(!err.message.includes(part), part);
        return true;
      });
      assert.equal(r.standin.stats.unauthorized, 1, 'a 401 is not retried');
      assert.ok(!mem.text().includes(canary.slice(-6)));
    } finally {
      await api.close();
    }
  });

  it('a restricted key reading charges, refunds, payment intents and events is enough; one lacking events is refused by name', async () => {
    const READ = ['charges', 'refunds', 'payment_intents', 'events'];
    const ok = await rig({ key: 'rk_test_readOnly11', restrictedKeys: { rk_test_readOnly11: READ }, build: charges(30) });
    await ok.sync();
    ok.clock.advance(600_000);
    ok.standin.refundNow(ok.standin.dataset.charges[3]!.id, { amount: 5 });
    ok.standin.setChargeStatus(ok.standin.dataset.charges[4]!.id, 'failed');
    ok.clock.advance(120_000);
    await ok.sync();
    assert.equal(storedCharges(ok.db).size, 30);
    assert.equal(storedCharges(ok.db).get(ok.standin.dataset.charges[4]!.id)?.status, 'failed');

    const partial = await rig({ key: 'rk_test_noEvents22', restrictedKeys: { rk_test_noEvents22: READ.slice(0, 3) }, build: charges(3) });
    await assert.rejects(partial.sync(), (err: unknown) => {
      assert.ok(err instanceof FlowreconError);
      assert.equal(err.code, 'AUTH');
      assert.match(err.message, /^Stripe refused list events: the API key lacks permission \(403/);
      assert.match(err.message, /read access to Charges, Refunds, PaymentIntents and Events/);
      return true;
    });
  });

  it('a missing key is a settings error before any request', async () => {
    const r = await rig();
    const config = configFor({ STRIPE_API_BASE: r.standin.url });
    assert.throws(
      () => createStripeApi(config, { log: memoryLogger().log, redactor: new Redactor() }),
      (err: unknown) => err instanceof FlowreconError && err.code === 'CONFIG' && /^invalid setting STRIPE_API_KEY: /.test(err.message),
    );
    assert.equal(r.standin.stats.requests, 0);
  });
});
