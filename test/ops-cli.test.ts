/** `flowrecon run` and `status` as real processes against the stand-ins: JSON, exit codes, locking, SIGTERM. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../src/db/connection.js';
import { BIN, REPO_ROOT, runCli } from './helpers.js';
import { SESSION, STRIPE_KEY, countRows, opsRigs } from './ops-rig.js';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.js';

let receiver: WebhookReceiver;
const rig = opsRigs();
const count = countRows;
before(async () => {
  receiver = await startWebhookReceiver();
});
after(async () => {
  await receiver.close();
});

describe('flowrecon run', () => {
  it('--json prints exactly one CONTRACT 6 object on stdout, logs on stderr, exit 0', async () => {
    const r = await rig();
    const res = await runCli(['run', '--json'], { env: r.env });
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const s = JSON.parse(lines[0] as string) as Record<string, unknown>;
    assert.deepEqual(Object.keys(s), ['run_id', 'discrepancies', 'reports', 'balance', 'alerts']);
    assert.deepEqual(s.discrepancies, { open: 1, new: 1, resolved: 0, by_type: { UNBILLED_CALL: 1 } });
    assert.deepEqual(Object.keys(s.reports as object), ['discrepancies', 'summary']);
    assert.deepEqual(Object.keys(s.balance as object), ['available', 'reserved', 'as_of']);
    assert.ok(Array.isArray(s.alerts));
    assert.match(res.stderr, /"msg":"run finished"/);
    for (const out of [res.stdout, res.stderr]) assert.ok(!out.includes(SESSION) && !out.includes(STRIPE_KEY));
  });

  it('--fail-on-discrepancy prints the summary, then exits 3 when discrepancies are open', async () => {
    const r = await rig();
    const res = await runCli(['run', '--json', '--fail-on-discrepancy'], { env: r.env });
    assert.equal(res.code, 3, res.stderr);
    assert.equal((JSON.parse(res.stdout) as { discrepancies: { open: number } }).discrepancies.open, 1);
    assert.match(res.stderr, /flowrecon: discrepancies: 1 open/);
  });

  it('a 401 from AgentFlow: AUTH_FAILED delivered, run recorded failed, exit 1 with a clear message', async () => {
    const r = await rig({ sessions: ['not-ours'] });
    const start = receiver.requests.length;
    const res = await runCli(['run', '--json'], { env: { ...r.env, ALERT_WEBHOOK_URL: receiver.url } });
    assert.equal(res.code, 1);
    assert.equal(res.stdout, '', 'no summary for a failed run');
    assert.match(res.stderr, /flowrecon: auth: /);
    const auth = receiver.requests.slice(start).filter((x) => x.json?.alert.type === 'AUTH_FAILED');
    assert.equal(auth.length, 1);
    assert.equal(auth[0]?.json?.alert.state, 'firing');
    assert.equal(count(r.dbPath, `SELECT COUNT(*) AS n FROM runs WHERE job = 'run' AND status = 'failed'`), 1);
    assert.ok(!res.stderr.includes(SESSION));
  });

  it('two processes racing for the run: exactly one runs it, the other exits 1 saying why', async () => {
    // Slow enough (~3 s) that the two processes overlap even when one starts late.
    const r = await rig({ latencyMs: 200, extraCalls: 30 });
    const env = { ...r.env, AGENTFLOW_PAGE_SIZE: '2', FLOWRECON_LEASE_WAIT_SECONDS: '0' };
    // Migrate first, so the race is about the lease and not about creating the file.
    openDatabase(r.dbPath).sqlite.close();
    const [a, b] = await Promise.all([runCli(['run', '--json'], { env }), runCli(['run', '--json'], { env })]);
    assert.deepEqual([a.code, b.code].sort(), [0, 1], `${a.stderr}\n---\n${b.stderr}`);
    const loser = a.code === 1 ? a : b;
    assert.match(loser.stderr, /flowrecon: locked: job 'run' is already running in another flowrecon process/);
    assert.equal(count(r.dbPath, `SELECT COUNT(*) AS n FROM runs WHERE job = 'run'`), 1);
    assert.equal(count(r.dbPath, `SELECT COUNT(*) AS n FROM leases`), 0);
  });

  it('SIGTERM during a long sync: exit 0, then the next run resumes from the last committed page', async () => {
    const r = await rig({ latencyMs: 100, extraCalls: 20 });
    const env = { ...r.env, AGENTFLOW_PAGE_SIZE: '2' };
    const child = spawn(process.execPath, [BIN, 'run', '--json'], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    r.agentflow.onRequest(({ index }) => {
      if (index === 3) child.kill('SIGTERM');
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    assert.equal(code, 0, stderr);
    assert.match(stderr, /stopped by signal/);
    const stored = count(r.dbPath, 'SELECT COUNT(*) AS n FROM ledger_movements');
    assert.ok(stored > 0 && stored < r.feed.movements.length, `stored ${stored} of ${r.feed.movements.length}`);
    const before = r.agentflow.requests.length;
    const next = await runCli(['run', '--json'], { env: { ...env, AGENTFLOW_PAGE_SIZE: '500' } });
    assert.equal(next.code, 0, next.stderr);
    assert.notEqual(r.agentflow.requests[before]?.cursor, null, 'resumed from the stored cursor');
    assert.equal(count(r.dbPath, 'SELECT COUNT(*) AS n FROM ledger_movements'), r.feed.movements.length);
    assert.equal(count(r.dbPath, `SELECT COUNT(*) AS n FROM runs WHERE status = 'succeeded'`), 1);
  });
});

describe('flowrecon status', () => {
  it('shows balance, syncs, runs, discrepancies and alerts from the database, with no network', async () => {
    const r = await rig();
    const first = await runCli(['run'], { env: { ...r.env, LOW_BALANCE_FLOW: '2000' } });
    assert.equal(first.code, 0, first.stderr);
    await r.close();
    // The stand-ins are gone: status must not need them.
    const res = await runCli(['status', '--json'], { env: r.env });
    assert.equal(res.code, 0, res.stderr);
    const s = JSON.parse(res.stdout) as Record<string, any>;
    assert.deepEqual(s.balance, { available: '995.750000', reserved: '0.000000', as_of: s.balance.as_of });
    assert.equal(s.ledger.movements, 5);
    assert.equal(s.ledger.calls, 2);
    assert.ok(s.ledger.last_sync_at);
    assert.equal(s.stripe.charges, 1);
    assert.equal(s.runs.run.last.status, 'succeeded');
    assert.deepEqual(s.runs.run.recent.map((x: { run_id: string }) => x.run_id), [s.runs.run.last.run_id]);
    assert.deepEqual(s.discrepancies.by_type, { UNBILLED_CALL: 1 });
    assert.equal(s.alerts.find((a: { type: string }) => a.type === 'LOW_BALANCE').state, 'firing');
    const text = await runCli(['status'], { env: r.env });
    assert.equal(text.code, 0);
    assert.match(text.stdout, /balance\s+995\.750000 FLOW available/);
    assert.match(text.stdout, /LOW_BALANCE\s+firing/);
  });
});
