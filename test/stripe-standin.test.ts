/**
 * The Stripe stand-in speaks Stripe's wire format: checked with plain HTTP
 * (what is on the wire) and with the real SDK (that it is enough for it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Stripe from 'stripe';
import { request } from 'undici';
import { startStripeStandin, type StripeStandin } from '../src/standins/stripe.js';
import { StripeDataBuilder } from '../src/standins/stripe-data.js';
import { STRIPE_API_VERSION } from '../src/stripe/client.js';

const KEY = 'sk_test_standinKey0001';
const T = 1_796_000_000;
let clock = T + 1000;
let standin: StripeStandin;
let b: StripeDataBuilder;

before(async () => {
  b = new StripeDataBuilder([KEY]);
  // Fifteen charges in the same second (tie order), then ten a minute apart.
  for (let i = 0; i < 15; i++) b.addCharge({ created: T, amount: 100 + i, callIds: [`tie_${i}`] });
  for (let i = 0; i < 10; i++) b.addCharge({ created: T + 60 * (i + 1), amount: 200 + i, callIds: [`c_${i}`], customer: `cus_${i % 2}` });
  b.addRefund(b.dataset.charges[20]!.id, { created: T + 900, amount: 50 });
  b.addRefund(b.dataset.charges[20]!.id, { created: T + 901, amount: 60 });
  standin = await startStripeStandin({ dataset: b.dataset, now: () => clock });
});
after(() => standin.close());

async function get(path: string, key: string | null = KEY): Promise<{ status: number; body: any; headers: Record<string, unknown> }> {
  const res = await request(`${standin.url}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  return { status: res.statusCode, body: await res.body.json(), headers: res.headers };
}

const newestFirst = () =>
  b.dataset.charges
    .map((c, i) => ({ c, i }))
    .sort((x, y) => y.c.created - x.c.created || y.i - x.i)
    .map((x) => x.c.id);

describe('stripe stand-in wire format', () => {
  it('serves the list envelope, newest first, 10 by default, with a Request-Id', async () => {
    const r = await get('/v1/charges');
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body).sort(), ['data', 'has_more', 'object', 'url']);
    assert.equal(r.body.object, 'list');
    assert.equal(r.body.url, '/v1/charges');
    assert.equal(r.body.has_more, true);
    assert.deepEqual(r.body.data.map((c: { id: string }) => c.id), newestFirst().slice(0, 10));
    assert.match(String(r.headers['request-id']), /^req_/);
    const c = r.body.data[0];
    for (const field of ['amount', 'amount_captured', 'amount_refunded', 'captured', 'paid', 'refunded', 'status', 'currency', 'metadata', 'payment_intent', 'balance_transaction', 'customer', 'billing_details', 'description', 'created', 'livemode']) {
      assert.ok(field in c, field);
    }
  });

  it('pages with starting_after and ending_before through ties without loss or repeats', async () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const r = await get(`/v1/charges?limit=4${after ? `&starting_after=${after}` : ''}`);
      seen.push(...r.body.data.map((c: { id: string }) => c.id));
      if (!r.body.has_more) break;
      after = seen.at(-1);
    }
    assert.deepEqual(seen, newestFirst());
    const back = await get(`/v1/charges?limit=3&ending_before=${seen[10]}`);
    assert.deepEqual(back.body.data.map((c: { id: string }) => c.id), seen.slice(7, 10));
    assert.equal(back.body.has_more, true);
  });

  it('filters on created (integer and ranges) and on charge= / payment_intent=', async () => {
    const exact = await get(`/v1/charges?limit=100&created=${T}`);
    assert.equal(exact.body.data.length, 15);
    const range = await get(`/v1/charges?limit=100&created[gt]=${T}&created[lte]=${T + 180}`);
    assert.deepEqual(range.body.data.map((c: { created: number }) => c.created), [T + 180, T + 120, T + 60]);
    const gteLt = await get(`/v1/charges?limit=100&created[gte]=${T + 60}&created[lt]=${T + 120}`);
    assert.equal(gteLt.body.data.length, 1);
    const target = b.dataset.charges[20]!;
    const byCharge = await get(`/v1/refunds?charge=${target.id}`);
    assert.deepEqual(byCharge.body.data.map((x: { amount: number }) => x.amount), [60, 50]);
    const byPi = await get(`/v1/refunds?payment_intent=${target.payment_intent}`);
    assert.equal(byPi.body.data.length, 2);
    const none = await get(`/v1/refunds?charge=${b.dataset.charges[0]!.id}`);
    assert.deepEqual(none.body.data, []);
  });

  it('expands with expand[0]= and expand[]=, in lists and on retrieve', async () => {
    for (const form of ['expand[0]=data.payment_intent', 'expand[]=data.payment_intent']) {
      const r = await get(`/v1/charges?limit=1&${form}`);
      assert.equal(r.body.data[0].payment_intent.object, 'payment_intent', form);
    }
    const target = b.dataset.charges[20]!;
    const one = await get(`/v1/charges/${target.id}?expand[0]=payment_intent&expand[1]=refunds`);
    assert.equal(one.body.payment_intent.id, target.payment_intent);
    assert.equal(one.body.refunds.object, 'list');
    assert.equal(one.body.refunds.data.length, 2);
    const plain = await get(`/v1/charges/${target.id}`);
    assert.equal(typeof plain.body.payment_intent, 'string');
    const bad = await get(`/v1/charges/${target.id}?expand[0]=nope`);
    assert.equal(bad.status, 400);
  });

  it('answers with Stripe error envelopes: 400 bad limit, 401, 404, unknown URL', async () => {
    for (const limit of ['0', '101', 'x']) {
      const r = await get(`/v1/charges?limit=${limit}`);
      assert.equal(r.status, 400, limit);
      assert.equal(r.body.error.type, 'invalid_request_error');
      assert.equal(r.body.error.param, 'limit');
    }
    const anon = await get('/v1/charges', null);
    assert.equal(anon.status, 401);
    assert.match(anon.body.error.message, /did not provide an API key/);
    const wrong = await get('/v1/charges', 'sk_test_notTheKey123456');
    assert.equal(wrong.status, 401);
    assert.match(String(wrong.headers['request-id']), /^req_/);
    const missing = await get('/v1/charges/ch_missing');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'resource_missing');
    const unknown = await get('/v1/widgets');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error.message, /Unrecognized request URL/);
  });

  it('injects 429s and 500s every N requests', async () => {
    standin.faults = { rateLimitEvery: 2 };
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await get('/v1/charges?limit=1')).status);
    assert.deepEqual(statuses.filter((s) => s === 429).length, 2);
    standin.faults = { serverErrorNext: 1 };
    const failed = await get('/v1/charges?limit=1');
    assert.equal(failed.status, 500);
    assert.equal(failed.body.error.type, 'api_error');
    standin.faults = {};
    assert.equal((await get('/v1/charges?limit=1')).status, 200);
  });

  it('refunds now through the handle: the charge, its flags and the events move together', async () => {
    const target = b.dataset.charges[22]!;
    clock += 10;
    const refund = standin.refundNow(target.id);
    assert.equal(refund.amount, target.amount);
    const charge = await get(`/v1/charges/${target.id}`);
    assert.equal(charge.body.amount_refunded, target.amount);
    assert.equal(charge.body.refunded, true);
    const events = await get(`/v1/events?created[gte]=${clock}&types[0]=refund.created&types[1]=charge.refunded`);
    assert.deepEqual(events.body.data.map((e: { type: string }) => e.type).sort(), ['charge.refunded', 'refund.created']);
    assert.ok(events.body.data.every((e: { created: number }) => e.created === clock));
    const wildcard = await get(`/v1/events?created[gte]=${clock}&type=charge.*`);
    assert.deepEqual(wildcard.body.data.map((e: { type: string }) => e.type), ['charge.refunded']);
    const one = await get(`/v1/events/${events.body.data[0].id}`);
    assert.equal(one.body.object, 'event');
    const txns = await get('/v1/balance_transactions?limit=100');
    assert.ok(txns.body.data.some((t: { source: string }) => t.source === refund.id));
  });

  it('keeps events for 30 days only', async () => {
    const old = b.addEvent('charge.updated', { id: 'ch_x', object: 'charge' }, clock - 31 * 86_400);
    assert.equal((await get(`/v1/events/${old.id}`)).status, 404);
    const listed = await get(`/v1/events?limit=100&created[lt]=${clock - 30 * 86_400}`);
    assert.deepEqual(listed.body.data, []);
  });

  it('is enough for the real SDK, auto-pagination included', async () => {
    const sdk = new Stripe(KEY, { apiVersion: STRIPE_API_VERSION as Stripe.StripeConfig['apiVersion'], host: '127.0.0.1', port: standin.port, protocol: 'http', telemetry: false, maxNetworkRetries: 0 });
    const all = await sdk.charges.list({ limit: 7, expand: ['data.payment_intent'] }).autoPagingToArray({ limit: 1000 });
    assert.deepEqual(all.map((c) => c.id), newestFirst());
    assert.ok(all.every((c) => typeof c.payment_intent === 'object'));
    const pi = await sdk.paymentIntents.retrieve(b.dataset.charges[0]!.payment_intent!);
    assert.deepEqual(pi.metadata, {});
    await assert.rejects(sdk.refunds.retrieve('re_nope'), (err: { statusCode?: number; code?: string }) => err.statusCode === 404 && err.code === 'resource_missing');
  });
});
