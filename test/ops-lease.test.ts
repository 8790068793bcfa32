/** Job leases: one holder across processes, renewal, expiry after a crash, release. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ManualClock, systemClock } from '../src/clock.js';
import { openDatabase } from '../src/db/connection.js';
import { isFlowreconError } from '../src/errors.js';
import { acquireLease, release, renew, tryAcquire } from '../src/ops/lease.js';
import { memoryLogger, REPO_ROOT, tempDir } from './helpers.js';

const HOLDER = join(REPO_ROOT, 'test', 'ops-lease-holder.ts');

function spawnHolder(db: string, name: string, holdMs: number, ttl: number, wait: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, db, name, String(holdMs), String(ttl), String(wait)], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const acquired = new Promise<void>((resolve) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('acquired')) resolve();
    });
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, out })),
  );
  return { child, acquired, exited };
}

describe('lease (one process)', () => {
  it('is exclusive until released or expired, and renewal keeps it', async () => {
    const db = openDatabase(join(tempDir(), 'l.db'));
    const clock = new ManualClock('2026-12-04T10:00:00Z');
    assert.deepEqual(tryAcquire(db, clock, 'run', 'a', 10_000), { acquired: true });
    const denied = tryAcquire(db, clock, 'run', 'b', 10_000);
    assert.equal(denied.acquired, false);
    assert.equal(!denied.acquired && denied.current.holder, 'a');
    assert.equal(tryAcquire(db, clock, 'ledger', 'b', 10_000).acquired, true, 'other jobs are separate');
    clock.advance(8_000);
    assert.equal(renew(db, clock, 'run', 'a', 10_000), true);
    clock.advance(8_000);
    assert.equal(tryAcquire(db, clock, 'run', 'b', 10_000).acquired, false, 'renewed: still held 16 s after taking it');
    clock.advance(2_001);
    assert.equal(tryAcquire(db, clock, 'run', 'b', 10_000).acquired, true, 'expired: taken over');
    assert.equal(renew(db, clock, 'run', 'a', 10_000), false, 'the old holder learns it lost the lease');
    release(db, 'run', 'a');
    assert.equal(tryAcquire(db, clock, 'run', 'c', 10_000).acquired, false, "releasing someone else's lease does nothing");
    release(db, 'run', 'b');
    assert.equal(tryAcquire(db, clock, 'run', 'c', 10_000).acquired, true);
    await db.close();
  });

  it('waits for a busy lease, then fails with LOCKED naming the job and holder', async () => {
    const db = openDatabase(join(tempDir(), 'l.db'));
    const { log } = memoryLogger();
    const deps = { db, clock: systemClock, log };
    const first = await acquireLease(deps, 'run', { ttlSeconds: 30, waitSeconds: 0, holder: 'first' });
    const t0 = Date.now();
    await assert.rejects(
      acquireLease(deps, 'run', { ttlSeconds: 30, waitSeconds: 0.3, holder: 'second', pollMs: 20 }),
      (err: unknown) => isFlowreconError(err, 'LOCKED') && /job 'run'/.test(err.message) && /first/.test(err.message),
    );
    assert.ok(Date.now() - t0 >= 250, 'it waited before giving up');
    // A holder that finishes within the wait lets the second one in.
    setTimeout(() => first.release(), 100);
    const second = await acquireLease(deps, 'run', { ttlSeconds: 30, waitSeconds: 5, holder: 'second', pollMs: 20 });
    second.release();
    await db.close();
  });
});

describe('lease (across processes)', () => {
  it('lets exactly one of two racing processes run the job', async () => {
    const db = join(tempDir(), 'race.db');
    openDatabase(db).sqlite.close(); // migrated before the race
    const a = spawnHolder(db, 'run', 1500, 30, 0);
    const b = spawnHolder(db, 'run', 1500, 30, 0);
    const [ra, rb] = await Promise.all([a.exited, b.exited]);
    const codes = [ra.code, rb.code].sort();
    assert.deepEqual(codes, [0, 1], `${ra.out} | ${rb.out}`);
    assert.match([ra.out, rb.out].join('\n'), /LOCKED: job 'run' is already running in another flowrecon process/);
    const check = openDatabase(db);
    assert.equal((check.sqlite.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number }).n, 1, 'the job ran once');
    assert.equal((check.sqlite.prepare('SELECT COUNT(*) AS n FROM leases').get() as { n: number }).n, 0, 'released on exit');
    await check.close();
  });

  it('a holder killed with SIGKILL loses the lease once it expires', async () => {
    const db = join(tempDir(), 'kill.db');
    openDatabase(db).sqlite.close();
    const holder = spawnHolder(db, 'run', 60_000, 1, 0);
    await holder.acquired;
    holder.child.kill('SIGKILL');
    const dead = await holder.exited;
    assert.equal(dead.signal, 'SIGKILL');
    const check = openDatabase(db);
    const deps = { db: check, clock: systemClock, log: memoryLogger().log };
    await assert.rejects(acquireLease(deps, 'run', { ttlSeconds: 1, waitSeconds: 0, holder: 'next' }), (e: unknown) => isFlowreconError(e, 'LOCKED'));
    const t0 = Date.now();
    const lease = await acquireLease(deps, 'run', { ttlSeconds: 1, waitSeconds: 5, holder: 'next', pollMs: 50 });
    assert.ok(Date.now() - t0 < 1_500, 'taken over within the lease ttl');
    lease.release();
    await check.close();
  });
});
