/** Webhook delivery: retries with one Idempotency-Key, no redirects, timeouts, the outbox surviving failures, `alerts test`. */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ManualClock } from '../src/clock.js';
import { configFor } from '../src/config.js';
import { openDatabase, type Db } from '../src/db/connection.js';
import { evaluateAlerts } from '../src/alert/index.js';
import { postWebhook } from '../src/alert/webhook.js';
import { redactorFor } from '../src/secrets.js';
import { memoryLogger, runCli, tempDir } from './helpers.js';
import { startWebhookReceiver } from './webhook-receiver.js';

const OPTS = { timeoutMs: 2000, maxRetries: 3, retryBaseMs: 5 };

function snapshot(db: Db, micro: number, at: string): void {
  db.sqlite.prepare('INSERT INTO balance_snapshots (account_id, balance_micro, reserved_micro, as_of, fetched_at) VALUES (?, ?, 0, ?, ?)').run('acc_w', micro, at, at);
}

describe('postWebhook', () => {
  it('retries a 500 with backoff, the same Idempotency-Key every time, and gives up after maxRetries', async () => {
    const rx = await startWebhookReceiver({ status: 500 });
    try {
      const out = await postWebhook({ url: rx.url, ...OPTS }, { text: 'x', alert: {} }, 'evt-1');
      assert.equal(out.ok, false);
      assert.equal(out.attempts, 4);
      assert.equal(rx.requests.length, 4);
      assert.deepEqual(new Set(rx.requests.map((r) => r.headers['idempotency-key'])), new Set(['evt-1']));
      assert.ok(rx.requests.every((r) => r.method === 'POST' && r.headers['content-type'] === 'application/json'));
    } finally {
      await rx.close();
    }
  });

  it('succeeds after transient failures, and does not retry a 400', async () => {
    const rx = await startWebhookReceiver({ status: (i) => (i < 2 ? 503 : 204) });
    try {
      const out = await postWebhook({ url: rx.url, ...OPTS }, { a: 1 }, 'evt-2');
      assert.deepEqual([out.ok, out.attempts, out.status], [true, 3, 204]);
      rx.respondWith(400);
      const bad = await postWebhook({ url: rx.url, ...OPTS }, { a: 1 }, 'evt-3');
      assert.deepEqual([bad.ok, bad.attempts, bad.error], [false, 1, 'HTTP 400']);
    } finally {
      await rx.close();
    }
  });

  it('does not follow redirects and times out a receiver that hangs', async () => {
    let hits = 0;
    const target = await startWebhookReceiver();
    const server = createServer((req, res) => {
      hits++;
      if (req.url === '/hang') return; // never answers
      res.writeHead(302, { location: target.url }).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const moved = await postWebhook({ url: `${base}/moved`, ...OPTS, maxRetries: 0 }, {}, 'evt-4');
      assert.equal(moved.ok, false);
      assert.match(moved.error ?? '', /302.*redirects are not followed/);
      assert.equal(target.requests.length, 0, 'the redirect target never saw the alert');
      const t0 = Date.now();
      const hung = await postWebhook({ url: `${base}/hang`, timeoutMs: 200, maxRetries: 1, retryBaseMs: 5 }, {}, 'evt-5');
      assert.equal(hung.ok, false);
      assert.equal(hung.attempts, 2);
      assert.ok(Date.now() - t0 < 2000);
      assert.equal(hits, 3);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await target.close();
    }
  });
});

describe('outbox', () => {
  it('a receiver answering 500 sees retries, the state survives, and the event is delivered at the next evaluation', async () => {
    const rx = await startWebhookReceiver({ status: 500 });
    const dir = tempDir();
    const config = configFor({ FLOWRECON_DB: join(dir, 'o.db'), LOW_BALANCE_FLOW: '100', ALERT_WEBHOOK_URL: rx.url, ALERT_MAX_RETRIES: '2', ALERT_RETRY_BASE_MS: '5' });
    const db = openDatabase(config.dbPath);
    const clock = new ManualClock('2026-12-04T10:00:00Z');
    const mem = memoryLogger();
    const deps = { db, config, clock, log: mem.log, redactor: redactorFor(config) };
    try {
      snapshot(db, 5_000_000, clock.now().toISOString());
      const out = await evaluateAlerts(deps, { types: ['LOW_BALANCE'] });
      assert.deepEqual(out.states, [{ type: 'LOW_BALANCE', state: 'firing' }], 'delivery failing does not undo the state');
      assert.equal(rx.requests.length, 3, 'first try and two retries');
      const key = rx.requests[0]?.headers['idempotency-key'];
      assert.ok(rx.requests.every((r) => r.headers['idempotency-key'] === key));
      const row = db.sqlite.prepare('SELECT event_id, attempts, delivered_at, last_error FROM alert_outbox').get() as Record<string, unknown>;
      assert.deepEqual(row, { event_id: key, attempts: 3, delivered_at: null, last_error: 'HTTP 500' });
      assert.ok(mem.lines().some((l) => l.msg === 'alert webhook delivery failed; it is retried at the next evaluation'));

      // The receiver recovers; the next evaluation (no state change) delivers the waiting event with the same key.
      rx.respondWith(200);
      clock.advance(5 * 60_000);
      await evaluateAlerts(deps, { types: ['LOW_BALANCE'] });
      assert.equal(rx.requests.length, 4);
      assert.equal(rx.requests[3]?.headers['idempotency-key'], key);
      assert.equal(rx.requests[3]?.json?.alert.state, 'firing');
      const done = db.sqlite.prepare('SELECT attempts, delivered_at FROM alert_outbox').get() as Record<string, unknown>;
      assert.equal(done.attempts, 4);
      assert.equal(done.delivered_at, clock.now().toISOString());
      clock.advance(5 * 60_000);
      await evaluateAlerts(deps, { types: ['LOW_BALANCE'] });
      assert.equal(rx.requests.length, 4, 'nothing more to send');
    } finally {
      await db.close();
      await rx.close();
    }
  });
});

describe('flowrecon alerts test', () => {
  it('sends one test alert with the contract shape and no secrets', async () => {
    const rx = await startWebhookReceiver();
    const dir = tempDir();
    const canary = 'canary-session-7f3a9d1e';
    try {
      const res = await runCli(['alerts', 'test'], { env: { FLOWRECON_DB: join(dir, 't.db'), ALERT_WEBHOOK_URL: rx.url, AGENTFLOW_SESSION: canary, STRIPE_API_KEY: 'rk_test_canary_123456' } });
      assert.equal(res.code, 0, res.stderr);
      assert.equal(rx.requests.length, 1);
      const body = rx.requests[0]?.json;
      assert.equal(body?.alert.type, 'TEST');
      assert.match(body?.text ?? '', /^flowrecon: TEST/);
      assert.deepEqual(Object.keys(body?.alert ?? {}).sort(), ['at', 'state', 'threshold', 'type', 'value']);
      assert.ok(rx.requests[0]?.headers['idempotency-key']);
      for (const text of [rx.requests[0]?.body ?? '', res.stdout, res.stderr]) {
        assert.ok(!text.includes(canary) && !text.includes('rk_test_canary_123456'));
      }
    } finally {
      await rx.close();
    }
  });

  it('fails with exit 2 when no webhook is configured, exit 1 when it cannot be delivered', async () => {
    const dir = tempDir();
    const none = await runCli(['alerts', 'test'], { env: { FLOWRECON_DB: join(dir, 't.db') } });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /ALERT_WEBHOOK_URL/);
    const rx = await startWebhookReceiver({ status: 500 });
    try {
      const failed = await runCli(['alerts', 'test'], { env: { FLOWRECON_DB: join(dir, 't.db'), ALERT_WEBHOOK_URL: rx.url, ALERT_MAX_RETRIES: '1', ALERT_RETRY_BASE_MS: '1' } });
      assert.equal(failed.code, 1);
      assert.match(failed.stderr, /not delivered.*HTTP 500/);
      assert.equal(rx.requests.length, 2);
    } finally {
      await rx.close();
    }
  });
});
