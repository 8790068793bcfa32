/**
 * Worker-thread side of the threaded ledger client: the ordinary client
 * (fetch, JSON parse, CONTRACT 2 validation, pacing, retries) runs here, so
 * the main thread is left with writing pages to SQLite. Messages:
 *   in:  {kind: 'fetch', id, params, permits} | {kind: 'abort', id} | {kind: 'permit', id} | {kind: 'spare'}
 *   out: {kind: 'ready'} | {kind: 'page', id, page, ahead} | {kind: 'error', id, error} | {kind: 'log', line}
 *        | {kind: 'take', id} | {kind: 'pause', ms} | {kind: 'answered', at} | {kind: 'settled', at}
 *        | {kind: 'returned', n}
 * The pacer lives on the main thread (take/pause/answered are forwarded), so
 * however requests are split between threads, one allowance is counted. Every
 * permit the main thread hands over comes back as exactly one of: an attempt
 * answered or settled (with the time, so the main thread can count it from
 * then), or a permit returned unused.
 *
 * While the main thread writes a page, the worker already fetches the next one:
 * as soon as a requested page says has_more, its next_cursor is requested with
 * a spare permit the main thread granted ahead (at most one page ahead). The
 * main thread's fetch for that cursor is then served from it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config.js';
import { isFlowreconError } from '../errors.js';
import { createLogger } from '../log.js';
import { Redactor } from '../secrets.js';
import { createLedgerHttpClient, type Pacer } from './http-client.js';
import { packPage } from './page-pack.js';
import type { LedgerPage } from '../domain.js';

interface WorkerInput {
  config: Config;
  credential: { apiKey?: string; sessionToken?: string };
}

const port = parentPort;
if (!port) throw new Error('fetch-worker must run in a worker thread');
const { config, credential } = workerData as WorkerInput;
const redactor = new Redactor();
const log = createLogger({
  level: config.logLevel,
  redactor,
  destination: { write: (line: string) => port.postMessage({ kind: 'log', line }) },
}).child({ thread: 'fetch-worker' });
const permits = new Map<number, () => void>();
let nextPermit = 1;
// Permits the main thread granted ahead (with a fetch, or spare for the page after): no round trip
// is needed, so a request goes out while the main thread is busy writing the previous page.
let pregranted = 0;
// The attempt whose permit was used and whose outcome the main thread has not heard yet.
let attemptOpen = false;
const settleOpen = () => {
  if (!attemptOpen) return;
  attemptOpen = false;
  port.postMessage({ kind: 'settled', at: Date.now() });
};
const returnPregranted = () => {
  if (pregranted === 0) return;
  port.postMessage({ kind: 'returned', n: pregranted });
  pregranted = 0;
};
const pacer: Pacer = {
  async take(signal) {
    // A retry after an unanswered attempt (network error): that attempt ended by now at the latest.
    settleOpen();
    if (pregranted > 0) {
      pregranted -= 1;
    } else {
      const id = nextPermit++;
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          permits.delete(id);
          reject(signal?.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        permits.set(id, () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
        port.postMessage({ kind: 'take', id });
      });
      if (signal?.aborted) {
        // Granted but not used: handed straight back.
        port.postMessage({ kind: 'returned', n: 1 });
        throw signal.reason;
      }
    }
    attemptOpen = true;
  },
  pause(ms) {
    // Permits granted before a Retry-After must not skip it: the next attempts ask again.
    returnPregranted();
    port.postMessage({ kind: 'pause', ms });
  },
  answered() {
    if (!attemptOpen) return;
    attemptOpen = false;
    port.postMessage({ kind: 'answered', at: Date.now() });
  },
};
const api = createLedgerHttpClient(config, { log, redactor }, { credential, limiter: pacer });

type Params = { cursor: string | null; limit: number };
interface Job {
  params: Params;
  controller: AbortController;
  result: Promise<LedgerPage>;
}
const start = (params: Params): Job => {
  const controller = new AbortController();
  const result = api.fetchPage(params, controller.signal).finally(settleOpen);
  result.catch(() => undefined);
  return { params, controller, result };
};
// The page fetched ahead of the main thread's request (at most one).
let ahead: Job | null = null;
const dropAhead = async (): Promise<void> => {
  const job = ahead;
  ahead = null;
  if (!job) return;
  job.controller.abort(new Error('aborted'));
  await job.result.catch(() => undefined);
};
const inflight = new Map<number, Job>();

type ToWorker =
  | { kind: 'fetch'; id: number; params: Params; permits: number }
  | { kind: 'abort'; id: number }
  | { kind: 'permit'; id: number }
  | { kind: 'spare' };

const errorOf = (err: unknown) => ({
  code: isFlowreconError(err) ? err.code : 'INTERNAL',
  message: redactor.scrub(err instanceof Error ? err.message : String(err)),
});

const serve = async (id: number, params: Params): Promise<void> => {
  let job: Job;
  if (ahead && ahead.params.cursor === params.cursor && ahead.params.limit === params.limit) {
    job = ahead;
    ahead = null;
  } else {
    // Not the page fetched ahead: that request is ended first, so one attempt is out at a time.
    await dropAhead();
    job = start(params);
  }
  inflight.set(id, job);
  let page: LedgerPage;
  try {
    page = await job.result;
  } catch (err) {
    if (inflight.delete(id)) port.postMessage({ kind: 'error', id, error: errorOf(err) });
    returnPregranted();
    return;
  }
  if (!inflight.delete(id)) return; // aborted by the main thread meanwhile
  let next: string | null = null;
  if (page.hasMore && page.nextCursor !== null && page.nextCursor !== params.cursor) {
    next = page.nextCursor;
    ahead = start({ cursor: next, limit: params.limit });
  } else {
    returnPregranted();
  }
  port.postMessage({ kind: 'page', id, page: packPage(page), ahead: next });
};

port.postMessage({ kind: 'ready' });
port.on('message', (msg: ToWorker) => {
  switch (msg.kind) {
    case 'permit': {
      const grant = permits.get(msg.id);
      permits.delete(msg.id);
      // A permit nobody waits for any more (its attempt was aborted) goes back.
      if (grant) grant();
      else port.postMessage({ kind: 'returned', n: 1 });
      return;
    }
    case 'spare':
      pregranted += 1;
      return;
    case 'abort': {
      const job = inflight.get(msg.id);
      inflight.delete(msg.id);
      job?.controller.abort(new Error('aborted'));
      void dropAhead().then(returnPregranted);
      return;
    }
    case 'fetch':
      pregranted += msg.permits;
      void serve(msg.id, msg.params);
  }
});
