import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, readSessionToken } from '../src/config.js';
import { isFlowreconError } from '../src/errors.js';
import { runCli, tempDir } from './helpers.js';

test('defaults follow CONTRACT 5', () => {
  const c = loadConfig({ env: {}, cwd: '/srv/app' });
  assert.equal(c.agentflowBaseUrl, 'https://api.agentflow.website');
  assert.equal(c.agentflowRateLimitPerMin, 240);
  assert.equal(c.stripeCallIdKey, 'agentflow_call_id');
  assert.equal(c.stripeMaxRps, 10);
  assert.equal(c.dbPath, '/srv/app/data/flowrecon.db');
  assert.equal(c.reportsDir, '/srv/app/reports');
  assert.equal(c.flowUsdRate, '0.01');
  assert.equal(c.markup, '0.25');
  assert.equal(c.currency, 'usd');
  assert.equal(c.priceToleranceCents, 0);
  assert.equal(c.billingGraceMinutes, 30);
  assert.equal(c.reservationTtlMinutes, 60);
  assert.equal(c.lowBalanceMicro, 0);
  assert.equal(c.alertRenotifyHours, 24);
  assert.equal(c.scheduleLedger, '*/5 * * * *');
  assert.equal(c.scheduleRun, '*/15 * * * *');
  assert.equal(c.scheduleDaily, '0 6 * * *');
  assert.equal(c.timeZone, 'UTC');
  assert.ok(Object.isFrozen(c));
});

test('each invalid value names its variable', () => {
  const bad: Record<string, string> = {
    AGENTFLOW_BASE_URL: 'ftp://x',
    AGENTFLOW_RATE_LIMIT_PER_MIN: '0',
    STRIPE_MAX_RPS: 'fast',
    FLOW_USD_RATE: '1e-2',
    MARKUP: '-0.1',
    CURRENCY: 'dollars',
    PRICE_TOLERANCE_CENTS: '-1',
    BILLING_GRACE_MINUTES: '1.5',
    LOW_BALANCE_FLOW: '12.1234567',
    SCHEDULE_RUN: 'every minute',
    FLOWRECON_TZ: 'Mars/Olympus',
    ALERT_WEBHOOK_URL: 'not a url',
    STRIPE_API_BASE: 'localhost:12111',
  };
  for (const [name, value] of Object.entries(bad)) {
    assert.throws(
      () => loadConfig({ env: { [name]: value } }),
      (err: unknown) => isFlowreconError(err, 'CONFIG') && err.message.includes(name),
      name,
    );
  }
});

test('a config file adds settings and the environment wins', () => {
  const dir = tempDir();
  const file = join(dir, 'flowrecon.json');
  writeFileSync(file, JSON.stringify({ markup: '0.5', currency: 'eur', flowrecon_db: 'x.db' }));
  const c = loadConfig({ env: { MARKUP: '0.3' }, configFile: file, cwd: dir });
  assert.equal(c.markup, '0.3');
  assert.equal(c.currency, 'eur');
  assert.equal(c.dbPath, join(dir, 'x.db'));
  writeFileSync(file, JSON.stringify({ no_such_setting: 1 }));
  assert.throws(() => loadConfig({ env: {}, configFile: file }), /no_such_setting/);
});

test('PRICING_FILE is validated and sorted by from', () => {
  const dir = tempDir();
  const file = join(dir, 'pricing.json');
  writeFileSync(
    file,
    JSON.stringify([
      { from: '2026-12-01', flow_usd_rate: '0.012', markup: '0.3', agents: { summarize: { markup: '0.5' } } },
      { from: '2026-01-01T00:00:00Z', flow_usd_rate: '0.01', markup: '0.25' },
    ]),
  );
  const c = loadConfig({ env: { PRICING_FILE: file } });
  assert.deepEqual(
    c.pricing.map((p) => p.from),
    ['2026-01-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z'],
  );
  assert.equal(c.pricing[1]?.agents.summarize?.markup, '0.5');
  writeFileSync(file, JSON.stringify([{ from: 'soon', flow_usd_rate: '0.01', markup: '0.25' }]));
  assert.throws(() => loadConfig({ env: { PRICING_FILE: file } }), /PRICING_FILE/);
});

test('the session file is re-read at every call', () => {
  const dir = tempDir();
  const file = join(dir, 'session');
  writeFileSync(file, 'first-token\n');
  const c = loadConfig({ env: { AGENTFLOW_SESSION_FILE: file } });
  assert.equal(readSessionToken(c), 'first-token');
  writeFileSync(file, 'rotated-token\n');
  assert.equal(readSessionToken(c), 'rotated-token');
});

test('CLI: a bad setting exits 2 before any work, naming the variable and not echoing secrets', async () => {
  const dir = tempDir();
  const r = await runCli(['export', 'movements', '--from', '2026-01-01', '--to', '2026-02-01', '--out', join(dir, 'm.csv')], {
    env: { MARKUP: 'lots', STRIPE_API_KEY: 'sk_test_canary_4242', FLOWRECON_DB: join(dir, 'db.sqlite') },
  });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /MARKUP/);
  assert.doesNotMatch(r.stderr + r.stdout, /sk_test_canary_4242/);
});

test('CLI: bad usage exits 2, help exits 0', async () => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: flowrecon/);
  const bad = await runCli(['no-such-command']);
  assert.equal(bad.code, 2);
  const badDate = await runCli(['export', 'calls', '--from', '2026-02-30', '--to', '2026-03-01', '--out', '/tmp/x.csv']);
  assert.equal(badDate.code, 2);
  assert.match(badDate.stderr, /--from/);
});
