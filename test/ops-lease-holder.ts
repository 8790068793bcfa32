/**
 * A separate process for the lease tests: takes lease `name` on `db`, records
 * one `runs` row as proof it ran the job, prints "acquired" and holds the
 * lease for `holdMs` (renewing it), then releases it. LOCKED: prints the
 * message and exits 1.
 *   node --import tsx test/ops-lease-holder.ts <db> <name> <holdMs> <ttlSeconds> <waitSeconds>
 */
import { systemClock } from '../src/clock.js';
import { openDatabase } from '../src/db/connection.js';
import { isFlowreconError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { withLease } from '../src/ops/lease.js';
import { startRun, finishRun } from '../src/ops/runs.js';

const [dbPath, name, holdMs, ttl, wait] = process.argv.slice(2);
const db = openDatabase(dbPath as string);
const deps = { db, clock: systemClock, log: silentLogger() };
try {
  await withLease(deps, name as string, { ttlSeconds: Number(ttl), waitSeconds: Number(wait), pollMs: 20 }, async () => {
    const runId = startRun(db, systemClock, 'run');
    process.stdout.write(`acquired ${process.pid}\n`);
    await new Promise((r) => setTimeout(r, Number(holdMs)));
    finishRun(db, systemClock, runId, { status: 'succeeded' });
  });
  process.stdout.write('released\n');
  await db.close();
} catch (err) {
  process.stdout.write(`${isFlowreconError(err, 'LOCKED') ? 'LOCKED' : 'ERROR'}: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
