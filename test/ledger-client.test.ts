import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { systemClock } from '../src/clock.js';
import { configFor } from '../src/config.js';
import { openDatabase } from '../src/db/connection.js';
import { isFlowreconError } from '../src/errors.js';
import { createLedgerApi, retryAfterMs } from '../src/ledger/client.js';
import { syncLedger } from '../src/ledger/sync.js';
import { Redactor } from '../src/secrets.js';
import { startAgentflowStandin, type AgentflowStandinOptions } from '../src/standins/agentflow.js';
import { addSyntheticTraffic, LedgerFeedBuilder } from '../src/standins/ledger-feed.js';
import { memoryLogger, tempDir } from './helpers.js';

const SESSION = 'canary-cookie-7c1d9e';
const API_KEY = 'canary-apikey-4b2f81';

function feed(count: number) {
  const f = new LedgerFeedBuilder();
  addSyntheticTraffic(f, count, { seed: 21 });
  return f.movements;
}

async function standin(options: Partial<AgentflowStandinOptions> & { movements?: number } = {}) {
  const s = await startAgentflowStandin({
    dataset: { accountId: 'acc_client', movements: feed(options.movements ?? 300), sessions: [SESSION], apiKeys: [API_KEY] },
    rateLimitPerMin: 0,
    ...options,
  });
  after(() => s.close());
  return s;
}

function client(url: string, env: Record<string, string> = {}) {
  const config = configFor({ AGENTFLOW_BASE_URL: url, AGENTFLOW_SESSION: SESSION, AGENTFLOW_RETRY_BASE_MS: '5', ...env });
  const logs = memoryLogger();
  const api = createLedgerApi(config, { log: logs.log, redactor: new Redactor() });
  after(() => api.close());
  return { api, logs, config };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  assert.fail('expected a failure');
}

describe('AgentFlow client', () => {
  it('sends the session cookie, or the bearer key instead when one is set', async () => {
    const s = await standin();
    const byCookie = client(s.url);
    const page = await byCookie.api.fetchPage({ cursor: null, limit: 50 });
    assert.equal(page.movements.length, 50);
    assert.match(s.requests.at(-1)?.user ?? '', /^session:/);
    const byKey = client(s.url, { AGENTFLOW_SESSION: 'not-the-cookie', AGENTFLOW_API_KEY: API_KEY });
    await byKey.api.fetchPage({ cursor: null, limit: 5 });
    assert.match(s.requests.at(-1)?.user ?? '', /^key:/);
  });

  it('fails a refused cookie with AUTH saying it is expired or revoked, and a refused key naming the key', async () => {
    const s = await standin();
    const wrong = client(s.url, { AGENTFLOW_SESSION: 'wrong-cookie-0000' });
    const err = await rejection(wrong.api.fetchPage({ cursor: null, limit: 5 }));
    assert.ok(isFlowreconError(err, 'AUTH'));
    assert.match(err.message, /session cookie \(HTTP 401\): it is expired or revoked/);
    assert.ok(!err.message.includes('wrong-cookie-0000'));
    assert.equal(s.requests.length, 1, '401 is not retried');
    const badKey = client(s.url, { AGENTFLOW_API_KEY: 'wrong-key-0000' });
    const keyErr = await rejection(badKey.api.fetchPage({ cursor: null, limit: 5 }));
    assert.ok(isFlowreconError(keyErr, 'AUTH'));
    assert.match(keyErr.message, /API key/);
  });

  it('reads the session file when the client is made, so a rotated cookie needs no restart', async () => {
    const s = await standin();
    const file = join(tempDir(), 'session');
    writeFileSync(file, 'first-session-aaaa\n');
    s.setSessions(['first-session-aaaa']);
    const env = { AGENTFLOW_SESSION_FILE: file };
    await client(s.url, env).api.fetchPage({ cursor: null, limit: 5 });
    s.setSessions(['second-session-bbbb']);
    writeFileSync(file, 'second-session-bbbb');
    await client(s.url, env).api.fetchPage({ cursor: null, limit: 5 });
    assert.equal(s.requests.at(-1)?.status, 200);
  });

  it('refuses to start without any credential (CONFIG)', () => {
    const config = configFor({ AGENTFLOW_BASE_URL: 'http://127.0.0.1:9' });
    assert.throws(() => createLedgerApi(config, { log: memoryLogger().log, redactor: new Redactor() }), (err: unknown) => {
      assert.ok(isFlowreconError(err, 'CONFIG'));
      assert.match((err as Error).message, /AGENTFLOW_SESSION/);
      return true;
    });
  });

  it('retries 503s and dropped sockets and still syncs every movement once', async () => {
    const s = await standin({ movements: 1500, faults: { fail503Every: 3, dropEvery: 4 } });
    const { api, logs } = client(s.url);
    const db = openDatabase(join(tempDir(), 'f.db'));
    after(() => db.close());
    const result = await syncLedger({ db, api, clock: systemClock, log: logs.log }, { pageSize: 100 });
    assert.equal(result.inserted, s.movements().length);
    assert.equal(db.sqlite.prepare('SELECT count(*) FROM ledger_movements').pluck().get(), s.movements().length);
    assert.ok((s.countByStatus()[503] ?? 0) >= 3);
    assert.ok(s.requests.some((r) => r.dropped));
    assert.ok(!logs.text().includes(SESSION));
  });

  it('gives up after the configured retries with a NETWORK error naming the path, not the secret', async () => {
    const s = await standin({ faults: { fail503Next: 100 } });
    const { api, logs } = client(s.url, { AGENTFLOW_MAX_RETRIES: '2' });
    const err = await rejection(api.fetchPage({ cursor: null, limit: 5 }));
    assert.ok(isFlowreconError(err, 'NETWORK'));
    assert.match(err.message, /\/me\/flow-balance/);
    assert.match(err.message, /HTTP 503/);
    assert.equal(s.requests.length, 3);
    assert.ok(!err.message.includes(SESSION) && !logs.text().includes(SESSION));
  });

  it('times out a silent server (headers timeout) and retries, then fails', async () => {
    // undici checks these timeouts on a ~1 s tick, so the server stays silent well past that.
    const s = await standin({ latencyMs: 3000 });
    const { api } = client(s.url, { AGENTFLOW_TIMEOUT_MS: '100', AGENTFLOW_MAX_RETRIES: '1' });
    const started = Date.now();
    const err = await rejection(api.fetchPage({ cursor: null, limit: 5 }));
    assert.ok(isFlowreconError(err, 'NETWORK'));
    assert.match(err.message, /TIMEOUT/i);
    assert.ok(Date.now() - started < 5000, 'the configured timeout applies, not undici defaults (300 s)');
    assert.equal(s.requests.length, 2);
  });

  it('rides out a 429 storm, waiting the full Retry-After each time', async () => {
    const s = await standin({ faults: { fail429Next: 2, retryAfterSec: 1 } });
    const { api } = client(s.url);
    const page = await api.fetchPage({ cursor: null, limit: 10 });
    assert.equal(page.movements.length, 10);
    const statuses = s.requests.map((r) => r.status);
    assert.deepEqual(statuses, [429, 429, 200]);
    for (let i = 1; i < s.requests.length; i++) {
      const gap = (s.requests[i]?.at ?? 0) - (s.requests[i - 1]?.at ?? 0);
      assert.ok(gap >= 990, `request ${i + 1} came ${gap} ms after a 429 with Retry-After: 1`);
    }
  });

  it('does not follow redirects', async () => {
    let hits = 0;
    const target = createServer((_req, res) => {
      hits += 1;
      res.end('{}');
    });
    const redirector = createServer((_req, res) => {
      const { port } = target.address() as AddressInfo;
      res.writeHead(302, { location: `http://127.0.0.1:${port}/me/flow-balance` }).end();
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
    after(() => {
      target.close();
      redirector.close();
    });
    const { port } = redirector.address() as AddressInfo;
    const { api } = client(`http://127.0.0.1:${port}`);
    const err = await rejection(api.fetchPage({ cursor: null, limit: 5 }));
    assert.ok(isFlowreconError(err, 'NETWORK'));
    assert.match(err.message, /redirect/);
    assert.equal(hits, 0);
  });

  it('fails a 200 that is not JSON as a bad feed', async () => {
    const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    after(() => server.close());
    const { api } = client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const err = await rejection(api.fetchPage({ cursor: null, limit: 5 }));
    assert.ok(isFlowreconError(err, 'BAD_FEED'));
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    assert.equal(retryAfterMs('3'), 3000);
    assert.equal(retryAfterMs(undefined), 1000);
    const now = Date.parse('2026-12-04T10:00:00Z');
    assert.equal(retryAfterMs('Fri, 04 Dec 2026 10:00:05 GMT', now), 5000);
  });
});

describe('AgentFlow client on a worker thread', () => {
  it('serves validated pages, passes errors through with their codes, and forwards its logs', async () => {
    const { createThreadedLedgerApi } = await import('../src/ledger/threaded-client.js');
    const s = await standin({ movements: 400, faults: { fail503Next: 1 } });
    const config = configFor({ AGENTFLOW_BASE_URL: s.url, AGENTFLOW_SESSION: SESSION, AGENTFLOW_RETRY_BASE_MS: '5' });
    const logs = memoryLogger();
    const api = createThreadedLedgerApi(config, { log: logs.log, redactor: new Redactor() });
    after(() => api.close());
    await api.ready;
    const page = await api.fetchPage({ cursor: null, limit: 100 });
    assert.equal(page.movements.length, 100);
    assert.equal(page.movements[0]?.id, s.movements()[0]?.id);
    assert.ok(logs.lines().some((l) => l.msg === 'agentflow request failed; retrying' && l.level === 40), 'the retry was logged through the caller');
    s.setSessions([]);
    const err = await rejection(api.fetchPage({ cursor: page.nextCursor, limit: 100 }));
    assert.ok(isFlowreconError(err, 'AUTH'), String(err));
    assert.ok(!logs.text().includes(SESSION));
  });

  it('moves a backlog to the worker mid-sync under one shared allowance', async () => {
    const { createSyncLedgerApi } = await import('../src/ledger/threaded-client.js');
    const windowMs = 1000;
    const s = await standin({ movements: 2000, rateLimitPerMin: 25, windowMs });
    const config = configFor({
      AGENTFLOW_BASE_URL: s.url,
      AGENTFLOW_SESSION: SESSION,
      AGENTFLOW_RATE_LIMIT_PER_MIN: '25',
      AGENTFLOW_RATE_WINDOW_MS: String(windowMs),
      LOG_LEVEL: 'debug',
    });
    const logs = memoryLogger();
    const api = createSyncLedgerApi(config, { log: logs.log, redactor: new Redactor() });
    after(() => api.close());
    const db = openDatabase(join(tempDir(), 't.db'));
    after(() => db.close());
    // 100 pages at 25 per second: long enough for the worker to load even on a busy machine.
    const result = await syncLedger({ db, api, clock: systemClock, log: logs.log }, { pageSize: 20 });
    assert.equal(result.inserted, s.movements().length);
    assert.equal(s.countByStatus()[429] ?? 0, 0);
    assert.ok(s.maxInAnyWindow(windowMs) <= 25, `saw ${s.maxInAnyWindow(windowMs)} in one window`);
    const pages = logs.lines().filter((l) => l.msg === 'agentflow page');
    assert.equal(pages[0]?.thread, undefined, 'the first page is fetched in process');
    const inWorker = pages.filter((l) => l.thread === 'fetch-worker').length;
    assert.ok(inWorker >= 10, `only ${inWorker} of ${pages.length} pages came through the worker`);
  });
});
