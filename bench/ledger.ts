/**
 * Ledger ingest benchmark (issue 2): BENCH_MOVEMENTS movements (default
 * 1,000,000) pulled from the AgentFlow stand-in with no rate limit, 500 per
 * page, into a fresh SQLite file through the real client and sync. Beside it,
 * the two floors the sync cannot beat:
 *   - fetch floor: the same pages with a bare undici loop, bodies thrown away;
 *   - insert floor: the same rows with one raw prepared INSERT in one transaction.
 * The stand-in runs in a child process so the peak RSS printed is the client's alone.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { systemClock } from '../src/clock.js';
import { configFor } from '../src/config.js';
import { openDatabase } from '../src/db/connection.js';
import { createSyncLedgerApi } from '../src/ledger/threaded-client.js';
import { syncLedger } from '../src/ledger/sync.js';
import { silentLogger } from '../src/log.js';
import { tryParseFlowMicro } from '../src/money.js';
import { Redactor } from '../src/secrets.js';
import { syntheticDataset } from '../src/standins/ledger-feed.js';

const STANDIN = fileURLToPath(new URL('../src/standins/agentflow.ts', import.meta.url));
const PAGE = 500;

const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;
const rate = (rows: number, ms: number) => Math.round((rows * 1000) / ms);

async function startStandinProcess(movements: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', STANDIN, '--movements', String(movements), '--rate-limit', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const [first] = (await once(lines, 'line')) as [string];
  lines.close();
  const info = JSON.parse(first) as { url: string; session: string; movements: number };
  return {
    ...info,
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

async function fetchFloor(url: string, session: string): Promise<{ rows: number; ms: number }> {
  const pool = new Pool(url, { connections: 1 });
  let cursor: string | null = null;
  let rows = 0;
  const started = performance.now();
  for (;;) {
    const path: string = `/me/flow-balance?limit=${PAGE}${cursor ? `&cursor=${cursor}` : ''}`;
    const res = await pool.request({ path, method: 'GET', headers: { cookie: `af_session=${session}` } });
    const text = await res.body.text();
    // Thrown away: only the cursor and a row count are read, by string search, not by parsing.
    const tail = text.slice(text.lastIndexOf('"next_cursor"'));
    const m = /"next_cursor":(?:"([^"]*)"|null),"has_more":(true|false)/.exec(tail);
    let count = 0;
    for (let i = text.indexOf('"id":'); i >= 0; i = text.indexOf('"id":', i + 5)) count++;
    rows += count;
    if (!m || m[2] !== 'true') break;
    cursor = m[1] ?? null;
  }
  const ms = performance.now() - started;
  await pool.close();
  return { rows, ms };
}

function insertFloor(dir: string, movements: number): { rows: number; ms: number } {
  const db = openDatabase(join(dir, 'floor.db'));
  const data = syntheticDataset(movements).movements;
  const params = data.map((m) => [
    m.id,
    'acc_bench',
    m.type,
    tryParseFlowMicro(m.amount),
    tryParseFlowMicro(m.balance_after),
    m.call_id,
    m.agent_slug,
    m.call_status,
    m.created_at,
    '2026-12-04T00:00:00.000Z',
  ]);
  const insert = db.sqlite.prepare(
    `INSERT INTO ledger_movements
       (movement_id, account_id, type, amount_micro, balance_after_micro, call_id, agent_slug, call_status, created_at, synced_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const started = performance.now();
  db.sqlite.transaction(() => {
    for (const p of params) insert.run(...p);
  })();
  const ms = performance.now() - started;
  void db.close();
  return { rows: params.length, ms };
}

export async function run(): Promise<void> {
  const movements = Number(process.env.BENCH_MOVEMENTS ?? 1_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'flowrecon-bench-ledger-'));
  console.log(`ledger: ${movements} movements, ${PAGE} per page, stand-in in a child process, no rate limit`);
  const standin = await startStandinProcess(movements);
  try {
    const config = configFor({
      AGENTFLOW_BASE_URL: standin.url,
      AGENTFLOW_SESSION: standin.session,
      AGENTFLOW_RATE_LIMIT_PER_MIN: '1000000',
      AGENTFLOW_PAGE_SIZE: String(PAGE),
      FLOWRECON_DB: join(dir, 'ingest.db'),
    });
    const db = openDatabase(config.dbPath);
    const log = silentLogger();
    const api = createSyncLedgerApi(config, { log, redactor: new Redactor() });
    const rssBefore = process.resourceUsage().maxRSS;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const result = await syncLedger({ db, api, clock: systemClock, log }, { pageSize: PAGE });
    const ingestMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const peakRss = process.resourceUsage().maxRSS;
    await api.close();
    await db.close();
    if (result.inserted !== standin.movements) throw new Error(`ingested ${result.inserted} of ${standin.movements} movements`);

    const fetched = await fetchFloor(standin.url, standin.session);
    const inserted = insertFloor(dir, movements);

    const ingestRate = rate(result.inserted, ingestMs);
    const fetchRate = rate(fetched.rows, fetched.ms);
    const insertRate = rate(inserted.rows, inserted.ms);
    const slower = Math.min(fetchRate, insertRate);
    console.log(`  ingest (client + validation + store + cursor, prefetch): ${ingestRate} rows/s  (${(ingestMs / 1000).toFixed(1)} s, ${result.pages} pages)`);
    console.log(
      `  of which the sync waited for the feed ${((result.waitedForFeedMs ?? 0) / 1000).toFixed(1)} s and wrote pages ${((result.writingMs ?? 0) / 1000).toFixed(1)} s` +
        ' (waiting: the fetch side was behind; writing: the database was)',
    );
    console.log(`  CPU of the client process (all its threads): ${((cpu.user + cpu.system) / result.inserted).toFixed(1)} us/row; load average now ${loadavg()[0]?.toFixed(1)} on ${cpus().length} cores`);
    console.log(`  peak RSS of the client process: ${mb(peakRss)}  (before the sync: ${mb(rssBefore)}; target < 250 MB)`);
    console.log(`  floor, bare undici fetch loop:   ${fetchRate} rows/s  (${(fetched.ms / 1000).toFixed(1)} s)`);
    console.log(`  floor, raw prepared INSERT, 1 tx: ${insertRate} rows/s  (${(inserted.ms / 1000).toFixed(1)} s)`);
    console.log(`  ingest / slower floor = ${(ingestRate / slower).toFixed(2)}x  (target >= 0.60x)`);
  } finally {
    await standin.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
