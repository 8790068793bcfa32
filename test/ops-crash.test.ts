/** A `flowrecon run` killed with SIGKILL mid-sync: its lease outlives it until expiry, then the next run takes over. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { systemClock } from '../src/clock.js';
import { openDatabase } from '../src/db/connection.js';
import { tryAcquire } from '../src/ops/lease.js';
import { BIN, REPO_ROOT, runCli } from './helpers.js';
import { countRows, opsRigs } from './ops-rig.js';

const rig = opsRigs();
const count = countRows;

describe('a run killed with SIGKILL', () => {
  it('keeps its lease until it expires; the next run waits for that, runs, and closes the dead run as failed', async () => {
    const r = await rig({ latencyMs: 100, extraCalls: 20 });
    const env = { ...r.env, AGENTFLOW_PAGE_SIZE: '2', FLOWRECON_LEASE_TTL_SECONDS: '6' };
    const child = spawn(process.execPath, [BIN, 'run'], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
    r.agentflow.onRequest(({ index }) => {
      if (index === 3) child.kill('SIGKILL');
    });
    await new Promise((resolve) => child.on('close', resolve));
    r.agentflow.onRequest(() => undefined);
    assert.equal(count(r.dbPath, `SELECT COUNT(*) AS n FROM leases WHERE name = 'run'`), 1, 'the dead holder left its lease behind');
    // Checked in this process right away (a spawned CLI might start after the expiry on a loaded machine).
    const db = openDatabase(r.dbPath);
    try {
      const attempt = tryAcquire(db, systemClock, 'run', 'someone-else', 6000);
      assert.equal(attempt.acquired, false, 'the lease outlives its dead holder until it expires');
    } finally {
      db.sqlite.close();
    }
    const patient = await runCli(['run', '--json'], { env: { ...env, FLOWRECON_LEASE_WAIT_SECONDS: '20' } });
    assert.equal(patient.code, 0, patient.stderr);
    const runs = (() => {
      const db = openDatabase(r.dbPath);
      try {
        return db.sqlite.prepare(`SELECT status, error FROM runs WHERE job = 'run' ORDER BY started_at`).all() as { status: string; error: string | null }[];
      } finally {
        db.sqlite.close();
      }
    })();
    assert.deepEqual(runs.map((x) => x.status), ['failed', 'succeeded']);
    assert.match(runs[0]?.error ?? '', /abandoned/);
  });
});
