/**
 * A local Stripe that the real `stripe` SDK talks to over loopback (set
 * STRIPE_API_BASE to its `url`). It serves a data set in Stripe's wire format:
 * list envelopes newest first with cursor pagination and `created` ranges,
 * retrieve by id, `expand`, Bearer auth and Stripe's error envelope, plus
 * faults (429s, 500s, latency) and a clock of its own for stamping the changes
 * a test makes between two syncs.
 *
 * Read-only on purpose: flowrecon only reads Stripe. Changes come through the
 * handle (`refundNow`, `setChargeStatus`, ...), which keep the data consistent
 * and emit the events Stripe would (see stripe-data.ts).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sleep } from '../clock.js';
import { IdSequence, StripeDataEditor, type ChargeSpec, type RefundSpec } from './stripe-data.js';
import type { StripeChargeObject, StripeDataset, StripeRefundObject } from './types.js';

export interface StripeFaults {
  /** Answer every Nth authenticated request with 429 (0/undefined = never). */
  rateLimitEvery?: number;
  /** Answer every Nth authenticated request with 500. */
  serverErrorEvery?: number;
  /** Answer the next N authenticated requests with 429 (a storm). */
  rateLimitNext?: number;
  /** Answer the next N authenticated requests with 500. */
  serverErrorNext?: number;
  /** Retry-After (seconds) sent with 429s; Stripe itself usually sends none. */
  retryAfterSeconds?: number;
}

export interface StripeStandinOptions {
  dataset: StripeDataset;
  port?: number;
  latencyMs?: number;
  /** Unix-seconds clock the stand-in stamps new objects and events with (default real time). */
  now?: () => number;
  faults?: StripeFaults;
  /** Days of events the server keeps (Stripe: 30). */
  eventRetentionDays?: number;
  /**
   * Restricted keys and the resources each may read (`charges`, `refunds`,
   * `payment_intents`, `events`, `balance_transactions`); anything else is 403.
   */
  restrictedKeys?: Record<string, string[]>;
}

export interface StripeStandinStats {
  /** Every request received, answered or not. */
  requests: number;
  /** Requests per route, e.g. `GET /v1/charges`, `GET /v1/charges/:id`. */
  byRoute: Record<string, number>;
  /** Arrival time (ms, Date.now) of each request, for pacing assertions. */
  times: number[];
  rateLimited: number;
  serverErrors: number;
  unauthorized: number;
}

export interface StripeStandin {
  /** Base URL for STRIPE_API_BASE, e.g. http://127.0.0.1:12111 */
  readonly url: string;
  readonly port: number;
  readonly dataset: StripeDataset;
  /** The mutation helpers on the served data (times are explicit). */
  readonly data: StripeDataEditor;
  /** Faults in force; change them between (or during) runs. */
  faults: StripeFaults;
  latencyMs: number;
  readonly stats: StripeStandinStats;
  /** Called as each request arrives, with its route (`GET /v1/charges`) and that route's count so far. */
  onRequest: ((route: string, count: number) => void) | undefined;
  resetStats(): void;
  /** The stand-in's clock, unix seconds. */
  now(): number;
  /** New charge created now (or at spec.created). */
  createCharge(spec: Omit<ChargeSpec, 'created'> & { created?: number }): StripeChargeObject;
  /** Refund a charge now: raises amount_refunded/refunded, emits refund.created and charge.refunded. */
  refundNow(chargeId: string, spec?: Omit<RefundSpec, 'created'>): StripeRefundObject;
  /** Change a charge's status now, with its event. */
  setChargeStatus(chargeId: string, status: StripeChargeObject['status']): StripeChargeObject;
  /** Edit a charge now (metadata, description, ...), with a charge.updated event. */
  updateCharge(chargeId: string, patch: Parameters<StripeDataEditor['updateCharge']>[1]): StripeChargeObject;
  /** A refund's status changes now (e.g. fails), with its events. */
  setRefundStatus(refundId: string, status: StripeRefundObject['status']): StripeRefundObject;
  close(): Promise<void>;
}

type Obj = Record<string, unknown> & { id: string; created: number };
type Query = Record<string, string | string[] | Record<string, string>>;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(String(body['message'] ?? status));
  }
}

const invalid = (message: string, param?: string, code?: string): HttpError =>
  new HttpError(400, { type: 'invalid_request_error', message, ...(param ? { param } : {}), ...(code ? { code } : {}) });

const RESOURCES = {
  charges: { kind: 'charge', key: 'charges', filters: ['customer', 'payment_intent'] },
  refunds: { kind: 'refund', key: 'refunds', filters: ['charge', 'payment_intent'] },
  payment_intents: { kind: 'payment_intent', key: 'paymentIntents', filters: ['customer'] },
  events: { kind: 'event', key: 'events', filters: [] },
  balance_transactions: { kind: 'balance_transaction', key: 'balanceTransactions', filters: ['source', 'type'] },
} as const;
type ResourceName = keyof typeof RESOURCES;
const RETRIEVABLE: ReadonlySet<ResourceName> = new Set(['charges', 'refunds', 'payment_intents', 'events']);

/** `a[b]=1&expand[0]=x&expand[]=y` into `{a: {b: '1'}, expand: ['x', 'y']}` (what stripe-node sends). */
function parseQuery(search: URLSearchParams): Query {
  const out: Query = {};
  for (const [rawKey, value] of search) {
    const m = /^([A-Za-z_]+)(?:\[([A-Za-z0-9_]*)\])?$/.exec(rawKey);
    if (!m) throw invalid(`Received unknown parameter: ${rawKey}`, rawKey);
    const name = m[1] as string;
    const sub = m[2];
    if (sub === undefined) {
      out[name] = value;
    } else if (sub === '' || /^\d+$/.test(sub)) {
      const prev = out[name];
      out[name] = [...(Array.isArray(prev) ? prev : []), value];
    } else {
      const prev = out[name];
      out[name] = { ...(prev && typeof prev === 'object' && !Array.isArray(prev) ? prev : {}), [sub]: value };
    }
  }
  return out;
}

function intParam(value: unknown, param: string): number {
  if (typeof value !== 'string' || !/^-?\d+$/.test(value)) throw invalid(`Invalid integer: ${String(value)}`, param);
  return Number(value);
}

function createdFilter(q: Query): (created: number) => boolean {
  const c = q['created'];
  if (c === undefined) return () => true;
  if (typeof c === 'string') {
    const exact = intParam(c, 'created');
    return (t) => t === exact;
  }
  if (Array.isArray(c)) throw invalid('Invalid created: expected an integer or a hash', 'created');
  const tests: ((t: number) => boolean)[] = [];
  for (const [op, v] of Object.entries(c)) {
    const n = intParam(v, `created[${op}]`);
    if (op === 'gt') tests.push((t) => t > n);
    else if (op === 'gte') tests.push((t) => t >= n);
    else if (op === 'lt') tests.push((t) => t < n);
    else if (op === 'lte') tests.push((t) => t <= n);
    else throw invalid(`Received unknown parameter: created[${op}]`, `created[${op}]`);
  }
  return (t) => tests.every((f) => f(t));
}

function list(q: Query, name: string): string[] {
  const v = q[name];
  if (v === undefined) return [];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v;
  throw invalid(`Invalid array: ${name}`, name);
}

function typeMatcher(q: Query): (type: string) => boolean {
  const patterns: string[] = [];
  if (typeof q['type'] === 'string') patterns.push(q['type']);
  patterns.push(...list(q, 'types'));
  if (patterns.length === 0) return () => true;
  const res = patterns.map((p) => new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^]*')}$`));
  return (type) => res.some((re) => re.test(type));
}

/** The served collection in Stripe's order: newest first, later insertions first on equal `created`. */
class SortedView {
  #source: Obj[] = [];
  #length = -1;
  #sorted: Obj[] = [];
  #index = new Map<string, number>();

  get(source: Obj[]): { sorted: Obj[]; index: Map<string, number> } {
    if (source !== this.#source || source.length !== this.#length) {
      const withPos = source.map((o, i) => ({ o, i }));
      withPos.sort((a, b) => b.o.created - a.o.created || b.i - a.i);
      this.#sorted = withPos.map((x) => x.o);
      this.#index = new Map(this.#sorted.map((o, i) => [o.id, i]));
      this.#source = source;
      this.#length = source.length;
    }
    return { sorted: this.#sorted, index: this.#index };
  }
}

export async function startStripeStandin(options: StripeStandinOptions): Promise<StripeStandin> {
  const dataset = options.dataset;
  dataset.balanceTransactions ??= [];
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const retentionSeconds = (options.eventRetentionDays ?? 30) * 86_400;
  const editor = new StripeDataEditor(dataset, { ids: new IdSequence('s') });
  const views = new Map<ResourceName, SortedView>();
  const stats: StripeStandinStats = { requests: 0, byRoute: {}, times: [], rateLimited: 0, serverErrors: 0, unauthorized: 0 };
  let authenticated = 0;

  const collection = (name: ResourceName): Obj[] => (dataset[RESOURCES[name].key] ?? []) as unknown as Obj[];
  const view = (name: ResourceName) => {
    let v = views.get(name);
    if (!v) views.set(name, (v = new SortedView()));
    return v.get(collection(name));
  };
  const find = (name: ResourceName, id: string): Obj | undefined => {
    const { sorted, index } = view(name);
    const i = index.get(id);
    return i === undefined ? undefined : sorted[i];
  };
  const missing = (kind: string, id: string): HttpError =>
    new HttpError(404, { type: 'invalid_request_error', code: 'resource_missing', param: 'id', message: `No such ${kind}: '${id}'` });
  const eventVisible = (o: Obj): boolean => o.created >= now() - retentionSeconds;

  // ---- expansion ------------------------------------------------------------
  const refundsListOf = (chargeId: string) => {
    const data = view('refunds').sorted.filter((r) => r['charge'] === chargeId);
    return { object: 'list', data: data.slice(0, 10), has_more: data.length > 10, total_count: data.length, url: `/v1/charges/${chargeId}/refunds` };
  };
  const expanders: Record<string, Record<string, (o: Obj) => unknown>> = {
    charge: {
      payment_intent: (o) => (typeof o['payment_intent'] === 'string' ? (find('payment_intents', o['payment_intent']) ?? null) : o['payment_intent']),
      balance_transaction: (o) =>
        typeof o['balance_transaction'] === 'string' ? (find('balance_transactions', o['balance_transaction']) ?? null) : o['balance_transaction'],
      refunds: (o) => refundsListOf(o.id),
    },
    refund: {
      charge: (o) => (typeof o['charge'] === 'string' ? (find('charges', o['charge']) ?? null) : o['charge']),
      payment_intent: (o) => (typeof o['payment_intent'] === 'string' ? (find('payment_intents', o['payment_intent']) ?? null) : o['payment_intent']),
      balance_transaction: (o) =>
        typeof o['balance_transaction'] === 'string' ? (find('balance_transactions', o['balance_transaction']) ?? null) : o['balance_transaction'],
    },
    payment_intent: {
      latest_charge: (o) => (typeof o['latest_charge'] === 'string' ? (find('charges', o['latest_charge']) ?? null) : o['latest_charge']),
    },
  };
  const expand = (o: Obj, paths: string[][]): Obj => {
    if (paths.length === 0) return o;
    const kind = String(o['object']);
    const out: Obj = { ...o };
    const byHead = new Map<string, string[][]>();
    for (const [head, ...rest] of paths) {
      if (!head) continue;
      if (!byHead.has(head)) byHead.set(head, []);
      if (rest.length) byHead.get(head)!.push(rest);
    }
    for (const [field, rest] of byHead) {
      const fn = expanders[kind]?.[field];
      if (!fn) throw invalid(`This property cannot be expanded (${field}).`, 'expand');
      const value = fn(o);
      if (value && typeof value === 'object' && (value as Record<string, unknown>)['object'] === 'list') {
        const l = value as { data: Obj[] };
        out[field] = { ...l, data: l.data.map((x) => expand(x, rest)) };
      } else {
        out[field] = value && typeof value === 'object' ? expand(value as Obj, rest) : value;
      }
    }
    return out;
  };
  const expandPaths = (q: Query, prefix: string): string[][] =>
    list(q, 'expand').map((p) => {
      if (prefix && !p.startsWith(prefix)) throw invalid(`This property cannot be expanded (${p}).`, 'expand');
      return p.slice(prefix.length).split('.');
    });

  // ---- handlers ---------------------------------------------------------------
  const listResource = (name: ResourceName, q: Query): Record<string, unknown> => {
    const limit = q['limit'] === undefined ? 10 : intParam(q['limit'], 'limit');
    if (limit < 1 || limit > 100) throw invalid('Invalid limit: must be between 1 and 100', 'limit');
    const inCreated = createdFilter(q);
    const filters = (RESOURCES[name].filters as readonly string[]).filter((f) => typeof q[f] === 'string').map((f) => [f, q[f] as string] as const);
    const typeOk = name === 'events' ? typeMatcher(q) : () => true;
    const keep = (o: Obj) =>
      inCreated(o.created) &&
      filters.every(([f, v]) => o[f] === v) &&
      (name !== 'events' || (eventVisible(o) && typeOk(String(o['type']))));
    const paths = expandPaths(q, 'data.');
    const { sorted, index } = view(name);
    const after = typeof q['starting_after'] === 'string' ? q['starting_after'] : undefined;
    const before = typeof q['ending_before'] === 'string' ? q['ending_before'] : undefined;
    if (after && before) throw invalid('You may only specify one of these parameters: ending_before, starting_after.', 'starting_after');
    const picked: Obj[] = [];
    if (before !== undefined) {
      const at = index.get(before);
      if (at === undefined) throw invalid(`No such ${RESOURCES[name].kind}: '${before}'`, 'ending_before', 'resource_missing');
      for (let i = at - 1; i >= 0 && picked.length <= limit; i--) if (keep(sorted[i]!)) picked.push(sorted[i]!);
      const hasMore = picked.length > limit;
      const page = picked.slice(0, limit).reverse();
      return { object: 'list', data: page.map((o) => expand(o, paths)), has_more: hasMore, url: `/v1/${name}` };
    }
    let start = 0;
    if (after !== undefined) {
      const at = index.get(after);
      if (at === undefined) throw invalid(`No such ${RESOURCES[name].kind}: '${after}'`, 'starting_after', 'resource_missing');
      start = at + 1;
    }
    for (let i = start; i < sorted.length && picked.length <= limit; i++) if (keep(sorted[i]!)) picked.push(sorted[i]!);
    const hasMore = picked.length > limit;
    return { object: 'list', data: picked.slice(0, limit).map((o) => expand(o, paths)), has_more: hasMore, url: `/v1/${name}` };
  };

  const retrieve = (name: ResourceName, id: string, q: Query): Record<string, unknown> => {
    const o = find(name, id);
    if (!o || (name === 'events' && !eventVisible(o))) throw missing(RESOURCES[name].kind, id);
    return expand(o, expandPaths(q, ''));
  };

  const restricted = options.restrictedKeys ?? {};
  /** The key the request carries, checked; returns the resources it may read (undefined = all). */
  const authenticate = (req: IncomingMessage): readonly string[] | undefined => {
    const header = req.headers.authorization ?? '';
    let key = '';
    if (/^Bearer /i.test(header)) key = header.slice(7).trim();
    else if (/^Basic /i.test(header)) key = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':')[0] ?? '';
    if (!key) {
      throw new HttpError(401, {
        type: 'invalid_request_error',
        message: 'You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth.',
      });
    }
    if (Object.hasOwn(restricted, key)) return restricted[key];
    if (!dataset.apiKeys.includes(key)) {
      // Like Stripe, echo a masked form of the key: the client must not pass it on.
      const masked = `${key.slice(0, 8)}${'*'.repeat(Math.max(0, Math.min(key.length - 12, 24)))}${key.slice(-4)}`;
      throw new HttpError(401, { type: 'invalid_request_error', message: `Invalid API Key provided: ${masked}` });
    }
    return undefined;
  };

  const injectFault = (): void => {
    authenticated += 1;
    const f = server.faults;
    const rateLimited = (f.rateLimitNext ?? 0) > 0 || (f.rateLimitEvery ? authenticated % f.rateLimitEvery === 0 : false);
    if ((f.rateLimitNext ?? 0) > 0) f.rateLimitNext = (f.rateLimitNext ?? 0) - 1;
    if (rateLimited) {
      stats.rateLimited += 1;
      throw new HttpError(
        429,
        { type: 'invalid_request_error', code: 'rate_limit', message: 'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.' },
        f.retryAfterSeconds !== undefined ? { 'Retry-After': String(f.retryAfterSeconds) } : {},
      );
    }
    const failing = (f.serverErrorNext ?? 0) > 0 || (f.serverErrorEvery ? authenticated % f.serverErrorEvery === 0 : false);
    if ((f.serverErrorNext ?? 0) > 0) f.serverErrorNext = (f.serverErrorNext ?? 0) - 1;
    if (failing) {
      stats.serverErrors += 1;
      throw new HttpError(500, { type: 'api_error', message: "Sorry, something went wrong on Stripe's end." });
    }
  };

  const route = (method: string, path: string): { name: ResourceName; id?: string; label: string } => {
    const m = /^\/v1\/([a-z_]+)(?:\/([^/]+))?\/?$/.exec(path);
    const name = m?.[1] as ResourceName | undefined;
    if (method !== 'GET' || !m || !name || !(name in RESOURCES) || (m[2] !== undefined && !RETRIEVABLE.has(name))) {
      throw new HttpError(404, {
        type: 'invalid_request_error',
        message: `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
      });
    }
    return m[2] !== undefined
      ? { name, id: decodeURIComponent(m[2]), label: `${method} /v1/${name}/:id` }
      : { name, label: `${method} /v1/${name}` };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    stats.requests += 1;
    stats.times.push(Date.now());
    const requestId = `req_${randomBytes(7).toString('hex')}`;
    let status = 200;
    let body: unknown;
    let extraHeaders: Record<string, string> = {};
    try {
      const url = new URL(req.url ?? '/', 'http://standin.invalid');
      let label = `${req.method} ${url.pathname}`;
      try {
        const r = route(req.method ?? 'GET', url.pathname);
        label = r.label;
        const allowed = authenticate(req);
        if (allowed && !allowed.includes(r.name)) {
          throw new HttpError(403, {
            type: 'invalid_request_error',
            message: `The provided key does not have the required permissions for this endpoint. Having the 'rak_${RESOURCES[r.name].kind}_read' permission would allow this request to continue.`,
          });
        }
        injectFault();
        const q = parseQuery(url.searchParams);
        body = r.id !== undefined ? retrieve(r.name, r.id, q) : listResource(r.name, q);
      } finally {
        const count = (stats.byRoute[label] ?? 0) + 1;
        stats.byRoute[label] = count;
        server.onRequest?.(label, count);
      }
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      status = err.status;
      if (status === 401) stats.unauthorized += 1;
      body = { error: { ...err.body, request_log_url: `https://dashboard.stripe.com/test/logs/${requestId}` } };
      extraHeaders = err.headers;
    }
    if (server.latencyMs > 0) await sleep(server.latencyMs);
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(text),
      'Request-Id': requestId,
      'Stripe-Version': String(req.headers['stripe-version'] ?? '2026-11-18.endive'),
      ...extraHeaders,
    });
    res.end(text);
  };

  const http = createServer((req, res) => {
    // The request body (none for GETs) is drained so keep-alive sockets stay usable.
    req.resume();
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: { type: 'api_error', message: `stand-in failure: ${(err as Error).message}` } }));
      }
    });
  });
  http.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (http.address() as AddressInfo).port;

  const server: StripeStandin = {
    url: `http://127.0.0.1:${port}`,
    port,
    dataset,
    data: editor,
    faults: { ...(options.faults ?? {}) },
    latencyMs: options.latencyMs ?? 0,
    stats,
    onRequest: undefined,
    resetStats() {
      stats.requests = 0;
      stats.byRoute = {};
      stats.times = [];
      stats.rateLimited = 0;
      stats.serverErrors = 0;
      stats.unauthorized = 0;
    },
    now,
    createCharge: (spec) => editor.addCharge({ ...spec, created: spec.created ?? now() }),
    refundNow: (chargeId, spec = {}) => editor.addRefund(chargeId, { ...spec, created: now() }),
    setChargeStatus: (chargeId, s) => editor.setChargeStatus(chargeId, s, now()),
    updateCharge: (chargeId, patch) => editor.updateCharge(chargeId, patch, now()),
    setRefundStatus: (refundId, s) => editor.setRefundStatus(refundId, s, now()),
    close: () =>
      new Promise<void>((resolve, reject) => {
        http.close((err) => (err ? reject(err) : resolve()));
        http.closeAllConnections();
      }),
  };
  return server;
}
