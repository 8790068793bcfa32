/**
 * The sync against a sparser Stripe than ours: no expand support, no event
 * list, older field sets, a proxy's non-JSON error page. What it cannot use it
 * works around; what it cannot trust it refuses, loudly.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ManualClock } from '../src/clock.js';
import { configFor } from '../src/config.js';
import { openDatabase } from '../src/db/connection.js';
import { FlowreconError } from '../src/errors.js';
import { Redactor } from '../src/secrets.js';
import { createStripeApi } from '../src/stripe/client.js';
import { syncStripe } from '../src/stripe/sync.js';
import { memoryLogger, tempDir } from './helpers.js';

const KEY = 'sk_test_sparse000111';
const NOW = Date.parse('2026-12-04T12:00:00.000Z');
const servers: Server[] = [];
after(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

type Handler = (path: string, query: URLSearchParams) => { status: number; body: string; type?: string };

async function sparseStripe(handler: Handler): Promise<string> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const { status, body, type } = handler(url.pathname, url.searchParams);
    res.writeHead(status, { 'Content-Type': type ?? 'application/json', 'Request-Id': 'req_sparse' });
    res.end(body);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const list = (data: unknown[]) => ({ status: 200, body: JSON.stringify({ object: 'list', data, has_more: false, url: '/v1/x' }) });
const notFound = (path: string) => ({ status: 404, body: JSON.stringify({ error: { type: 'invalid_request_error', message: `Unrecognized request URL (GET: ${path})` } }) });

async function sync(url: string, env: Record<string, string> = {}) {
  const dir = tempDir();
  const config = configFor({ STRIPE_API_KEY: KEY, STRIPE_API_BASE: url, STRIPE_RETRY_BASE_MS: '1', FLOWRECON_DB: join(dir, 'db.sqlite'), ...env });
  const mem = memoryLogger(new Redactor());
  const stripe = createStripeApi(config, { log: mem.log, redactor: new Redactor() });
  const db = openDatabase(config.dbPath);
  try {
    const result = await syncStripe({ db, stripe, config, clock: new ManualClock(NOW), log: mem.log });
    const rows = db.sqlite
      .prepare('SELECT charge_id, amount_captured, call_ids_source, (SELECT group_concat(call_id) FROM stripe_charge_calls l WHERE l.charge_id = c.charge_id) AS calls FROM stripe_charges c ORDER BY charge_id')
      .all();
    return { result, rows, log: mem.text() };
  } finally {
    await stripe.close();
    await db.close();
  }
}

describe('stripe sync against a sparse Stripe', () => {
  it('fetches PaymentIntents itself, fills amount_captured, and goes on without an event list', async () => {
    const created = NOW / 1000 - 3600;
    const url = await sparseStripe((path) => {
      if (path === '/v1/charges') {
        return list([
          // No expand support: payment_intent stays an id; no amount_captured field.
          { id: 'ch_1', object: 'charge', amount: 250, amount_refunded: 0, captured: true, status: 'succeeded', currency: 'usd', created, metadata: {}, payment_intent: 'pi_1', livemode: false },
          { id: 'ch_2', object: 'charge', amount: 90, amount_refunded: 0, captured: false, status: 'failed', currency: 'usd', created, metadata: { agentflow_call_id: 'call_b' }, payment_intent: null, livemode: false },
        ]);
      }
      if (path === '/v1/payment_intents/pi_1') return { status: 200, body: JSON.stringify({ id: 'pi_1', object: 'payment_intent', metadata: { agentflow_call_id: 'call_a' } }) };
      if (path === '/v1/refunds') return list([]);
      return notFound(path);
    });
    const { result, rows, log } = await sync(url);
    assert.equal(result.aborted, false);
    assert.deepEqual(rows, [
      { charge_id: 'ch_1', amount_captured: 250, call_ids_source: 'payment_intent', calls: 'call_a' },
      { charge_id: 'ch_2', amount_captured: 0, call_ids_source: 'charge', calls: 'call_b' },
    ]);
    assert.match(log, /no event list here/);
  });

  it('takes refunds from the charges themselves when there is no refund list', async () => {
    const created = NOW / 1000 - 7200;
    const url = await sparseStripe((path) => {
      if (path === '/v1/charges') {
        return list([
          {
            id: 'ch_r', object: 'charge', amount: 500, amount_captured: 500, amount_refunded: 200, captured: true, refunded: false,
            status: 'succeeded', currency: 'usd', created, metadata: { agentflow_call_id: 'call_r' }, payment_intent: null, livemode: false,
            refunds: { object: 'list', has_more: false, data: [{ id: 're_r', object: 'refund', amount: 200, charge: 'ch_r', currency: 'usd', status: 'succeeded', created: created + 60 }] },
          },
        ]);
      }
      if (path === '/v1/events') return list([]);
      return notFound(path);
    });
    const dir = tempDir();
    const config = configFor({ STRIPE_API_KEY: KEY, STRIPE_API_BASE: url, FLOWRECON_DB: join(dir, 'db.sqlite') });
    const mem = memoryLogger(new Redactor());
    const stripe = createStripeApi(config, { log: mem.log, redactor: new Redactor() });
    const db = openDatabase(config.dbPath);
    try {
      await syncStripe({ db, stripe, config, clock: new ManualClock(NOW), log: mem.log });
      assert.deepEqual(db.sqlite.prepare('SELECT refund_id, charge_id, amount, status FROM stripe_refunds').all(), [
        { refund_id: 're_r', charge_id: 'ch_r', amount: 200, status: 'succeeded' },
      ]);
      assert.match(mem.text(), /no refund list here/);
    } finally {
      await stripe.close();
      await db.close();
    }
  });

  it('retries a non-JSON error page from a proxy, then carries on', async () => {
    let calls = 0;
    const url = await sparseStripe((path) => {
      if (path === '/v1/charges' && ++calls === 1) return { status: 502, body: '<html>Bad Gateway</html>', type: 'text/html' };
      if (path === '/v1/events' || path === '/v1/refunds' || path === '/v1/charges') return list([]);
      return notFound(path);
    });
    const { result } = await sync(url);
    assert.equal(result.aborted, false);
    assert.equal(calls, 2);
  });

  it('refuses an answer that is not a Stripe list, naming the request', async () => {
    const url = await sparseStripe(() => ({ status: 200, body: JSON.stringify({ message: 'hello' }) }));
    await assert.rejects(sync(url), (err: unknown) => err instanceof FlowreconError && err.code === 'STRIPE' && /^list charges: the answer is not a Stripe list/.test(err.message));
  });

  it('a wrong STRIPE_API_BASE (404 on the charge list) fails loudly', async () => {
    const url = await sparseStripe((path) => notFound(path));
    await assert.rejects(sync(url), (err: unknown) => err instanceof FlowreconError && /list charges: Stripe answered 404 for a list; check STRIPE_API_BASE/.test(err.message));
  });
});
