/**
 * Worker-thread side of the threaded ledger client: the ordinary client
 * (fetch, JSON parse, CONTRACT 2 validation, pacing, retries) runs here, so
 * the main thread is left with writing pages to SQLite. Messages:
 *   in:  {kind: 'fetch', id, params} | {kind: 'abort', id}
 *   out: {kind: 'page', id, page} | {kind: 'error', id, error} | {kind: 'log', line}
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config.js';
import { isFlowreconError } from '../errors.js';
import { createLogger } from '../log.js';
import { Redactor } from '../secrets.js';
import { createLedgerHttpClient } from './http-client.js';

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
});
const api = createLedgerHttpClient(config, { log, redactor }, { credential });
const inflight = new Map<number, AbortController>();

port.on('message', (msg: { kind: 'fetch'; id: number; params: { cursor: string | null; limit: number } } | { kind: 'abort'; id: number }) => {
  if (msg.kind === 'abort') {
    inflight.get(msg.id)?.abort(new Error('aborted'));
    return;
  }
  const controller = new AbortController();
  inflight.set(msg.id, controller);
  api.fetchPage(msg.params, controller.signal).then(
    (page) => port.postMessage({ kind: 'page', id: msg.id, page }),
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
