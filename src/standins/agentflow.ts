/**
 * A local AgentFlow: a real HTTP server on loopback speaking CONTRACT 2 from
 * a data set, for the tests and the demo. Cookie and bearer auth, opaque
 * cursors, the per-user rate limit with 429 + Retry-After, and the faults a
 * real feed shows: 503s, sockets dropped mid-body, movements repeated across
 * pages, a malformed page, latency. It keeps a log of every request so tests
 * can prove what the client did (e.g. never more than the allowance in any
 * window).
 *
 * Standalone (for benchmarks and crash tests in another process):
 *   node --import tsx src/standins/agentflow.ts --movements 100000 --rate-limit 0
 * prints one JSON line {"url": ..., "session": ...} on stdout and serves until killed.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { formatFlow, tryParseFlowMicro } from '../money.js';
import type { AgentflowDataset, WireMovement } from './types.js';

export interface AgentflowStandinOptions {
  dataset: AgentflowDataset;
  port?: number;
  /** Requests allowed per window per user; 0 = unlimited. Default 240. */
  rateLimitPerMin?: number;
  /** Length of the rate window, ms (default 60000; tests shrink it). */
  windowMs?: number;
  latencyMs?: number;
  /** Faults switched on from the start (see setFaults). */
  faults?: AgentflowFaults;
  /** Clock for `as_of` and the rate window (default Date.now). */
  now?: () => number;
}

/** Switchable misbehaviour. Counters ("next N") count down as requests arrive. */
export interface AgentflowFaults {
  /** Answer 503 to the next N requests. */
  fail503Next?: number;
  /** Answer 503 to every Nth request (counting every request since the server started). */
  fail503Every?: number;
  /** Answer 429 with `Retry-After: retryAfterSec` to the next N requests, whatever the window says. */
  fail429Next?: number;
  retryAfterSec?: number;
  /** Send half of the next N page bodies, then destroy the socket. */
  dropNext?: number;
  /** Drop every Nth page body midway. */
  dropEvery?: number;
  /** Start every page this many movements before its cursor (at-least-once delivery). */
  repeat?: number;
  /**
   * Corrupt the page that holds movement `movementId` (set its `field` to
   * `value`, or delete it when `value` is undefined); without a movement id,
   * corrupt the next page's top-level `field`. Stays on until cleared: it is a
   * data bug, not a transient fault.
   */
  malformed?: { movementId?: string; field: string; value?: unknown };
  /** Extra delay before every answer, ms. */
  latencyMs?: number;
}

export interface RequestRecord {
  /** Arrival time (the stand-in's clock), ms. */
  at: number;
  status: number;
  /** The auth identity used ("session:…" / "key:…", shortened), or "" when none was accepted. */
  user: string;
  cursor: string | null;
  limit: number | null;
  /** Movements served in the page (200 only). */
  served: number;
  /** The body was cut midway and the socket destroyed. */
  dropped?: boolean;
}

export interface AgentflowStandin {
  /** Base URL, e.g. http://127.0.0.1:43121 */
  readonly url: string;
  /** Append movements to the feed (balance_after chain is the caller's). */
  append(movements: WireMovement[]): void;
  close(): Promise<void>;
  /** The movements the feed holds, in server order (a copy). */
  movements(): WireMovement[];
  /** Replace the accepted cookies / bearer keys (session rotation). */
  setSessions(sessions: string[]): void;
  setApiKeys(keys: string[]): void;
  /** Replace the fault switches (merged into the current ones; pass undefined values to clear). */
  setFaults(faults: AgentflowFaults): void;
  /** Every request so far, oldest first. */
  readonly requests: readonly RequestRecord[];
  /** Count of requests answered with each status. */
  countByStatus(): Record<number, number>;
  /** Most requests that arrived within any span of `windowMs` (default: the rate window). */
  maxInAnyWindow(windowMs?: number): number;
  /** Requests per consecutive fixed window since the server started. */
  perWindow(): number[];
  /** Called as each request arrives (before it is answered): crash tests kill the client at request N. */
  onRequest(listener: (record: { index: number; cursor: string | null }) => void): void;
  readonly windowMs: number;
  readonly rateLimitPerMin: number;
}

const PATH = '/me/flow-balance';
const FINAL = new Set(['settle', 'release', 'refund']);

function encodeCursor(position: number): string {
  return `c_${Buffer.from(`p${position}`).toString('base64url')}`;
}

function decodeCursor(cursor: string): number | null {
  if (!cursor.startsWith('c_')) return null;
  const m = /^p(\d+)$/.exec(Buffer.from(cursor.slice(2), 'base64url').toString());
  return m ? Number(m[1]) : null;
}

function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

/** Open reservations: the reserved total, kept up to date as movements are appended. */
class ReservedTracker {
  readonly #open = new Map<string, number>();
  #total = 0;
  add(m: WireMovement): void {
    if (!m.call_id) return;
    if (m.type === 'reserve') {
      const micro = -(tryParseFlowMicro(m.amount) ?? 0);
      this.#open.set(m.call_id, (this.#open.get(m.call_id) ?? 0) + micro);
      this.#total += micro;
    } else if (FINAL.has(m.type)) {
      const held = this.#open.get(m.call_id);
      if (held !== undefined) {
        this.#total -= held;
        this.#open.delete(m.call_id);
      }
    }
  }
  get totalMicro(): number {
    return this.#total;
  }
}

export async function startAgentflowStandin(options: AgentflowStandinOptions): Promise<AgentflowStandin> {
  const now = options.now ?? Date.now;
  const windowMs = options.windowMs ?? 60_000;
  const limit = options.rateLimitPerMin ?? 240;
  const data = options.dataset;
  const movements: WireMovement[] = [...data.movements];
  const reserved = new ReservedTracker();
  for (const m of movements) reserved.add(m);
  let sessions = new Set(data.sessions);
  let apiKeys = new Set(data.apiKeys ?? []);
  let faults: AgentflowFaults = { ...options.faults };
  if (options.latencyMs !== undefined && faults.latencyMs === undefined) faults.latencyMs = options.latencyMs;
  const requests: RequestRecord[] = [];
  const accepted = new Map<string, number[]>(); // user -> arrival times of requests the limiter let through
  const listeners: ((r: { index: number; cursor: string | null }) => void)[] = [];
  const startedAt = now();
  let pagesServed = 0;

  const send = (res: ServerResponse, record: RequestRecord, status: number, body: unknown, headers: Record<string, string> = {}) => {
    record.status = status;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };

  const identify = (req: IncomingMessage): string | null => {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) {
      const key = auth.slice(7).trim();
      return apiKeys.has(key) ? `key:${key.slice(0, 4)}` : null;
    }
    const token = parseCookies(req.headers.cookie).get('af_session');
    return token !== undefined && sessions.has(token) ? `session:${token.slice(0, 4)}` : null;
  };

  /** Sliding log per user: null when allowed, else the seconds until a slot frees. */
  const admit = (user: string, at: number): number | null => {
    if (limit <= 0) return null;
    let times = accepted.get(user);
    if (!times) accepted.set(user, (times = []));
    while (times.length > 0 && (times[0] as number) <= at - windowMs) times.shift();
    if (times.length >= limit) return Math.max(1, Math.ceil(((times[0] as number) + windowMs - at) / 1000));
    times.push(at);
    return null;
  };

  // Each movement is serialised once: a million-movement backfill then costs the stand-in little CPU,
  // which matters on a small machine where it shares the cores with the client it serves.
  const movementJson: string[] = [];
  const bodyText = (body: Record<string, unknown>, start: number, served: number, pristine: boolean): string => {
    if (!pristine) return JSON.stringify(body);
    const { movements: _, ...rest } = body;
    const parts = new Array<string>(served);
    for (let i = 0; i < served; i++) parts[i] = movementJson[start + i] ??= JSON.stringify(movements[start + i]);
    return `${JSON.stringify(rest).slice(0, -1)},"movements":[${parts.join(',')}]}`;
  };

  const pageBody = (cursorPos: number, pageLimit: number): { body: Record<string, unknown>; served: number; start: number; pristine: boolean } => {
    const repeat = faults.repeat ?? 0;
    const start = repeat > 0 && pageLimit > repeat ? Math.max(0, cursorPos - repeat) : cursorPos;
    const page = movements.slice(start, start + pageLimit);
    const end = start + page.length;
    const last = movements[movements.length - 1];
    const body: Record<string, unknown> = {
      account_id: data.accountId,
      currency: 'FLOW',
      balance: last ? last.balance_after : '0.000000',
      reserved: data.reserved ?? formatFlow(reserved.totalMicro),
      as_of: new Date(now()).toISOString(),
      movements: page,
      next_cursor: end > 0 || cursorPos > 0 ? encodeCursor(Math.max(end, cursorPos)) : null,
      has_more: Math.max(end, cursorPos) < movements.length,
    };
    const bad = faults.malformed;
    let pristine = true;
    if (bad) {
      pristine = false;
      if (bad.movementId === undefined) {
        if (bad.value === undefined) delete body[bad.field];
        else body[bad.field] = bad.value;
      } else {
        const i = page.findIndex((m) => m.id === bad.movementId);
        if (i >= 0) {
          const copy: Record<string, unknown> = { ...page[i] };
          if (bad.value === undefined) delete copy[bad.field];
          else copy[bad.field] = bad.value;
          body.movements = [...page.slice(0, i), copy, ...page.slice(i + 1)];
        }
      }
    }
    return { body, served: page.length, start, pristine };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const at = now();
    const url = new URL(req.url ?? '/', 'http://standin');
    const record: RequestRecord = { at, status: 0, user: '', cursor: url.searchParams.get('cursor'), limit: null, served: 0 };
    requests.push(record);
    const index = requests.length;
    for (const l of listeners) l({ index, cursor: record.cursor });
    if (faults.latencyMs) await new Promise((r) => setTimeout(r, faults.latencyMs));

    if (url.pathname !== PATH) return send(res, record, 404, { error: 'not_found' });
    if (req.method !== 'GET') return send(res, record, 405, { error: 'method_not_allowed' });
    const user = identify(req);
    if (user === null) return send(res, record, 401, { error: 'unauthorized', message: 'session expired or revoked' });
    record.user = user;

    if ((faults.fail429Next ?? 0) > 0) {
      faults.fail429Next = (faults.fail429Next ?? 0) - 1;
      return send(res, record, 429, { error: 'rate_limited' }, { 'retry-after': String(faults.retryAfterSec ?? 1) });
    }
    const wait = admit(user, at);
    if (wait !== null) return send(res, record, 429, { error: 'rate_limited' }, { 'retry-after': String(wait) });
    if ((faults.fail503Next ?? 0) > 0) {
      faults.fail503Next = (faults.fail503Next ?? 0) - 1;
      return send(res, record, 503, { error: 'unavailable' });
    }
    if (faults.fail503Every && index % faults.fail503Every === 0) return send(res, record, 503, { error: 'unavailable' });

    const limitText = url.searchParams.get('limit');
    const pageLimit = limitText === null ? 100 : /^\d+$/.test(limitText) ? Number(limitText) : Number.NaN;
    if (!(pageLimit >= 1 && pageLimit <= 500)) return send(res, record, 400, { error: 'bad_request', message: 'limit must be 1..500' });
    record.limit = pageLimit;
    let cursorPos = 0;
    if (record.cursor !== null) {
      const pos = decodeCursor(record.cursor);
      if (pos === null || pos > movements.length) return send(res, record, 400, { error: 'bad_request', message: 'unknown cursor' });
      cursorPos = pos;
    }

    const { body, served, start, pristine } = pageBody(cursorPos, pageLimit);
    const text = bodyText(body, start, served, pristine);
    pagesServed += 1;
    let drop = false;
    if ((faults.dropNext ?? 0) > 0) {
      faults.dropNext = (faults.dropNext ?? 0) - 1;
      drop = true;
    } else if (faults.dropEvery && pagesServed % faults.dropEvery === 0) drop = true;
    if (drop) {
      record.status = 200;
      record.dropped = true;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.write(text.slice(0, Math.floor(text.length / 2)), () => res.socket?.destroy());
      return;
    }
    record.served = served;
    record.status = 200;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    windowMs,
    rateLimitPerMin: limit,
    requests,
    append(more) {
      for (const m of more) {
        movements.push(m);
        reserved.add(m);
      }
    },
    movements: () => [...movements],
    setSessions(list) {
      sessions = new Set(list);
    },
    setApiKeys(list) {
      apiKeys = new Set(list);
    },
    setFaults(f) {
      faults = { ...faults, ...f };
    },
    countByStatus() {
      const out: Record<number, number> = {};
      for (const r of requests) out[r.status] = (out[r.status] ?? 0) + 1;
      return out;
    },
    maxInAnyWindow(span = windowMs) {
      let best = 0;
      let lo = 0;
      for (let hi = 0; hi < requests.length; hi++) {
        while ((requests[hi] as RequestRecord).at - (requests[lo] as RequestRecord).at >= span) lo++;
        best = Math.max(best, hi - lo + 1);
      }
      return best;
    },
    perWindow() {
      const out: number[] = [];
      for (const r of requests) {
        const w = Math.floor((r.at - startedAt) / windowMs);
        while (out.length <= w) out.push(0);
        out[w] = (out[w] as number) + 1;
      }
      return out;
    },
    onRequest(listener) {
      listeners.push(listener);
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

async function standalone(argv: string[]): Promise<void> {
  const arg = (name: string, def: string): string => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] !== undefined ? (argv[i + 1] as string) : def;
  };
  const { syntheticDataset } = await import('./ledger-feed.js');
  const session = arg('session', 'standin-session');
  const dataset = syntheticDataset(Number(arg('movements', '10000')), { seed: Number(arg('seed', '42')), sessions: [session] });
  const standin = await startAgentflowStandin({
    dataset,
    port: Number(arg('port', '0')),
    rateLimitPerMin: Number(arg('rate-limit', '240')),
    windowMs: Number(arg('window-ms', '60000')),
  });
  process.stdout.write(`${JSON.stringify({ url: standin.url, session, movements: dataset.movements.length })}\n`);
  const stop = () => void standin.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await standalone(process.argv.slice(2));
}
