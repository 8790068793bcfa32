/**
 * The ledger client on a worker thread. Parsing and validating a 500-movement
 * page costs about as much CPU as writing it; on its own thread it overlaps
 * with the SQLite insert on the main thread instead of queueing behind it,
 * which is what lets a backfill approach the speed of the slower of network
 * and disk. Same LedgerApi, same errors, logs forwarded to the caller's logger,
 * and the pacer stays on this thread so one allowance is counted.
 *
 * A worker costs a few hundred milliseconds to start, which an ordinary
 * five-minute poll (one page) should not pay: `createSyncLedgerApi` fetches in
 * process and moves to a worker only once the feed says there is a backlog.
 */
import { Worker } from 'node:worker_threads';
import type { Config } from '../config.js';
import type { LedgerPage } from '../domain.js';
import { FlowreconError, type ErrorCode } from '../errors.js';
import { unpackPage, type PackedPage } from './page-pack.js';
import type { Logger } from '../log.js';
import type { Redactor } from '../secrets.js';
import { createLedgerApi, ledgerCredential, ledgerLimiter, type LedgerApi, type LedgerCredential, type Pacer } from './client.js';

type FromWorker =
  | { kind: 'ready' }
  | { kind: 'take'; id: number }
  | { kind: 'pause'; ms: number }
  | { kind: 'answered'; at: number }
  | { kind: 'settled'; at: number }
  | { kind: 'returned'; n: number }
  | { kind: 'page'; id: number; page: PackedPage; ahead: string | null }
  | { kind: 'error'; id: number; error: { code: ErrorCode; message: string } }
  | { kind: 'log'; line: string };

const LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

function startWorker(data: unknown): Worker {
  // From the TypeScript sources (tsx) the worker needs a small JS loader; from a build it runs as is.
  const fromSources = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSources ? './fetch-worker.ts' : './fetch-worker.js', import.meta.url);
  // The worker holds at most a page or two: a small young generation keeps its garbage from inflating RSS.
  const resourceLimits = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 128 };
  return fromSources
    ? new Worker(new URL('./fetch-worker-boot.mjs', import.meta.url), { workerData: { ...(data as object), entry: entry.href }, resourceLimits })
    : new Worker(entry, { workerData: data, resourceLimits });
}

/**
 * The exact count behind the worker's permits. The shared pacer stamps a
 * permit when it is taken and moves only the latest stamp to when an answer
 * came; with a permit granted ahead while another request is still out, that
 * latest stamp is the spare one, and a request could be counted from before it
 * reached the server. So every permit handed to the worker is also counted
 * here, from its grant until the worker reports the attempt answered (then
 * from that moment for a window) or hands it back unused. A permit is granted
 * only while fewer than `limit` are out or were answered within the window.
 */
function createGate(limit: number, windowMs: number) {
  let out = 0;
  const answeredAt: number[] = [];
  let wake: (() => void) | null = null;
  let queue: Promise<void> = Promise.resolve();
  const changed = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  async function acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const now = Date.now();
      while (answeredAt.length > 0 && (answeredAt[0] as number) + windowMs <= now) answeredAt.shift();
      if (out + answeredAt.length < limit) {
        out += 1;
        return;
      }
      await new Promise<void>((resolve) => {
        const timer = answeredAt.length > 0 && out < limit ? setTimeout(changed, (answeredAt[0] as number) + windowMs - now) : undefined;
        const onAbort = () => changed();
        signal?.addEventListener('abort', onAbort, { once: true });
        wake = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
      });
    }
  }
  return {
    /** Callers are served in order, like the pacer's. */
    acquire(signal?: AbortSignal): Promise<void> {
      const next = queue.then(() => acquire(signal));
      queue = next.catch(() => undefined);
      return next;
    },
    answered(at: number) {
      out = Math.max(0, out - 1);
      // Kept sorted: a stamp is never counted from earlier than one already seen.
      answeredAt.push(Math.max(at, answeredAt[answeredAt.length - 1] ?? at));
      changed();
    },
    returned(n: number) {
      out = Math.max(0, out - n);
      changed();
    },
    /** Gives back a permit the gate granted but the pacer then refused (aborted). */
    release() {
      out = Math.max(0, out - 1);
      changed();
    },
  };
}

type Gate = ReturnType<typeof createGate>;

export interface ThreadedLedgerApi extends LedgerApi {
  /** Settles once the worker has loaded and can take requests. */
  readonly ready: Promise<void>;
}

export function createThreadedLedgerApi(
  config: Config,
  deps: { log: Logger; redactor: Redactor },
  options: { credential?: LedgerCredential; limiter?: Pacer; gate?: Gate } = {},
): ThreadedLedgerApi {
  // Resolved on the caller's thread: missing credentials fail before any work, and the redactor learns the secret.
  const credential = options.credential ?? ledgerCredential(config);
  deps.redactor.add(credential.sessionToken);
  deps.redactor.add(credential.apiKey);
  const limiter = options.limiter ?? ledgerLimiter(config);
  const worker = startWorker({ config, credential });
  const gate = options.gate ?? gateFor(config);
  // Gate and pacer both: a permit counts in the shared allowance and in the exact count.
  const grant = async (signal?: AbortSignal): Promise<void> => {
    await gate.acquire(signal);
    try {
      await limiter.take(signal);
    } catch (err) {
      gate.release();
      throw err;
    }
  };
  // The cursor the worker is already fetching ahead (its permit was granted with the last fetch).
  let aheadCursor: string | null = null;
  const pending = new Map<number, { resolve: (p: LedgerPage) => void; reject: (e: unknown) => void }>();
  let nextId = 1;
  let failure: Error | null = null;
  let closed = false;
  let markReady: () => void = () => undefined;
  let markFailed: (err: Error) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    markFailed = reject;
  });
  ready.catch(() => undefined);

  worker.on('message', (msg: FromWorker) => {
    switch (msg.kind) {
      case 'log':
        return forwardLog(deps.log, msg.line);
      case 'ready':
        return markReady();
      case 'take':
        // Never rejected here: a permit the worker no longer wants comes back as returned.
        void grant().then(() => {
          if (!closed) worker.postMessage({ kind: 'permit', id: msg.id });
        });
        return;
      case 'pause':
        return limiter.pause(msg.ms);
      case 'answered':
        limiter.answered();
        return gate.answered(msg.at);
      case 'settled':
        return gate.answered(msg.at);
      case 'returned':
        return gate.returned(msg.n);
    }
    const waiter = pending.get(msg.id);
    if (!waiter) return;
    pending.delete(msg.id);
    if (msg.kind === 'page') {
      aheadCursor = msg.ahead;
      waiter.resolve(unpackPage(msg.page));
    } else waiter.reject(new FlowreconError(msg.error.code, msg.error.message));
  });
  const failAll = (err: Error) => {
    failure = err;
    markFailed(err);
    for (const w of pending.values()) w.reject(err);
    pending.clear();
  };
  worker.on('error', (err) => failAll(new FlowreconError('INTERNAL', `ledger fetch worker failed: ${deps.redactor.scrub(err.message)}`)));
  worker.on('exit', (code) => failAll(new FlowreconError('INTERNAL', `ledger fetch worker exited (code ${code})`)));

  return {
    ready,
    async fetchPage(params, signal) {
      if (failure) throw failure;
      // The first attempt's permit is taken here, so the request leaves at once even while this
      // thread is busy in a synchronous insert (a round trip for it would wait for the insert).
      // A page the worker fetches ahead already had its permit, granted with the previous fetch.
      const fetchedAhead = aheadCursor !== null && aheadCursor === params.cursor;
      aheadCursor = null;
      if (!fetchedAhead) await grant(signal);
      if (failure) throw failure;
      const id = nextId++;
      return new Promise<LedgerPage>((resolve, reject) => {
        const onAbort = () => {
          pending.delete(id);
          worker.postMessage({ kind: 'abort', id });
          reject(signal?.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        pending.set(id, {
          resolve: (p) => {
            signal?.removeEventListener('abort', onAbort);
            resolve(p);
          },
          reject: (e) => {
            signal?.removeEventListener('abort', onAbort);
            reject(e);
          },
        });
        worker.postMessage({ kind: 'fetch', id, params, permits: fetchedAhead ? 0 : 1 });
        // The spare for the page after this one, so the worker can ask for it the moment this one
        // says has_more, without a round trip to this thread (by then busy writing).
        void grant(signal).then(
          () => {
            if (!closed) worker.postMessage({ kind: 'spare' });
          },
          () => undefined,
        );
      });
    },
    async close() {
      closed = true;
      worker.removeAllListeners('exit');
      await worker.terminate();
    },
  };
}

function gateFor(config: Config): Gate {
  // The same slack the pacer keeps past the window edge (see ledgerLimiter).
  return createGate(config.agentflowRateLimitPerMin, config.agentflowRateWindowMs + Math.max(50, Math.round(config.agentflowRateWindowMs * 0.01)));
}

/** The pacer of the in-process client, counted in the gate too, so the count holds across the switch. */
function gatedPacer(limiter: Pacer, gate: Gate): Pacer & { settle(): void } {
  let open = false;
  const settle = () => {
    if (!open) return;
    open = false;
    gate.answered(Date.now());
  };
  return {
    async take(signal) {
      settle(); // a retry after an unanswered attempt: that one ended by now
      await gate.acquire(signal);
      try {
        await limiter.take(signal);
      } catch (err) {
        gate.release();
        throw err;
      }
      open = true;
    },
    pause: (ms) => limiter.pause(ms),
    answered() {
      limiter.answered();
      settle();
    },
    settle,
  };
}

function forwardLog(log: Logger, line: string): void {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return;
  }
  const { level, msg, time: _time, pid: _pid, hostname: _host, app: _app, ...fields } = rec;
  const name = LEVELS[level as number] ?? 'info';
  log[name](fields, typeof msg === 'string' ? msg : '');
}

/**
 * The client `sync ledger` uses: in process for the first page; when that
 * page says more is waiting, a worker is started in the background and takes
 * over once loaded. Both share one pacer and one exact count (the gate), so
 * the allowance holds across the switch.
 */
export function createSyncLedgerApi(
  config: Config,
  deps: { log: Logger; redactor: Redactor },
  options: { credential?: LedgerCredential; limiter?: Pacer } = {},
): LedgerApi {
  const credential = options.credential ?? ledgerCredential(config);
  const limiter = options.limiter ?? ledgerLimiter(config);
  const gate = gateFor(config);
  const localPacer = gatedPacer(limiter, gate);
  const local = createLedgerApi(config, deps, { credential, limiter: localPacer });
  let threaded: ThreadedLedgerApi | null = null;
  let useThread = false;
  return {
    async fetchPage(params, signal) {
      if (useThread && threaded) return threaded.fetchPage(params, signal);
      const page = await local.fetchPage(params, signal).finally(localPacer.settle);
      if (page.hasMore && !threaded) {
        try {
          threaded = createThreadedLedgerApi(config, deps, { credential, limiter, gate });
          threaded.ready.then(
            () => (useThread = true),
            (err: unknown) => deps.log.warn({ err }, 'ledger fetch worker unavailable; fetching on the main thread'),
          );
        } catch (err) {
          deps.log.warn({ err }, 'ledger fetch worker unavailable; fetching on the main thread');
        }
      }
      return page;
    },
    async close() {
      await Promise.all([local.close(), threaded?.close()]);
    },
  };
}
