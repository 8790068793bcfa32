/**
 * The Stripe side's one edge: the official SDK, built here from settings and
 * nowhere else, behind the narrow `StripeApi` the sync depends on. Requests are
 * paced client-side (STRIPE_MAX_RPS) and retried by our own policy (retry.ts);
 * the SDK's own retries are off so there is one policy, not two stacked.
 *
 * A restricted key with read access to Charges, Refunds, PaymentIntents and
 * Events is enough: nothing here writes to Stripe.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import Stripe from 'stripe';
import type { Config } from '../config.js';
import { FlowreconError } from '../errors.js';
import type { Logger } from '../log.js';
import { RateLimiter } from '../ratelimit.js';
import type { Redactor } from '../secrets.js';
import { withRetry, type RetryPolicy } from './retry.js';
import type { ChargeSnapshot, EventSummary, ListParams, Page, PaymentIntentSnapshot, RefundSnapshot } from './types.js';

/** Pinned: the wire format we map is this version's, whatever the account's default is. */
export const STRIPE_API_VERSION = '2026-11-18.endive';

/** Largest page Stripe serves. */
export const STRIPE_PAGE_LIMIT = 100;

/** The narrow interface the Stripe sync depends on. */
export interface StripeApi {
  /** Charges newest first, each with its PaymentIntent expanded. */
  listCharges(params: ListParams, signal?: AbortSignal): Promise<Page<ChargeSnapshot>>;
  /** Refunds newest first, optionally of one charge. */
  listRefunds(params: ListParams & { charge?: string }, signal?: AbortSignal): Promise<Page<RefundSnapshot>>;
  /** Events of the given types, newest first. */
  listEvents(params: ListParams & { types: readonly string[] }, signal?: AbortSignal): Promise<Page<EventSummary>>;
  /** A charge as it is now, with its PaymentIntent and (first page of) refunds expanded; null if Stripe has none. */
  retrieveCharge(id: string, signal?: AbortSignal): Promise<ChargeSnapshot | null>;
  retrieveRefund(id: string, signal?: AbortSignal): Promise<RefundSnapshot | null>;
  retrievePaymentIntent(id: string, signal?: AbortSignal): Promise<PaymentIntentSnapshot | null>;
  /** Requests sent so far, retries included. */
  readonly requestCount: number;
  close(): Promise<void>;
}

export interface StripeApiDeps {
  log: Logger;
  redactor: Redactor;
  /** Replaces the pacer built from STRIPE_MAX_RPS (tests, or sharing one across clients). */
  limiter?: RateLimiter;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

// ---- mapping SDK objects to plain snapshots ----------------------------------

type Loose = Record<string, unknown>;

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const idOf = (v: unknown): string | null =>
  typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as Loose)['id'] === 'string' ? ((v as Loose)['id'] as string) : null;
const meta = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
};

export function toPaymentIntent(o: Loose): PaymentIntentSnapshot {
  return { id: String(o['id']), metadata: meta(o['metadata']) };
}

export function toRefund(o: Loose): RefundSnapshot {
  return {
    id: String(o['id']),
    charge: idOf(o['charge']),
    payment_intent: idOf(o['payment_intent']),
    amount: Number(o['amount']),
    currency: String(o['currency']),
    // Refunds always carry a status in the pinned version; one without is an old-style refund, which succeeded.
    status: str(o['status']) ?? 'succeeded',
    reason: str(o['reason']),
    created: Number(o['created']),
  };
}

export function toCharge(o: Loose): ChargeSnapshot {
  const pi = o['payment_intent'];
  const refunds = o['refunds'] as Loose | null | undefined;
  return {
    id: String(o['id']),
    created: Number(o['created']),
    status: String(o['status']),
    currency: String(o['currency']),
    amount: Number(o['amount']),
    // Older API versions had no amount_captured: a captured charge captured all of it.
    amount_captured: Number(o['amount_captured'] ?? (o['captured'] ? o['amount'] : 0)),
    amount_refunded: Number(o['amount_refunded'] ?? 0),
    captured: Boolean(o['captured']),
    refunded: Boolean(o['refunded']),
    disputed: Boolean(o['disputed']),
    livemode: Boolean(o['livemode']),
    payment_intent: idOf(pi),
    payment_intent_object: pi && typeof pi === 'object' ? toPaymentIntent(pi as Loose) : null,
    // Stripe's own `customer` (the id); a guest charge has none. Billing names stay out of the exports.
    customer: idOf(o['customer']),
    description: str(o['description']),
    metadata: meta(o['metadata']),
    refunds:
      refunds && typeof refunds === 'object' && Array.isArray(refunds['data'])
        ? { data: (refunds['data'] as Loose[]).map(toRefund), has_more: Boolean(refunds['has_more']) }
        : null,
  };
}

export function toEvent(o: Loose): EventSummary {
  const object = ((o['data'] as Loose | undefined)?.['object'] ?? {}) as Loose;
  const type = String(o['type']);
  // A trimmed payload without `object` still says what it is through the event type.
  const objectType =
    str(object['object']) ??
    (type.startsWith('charge.refund.') || type.startsWith('refund.') ? 'refund' : type.startsWith('charge.dispute.') ? 'dispute' : type.startsWith('charge.') ? 'charge' : '');
  return {
    id: String(o['id']),
    type,
    created: Number(o['created']),
    object_type: objectType,
    object_id: str(object['id']),
    charge_id: objectType === 'charge' ? str(object['id']) : idOf(object['charge']),
  };
}

function page<T>(what: string, list: unknown, map: (o: Loose) => T): Page<T> {
  const l = list as { data?: unknown; has_more?: unknown } | null;
  if (!l || !Array.isArray(l.data) || !l.data.every((o) => o && typeof o === 'object' && typeof (o as Loose)['id'] === 'string')) {
    throw new FlowreconError('STRIPE', `${what}: the answer is not a Stripe list (no data array of objects with ids)`);
  }
  return { data: l.data.map((o) => map(o as Loose)), has_more: l.has_more === true };
}

/** Raised for a list endpoint that answers 404: a wrong base URL, or (for events) a Stripe stand-in without them. */
export class MissingEndpointError extends FlowreconError {
  constructor(what: string) {
    super('STRIPE', `${what}: Stripe answered 404 for a list; check STRIPE_API_BASE`);
  }
}

// ---- the SDK-backed implementation -------------------------------------------

/** Build the SDK client from settings. Throws CONFIG before any network when no key is set. */
export function createStripeApi(config: Config, deps: StripeApiDeps): StripeApi {
  const key = config.stripeApiKey;
  if (!key) {
    throw new FlowreconError(
      'CONFIG',
      'invalid setting STRIPE_API_KEY: must be set to a Stripe secret or restricted key (read access to Charges, Refunds, PaymentIntents and Events)',
    );
  }
  deps.redactor.add(key);
  const base = config.stripeApiBase;
  const agent = base?.protocol === 'http' ? new HttpAgent({ keepAlive: true }) : new HttpsAgent({ keepAlive: true });
  const sdk = new Stripe(key, {
    apiVersion: STRIPE_API_VERSION as Stripe.StripeConfig['apiVersion'],
    telemetry: false,
    timeout: config.stripeTimeoutMs,
    maxNetworkRetries: 0,
    httpAgent: agent,
    appInfo: { name: 'flowrecon' },
    ...(base ? { host: base.host, port: base.port, protocol: base.protocol } : {}),
  });
  return new SdkStripeApi(sdk, agent, {
    // The margin keeps network jitter from bunching requests at Stripe's end past the limit.
    limiter: deps.limiter ?? new RateLimiter({ limit: config.stripeMaxRps, windowMs: 1000, marginMs: 25 }),
    policy: { maxRetries: config.stripeMaxRetries, baseMs: config.stripeRetryBaseMs },
    log: deps.log.child({ component: 'stripe-client' }),
    redactor: deps.redactor,
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
  });
}

interface Internals {
  limiter: RateLimiter;
  policy: RetryPolicy;
  log: Logger;
  redactor: Redactor;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * Run one SDK call without the call-site stack the SDK captures on every
 * request (`new Error().stack`, for its own error messages). Under tsx the
 * stack goes through source maps and costs about as much as parsing the page;
 * our errors name the request instead, so nothing is lost. Synchronous only:
 * the limit is back before anything else runs.
 */
function withoutCallSite<T>(fn: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return fn();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

class SdkStripeApi implements StripeApi {
  #requests = 0;

  constructor(
    private readonly sdk: Stripe,
    private readonly agent: HttpAgent | HttpsAgent,
    private readonly x: Internals,
  ) {}

  get requestCount(): number {
    return this.#requests;
  }

  async #call<T>(what: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T | null> {
    return withRetry(
      what,
      () => {
        this.#requests += 1;
        return withoutCallSite(fn);
      },
      this.x.policy,
      { limiter: this.x.limiter, log: this.x.log, redactor: this.x.redactor, ...(this.x.sleep ? { sleep: this.x.sleep } : {}) },
      signal,
    );
  }

  async #list<T>(what: string, fn: () => Promise<{ data: unknown[]; has_more: boolean }>, map: (o: Loose) => T, signal?: AbortSignal): Promise<Page<T>> {
    const list = await this.#call(what, fn, signal);
    // A list endpoint never 404s for an empty result.
    if (!list) throw new MissingEndpointError(what);
    return page(what, list, map);
  }

  listCharges(params: ListParams, signal?: AbortSignal): Promise<Page<ChargeSnapshot>> {
    return this.#list(
      'list charges',
      () => this.sdk.charges.list({ ...params, expand: ['data.payment_intent'] }),
      toCharge,
      signal,
    );
  }

  listRefunds(params: ListParams & { charge?: string }, signal?: AbortSignal): Promise<Page<RefundSnapshot>> {
    return this.#list('list refunds', () => this.sdk.refunds.list({ ...params }), toRefund, signal);
  }

  listEvents(params: ListParams & { types: readonly string[] }, signal?: AbortSignal): Promise<Page<EventSummary>> {
    return this.#list('list events', () => this.sdk.events.list({ ...params, types: [...params.types] }), toEvent, signal);
  }

  async retrieveCharge(id: string, signal?: AbortSignal): Promise<ChargeSnapshot | null> {
    const c = await this.#call(`retrieve charge ${id}`, () => this.sdk.charges.retrieve(id, { expand: ['payment_intent', 'refunds'] }), signal);
    return c ? toCharge(c as unknown as Loose) : null;
  }

  async retrieveRefund(id: string, signal?: AbortSignal): Promise<RefundSnapshot | null> {
    const r = await this.#call(`retrieve refund ${id}`, () => this.sdk.refunds.retrieve(id), signal);
    return r ? toRefund(r as unknown as Loose) : null;
  }

  async retrievePaymentIntent(id: string, signal?: AbortSignal): Promise<PaymentIntentSnapshot | null> {
    const p = await this.#call(`retrieve payment intent ${id}`, () => this.sdk.paymentIntents.retrieve(id), signal);
    return p ? toPaymentIntent(p as unknown as Loose) : null;
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}
