/**
 * `flowrecon schedule`: as a real process with second-level schedules against
 * the stand-ins (jobs run, heartbeats, clean SIGTERM, one daemon per
 * database, failures survived, resume after SIGTERM mid-sync), and the
 * catch-up at start in one process with an injected clock.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { JOBS } from '../jobs/index.js';
import { ManualClock } from '../src/clock.js';
import { configFor } from '../src/config.js';
import { openDatabase, type Db } from '../src/db/connection.js';
import { runDaemon } from '../src/ops/daemon.js';
import type { JobDeps } from '../src/ops/jobs.js';
import { startRun, finishRun } from '../src/ops/runs.js';
import type { Stages } from '../src/ops/stages.js';
import { Redactor } from '../src/secrets.js';
import { BIN, memoryLogger, REPO_ROOT, tempDir } from './helpers.js';
import { SESSION, startOpsRig, type OpsRig } from './ops-rig.js';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.js';

let receiver: WebhookReceiver;
const rigs: OpsRig[] = [];
const children: ChildProcess[] = [];
before(async () => {
  receiver = await startWebhookReceiver();
});
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await receiver.close();
  for (const r of rigs) await r.close();
});

const FAST = { SCHEDULE_LEDGER: '* * * * * *', SCHEDULE_RUN: '*/2 * * * * *', SCHEDULE_DAILY: '*/3 * * * * *' };

interface Daemon {
  child: ChildProcess;
  lines: () => Record<string, unknown>[];
  /** Resolves once a log line matches. */
  until(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

function startDaemon(env: Record<string, string>): Daemon {
  const child = spawn(process.execPath, [BIN, 'schedule'], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const parsed: Record<string, unknown>[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: () => void }[] = [];
  let buf = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(line) as Record<string, unknown>;
      } catch {
        obj = { msg: line };
      }
      parsed.push(obj);
      for (const w of waiters.slice()) {
        if (w.pred(obj)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  return {
    child,
    lines: () => parsed,
    exited,
    until(pred, timeoutMs = 15_000) {
      if (parsed.some(pred)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out; log:\n${parsed.map((l) => JSON.stringify(l)).join('\n')}`)), timeoutMs);
        waiters.push({
          pred,
          resolve: () => {
            clearTimeout(t);
            resolve();
          },
        });
      });
    },
  };
}

const heartbeats = (d: Daemon, job: string, status?: string) => d.lines().filter((l) => l.msg === 'heartbeat' && l.job === job && (status === undefined || l.status === status));

function query<T>(dbPath: string, sql: string): T[] {
  const db = openDatabase(dbPath);
  try {
    return db.sqlite.prepare(sql).all() as T[];
  } finally {
    db.sqlite.close();
  }
}

describe('flowrecon schedule (process)', () => {
  it('runs its jobs on second-level schedules with a heartbeat each, then stops cleanly on SIGTERM', async () => {
    const rig = await startOpsRig();
    rigs.push(rig);
    const d = startDaemon({ ...rig.env, ...FAST });
    await d.until(() => heartbeats(d, 'ledger', 'succeeded').length >= 2 && heartbeats(d, 'run', 'succeeded').length >= 2 && heartbeats(d, 'daily', 'succeeded').length >= 1);
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0);
    assert.ok(d.lines().some((l) => l.msg === 'scheduler stopped'));
    const db = rig.dbPath;
    const byJob = query<{ job: string; n: number }>(db, `SELECT job, COUNT(*) AS n FROM runs WHERE status = 'succeeded' GROUP BY job ORDER BY job`);
    assert.ok((byJob.find((r) => r.job === 'ledger')?.n ?? 0) >= 2);
    assert.ok((byJob.find((r) => r.job === 'run')?.n ?? 0) >= 2);
    const daily = query<{ window_from: string; counts_json: string }>(db, `SELECT window_from, counts_json FROM runs WHERE job = 'daily' AND status = 'succeeded'`);
    assert.equal(daily.length, 1, 'daily fired every 3 s but yesterday is one window, produced once');
    assert.deepEqual(query(db, 'SELECT * FROM leases'), [], 'every lease released');
    assert.deepEqual(query(db, `SELECT run_id FROM runs WHERE status = 'running'`), [], 'no run left open');
  });

  it('one daemon per database: a second one waits briefly, then exits 1 saying why', async () => {
    const rig = await startOpsRig();
    rigs.push(rig);
    const first = startDaemon({ ...rig.env, SCHEDULE_LEDGER: '0 0 1 1 *', SCHEDULE_RUN: '0 0 1 1 *', SCHEDULE_DAILY: '0 0 1 1 *' });
    await first.until((l) => l.msg === 'scheduler started');
    const second = startDaemon({ ...rig.env, FLOWRECON_LEASE_WAIT_SECONDS: '1' });
    assert.equal(await second.exited, 1);
    assert.ok(second.lines().some((l) => /flowrecon: locked: job 'schedule' is already running in another flowrecon process/.test(String(l.msg))));
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0);
  });

  it('a failing job is recorded and alerted, the daemon keeps going, and a rotated session file is picked up without a restart', async () => {
    const rig = await startOpsRig();
    rigs.push(rig);
    const sessionFile = join(rig.dir, 'af_session');
    writeFileSync(sessionFile, 'expired-cookie-0d9a7c\n', { mode: 0o600 });
    const { AGENTFLOW_SESSION: _unused, ...env } = rig.env;
    const start = receiver.requests.length;
    const d = startDaemon({ ...env, AGENTFLOW_SESSION_FILE: sessionFile, ...FAST, SCHEDULE_RUN: '0 0 1 1 *', SCHEDULE_DAILY: '0 0 1 1 *', ALERT_WEBHOOK_URL: receiver.url });
    await d.until(() => heartbeats(d, 'ledger', 'failed').length >= 3);
    // Rotate the cookie the way the operations notes say: write aside, rename over.
    writeFileSync(`${sessionFile}.new`, `${SESSION}\n`, { mode: 0o600 });
    renameSync(`${sessionFile}.new`, sessionFile);
    await d.until(() => heartbeats(d, 'ledger', 'succeeded').length >= 1);
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0);
    const failed = query<{ job: string; error: string }>(rig.dbPath, `SELECT job, error FROM runs WHERE status = 'failed' AND job = 'ledger'`);
    assert.ok(failed.length >= 3);
    const auth = receiver.requests.slice(start).filter((r) => r.json?.alert.type === 'AUTH_FAILED');
    assert.deepEqual(auth.map((r) => r.json?.alert.state), ['firing', 'ok'], 'fired once for all the failing jobs, resolved once');
    const log = d.lines().map((l) => JSON.stringify(l)).join('\n');
    assert.ok(!log.includes(SESSION) && !log.includes('expired-cookie-0d9a7c'), 'session file contents never logged');
  });

  it('SIGTERM during a long sync: exit 0, and the next start resumes from the last committed page', async () => {
    const rig = await startOpsRig({ latencyMs: 100, extraCalls: 20 });
    rigs.push(rig);
    const env = { ...rig.env, AGENTFLOW_PAGE_SIZE: '2', SCHEDULE_LEDGER: '0 0 1 1 *', SCHEDULE_RUN: '0 0 1 1 *', SCHEDULE_DAILY: '0 0 1 1 *' };
    const d = startDaemon(env); // never ran: catches up a run at once
    rig.agentflow.onRequest(({ index }) => {
      if (index === 3) d.child.kill('SIGTERM');
    });
    assert.equal(await d.exited, 0);
    const db = rig.dbPath;
    const stored = query<{ n: number }>(db, 'SELECT COUNT(*) AS n FROM ledger_movements')[0]?.n ?? 0;
    assert.ok(stored > 0 && stored < rig.feed.movements.length, `stored ${stored}`);
    rig.agentflow.onRequest(() => undefined);
    const before = rig.agentflow.requests.length;
    const again = startDaemon({ ...env, AGENTFLOW_PAGE_SIZE: '500' });
    await again.until(() => heartbeats(again, 'run', 'succeeded').length >= 1);
    again.child.kill('SIGTERM');
    assert.equal(await again.exited, 0);
    assert.notEqual(rig.agentflow.requests[before]?.cursor, null, 'resumed from the stored cursor');
    assert.equal(query<{ n: number }>(db, 'SELECT COUNT(*) AS n FROM ledger_movements')[0]?.n, rig.feed.movements.length);
  });
});

describe('catch-up at start (injected clock)', () => {
  function setup(now: string) {
    const dir = tempDir();
    const config = configFor({
      FLOWRECON_DB: join(dir, 'c.db'),
      FLOWRECON_REPORTS_DIR: join(dir, 'reports'),
      FLOWRECON_TZ: 'Europe/Berlin',
      SCHEDULE_LEDGER: '0 0 1 1 *',
      SCHEDULE_RUN: '*/15 * * * *',
      SCHEDULE_DAILY: '0 6 * * *',
      FLOWRECON_LEASE_WAIT_SECONDS: '0',
    });
    const db = openDatabase(config.dbPath);
    const clock = new ManualClock(now);
    const calls: string[] = [];
    let onDaily: (date: string) => void = () => undefined;
    const file = (path: string) => ({ path, rows: 0 });
    const stages: Partial<Stages> = {
      syncLedger: async () => {
        calls.push('syncLedger');
        return { pages: 1, fetched: 0, inserted: 0, duplicates: 0, breaks: 0, aborted: false, balance: null };
      },
      syncStripe: async () => ({ charges: 0, refunds: 0, events: 0, aborted: false }),
      reconcile: async (_d, o) => {
        calls.push('reconcile');
        return { runId: o.runId, discrepancies: { open: 0, new: 0, resolved: 0, by_type: {} }, unacknowledged: 0, newIds: [] };
      },
      writeRunReports: async () => ({ discrepancies: join(dir, 'd.csv'), summary: join(dir, 's.csv') }),
      writeDiscrepancyReport: async (_d, o) => file(o.outPath),
      writeSummary: async (_db, p) => file(p),
      exportCalls: async (_db, _c, _w, p) => file(p),
      exportMovements: async (_db, _w, p) => file(p),
      exportCharges: async (_db, w, p) => {
        calls.push(`daily ${w.from}`);
        onDaily(p);
        return file(p);
      },
    };
    const api = { close: async () => undefined, fetchPage: async () => { throw new Error('not used'); } };
    const deps: JobDeps = {
      db,
      config,
      clock,
      log: memoryLogger().log,
      redactor: new Redactor(),
      ledgerApi: () => api,
      stripeApi: () => api as never,
      stages,
    };
    return { db, clock, calls, deps, whenDaily: (n: number) => new Promise<void>((resolve) => {
      let seen = 0;
      onDaily = () => {
        if (++seen === n) resolve();
      };
    }) };
  }

  function seedRun(db: Db, clock: ManualClock, job: 'run' | 'daily', at: string, window?: { from: string; to: string; date: string }) {
    const was = clock.now();
    clock.set(at);
    const id = startRun(db, clock, job, window ? { window } : {});
    finishRun(db, clock, id, { status: 'succeeded', counts: window ? { date: window.date } : {} });
    clock.set(was);
  }

  it('after a gap of three daily periods: runs once, then each missed window once, oldest first; a restart owes nothing', async () => {
    const { db, clock, calls, deps, whenDaily } = setup('2026-12-05T09:00:00Z');
    seedRun(db, clock, 'run', '2026-12-02T04:00:00Z');
    // 2026-12-01 (Berlin) was reported on the 2nd at 06:00; the fires on the 3rd, 4th and 5th were missed.
    seedRun(db, clock, 'daily', '2026-12-02T05:00:00Z', { from: '2026-11-30T23:00:00.000Z', to: '2026-12-01T23:00:00.000Z', date: '2026-12-01' });
    const controller = new AbortController();
    const three = whenDaily(3);
    const daemon = runDaemon(deps, JOBS, { signal: controller.signal });
    await three;
    controller.abort();
    await daemon;
    assert.deepEqual(calls, [
      'syncLedger',
      'reconcile',
      'daily 2026-12-01T23:00:00.000Z',
      'daily 2026-12-02T23:00:00.000Z',
      'daily 2026-12-03T23:00:00.000Z',
    ]);
    const windows = db.sqlite.prepare(`SELECT window_from, window_to, status FROM runs WHERE job = 'daily' ORDER BY window_from`).all();
    assert.equal(windows.length, 4);
    assert.deepEqual(
      windows.slice(1),
      [
        { window_from: '2026-12-01T23:00:00.000Z', window_to: '2026-12-02T23:00:00.000Z', status: 'succeeded' },
        { window_from: '2026-12-02T23:00:00.000Z', window_to: '2026-12-03T23:00:00.000Z', status: 'succeeded' },
        { window_from: '2026-12-03T23:00:00.000Z', window_to: '2026-12-04T23:00:00.000Z', status: 'succeeded' },
      ],
    );

    // A restart a minute later: the run is fresh and every window is done.
    calls.length = 0;
    clock.advance(60_000);
    const c2 = new AbortController();
    const again = runDaemon(deps, JOBS, { signal: c2.signal });
    await new Promise((r) => setTimeout(r, 300));
    c2.abort();
    await again;
    assert.deepEqual(calls, []);
    await db.close();
  });

  it('across a DST change the missed windows are whole local days, none skipped or doubled', async () => {
    const { db, clock, calls, deps, whenDaily } = setup('2026-10-27T09:00:00Z');
    seedRun(db, clock, 'run', '2026-10-27T08:59:00Z');
    seedRun(db, clock, 'daily', '2026-10-24T05:00:00Z', { from: '2026-10-22T22:00:00.000Z', to: '2026-10-23T22:00:00.000Z', date: '2026-10-23' });
    const controller = new AbortController();
    const three = whenDaily(3);
    const daemon = runDaemon(deps, JOBS, { signal: controller.signal });
    await three;
    controller.abort();
    await daemon;
    // 24th (CEST), 25th (25 hours: clocks go back), 26th (CET).
    assert.deepEqual(calls, ['daily 2026-10-23T22:00:00.000Z', 'daily 2026-10-24T22:00:00.000Z', 'daily 2026-10-25T23:00:00.000Z']);
    await db.close();
  });
});
