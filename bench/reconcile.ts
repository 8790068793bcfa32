/**
 * Reconcile benchmark: a generated book of BENCH_CALLS calls (default
 * 1,000,000; three movements each: two reserves and the final one) and about
 * as many charges (single charges, 5% batches of two), 1% of calls with a
 * problem. Prints: the full reconcile + reports, a second run after 1% new
 * data, peak RSS of the measuring process, one hand-written bare-diff SQL
 * query on the same file and the engine/bare ratio, and `export calls`
 * throughput with memory.
 *
 * Data goes in with raw prepared statements in big transactions, indexes
 * dropped during the load and rebuilt after, and ledger_calls written
 * directly (storeMovements, one upsert per movement, would take minutes at
 * this size; the aggregate it maintains is computed here the same way).
 * The measuring runs in a child process so its peak RSS is its own.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../src/clock.js';
import { configFor } from '../src/config.js';
import { openDatabase, type Db } from '../src/db/connection.js';
import { createLogger } from '../src/log.js';
import { reconcile } from '../src/reconcile/index.js';
import { exportCalls } from '../src/report/export-calls.js';
import { writeRunReports } from '../src/report/reports.js';
import { Redactor } from '../src/secrets.js';
import { seededRandom } from '../src/standins/ledger-feed.js';

const AS_OF = Date.parse('2026-12-04T10:00:00.000Z');
const DAY = 86_400_000;

interface Figures {
  phase: string;
  [k: string]: number | string;
}

const iso = (ms: number) => new Date(ms).toISOString();
const mb = (bytes: number) => Math.round(bytes / 1e6);


/** 1.25 cents per FLOW (defaults), half-even, on integers. */
function cents(netMicro: number): number {
  const num = netMicro * 125;
  const q = Math.floor(num / 100_000_000);
  const r = num - q * 100_000_000;
  return 2 * r > 100_000_000 || (2 * r === 100_000_000 && q % 2 === 1) ? q + 1 : q;
}

const PROBLEMS = ['UNBILLED', 'UNBILLED', 'AMOUNT', 'AMOUNT', 'DUPLICATE', 'CURRENCY', 'OVER_REFUNDED', 'NOT_PASSED_ON', 'STALE', 'ORPHAN'] as const;

/** Append `count` calls numbered from `first`, spread over [fromMs, toMs). */
export function generate(db: Db, first: number, count: number, fromMs: number, toMs: number, seed: number): { movements: number; charges: number } {
  const s = db.sqlite;
  const random = seededRandom(seed);
  const insMv = s.prepare(
    `INSERT INTO ledger_movements (movement_id, account_id, type, amount_micro, balance_after_micro, call_id, agent_slug, call_status, created_at, synced_at)
     VALUES (?, 'acc_bench', ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insCall = s.prepare(
    `INSERT INTO ledger_calls (call_id, agent_slug, started_at, reserved_micro, returned_micro, adjusted_micro, net_micro, status, finished_at, first_seq, last_seq)
     VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)`,
  );
  const insCh = s.prepare(
    `INSERT INTO stripe_charges (charge_id, created, status, currency, amount, amount_captured, amount_refunded, captured, refunded, disputed,
       payment_intent, customer, description, metadata_json, call_ids_raw, call_ids_source, livemode, version_ms, synced_at)
     VALUES (?, ?, 'succeeded', ?, ?, ?, ?, 1, ?, 0, ?, ?, NULL, ?, ?, 'charge', 0, ?, ?)`,
  );
  const insLink = s.prepare(`INSERT INTO stripe_charge_calls (charge_id, call_id) VALUES (?, ?)`);
  const insRefund = s.prepare(
    `INSERT INTO stripe_refunds (refund_id, charge_id, payment_intent, amount, currency, status, reason, created, version_ms, synced_at)
     VALUES (?, ?, NULL, ?, 'usd', 'succeeded', NULL, ?, ?, ?)`,
  );
  const last = s.prepare(`SELECT seq, balance_after_micro FROM ledger_movements ORDER BY seq DESC LIMIT 1`).raw().get() as [number, number] | undefined;
  let seq = last?.[0] ?? 0;
  let balance = last?.[1] ?? 0;
  let movements = 0;
  let charges = 0;
  const step = (toMs - fromMs) / count;
  const charge = (id: string, createdMs: number, amount: number, callIds: string[], currency = 'usd', refund = 0) => {
    const raw = callIds.join(',');
    // Synced a couple of minutes after it happened, as a scheduled sync would.
    const synced = iso(createdMs + 120_000);
    insCh.run(id, Math.floor(createdMs / 1000), currency, amount, amount, refund, refund >= amount && amount > 0 ? 1 : 0, `pi_${id}`, 'cus_bench', `{"agentflow_call_id":"${raw}"}`, raw || null, createdMs, synced);
    for (const c of callIds) insLink.run(id, c);
    if (refund > 0) insRefund.run(`re_${id}`, id, refund, Math.floor(createdMs / 1000) + 60, createdMs + 60_000, synced);
    charges += 1;
  };
  const mv = (id: string, type: string, amount: number, callId: string | null, status: string | null, at: number) => {
    seq += 1;
    balance += amount;
    insMv.run(id, type, amount, balance, callId, callId ? 'summarize' : null, status, iso(at), iso(at + 60_000));
    movements += 1;
  };
  let batch: { ids: string[]; amount: number; at: number } | null = null;
  const BATCH = 50_000;
  for (let start = 0; start < count; start += BATCH) {
    s.transaction(() => {
      if (first + start === 0) mv('mv_topup', 'topup', 10_000_000_000_000, null, null, fromMs - DAY);
      for (let k = start; k < Math.min(count, start + BATCH); k += 1) {
        const n = first + k;
        const id = `call_${String(n).padStart(8, '0')}`;
        const t0 = fromMs + k * step;
        const problem = random() < 0.01 ? PROBLEMS[Math.floor(random() * PROBLEMS.length)] : null;
        const r1 = 1_000_000 + Math.floor(random() * 200) * 10_000;
        const r2 = 500_000;
        const failed = problem === 'NOT_PASSED_ON' || (problem === null && random() < 0.03);
        const returned = failed ? Math.floor((r1 + r2) / 2) : Math.floor(random() * r2);
        const net = r1 + r2 - returned;
        const firstSeq = seq + 1;
        mv(`mv_${n}_r1`, 'reserve', -r1, id, 'pending', t0);
        mv(`mv_${n}_r2`, 'reserve', -r2, id, 'pending', t0 + 1000);
        if (problem === 'STALE') {
          insCall.run(id, 'summarize', iso(t0), r1 + r2, 0, r1 + r2, 'pending', null, firstSeq, seq);
          continue;
        }
        mv(`mv_${n}_f`, failed ? 'refund' : 'settle', returned, id, failed ? 'failed' : 'succeeded', t0 + 5000);
        const finished = t0 + 5000;
        insCall.run(id, 'summarize', iso(t0), r1 + r2, returned, net, failed ? 'failed' : 'succeeded', iso(finished), firstSeq, seq);
        const price = cents(net);
        const full = cents(r1 + r2);
        const chId = `ch_${String(n).padStart(8, '0')}`;
        const created = finished + 60_000;
        switch (problem) {
          case 'UNBILLED':
            break;
          case 'AMOUNT':
            charge(chId, created, price + 7, [id]);
            break;
          case 'DUPLICATE':
            charge(chId, created, price, [id]);
            charge(`${chId}_dup`, created + 1000, price, [id]);
            break;
          case 'CURRENCY':
            charge(chId, created, price, [id], 'eur');
            break;
          case 'OVER_REFUNDED':
            charge(chId, created, price, [id], 'usd', Math.max(1, Math.floor(price / 2)));
            break;
          case 'NOT_PASSED_ON':
            charge(chId, created, full, [id]);
            break;
          case 'ORPHAN':
            charge(chId, created, price, [id]);
            charge(`${chId}_orphan`, created, 123, []);
            break;
          default:
            if (failed) charge(chId, created, full, [id], 'usd', full - price);
            else if (random() < 0.1) {
              // batches of two
              if (batch === null) batch = { ids: [id], amount: price, at: created };
              else {
                batch.ids.push(id);
                charge(`ch_b_${String(n).padStart(8, '0')}`, created, batch.amount + price, batch.ids);
                batch = null;
              }
            } else charge(chId, created, price, [id]);
        }
      }
    })();
  }
  if (batch !== null) {
    const b = batch as { ids: string[]; amount: number; at: number };
    s.transaction(() => charge(`ch_b_last_${first}`, b.at, b.amount, b.ids))();
  }
  return { movements, charges };
}

function dropIndexes(db: Db): string[] {
  const ddl = db.sqlite
    .prepare(`SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('ledger_movements','ledger_calls','stripe_charges','stripe_charge_calls','stripe_refunds')`)
    .pluck()
    .all() as string[];
  for (const sql of ddl) db.sqlite.exec(`DROP INDEX ${/CREATE INDEX (\S+)/.exec(sql)![1]}`);
  return ddl;
}

export async function build(path: string, calls: number): Promise<void> {
  const db = openDatabase(path);
  db.sqlite.pragma('synchronous = OFF');
  const t = performance.now();
  const ddl = dropIndexes(db);
  const g = generate(db, 0, calls, AS_OF - 30 * DAY, AS_OF - 2 * 3600_000, 42);
  // A few breaks in the balance_after chain.
  db.sqlite.exec(`INSERT INTO ledger_breaks SELECT movement_id, seq, balance_after_micro, balance_after_micro - 1000000, -1000000, created_at FROM ledger_movements WHERE seq % 100003 = 0`);
  for (const sql of ddl) db.sqlite.exec(sql);
  db.sqlite.exec('ANALYZE');
  console.log(`generated ${calls.toLocaleString('en-US')} calls, ${g.movements.toLocaleString('en-US')} movements, ${g.charges.toLocaleString('en-US')} charges in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  await db.close();
}

const BARE_DIFF = `
SELECT COUNT(*) FROM (
  SELECT lc.call_id FROM ledger_calls lc
    LEFT JOIN stripe_charge_calls cc ON cc.call_id = lc.call_id
    LEFT JOIN stripe_charges ch ON ch.charge_id = cc.charge_id AND ch.status = 'succeeded'
   WHERE lc.status <> 'pending'
     AND (ch.charge_id IS NULL
          OR ch.amount_captured - COALESCE((SELECT SUM(r.amount) FROM stripe_refunds r WHERE r.charge_id = ch.charge_id AND r.status = 'succeeded'), 0)
             <> (lc.net_micro * 125 + 50000000) / 100000000)
  UNION ALL
  SELECT ch.charge_id FROM stripe_charges ch
   WHERE ch.status = 'succeeded'
     AND NOT EXISTS (SELECT 1 FROM stripe_charge_calls cc JOIN ledger_calls lc ON lc.call_id = cc.call_id WHERE cc.charge_id = ch.charge_id)
)`;

/** The measuring child: reconcile twice, bare diff, export. Sends its figures to the parent. */
async function measure(path: string, calls: number): Promise<Figures[]> {
  const dir = join(path, '..');
  const config = configFor({ FLOWRECON_DB: path, FLOWRECON_REPORTS_DIR: join(dir, 'reports'), LOG_LEVEL: 'silent' }, dir);
  const log = createLogger({ level: 'silent', redactor: new Redactor() });
  const db = openDatabase(path);
  const clock = new ManualClock(AS_OF);
  const out: Figures[] = [];
  const runOnce = async (runId: string) => {
    const t = performance.now();
    let passes = '';
    const r = await reconcile({ db, config, clock, log }, { runId, afterScan: (scan) => (passes = JSON.stringify(scan.ms)) });
    const tr = performance.now();
    await writeRunReports({ db, config, clock }, { runId });
    const t2 = performance.now();
    return { r, reconcileMs: tr - t, reportsMs: t2 - tr, totalMs: t2 - t, passes };
  };
  const first = await runOnce('run_bench_1');
  out.push({ phase: 'full', ms: first.totalMs, reconcileMs: first.reconcileMs, reportsMs: first.reportsMs, open: first.r.discrepancies.open, passes: first.passes });

  const extra = Math.max(1, Math.round(calls / 100));
  const tg = performance.now();
  generate(db, calls, extra, AS_OF - 2 * 3600_000, AS_OF - 3600_000, 7);
  const genMs = performance.now() - tg;
  clock.advance(15 * 60_000);
  const second = await runOnce('run_bench_2');
  out.push({ phase: 'second', ms: second.totalMs, reconcileMs: second.reconcileMs, reportsMs: second.reportsMs, open: second.r.discrepancies.open, new: second.r.discrepancies.new, genMs, passes: second.passes });

  const tb = performance.now();
  const bare = db.sqlite.prepare(BARE_DIFF).pluck().get() as number;
  out.push({ phase: 'bare', ms: performance.now() - tb, rows: bare });

  const rssBefore = process.memoryUsage().rss;
  const te = performance.now();
  const ex = await exportCalls(db, config, { from: iso(AS_OF - 60 * DAY), to: iso(AS_OF) }, join(dir, 'calls.csv'));
  const exportMs = performance.now() - te;
  out.push({ phase: 'export', ms: exportMs, rows: ex.rows, rssBeforeMb: mb(rssBefore), rssAfterMb: mb(process.memoryUsage().rss) });
  out.push({ phase: 'rss', peakMb: mb(process.resourceUsage().maxRSS * 1024) }); // maxRSS is in KiB
  await db.close();
  return out;
}

export async function run(): Promise<void> {
  const calls = Number(process.env.BENCH_CALLS ?? 1_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'flowrecon-bench-rec-'));
  const path = join(dir, 'bench.db');
  try {
    await build(path, calls);
    const figures = await new Promise<Figures[]>((resolve, reject) => {
      const child = fork(fileURLToPath(import.meta.url), ['--measure', path, String(calls)], { execArgv: ['--import', 'tsx'] });
      child.on('message', (m) => resolve(m as Figures[]));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? undefined : reject(new Error(`measuring process exited ${code}`))));
    });
    const f = Object.fromEntries(figures.map((x) => [x.phase, x])) as Record<string, Figures>;
    const s = (ms: unknown) => `${(Number(ms) / 1000).toFixed(2)} s`;
    const full = f.full!;
    const second = f.second!;
    const bare = f.bare!;
    const exp = f.export!;
    console.log(`full reconcile + reports: ${s(full.ms)} (reconcile ${s(full.reconcileMs)}, reports ${s(full.reportsMs)}; ${full.open} open)   target < 20 s`);
    console.log(`second run, +1% data:     ${s(second.ms)} (${second.new} new, ${second.open} open) = ${((Number(second.ms) / Number(full.ms)) * 100).toFixed(0)}% of the full run   target < 25%`);
    console.log(`  scan passes (ms), full: ${full.passes}; second: ${second.passes}`);
    console.log(`bare diff SQL:            ${s(bare.ms)} (${bare.rows} rows); engine/bare = ${(Number(full.reconcileMs) / Number(bare.ms)).toFixed(2)}x   target < 3x`);
    console.log(`export calls:             ${exp.rows} rows in ${s(exp.ms)} = ${Math.round(Number(exp.rows) / (Number(exp.ms) / 1000)).toLocaleString('en-US')} rows/s, RSS ${exp.rssBeforeMb} -> ${exp.rssAfterMb} MB   target >= 50,000 rows/s`);
    console.log(`peak RSS (measuring):     ${f.rss!.peakMb} MB   target < 400 MB`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--measure') {
  const figures = await measure(process.argv[3] as string, Number(process.argv[4]));
  process.send?.(figures, () => process.exit(0));
}
