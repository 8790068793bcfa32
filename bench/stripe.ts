/**
 * Stripe sync benchmark (issue 3): BENCH_CHARGES charges (default 50,000)
 * served by the stand-in in a child process, pulled three ways in one run:
 *   - bare: the same pages (100 each, PaymentIntent expanded) with a bare
 *     undici loop, JSON parsed, nothing stored: the floor;
 *   - sdk: the same pages through the real `stripe` SDK and our client
 *     (retry wrapper, mapping to snapshots), nothing stored;
 *   - sync: the full `syncStripe` into a fresh SQLite file (charges, refunds
 *     and events passes, call-id links, cursors);
 *   - store floor: the same charge snapshots upserted with their links, one
 *     transaction per page, no network: what SQLite alone costs.
 * Client-side pacing is lifted for all three so the figures show the SDK's
 * and the sync's own cost; the paced floor at STRIPE_MAX_RPS is printed beside.
 * All three loops are warmed first and run in alternating rounds, best of each
 * kept (every round printed), so none gains from JIT warm-up or going second.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { systemClock } from '../src/clock.js';
import { configFor } from '../src/config.js';
import { immediate, openDatabase } from '../src/db/connection.js';
import { silentLogger } from '../src/log.js';
import { RateLimiter } from '../src/ratelimit.js';
import { Redactor } from '../src/secrets.js';
import { createStripeApi, STRIPE_PAGE_LIMIT } from '../src/stripe/client.js';
import { resolveCallIds } from '../src/stripe/callids.js';
import { upsertCharge } from '../src/stripe/store.js';
import { syncStripe } from '../src/stripe/sync.js';
import type { ChargeSnapshot } from '../src/stripe/types.js';

const SERVE = fileURLToPath(new URL('../src/standins/stripe-serve.ts', import.meta.url));
const KEY = 'sk_test_benchStripeKey01';

const rate = (rows: number, ms: number) => Math.round((rows * 1000) / ms);

async function startStandinProcess(charges: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVE, '--charges', String(charges), '--key', KEY], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const [first] = (await once(lines, 'line')) as [string];
  lines.close();
  const info = JSON.parse(first) as { url: string; charges: number; refunds: number };
  return {
    ...info,
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** The floor: the same pages, a bare HTTP loop. */
async function bareFetch(url: string, gte: number, lt: number, maxPages = Infinity): Promise<number> {
  const pool = new Pool(url, { connections: 1 });
  let count = 0;
  let after: string | undefined;
  try {
    for (let pages = 0; pages < maxPages; pages++) {
      const path =
        `/v1/charges?created%5Bgte%5D=${gte}&created%5Blt%5D=${lt}&limit=${STRIPE_PAGE_LIMIT}&expand%5B0%5D=data.payment_intent` +
        (after ? `&starting_after=${after}` : '');
      const res = await pool.request({ method: 'GET', path, headers: { authorization: `Bearer ${KEY}` } });
      if (res.statusCode !== 200) throw new Error(`bare fetch: HTTP ${res.statusCode}`);
      const body = (await res.body.json()) as { data: { id: string }[]; has_more: boolean };
      count += body.data.length;
      after = body.data.at(-1)?.id;
      if (!body.has_more || !after) break;
    }
  } finally {
    await pool.close();
  }
  return count;
}

export async function run(): Promise<void> {
  const n = Number(process.env.BENCH_CHARGES ?? 50_000);
  const standin = await startStandinProcess(n);
  const dir = mkdtempSync(join(tmpdir(), 'flowrecon-bench-stripe-'));
  const unpaced = () => new RateLimiter({ limit: 1_000_000, windowMs: 1000 });
  const config = configFor({ STRIPE_API_KEY: KEY, STRIPE_API_BASE: standin.url, FLOWRECON_DB: join(dir, 'bench.db') });
  const deps = { log: silentLogger(), redactor: new Redactor() };
  const now = Math.floor(Date.now() / 1000);
  const gte = now - config.stripeSinceDays * 86_400;
  const lt = now + 1;
  try {
    console.log(`stand-in (child process): ${standin.charges} charges, ${standin.refunds} refunds; pages of ${STRIPE_PAGE_LIMIT}`);

    // Warm both paths (JIT, sockets) on a few pages.
    await bareFetch(standin.url, gte, lt, 3);
    const warm = createStripeApi(config, { ...deps, limiter: unpaced() });
    for (let i = 0, after: string | undefined; i < 3; i++) {
      const p = await warm.listCharges({ created: { gte, lt }, limit: STRIPE_PAGE_LIMIT, ...(after ? { starting_after: after } : {}) });
      after = p.data.at(-1)?.id;
    }
    await warm.close();
    // The sync's own code paths (mapping, statements, transactions) get the same warm-up: the newest day's charges.
    {
      const warmDb = openDatabase(join(dir, 'warm.db'));
      const warmApi = createStripeApi(config, { ...deps, limiter: unpaced() });
      await syncStripe({ db: warmDb, stripe: warmApi, config, clock: systemClock, log: deps.log }, { since: new Date((now - 86_400) * 1000) });
      await warmApi.close();
      await warmDb.close();
    }

    let snapshots: ChargeSnapshot[][] = [];
    const sdkList = async (): Promise<number> => {
      const api = createStripeApi(config, { ...deps, limiter: unpaced() });
      let count = 0;
      snapshots = [];
      try {
        for (let after: string | undefined; ; ) {
          const p = await api.listCharges({ created: { gte, lt }, limit: STRIPE_PAGE_LIMIT, ...(after ? { starting_after: after } : {}) });
          snapshots.push(p.data);
          count += p.data.length;
          after = p.data.at(-1)?.id;
          if (!p.has_more || !after) break;
        }
      } finally {
        await api.close();
      }
      return count;
    };
    const timed = async (fn: () => Promise<number>) => {
      const t0 = performance.now();
      const count = await fn();
      return { count, ms: performance.now() - t0 };
    };
    /** A full first sync into a fresh database file. */
    let result: Awaited<ReturnType<typeof syncStripe>> | undefined;
    let stored = 0;
    const fullSync = async (round: number): Promise<number> => {
      const db = openDatabase(join(dir, `sync-${round}.db`));
      const syncApi = createStripeApi(config, { ...deps, limiter: unpaced() });
      try {
        result = await syncStripe({ db, stripe: syncApi, config, clock: systemClock, log: deps.log });
        stored = db.sqlite.prepare('SELECT count(*) FROM stripe_charges').pluck().get() as number;
      } finally {
        await syncApi.close();
        await db.close();
      }
      return stored;
    };
    // Alternate the three loops and keep each one's best, so none gains from going second.
    const bareRuns = [];
    const sdkRuns = [];
    const syncRuns = [];
    for (let round = 0; round < 2; round++) {
      bareRuns.push(await timed(() => bareFetch(standin.url, gte, lt)));
      sdkRuns.push(await timed(sdkList));
      syncRuns.push(await timed(() => fullSync(round)));
    }
    const best = (runs: { count: number; ms: number }[]) => runs.reduce((a, b) => (b.ms < a.ms ? b : a));
    const { count: bareCount, ms: bareMs } = best(bareRuns);
    const { count: sdkCount, ms: sdkMs } = best(sdkRuns);
    const { ms: syncMs } = best(syncRuns);
    if (syncRuns.some((r) => r.count !== n)) throw new Error(`a sync stored ${syncRuns.map((r) => r.count).join(', ')} charges, expected ${n}`);

    const floorDb = openDatabase(join(dir, 'floor.db'));
    const at = new Date().toISOString();
    const tf = performance.now();
    for (const page of snapshots) {
      immediate(floorDb, () => {
        for (const c of page) upsertCharge(floorDb.sqlite, c, resolveCallIds(c, config.stripeCallIdKey, c.payment_intent_object?.metadata ?? null), 1, at);
      });
    }
    const floorMs = performance.now() - tf;
    await floorDb.close();

    if (bareCount !== n || sdkCount !== n || stored !== n) throw new Error(`counts differ: bare ${bareCount}, sdk ${sdkCount}, stored ${stored}, expected ${n}`);
    const pages = Math.ceil(n / STRIPE_PAGE_LIMIT);
    const all = (runs: { ms: number }[]) => runs.map((r) => `${(r.ms / 1000).toFixed(2)} s`).join(', ');
    console.log(`rounds: bare ${all(bareRuns)}; sdk ${all(sdkRuns)}; sync ${all(syncRuns)} (best of each below)`);
    console.log(`bare undici fetch : ${bareCount} charges in ${(bareMs / 1000).toFixed(2)} s = ${rate(bareCount, bareMs)} charges/s`);
    console.log(`SDK list (no DB)  : ${sdkCount} charges in ${(sdkMs / 1000).toFixed(2)} s = ${rate(sdkCount, sdkMs)} charges/s  (${(sdkMs / bareMs).toFixed(2)}x bare)`);
    console.log(
      `syncStripe (SDK+DB): ${stored} charges in ${(syncMs / 1000).toFixed(2)} s = ${rate(stored, syncMs)} charges/s  (${(syncMs / bareMs).toFixed(2)}x bare; target within 2x) ` +
        `[${result?.requests} requests, ${result?.refunds} refunds]`,
    );
    console.log(`store floor (SQLite only): ${n} charges in ${(floorMs / 1000).toFixed(2)} s = ${rate(n, floorMs)} charges/s; SDK list + store floor = ${((sdkMs + floorMs) / 1000).toFixed(2)} s`);
    console.log(`paced floor at STRIPE_MAX_RPS=${config.stripeMaxRps}: ${pages} pages take at least ${(pages / config.stripeMaxRps).toFixed(0)} s`);
    console.log(`peak RSS (client process): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  } finally {
    await standin.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
