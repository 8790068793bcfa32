/**
 * A local webhook receiver for alert tests: a real HTTP server on loopback
 * that records every POST (headers, raw body, parsed JSON) and answers with a
 * status the test chooses per request. `waitFor(n)` awaits the n-th request
 * instead of sleeping.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: { text: string; alert: { type: string; state: string; value: string; threshold: string; at: string } } | null;
  status: number;
}

export interface WebhookReceiver {
  readonly url: string;
  readonly requests: ReceivedWebhook[];
  /** Status for the next requests: a number, or a function of the request's index (0-based). */
  respondWith(status: number | ((index: number) => number)): void;
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  /** Only the requests whose alert is of `type` (and `state`, when given). */
  of(type: string, state?: string): ReceivedWebhook[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(options: { status?: number | ((index: number) => number); delayMs?: number } = {}): Promise<WebhookReceiver> {
  let respond: number | ((index: number) => number) = options.status ?? 200;
  const requests: ReceivedWebhook[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: ReceivedWebhook['json'] = null;
      try {
        json = JSON.parse(body) as ReceivedWebhook['json'];
      } catch {
        json = null;
      }
      const status = typeof respond === 'function' ? respond(requests.length) : respond;
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json, status });
      for (const w of waiters.filter((w) => requests.length >= w.count)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      setTimeout(() => {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(status < 300 ? 'ok' : 'no');
      }, options.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    respondWith(status) {
      respond = status;
    },
    waitFor(count, timeoutMs = 10_000) {
      if (requests.length >= count) return Promise.resolve(requests.slice());
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`webhook receiver: waited ${timeoutMs} ms for ${count} requests, got ${requests.length}`)), timeoutMs);
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(t);
            resolve(requests.slice());
          },
        });
      });
    },
    of(type, state) {
      return requests.filter((r) => r.json?.alert.type === type && (state === undefined || r.json.alert.state === state));
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
