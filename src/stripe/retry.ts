/**
 * One retry policy for every Stripe request, ours rather than the SDK's (its
 * own retries are off, so there is exactly one place that decides): 429s, 5xx
 * and dropped connections are retried with bounded exponential backoff and
 * jitter, honouring Retry-After; a 429 also pauses the shared pacer, since
 * Stripe's limit is per account, not per request. Everything else fails at
 * once with a message that never carries the key: Stripe's own 401 text
 * quotes a masked key, so it is never passed on.
 */
import { sleep as realSleep } from '../clock.js';
import { FlowreconError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RateLimiter } from '../ratelimit.js';
import type { Redactor } from '../secrets.js';

export interface RetryPolicy {
  maxRetries: number;
  baseMs: number;
  /** Cap of one backoff delay (default 20 s). */
  maxDelayMs?: number;
}

export interface RetryDeps {
  limiter: RateLimiter;
  log: Logger;
  redactor: Redactor;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

/** What a failed attempt means for the caller. */
export type Verdict =
  | { kind: 'retry'; status: number | 'connection' | 'bad answer'; retryAfterMs: number | undefined; requestId: string | undefined }
  | { kind: 'missing' }
  | { kind: 'fatal'; error: FlowreconError };

const KEY_LIKE = /\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9*]+/g;

/** Stripe's text with anything key-like masked, and known secrets scrubbed. */
export function sanitize(text: string, redactor: Redactor): string {
  return redactor.scrub(text).replace(KEY_LIKE, '[REDACTED]');
}

interface SdkErrorLike {
  type?: string;
  statusCode?: number;
  requestId?: string;
  code?: string;
  rawType?: string;
  headers?: Record<string, string | string[] | undefined>;
  raw?: { message?: string };
  message?: string;
}

function retryAfterMs(headers: SdkErrorLike['headers']): number | undefined {
  const raw = headers?.['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Classify an error thrown by the SDK for the request `what` (e.g. "list charges"). */
export function classify(err: unknown, what: string, redactor: Redactor): Verdict {
  if (err instanceof FlowreconError) return { kind: 'fatal', error: err };
  const e = (err ?? {}) as SdkErrorLike;
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const rid = e.requestId ? `, request ${e.requestId}` : '';
  if (status === 401 || e.type === 'StripeAuthenticationError') {
    // No cause attached: Stripe's message quotes a masked form of the key.
    return {
      kind: 'fatal',
      error: new FlowreconError(
        'AUTH',
        `Stripe refused the API key (401${rid}). Check STRIPE_API_KEY: it must be a current secret or restricted key of the account.`,
      ),
    };
  }
  if (status === 403 || e.type === 'StripePermissionError') {
    return {
      kind: 'fatal',
      error: new FlowreconError(
        'AUTH',
        `Stripe refused ${what}: the API key lacks permission (403${rid}). Grant the restricted key read access to Charges, Refunds, PaymentIntents and Events.`,
      ),
    };
  }
  if (status === 429 || e.type === 'StripeRateLimitError') {
    return { kind: 'retry', status: 429, retryAfterMs: retryAfterMs(e.headers), requestId: e.requestId };
  }
  if (status !== undefined && status >= 500) {
    return { kind: 'retry', status, retryAfterMs: retryAfterMs(e.headers), requestId: e.requestId };
  }
  if (status === 404) return { kind: 'missing' };
  if (status === undefined && e.type === 'StripeAPIError') {
    // An answer that was not JSON (a proxy's error page, a cut-off body): like a 5xx, worth another try.
    return { kind: 'retry', status: 'bad answer', retryAfterMs: undefined, requestId: e.requestId };
  }
  if (status === undefined && (e.type === 'StripeConnectionError' || /^E[A-Z_]+$/.test(e.code ?? ''))) {
    return { kind: 'retry', status: 'connection', retryAfterMs: undefined, requestId: undefined };
  }
  const detail = sanitize(e.raw?.message ?? e.message ?? 'unknown error', redactor);
  return {
    kind: 'fatal',
    error: new FlowreconError('STRIPE', `Stripe rejected ${what} (${status ?? e.type ?? 'error'}${rid}): ${detail}`),
  };
}

/**
 * Run `attempt` (one SDK call) paced by the limiter and retried per the
 * policy. Resolves to null when Stripe says the object does not exist.
 */
export async function withRetry<T>(
  what: string,
  attempt: () => Promise<T>,
  policy: RetryPolicy,
  deps: RetryDeps,
  signal?: AbortSignal,
): Promise<T | null> {
  const sleep = deps.sleep ?? realSleep;
  const random = deps.random ?? Math.random;
  const maxDelay = policy.maxDelayMs ?? 20_000;
  for (let retry = 0; ; retry++) {
    await deps.limiter.take(signal);
    let verdict: Verdict;
    try {
      return await attempt();
    } catch (err) {
      verdict = classify(err, what, deps.redactor);
    }
    if (verdict.kind === 'missing') return null;
    if (verdict.kind === 'fatal') throw verdict.error;
    const reason =
      verdict.status === 'connection'
        ? 'the connection failed'
        : verdict.status === 'bad answer'
          ? 'Stripe answered with something other than JSON'
          : `Stripe answered ${verdict.status}`;
    if (retry >= policy.maxRetries) {
      throw new FlowreconError(
        verdict.status === 'connection' ? 'NETWORK' : 'STRIPE',
        `${what}: ${reason} and ${policy.maxRetries} retries did not get through${verdict.requestId ? ` (last request ${verdict.requestId})` : ''}`,
      );
    }
    // Equal jitter: half fixed, half random, so a fleet of clients spreads out.
    const backoff = Math.min(maxDelay, policy.baseMs * 2 ** retry);
    const delay = Math.max(Math.round(backoff / 2 + (random() * backoff) / 2), Math.min(verdict.retryAfterMs ?? 0, maxDelay));
    if (verdict.status === 429) deps.limiter.pause(delay);
    deps.log.warn({ what, status: verdict.status, retry: retry + 1, of: policy.maxRetries, delayMs: delay, requestId: verdict.requestId }, `${what}: ${reason}, retrying`);
    await sleep(delay, signal);
  }
}
