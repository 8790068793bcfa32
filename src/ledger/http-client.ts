/**
 * The AgentFlow ledger HTTP client: one keep-alive undici pool, auth per
 * CONTRACT 2, a client-side pacer so we never exceed the account's allowance
 * on our own, Retry-After honoured in full, bounded retries with backoff for
 * 5xx, resets and timeouts, no redirects followed. Every 200 body goes through
 * wire.ts before the sync sees it. Kept free of the settings loader so the
 * worker thread (threaded-client.ts) loads only what fetching needs.
 */
import { Pool } from 'undici';
import { sleep } from '../clock.js';
import type { Config } from '../config.js';
import type { LedgerPage } from '../domain.js';
import { FlowreconError } from '../errors.js';
import type { Logger } from '../log.js';
import { RateLimiter } from '../ratelimit.js';
import type { Redactor } from '../secrets.js';
import { parseLedgerPage } from './wire.js';

/** The narrow interface the ledger sync depends on. */
export interface LedgerApi {
  /** One validated page from `cursor` (null = from the first movement ever). */
  fetchPage(params: { cursor: string | null; limit: number }, signal?: AbortSignal): Promise<LedgerPage>;
  close(): Promise<void>;
}

export interface LedgerCredential {
  apiKey?: string;
  sessionToken?: string;
}

/** What the client needs of a pacer: RateLimiter, or a proxy to one on another thread. */
export interface Pacer {
  take(signal?: AbortSignal): Promise<void>;
  pause(ms: number): void;
  answered(): void;
}

export interface LedgerClientOptions {
  /** Replace the pacer built from the config (tests inject one with a fake clock; the fetch worker a proxy). */
  limiter?: Pacer;
  /** Jitter source, [0, 1). */
  random?: () => number;
  /** 429s ridden out per request before giving up (each one waits its full Retry-After). */
  max429Retries?: number;
  /** The credential already resolved (by ledgerCredential), e.g. handed to a worker thread. */
  credential?: LedgerCredential;
}

const FEED_PATH = '/me/flow-balance';
const MAX_BACKOFF_MS = 30_000;

/** Retry-After is whole seconds or an HTTP date; missing or unreadable means one second. */
export function retryAfterMs(value: string | string[] | undefined, nowMs = Date.now()): number {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return 1000;
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const date = Date.parse(t);
  return Number.isNaN(date) ? 1000 : Math.max(0, date - nowMs);
}

/** Errors worth another attempt: the connection broke, or the server did not answer in time. */
function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' &&
    (code.startsWith('UND_ERR_') ||
      ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code))
  );
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e?.code ? `${e.code}: ${e.message ?? ''}`.trim() : String(e?.message ?? err);
}

/** The HTTP client proper, given an already resolved credential (see ledgerCredential in client.ts). */
export function createLedgerHttpClient(
  config: Config,
  deps: { log: Logger; redactor: Redactor },
  options: LedgerClientOptions & { credential: LedgerCredential },
): LedgerApi {
  const { apiKey, sessionToken: token } = options.credential;
  deps.redactor.add(token);
  deps.redactor.add(apiKey);
  const credential = apiKey ? 'API key' : 'session cookie';
  const headers: Record<string, string> = apiKey
    ? { authorization: `Bearer ${apiKey}`, accept: 'application/json' }
    : { cookie: `af_session=${token}`, accept: 'application/json' };

  const base = new URL(config.agentflowBaseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  const pool = new Pool(base.origin, {
    connections: 2,
    keepAliveTimeout: 30_000,
    headersTimeout: config.agentflowTimeoutMs,
    bodyTimeout: config.agentflowTimeoutMs,
    connect: { timeout: config.agentflowTimeoutMs },
  });
  const limiter: Pacer =
    options.limiter ??
    new RateLimiter({
      limit: config.agentflowRateLimitPerMin,
      windowMs: config.agentflowRateWindowMs,
      marginMs: Math.max(50, Math.round(config.agentflowRateWindowMs * 0.01)),
    });
  const random = options.random ?? Math.random;
  const max429 = options.max429Retries ?? Math.max(10, config.agentflowMaxRetries);
  const log = deps.log;

  const backoffMs = (attempt: number): number => {
    const ceiling = Math.min(MAX_BACKOFF_MS, config.agentflowRetryBaseMs * 2 ** (attempt - 1));
    return Math.round(ceiling / 2 + (random() * ceiling) / 2); // "equal jitter": never zero, never a thundering herd
  };

  async function fetchPage(params: { cursor: string | null; limit: number }, signal?: AbortSignal): Promise<LedgerPage> {
    const query = new URLSearchParams({ limit: String(params.limit) });
    if (params.cursor !== null) query.set('cursor', params.cursor);
    const path = `${prefix}${FEED_PATH}?${query.toString()}`;
    let failures = 0;
    let throttled = 0;
    for (;;) {
      await limiter.take(signal);
      let problem: string;
      const started = Date.now();
      try {
        const res = await pool.request({ path, method: 'GET', headers, signal: signal ?? null });
        limiter.answered();
        const status = res.statusCode;
        if (status === 200) {
          const text = await res.body.text();
          log.debug({ path, status, ms: Date.now() - started, bytes: text.length }, 'agentflow page');
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            throw new FlowreconError('BAD_FEED', `AgentFlow feed: ${FEED_PATH} answered 200 with a body that is not JSON`);
          }
          return parseLedgerPage(body);
        }
        await res.body.dump();
        if (status === 401 || status === 403) {
          throw new FlowreconError(
            'AUTH',
            apiKey
              ? `AgentFlow refused the API key (HTTP ${status}): it is invalid or revoked; check AGENTFLOW_API_KEY`
              : `AgentFlow refused the session cookie (HTTP ${status}): it is expired or revoked; log in again and update AGENTFLOW_SESSION or AGENTFLOW_SESSION_FILE`,
          );
        }
        if (status === 429) {
          throttled += 1;
          const waitMs = retryAfterMs(res.headers['retry-after']);
          if (throttled > max429) {
            throw new FlowreconError('NETWORK', `AgentFlow ${FEED_PATH}: still rate limited (HTTP 429) after ${max429} waits; giving up`);
          }
          log.warn({ path, status, retryAfterMs: waitMs }, 'agentflow rate limit hit; waiting for Retry-After');
          limiter.pause(waitMs);
          continue;
        }
        if (status >= 300 && status < 400) {
          throw new FlowreconError('NETWORK', `AgentFlow ${FEED_PATH} answered a redirect (HTTP ${status}); redirects are not followed, check AGENTFLOW_BASE_URL`);
        }
        if (status === 400) {
          throw new FlowreconError('NETWORK', `AgentFlow ${FEED_PATH} refused ${path} (HTTP 400): the page size or the stored cursor is not accepted`);
        }
        if (status < 500) {
          throw new FlowreconError('NETWORK', `AgentFlow ${FEED_PATH} answered HTTP ${status}; check AGENTFLOW_BASE_URL (${base.origin}${prefix})`);
        }
        problem = `HTTP ${status}`;
      } catch (err) {
        if (err instanceof FlowreconError) throw err;
        if (signal?.aborted) throw signal.reason;
        if (!isTransient(err)) {
          throw new FlowreconError('NETWORK', `AgentFlow ${FEED_PATH}: request failed: ${describe(err)}`, { cause: err });
        }
        problem = describe(err);
      }
      failures += 1;
      if (failures > config.agentflowMaxRetries) {
        throw new FlowreconError(
          'NETWORK',
          `AgentFlow ${FEED_PATH} (${base.origin}${prefix}) failed ${failures} times, last: ${problem}; giving up after ${config.agentflowMaxRetries} retries`,
        );
      }
      const delay = backoffMs(failures);
      log.warn({ path, problem, attempt: failures, delayMs: delay, credential }, 'agentflow request failed; retrying');
      await sleep(delay, signal);
    }
  }

  return {
    fetchPage,
    async close() {
      await pool.destroy();
    },
  };
}
