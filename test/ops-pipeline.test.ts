/**
 * runPipeline in one process against both stand-ins over loopback, a real
 * SQLite file and a local webhook receiver; the clock is injected so the
 * renotify period can pass in a test.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../src/clock.js';
import { configFor, type Config } from '../src/config.js';
import { openDatabase, type Db } from '../src/db/connection.js';
import { isFlowreconError } from '../src/errors.js';
import { createLedgerApi } from '../src/ledger/client.js';
import { runPipeline, type PipelineDeps } from '../src/pipeline/run.js';
import { redactorFor } from '../src/secrets.js';
import { createStripeApi } from '../src/stripe/client.js';
import { memoryLogger } from './helpers.js';
import { SESSION, startOpsRig, type OpsRig } from './ops-rig.js';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.js';

let receiver: WebhookReceiver;
const rigs: OpsRig[] = [];
before(async () => {
  receiver = await startWebhookReceiver();
});
after(async () => {
  await receiver.close();
  for (const r of rigs) await r.close();
});

async function setup(env: Record<string, string> = {}, rigOptions: Parameters<typeof startOpsRig>[0] = {}) {
  const rig = await startOpsRig(rigOptions);
  rigs.push(rig);
  const config: Config = configFor({ ...rig.env, ALERT_WEBHOOK_URL: receiver.url, ...env });
  const db = openDatabase(config.dbPath);
  const clock = new ManualClock(Date.now());
  const redactor = redactorFor(config);
  const mem = memoryLogger(redactor);
  const deps = (): PipelineDeps => ({
    db,
    config,
    clock,
    log: mem.log,
    redactor,
    ledgerApi: createLedgerApi(config, { log: mem.log, redactor }),
    stripeApi: createStripeApi(config, { log: mem.log, redactor }),
  });
  const run = async () => {
    const d = deps();
    try {
      return await runPipeline(d);
    } finally {
      await d.ledgerApi.close();
      await d.stripeApi.close();
    }
  };
  return { rig, config, db, clock, mem, run };
}

const runsOf = (db: Db) => db.sqlite.prepare(`SELECT job, status, error FROM runs ORDER BY started_at`).all() as { job: string; status: string; error: string | null }[];

describe('runPipeline', () => {
  it('syncs, reconciles, writes the reports and returns the CONTRACT 6 summary', async () => {
    const { db, run } = await setup();
    const s = await run();
    assert.match(s.run_id, /^run_/);
    assert.deepEqual(s.discrepancies, { open: 1, new: 1, resolved: 0, by_type: { UNBILLED_CALL: 1 } });
    assert.deepEqual(s.balance && { available: s.balance.available, reserved: s.balance.reserved }, { available: '995.750000', reserved: '0.000000' });
    assert.ok(existsSync(s.reports.discrepancies) && existsSync(s.reports.summary));
    assert.match(readFileSync(s.reports.discrepancies, 'utf8'), /UNBILLED_CALL,.*call_2/);
    assert.deepEqual(
      s.alerts.find((a) => a.type === 'DISCREPANCIES'),
      { type: 'DISCREPANCIES', state: 'firing' },
    );
    assert.deepEqual(runsOf(db), [{ job: 'run', status: 'succeeded', error: null }]);
    const again = await run();
    assert.deepEqual(again.discrepancies, { open: 1, new: 0, resolved: 0, by_type: { UNBILLED_CALL: 1 } });
    await db.close();
  });

  it('LOW_BALANCE fires once across runs, again after the renotify period, and resolves once after a top-up', async () => {
    const { rig, db, clock, run } = await setup({ LOW_BALANCE_FLOW: '1500', ALERT_RENOTIFY_HOURS: '2' });
    const start = receiver.requests.length;
    const low = () => receiver.requests.slice(start).filter((r) => r.json?.alert.type === 'LOW_BALANCE' && r.json.alert.value !== undefined);
    for (let i = 0; i < 3; i++) {
      const s = await run();
      assert.deepEqual(s.alerts.find((a) => a.type === 'LOW_BALANCE'), { type: 'LOW_BALANCE', state: 'firing' });
      clock.advance(30 * 60_000);
    }
    assert.equal(low().length, 1);
    assert.deepEqual([low()[0]?.json?.alert.value, low()[0]?.json?.alert.threshold], ['995.750000', '1500.000000']);
    clock.advance(2 * 3_600_000);
    await run();
    await run();
    assert.equal(low().length, 2, 're-sent once after the period');
    rig.topUp('1000');
    await run();
    await run();
    const states = low().map((r) => r.json?.alert.state);
    assert.deepEqual(states, ['firing', 'firing', 'ok']);
    assert.equal(low()[2]?.json?.alert.value, '1995.750000');
    await db.close();
  });

  it('a 401 from AgentFlow raises AUTH_FAILED, records the run as failed, and the next good run resolves it', async () => {
    const { rig, db, run, mem } = await setup({}, { sessions: ['some-other-session'] });
    const start = receiver.requests.length;
    await assert.rejects(run(), (err: unknown) => isFlowreconError(err, 'AUTH'));
    const auth = () => receiver.requests.slice(start).filter((r) => r.json?.alert.type === 'AUTH_FAILED');
    assert.equal(auth().length, 1);
    assert.deepEqual(auth()[0]?.json?.alert, { ...auth()[0]?.json?.alert, type: 'AUTH_FAILED', state: 'firing', value: '', threshold: '' });
    const [r] = runsOf(db);
    assert.equal(r?.status, 'failed');
    assert.ok(r?.error);
    rig.agentflow.setSessions([SESSION]);
    await run();
    assert.deepEqual(auth().map((x) => x.json?.alert.state), ['firing', 'ok']);
    for (const req of receiver.requests) assert.ok(!req.body.includes(SESSION), 'no secret in any payload');
    assert.ok(!mem.text().includes(SESSION), 'no secret in the logs');
    await db.close();
  });

  it('when Stripe fails after a good ledger sync, the run fails but the balance alerts still go out (and AUTH_FAILED does not)', async () => {
    const { db, run } = await setup({ LOW_BALANCE_FLOW: '1500', STRIPE_API_KEY: 'sk_test_wrongKey00000000', STRIPE_MAX_RETRIES: '0' });
    const start = receiver.requests.length;
    await assert.rejects(run());
    const mine = receiver.requests.slice(start).map((r) => `${r.json?.alert.type} ${r.json?.alert.state}`);
    assert.deepEqual(mine, ['LOW_BALANCE firing']);
    assert.equal(runsOf(db)[0]?.status, 'failed');
    await db.close();
  });

  it('stops between pages when aborted, keeps what was committed, and the next run resumes there', async () => {
    const { rig, db, config, clock, mem } = await setup({ AGENTFLOW_PAGE_SIZE: '2' }, { extraCalls: 10, latencyMs: 40 });
    const redactor = redactorFor(config);
    const controller = new AbortController();
    const ledgerApi = createLedgerApi(config, { log: mem.log, redactor });
    const stripeApi = createStripeApi(config, { log: mem.log, redactor });
    let pages = 0;
    rig.agentflow.onRequest(({ index }) => {
      pages = index + 1;
      if (index === 2) controller.abort(new Error('SIGTERM'));
    });
    await assert.rejects(runPipeline({ db, config, clock, log: mem.log, redactor, ledgerApi, stripeApi }, { signal: controller.signal }), /interrupted/);
    const cursor = (db.sqlite.prepare(`SELECT value FROM sync_state WHERE name = 'ledger.cursor'`).get() as { value: string } | undefined)?.value;
    const stored = (db.sqlite.prepare('SELECT COUNT(*) AS n FROM ledger_movements').get() as { n: number }).n;
    assert.ok(cursor, 'a committed page left its cursor');
    assert.ok(stored > 0 && stored < rig.feed.movements.length, `part of the feed is stored (${stored})`);
    assert.equal(runsOf(db)[0]?.status, 'failed');
    assert.equal((db.sqlite.prepare('SELECT COUNT(*) AS n FROM leases').get() as { n: number }).n, 0, 'lease released');
    const before = rig.agentflow.requests.length;
    const s = await runPipeline({ db, config, clock, log: mem.log, redactor, ledgerApi, stripeApi });
    assert.ok(pages > 0);
    assert.notEqual(rig.agentflow.requests[before]?.cursor, null, 'the next run starts from the stored cursor, not the beginning');
    assert.equal((db.sqlite.prepare('SELECT COUNT(*) AS n FROM ledger_movements').get() as { n: number }).n, rig.feed.movements.length);
    assert.equal(s.discrepancies.open, 1);
    await ledgerApi.close();
    await stripeApi.close();
    await db.close();
  });
});
