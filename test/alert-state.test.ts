/** The alert rules and state machine against a real database, a local webhook receiver and an injected clock. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../src/clock.js';
import { configFor, type Config } from '../src/config.js';
import { openDatabase, type Db } from '../src/db/connection.js';
import { evaluateAlerts } from '../src/alert/index.js';
import * as rules from '../src/alert/rules.js';
import { decide } from '../src/alert/state.js';
import { Redactor } from '../src/secrets.js';
import { memoryLogger, tempDir } from './helpers.js';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.js';

const HOUR = 3_600_000;

describe('alert rules', () => {
  it('formats LOW_BALANCE as FLOW with 6 decimals and fires strictly below', () => {
    const r = rules.lowBalance(42_000_000, 100_000_000);
    assert.deepEqual({ state: r.state, value: r.value, threshold: r.threshold }, { state: 'firing', value: '42.000000', threshold: '100.000000' });
    assert.equal(r.text, 'flowrecon: LOW_BALANCE firing: available 42.000000 FLOW < 100.000000');
    assert.equal(rules.lowBalance(100_000_000, 100_000_000).state, 'ok');
  });

  it('computes LOW_RUNWAY exactly: balance over the 24 h net spend rate, hours with 1 decimal', () => {
    // 10 FLOW left, 48 FLOW spent in 24 h = 2 FLOW/h -> 5.0 h.
    const r = rules.lowRunway(10_000_000, 48_000_000, '6');
    assert.deepEqual({ state: r.state, value: r.value, threshold: r.threshold }, { state: 'firing', value: '5.0', threshold: '6.0' });
    // 1 FLOW over 3 FLOW/day -> 8 h exactly; not below 8.
    assert.equal(rules.lowRunway(1_000_000, 3_000_000, '8').state, 'ok');
    assert.equal(rules.lowRunway(1_000_000, 3_000_001, '8').state, 'firing', 'exact comparison, not a rounded one');
    // 0.25 h ties round half to even at the second decimal: 1 FLOW * 24 / 96 FLOW = 0.25 -> "0.2".
    assert.equal(rules.lowRunway(1_000_000, 96_000_000, '1').value, '0.2');
    assert.equal(rules.lowRunway(5_000_000, 0, '1').state, 'ok', 'no spend, no finite runway');
  });

  it('formats DISCREPANCIES, AUTH_FAILED and SYNC_STALE per the contract', () => {
    assert.deepEqual(pick(rules.discrepancies(3)), { state: 'firing', value: '3', threshold: '0' });
    assert.deepEqual(pick(rules.discrepancies(0)), { state: 'ok', value: '0', threshold: '0' });
    assert.deepEqual(pick(rules.authFailed(true)), { state: 'firing', value: '', threshold: '' });
    assert.deepEqual(pick(rules.syncStale(16 * 60_000, 5 * 60_000)), { state: 'firing', value: '16', threshold: '15' });
    assert.equal(rules.syncStale(15 * 60_000, 5 * 60_000).state, 'ok', 'firing only past three periods');
  });

  it('decides: change, renotify after the period, never more often', () => {
    const now = Date.parse('2026-12-04T10:00:00Z');
    const at = (h: number) => new Date(now - h * HOUR).toISOString();
    assert.equal(decide(undefined, { state: 'ok' }, now, 24 * HOUR), 'quiet');
    assert.equal(decide(undefined, { state: 'firing' }, now, 24 * HOUR), 'change');
    assert.equal(decide({ state: 'firing', last_notified_at: at(23) }, { state: 'firing' }, now, 24 * HOUR), 'quiet');
    assert.equal(decide({ state: 'firing', last_notified_at: at(24) }, { state: 'firing' }, now, 24 * HOUR), 'renotify');
    assert.equal(decide({ state: 'firing', last_notified_at: at(1) }, { state: 'ok' }, now, 24 * HOUR), 'change');
    assert.equal(decide({ state: 'ok', last_notified_at: at(100) }, { state: 'ok' }, now, 24 * HOUR), 'quiet');
    assert.equal(decide({ state: 'firing', last_notified_at: at(1) }, { state: 'firing' }, now, 24 * HOUR, true), 'extra');
  });
});

function pick(r: rules.AlertReading) {
  return { state: r.state, value: r.value, threshold: r.threshold };
}

function snapshot(db: Db, balanceFlow: number, at: string): void {
  db.sqlite
    .prepare('INSERT INTO balance_snapshots (account_id, balance_micro, reserved_micro, as_of, fetched_at) VALUES (?, ?, ?, ?, ?)')
    .run('acc_t', balanceFlow * 1_000_000, 0, at, at);
}

describe('alert state machine with a webhook', () => {
  let receiver: WebhookReceiver;
  before(async () => {
    receiver = await startWebhookReceiver();
  });
  after(() => receiver.close());

  function setup(env: Record<string, string> = {}) {
    const dir = tempDir();
    const config: Config = configFor({ FLOWRECON_DB: join(dir, 'a.db'), LOW_BALANCE_FLOW: '100', ALERT_WEBHOOK_URL: receiver.url, ALERT_RENOTIFY_HOURS: '6', ALERT_RETRY_BASE_MS: '1', ...env });
    const db = openDatabase(config.dbPath);
    const clock = new ManualClock('2026-12-04T10:00:00Z');
    const mem = memoryLogger();
    return { config, db, clock, mem, deps: { db, config, clock, log: mem.log, redactor: new Redactor() } };
  }

  it('LOW_BALANCE fires once across several runs, re-fires after the renotify period, resolves once after a top-up', async () => {
    const { db, clock, deps, mem } = setup();
    const start = receiver.requests.length;
    const mine = () => receiver.requests.slice(start).filter((r) => r.json?.alert.type === 'LOW_BALANCE');
    for (let i = 0; i < 4; i++) {
      snapshot(db, 42 - i, clock.now().toISOString());
      const out = await evaluateAlerts(deps, { types: ['LOW_BALANCE'] });
      assert.deepEqual(out.states, [{ type: 'LOW_BALANCE', state: 'firing' }]);
      clock.advance(HOUR);
    }
    assert.equal(mine().length, 1, 'one webhook for four evaluations within the period');
    const first = mine()[0];
    assert.equal(first?.headers['content-type'], 'application/json');
    assert.deepEqual(first?.json, {
      text: 'flowrecon: LOW_BALANCE firing: available 42.000000 FLOW < 100.000000',
      alert: { type: 'LOW_BALANCE', state: 'firing', value: '42.000000', threshold: '100.000000', at: '2026-12-04T10:00:00.000Z' },
    });

    clock.set('2026-12-04T15:59:59Z'); // 5 h 59 min 59 s after the first notice
    await evaluateAlerts(deps, { types: ['LOW_BALANCE'] });
    assert.equal(mine().length, 1, 'not before the period');
    clock.set('2026-12-04T16:00:00Z');
    await evaluateAlerts(deps, { types: ['LOW_BALANCE'] });
    await evaluateAlerts(deps, { types: ['LOW_BALANCE'] });
    assert.equal(mine().length, 2, 're-sent once the period is over, once');
    assert.equal(mine()[1]?.json?.alert.state, 'firing');

    snapshot(db, 500, clock.now().toISOString()); // top-up
    for (let i = 0; i < 3; i++) {
      clock.advance(HOUR);
      await evaluateAlerts(deps, { types: ['LOW_BALANCE'] });
    }
    const oks = mine().filter((r) => r.json?.alert.state === 'ok');
    assert.equal(oks.length, 1, 'one recovery');
    assert.equal(oks[0]?.json?.text, 'flowrecon: LOW_BALANCE ok: available 500.000000 FLOW >= 100.000000');
    assert.equal(mine().length, 3);
    const keys = mine().map((r) => r.headers['idempotency-key']);
    assert.equal(new Set(keys).size, 3, 'a distinct Idempotency-Key per event');
    assert.ok(mem.lines().some((l) => l.msg === 'flowrecon: LOW_BALANCE firing: available 42.000000 FLOW < 100.000000'), 'the alert is logged too');
    await db.close();
  });

  it('sends DISCREPANCIES on change and again, at most once per run, when a run finds new ones', async () => {
    const { db, clock, deps } = setup();
    const start = receiver.requests.length;
    const mine = () => receiver.requests.slice(start).filter((r) => r.json?.alert.type === 'DISCREPANCIES');
    const insert = (id: string) =>
      db.sqlite
        .prepare(
          `INSERT INTO discrepancies (discrepancy_id, type, severity, call_ids, stripe_charge_ids, occurred_at, detail, first_seen_at, first_seen_run_id, last_seen_at, last_seen_run_id)
           VALUES (?, 'UNBILLED_CALL', 'high', 'c', '', ?, 'x', ?, 'r', ?, 'r')`,
        )
        .run(id, clock.now().toISOString(), clock.now().toISOString(), clock.now().toISOString());
    insert('d1');
    await evaluateAlerts(deps, { types: ['DISCREPANCIES'], newDiscrepancies: 1 });
    assert.equal(mine().length, 1);
    assert.deepEqual(mine()[0]?.json?.alert.value, '1');
    clock.advance(60_000);
    await evaluateAlerts(deps, { types: ['DISCREPANCIES'], newDiscrepancies: 0 });
    assert.equal(mine().length, 1, 'nothing new, within the period: quiet');
    insert('d2');
    clock.advance(60_000);
    await evaluateAlerts(deps, { types: ['DISCREPANCIES'], newDiscrepancies: 1 });
    assert.equal(mine().length, 2, 'new ones found: sent again');
    assert.equal(mine()[1]?.json?.alert.value, '2');
    db.sqlite.prepare(`UPDATE discrepancies SET acknowledged_at = ?`).run(clock.now().toISOString());
    clock.advance(60_000);
    await evaluateAlerts(deps, { types: ['DISCREPANCIES'] });
    assert.equal(mine().at(-1)?.json?.alert.state, 'ok', 'acknowledged ones do not keep it firing');
    await db.close();
  });

  it('AUTH_FAILED fires with empty value and threshold, and resolves after a good sync', async () => {
    const { db, deps, clock } = setup();
    const start = receiver.requests.length;
    await evaluateAlerts(deps, { types: ['AUTH_FAILED'], authFailed: true });
    clock.advance(60_000);
    await evaluateAlerts(deps, { types: ['AUTH_FAILED'], authFailed: false });
    const mine = receiver.requests.slice(start).filter((r) => r.json?.alert.type === 'AUTH_FAILED');
    assert.deepEqual(mine.map((r) => [r.json?.alert.state, r.json?.alert.value, r.json?.alert.threshold]), [['firing', '', ''], ['ok', '', '']]);
    await db.close();
  });

  it('SYNC_STALE fires past three SCHEDULE_LEDGER periods since the last good sync', async () => {
    const { db, deps, clock } = setup({ SCHEDULE_LEDGER: '*/5 * * * *' });
    snapshot(db, 500, clock.now().toISOString());
    clock.advance(15 * 60_000);
    let out = await evaluateAlerts(deps, { types: ['SYNC_STALE'] });
    assert.deepEqual(out.states, [{ type: 'SYNC_STALE', state: 'ok' }]);
    clock.advance(61_000);
    out = await evaluateAlerts(deps, { types: ['SYNC_STALE'] });
    assert.deepEqual(out.states, [{ type: 'SYNC_STALE', state: 'firing' }]);
    const row = db.sqlite.prepare(`SELECT value, threshold FROM alert_states WHERE alert_type = 'SYNC_STALE'`).get();
    assert.deepEqual(row, { value: '16', threshold: '15' });
    await db.close();
  });

  it('LOW_RUNWAY reads the trailing 24 h of non-top-up movements from the ledger', async () => {
    const { db, deps, clock } = setup({ RUNWAY_HOURS_MIN: '12', LOW_BALANCE_FLOW: '0' });
    const asOf = clock.now().toISOString();
    const mv = db.sqlite.prepare(
      `INSERT INTO ledger_movements (movement_id, account_id, type, amount_micro, balance_after_micro, created_at, synced_at) VALUES (?, 'acc_t', ?, ?, 0, ?, ?)`,
    );
    const ago = (h: number) => new Date(clock.now().getTime() - h * HOUR).toISOString();
    mv.run('m0', 'reserve', -500_000_000, ago(30), asOf); // outside the window
    mv.run('m1', 'topup', 1_000_000_000, ago(20), asOf); // a top-up is not spending
    mv.run('m2', 'reserve', -30_000_000, ago(10), asOf);
    mv.run('m3', 'settle', 6_000_000, ago(9), asOf); // net 24 FLOW in 24 h = 1 FLOW/h
    snapshot(db, 10, asOf); // 10 FLOW -> 10.0 h < 12
    const out = await evaluateAlerts(deps, { types: ['LOW_RUNWAY', 'LOW_BALANCE'] });
    assert.deepEqual(out.states, [{ type: 'LOW_RUNWAY', state: 'firing' }], 'LOW_BALANCE is off (0)');
    assert.deepEqual(db.sqlite.prepare(`SELECT value, threshold FROM alert_states WHERE alert_type = 'LOW_RUNWAY'`).get(), { value: '10.0', threshold: '12.0' });
    await db.close();
  });
});
