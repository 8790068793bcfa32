/**
 * `flowrecon sync stripe` and `export charges` as real processes against the
 * stand-in: the happy path, a SIGKILL mid-sync, a refused key, a missing key.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import { startStripeStandin, type StripeStandin } from '../src/standins/stripe.js';
import { StripeDataBuilder } from '../src/standins/stripe-data.js';
import { BIN, REPO_ROOT, runCli, tempDir } from './helpers.js';

const KEY = 'sk_test_cliKey7Qx2Lm9Vw4';
const DAY = 86_400;
const standins: StripeStandin[] = [];
after(async () => {
  for (const s of standins) await s.close();
});

async function serve(charges: number, latencyMs = 0): Promise<{ standin: StripeStandin; calls: Map<string, string[]> }> {
  const b = new StripeDataBuilder([KEY]);
  const now = Math.floor(Date.now() / 1000);
  const calls = new Map<string, string[]>();
  for (let i = 0; i < charges; i++) {
    const ids = i % 10 === 0 ? [`call_${i}_a`, `call_${i}_b`] : [`call_${i}`];
    const c = b.addCharge({ created: now - 8 * DAY + i * 30, amount: 100 + (i % 300), callIds: ids, callIdsOn: i % 4 === 0 ? 'payment_intent' : 'charge' });
    calls.set(c.id, ids);
    if (i % 13 === 0) b.addRefund(c.id, { created: c.created + 60, amount: 25 });
  }
  const standin = await startStripeStandin({ dataset: b.dataset, latencyMs });
  standins.push(standin);
  return { standin, calls };
}

function envFor(standin: StripeStandin, dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return { STRIPE_API_KEY: KEY, STRIPE_API_BASE: standin.url, STRIPE_MAX_RPS: '100', STRIPE_RETRY_BASE_MS: '5', FLOWRECON_DB: join(dir, 'flowrecon.db'), ...extra };
}

/** What the database says, checked against the stand-in: every charge once, every link and refund once. */
function assertMirrors(dbPath: string, standin: StripeStandin, calls: Map<string, string[]>): void {
  const db = new BetterSqlite3(dbPath, { readonly: true });
  try {
    const charges = db.prepare('SELECT charge_id, amount_refunded FROM stripe_charges').all() as { charge_id: string; amount_refunded: number }[];
    assert.equal(charges.length, standin.dataset.charges.length);
    const refunded = new Map(charges.map((c) => [c.charge_id, c.amount_refunded]));
    for (const c of standin.dataset.charges) assert.equal(refunded.get(c.id), c.amount_refunded, c.id);
    const links = db.prepare('SELECT charge_id, call_id FROM stripe_charge_calls ORDER BY charge_id, call_id').all() as { charge_id: string; call_id: string }[];
    const expected = [...calls].flatMap(([charge_id, ids]) => ids.map((call_id) => ({ charge_id, call_id })));
    expected.sort((a, b) => (a.charge_id < b.charge_id ? -1 : a.charge_id > b.charge_id ? 1 : a.call_id < b.call_id ? -1 : 1));
    assert.deepEqual(links, expected);
    const refunds = db.prepare('SELECT refund_id FROM stripe_refunds ORDER BY refund_id').pluck().all();
    assert.deepEqual(refunds, standin.dataset.refunds.map((r) => r.id).sort());
  } finally {
    db.close();
  }
}

describe('flowrecon sync stripe / export charges (spawned)', () => {
  it('syncs with --json and exports the same charges', async () => {
    const { standin, calls } = await serve(420);
    const dir = tempDir();
    const env = envFor(standin, dir);
    const res = await runCli(['sync', 'stripe', '--json'], { env, cwd: dir });
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout) as { stripe: { charges: number; aborted: boolean; run_id: string } };
    assert.equal(out.stripe.charges, 420);
    assert.equal(out.stripe.aborted, false);
    assertMirrors(env.FLOWRECON_DB!, standin, calls);

    const csv = join(dir, 'charges.csv');
    const exp = await runCli(['export', 'charges', '--from', '2020-01-01', '--to', '2030-01-01', '--out', csv], { env, cwd: dir });
    assert.equal(exp.code, 0, exp.stderr);
    const rows = parse(readFileSync(csv, 'utf8'), { columns: true }) as Record<string, string>[];
    assert.deepEqual(
      rows.map((r) => r.charge_id),
      [...standin.dataset.charges].sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : 1)).map((c) => c.id),
    );
  });

  it('a SIGKILL mid-sync, then a finishing run: nothing lost, nothing doubled', async () => {
    const { standin, calls } = await serve(3000, 15);
    const dir = tempDir();
    const env = envFor(standin, dir);
    const child = spawn(process.execPath, [BIN, 'sync', 'stripe'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: 'ignore',
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    standin.onRequest = (route, count) => {
      if (route === 'GET /v1/charges' && count === 8) child.kill('SIGKILL');
    };
    assert.equal(await exited, 'SIGKILL');
    standin.onRequest = undefined;

    const db = new BetterSqlite3(env.FLOWRECON_DB!, { readonly: true });
    const stored = db.prepare('SELECT count(*) FROM stripe_charges').pluck().get() as number;
    const cursor = JSON.parse(db.prepare("SELECT value FROM sync_state WHERE name = 'stripe.charges'").pluck().get() as string);
    db.close();
    assert.ok(stored > 0 && stored < 3000, `killed mid-sync with ${stored} charges stored`);
    assert.ok(cursor.window?.after, 'the unfinished window and its position were committed with the pages');

    // The world moves on before the finishing run.
    const late = standin.createCharge({ amount: 4321, callIds: ['call_late'] });
    calls.set(late.id, ['call_late']);
    standin.refundNow(standin.dataset.charges[5]!.id, { amount: 30 });
    standin.latencyMs = 0;
    const res = await runCli(['sync', 'stripe'], { env, cwd: dir });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /resuming an unfinished window/);
    assertMirrors(env.FLOWRECON_DB!, standin, calls);
  });

  it('a refused key: exit 1, says so, and the key is in no output and no file', async () => {
    const { standin } = await serve(5);
    const dir = tempDir();
    const canary = 'sk_live_CANARY51aXj0Zr88Pq';
    const env = envFor(standin, dir, { STRIPE_API_KEY: canary });
    const res = await runCli(['sync', 'stripe', '--json'], { env, cwd: dir });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /Stripe refused the API key/);
    assert.equal(standin.stats.unauthorized, 1);
    const traces = [canary, canary.slice(-6), canary.slice(8, 16)];
    for (const t of traces) {
      assert.ok(!res.stdout.includes(t), `stdout holds ${t}`);
      assert.ok(!res.stderr.includes(t), `stderr holds ${t}`);
    }
    const db = new BetterSqlite3(env.FLOWRECON_DB!, { readonly: true });
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[];
    const dump = tables.map((t) => JSON.stringify(db.prepare(`SELECT * FROM "${t}"`).all())).join('\n');
    db.close();
    assert.match(dump, /Stripe refused the API key/, 'the failed run is recorded');
    for (const t of traces) assert.ok(!dump.includes(t), `database holds ${t}`);
    for (const file of readdirSync(dir, { recursive: true }) as string[]) {
      const path = join(dir, file);
      if (!statSync(path).isFile()) continue;
      const bytes = readFileSync(path).toString('latin1');
      for (const t of traces) assert.ok(!bytes.includes(t), `${file} holds ${t}`);
    }
  });

  it('a missing key: exit 2 naming the setting, before any request or database', async () => {
    const { standin } = await serve(1);
    const dir = tempDir();
    const env = envFor(standin, dir);
    delete env.STRIPE_API_KEY;
    const res = await runCli(['sync', 'stripe'], { env, cwd: dir });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /invalid setting STRIPE_API_KEY/);
    assert.equal(standin.stats.requests, 0);
    assert.equal(existsSync(env.FLOWRECON_DB!), false);
  });
});
