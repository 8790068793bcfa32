/**
 * Worker-thread side of the threaded ledger client: the ordinary client
 * (fetch, JSON parse, CONTRACT 2 validation, pacing, retries) runs here, so
 * the main thread is left with writing pages to SQLite. Messages:
 *   in:  {kind: 'fetch', id, params, permitted} | {kind: 'abort', id} | {kind: 'permit', id}
 *   out: {kind: 'ready'} | {kind: 'page', id, page} | {kind: 'error', id, error} | {kind: 'log', line}
 *        | {kind: 'take', id} | {kind: 'pause', ms} | {kind: 'answered'}
 * The pacer lives on the main thread (take/pause/answered are forwarded), so
 * however requests are split between threads, one allowance is counted.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config.js';
import { isFlowreconError } from '../errors.js';
import { createLogger } from '../log.js';
import { Redactor } from '../secrets.js';
import { createLedgerHttpClient, type Pacer } from './http-client.js';
import { packPage } from './page-pack.js';

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
// Permits the main thread granted together with a fetch: the first attempt needs no round trip,
// so it goes out while the main thread is busy writing the previous page.
let pregranted = 0;
const pacer: Pacer = {
  take(signal) {
    if (pregranted > 0) {
      pregranted -= 1;
      return Promise.resolve();
    }
    const id = nextPermit++;
    return new Promise<void>((resolve, reject) => {
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
  },
  pause: (ms) => port.postMessage({ kind: 'pause', ms }),
  answered: () => port.postMessage({ kind: 'answered' }),
};
const api = createLedgerHttpClient(config, { log, redactor }, { credential, limiter: pacer });
const inflight = new Map<number, AbortController>();

type ToWorker =
  | { kind: 'fetch'; id: number; params: { cursor: string | null; limit: number }; permitted: boolean }
  | { kind: 'abort'; id: number }
  | { kind: 'permit'; id: number };

port.postMessage({ kind: 'ready' });
port.on('message', (msg: ToWorker) => {
  if (msg.kind === 'permit') {
    const grant = permits.get(msg.id);
    permits.delete(msg.id);
    grant?.();
    return;
  }
  if (msg.kind === 'abort') {
    inflight.get(msg.id)?.abort(new Error('aborted'));
    return;
  }
  if (msg.permitted) pregranted += 1;
  const controller = new AbortController();
  inflight.set(msg.id, controller);
  api.fetchPage(msg.params, controller.signal).then(
    (page) => port.postMessage({ kind: 'page', id: msg.id, page: packPage(page) }),
    (err: unknown) =>
      port.postMessage({
        kind: 'error',
        id: msg.id,
        error: {
          code: isFlowreconError(err) ? err.code : 'INTERNAL',
          message: redactor.scrub(err instanceof Error ? err.message : String(err)),
        },
      }),
  ).finally(() => inflight.delete(msg.id));
});
