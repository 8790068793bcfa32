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
  | { kind: 'answered' }
  | { kind: 'page'; id: number; page: PackedPage }
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

export interface ThreadedLedgerApi extends LedgerApi {
  /** Settles once the worker has loaded and can take requests. */
  readonly ready: Promise<void>;
}

export function createThreadedLedgerApi(
  config: Config,
  deps: { log: Logger; redactor: Redactor },
  options: { credential?: LedgerCredential; limiter?: Pacer } = {},
): ThreadedLedgerApi {
  // Resolved on the caller's thread: missing credentials fail before any work, and the redactor learns the secret.
  const credential = options.credential ?? ledgerCredential(config);
  deps.redactor.add(credential.sessionToken);
  deps.redactor.add(credential.apiKey);
  const limiter = options.limiter ?? ledgerLimiter(config);
  const worker = startWorker({ config, credential });
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
        // Never rejected here: a permit the worker no longer wants is simply unused (stricter, never looser).
        void limiter.take().then(() => {
          if (!closed) worker.postMessage({ kind: 'permit', id: msg.id });
        });
        return;
      case 'pause':
        return limiter.pause(msg.ms);
      case 'answered':
        return limiter.answered();
    }
    const waiter = pending.get(msg.id);
    if (!waiter) return;
    pending.delete(msg.id);
    if (msg.kind === 'page') waiter.resolve(unpackPage(msg.page));
    else waiter.reject(new FlowreconError(msg.error.code, msg.error.message));
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
      await limiter.take(signal);
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
        worker.postMessage({ kind: 'fetch', id, params, permitted: true });
      });
    },
    async close() {
      closed = true;
      worker.removeAllListeners('exit');
      await worker.terminate();
    },
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
 * over once loaded. Both share one pacer, and the sync never has more than
 * one request out, so the allowance holds across the switch.
 */
export function createSyncLedgerApi(
  config: Config,
  deps: { log: Logger; redactor: Redactor },
  options: { credential?: LedgerCredential; limiter?: Pacer } = {},
): LedgerApi {
  const credential = options.credential ?? ledgerCredential(config);
  const limiter = options.limiter ?? ledgerLimiter(config);
  const local = createLedgerApi(config, deps, { credential, limiter });
  let threaded: ThreadedLedgerApi | null = null;
  let useThread = false;
  return {
    async fetchPage(params, signal) {
      if (useThread && threaded) return threaded.fetchPage(params, signal);
      const page = await local.fetchPage(params, signal);
      if (page.hasMore && !threaded) {
        try {
          threaded = createThreadedLedgerApi(config, deps, { credential, limiter });
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
