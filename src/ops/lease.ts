/**
 * One holder per job across processes. node-cron's noOverlap only covers one
 * process; this lease lives in the database: taken in an immediate
 * transaction (so two processes cannot both see it free), renewed while the
 * job runs, and expiring `ttl` after the last renewal if its holder dies.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { sleep, type Clock } from '../clock.js';
import { immediate, type Db } from '../db/connection.js';
import { FlowreconError } from '../errors.js';
import type { Logger } from '../log.js';

/** This process's identity as a lease holder: host, pid and a nonce (pids are reused). */
export const PROCESS_HOLDER = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;

export interface LeaseRow {
  name: string;
  holder: string;
  acquired_at: string;
  expires_at: string;
}

/** Take `name` if it is free, expired, or already ours. Returns the current row when someone else holds it. */
export function tryAcquire(
  db: Db,
  clock: Clock,
  name: string,
  holder: string,
  ttlMs: number,
): { acquired: true } | { acquired: false; current: LeaseRow } {
  return immediate(db, () => {
    const now = clock.now();
    const current = db.sqlite.prepare('SELECT name, holder, acquired_at, expires_at FROM leases WHERE name = ?').get(name) as LeaseRow | undefined;
    if (current && current.holder !== holder && Date.parse(current.expires_at) > now.getTime()) {
      return { acquired: false as const, current };
    }
    db.sqlite
      .prepare(
        `INSERT INTO leases (name, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at`,
      )
      .run(name, holder, now.toISOString(), new Date(now.getTime() + ttlMs).toISOString());
    return { acquired: true as const };
  });
}

/** Push the expiry out. False when the lease is no longer ours (it expired and someone took it). */
export function renew(db: Db, clock: Clock, name: string, holder: string, ttlMs: number): boolean {
  const expires = new Date(clock.now().getTime() + ttlMs).toISOString();
  return db.sqlite.prepare('UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ?').run(expires, name, holder).changes === 1;
}

export function release(db: Db, name: string, holder: string): void {
  db.sqlite.prepare('DELETE FROM leases WHERE name = ? AND holder = ?').run(name, holder);
}

export interface Lease {
  readonly name: string;
  readonly holder: string;
  /** Aborted if a renewal finds the lease taken over: the job should stop. */
  readonly lost: AbortSignal;
  release(): void;
}

export interface LeaseOptions {
  ttlSeconds: number;
  waitSeconds: number;
  holder?: string;
  signal?: AbortSignal;
  /** Poll interval while waiting, ms. */
  pollMs?: number;
}

const held = new Map<string, { db: Db; holder: string }>();
let exitHookInstalled = false;

/** Leases still held when the process exits (an uncaught error, process.exit) are released on the way out. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [name, { db, holder }] of held) {
      try {
        release(db, name, holder);
      } catch {
        // the database may already be closed; the lease then expires on its own
      }
    }
  });
}

/**
 * Acquire `name`, waiting up to `waitSeconds` for its holder to finish, then
 * keep it renewed (every ttl/3) until released. Throws LOCKED with who holds it.
 */
export async function acquireLease(deps: { db: Db; clock: Clock; log: Logger }, name: string, options: LeaseOptions): Promise<Lease> {
  const holder = options.holder ?? PROCESS_HOLDER;
  const ttlMs = options.ttlSeconds * 1000;
  const deadline = Date.now() + options.waitSeconds * 1000;
  let logged = false;
  for (;;) {
    const r = tryAcquire(deps.db, deps.clock, name, holder, ttlMs);
    if (r.acquired) break;
    if (options.signal?.aborted || Date.now() >= deadline) {
      throw new FlowreconError(
        'LOCKED',
        `job '${name}' is already running in another flowrecon process (holder ${r.current.holder}, lease until ${r.current.expires_at}); waited ${options.waitSeconds} s — try again later`,
      );
    }
    if (!logged) {
      deps.log.info({ lease: name, holder: r.current.holder, expiresAt: r.current.expires_at }, 'waiting for another process to finish the job');
      logged = true;
    }
    try {
      await sleep(Math.min(options.pollMs ?? 200, Math.max(1, deadline - Date.now())), options.signal);
    } catch {
      // aborted: loop once more to report LOCKED
    }
  }

  const lost = new AbortController();
  const timer = setInterval(
    () => {
      try {
        if (!renew(deps.db, deps.clock, name, holder, ttlMs)) {
          deps.log.error({ lease: name }, 'lease lost to another process; stopping the job');
          lost.abort(new FlowreconError('LOCKED', `lease '${name}' was taken over by another process`));
          clearInterval(timer);
        }
      } catch (err) {
        deps.log.warn({ err, lease: name }, 'lease renewal failed; retrying');
      }
    },
    Math.max(50, Math.floor(ttlMs / 3)),
  );
  timer.unref();
  installExitHook();
  held.set(name, { db: deps.db, holder });
  let released = false;
  return {
    name,
    holder,
    lost: lost.signal,
    release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      held.delete(name);
      try {
        release(deps.db, name, holder);
      } catch (err) {
        deps.log.warn({ err, lease: name }, 'lease release failed; it expires on its own');
      }
    },
  };
}

/** Run `fn` holding `name`; released however `fn` ends. */
export async function withLease<T>(
  deps: { db: Db; clock: Clock; log: Logger },
  name: string,
  options: LeaseOptions,
  fn: (lease: Lease) => Promise<T>,
): Promise<T> {
  const lease = await acquireLease(deps, name, options);
  try {
    return await fn(lease);
  } finally {
    lease.release();
  }
}
