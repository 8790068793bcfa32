/**
 * The AgentFlow ledger client as the rest of flowrecon sees it: the LedgerApi
 * interface and `createLedgerApi(config, deps)`, which resolves the credential
 * for this run and builds the HTTP client (http-client.ts).
 *
 * The session cookie is read when the client is created. One client is made
 * per run, so a rotated AGENTFLOW_SESSION_FILE is picked up by the next run
 * without a restart.
 */
import { readSessionToken, type Config } from '../config.js';
import { FlowreconError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Redactor } from '../secrets.js';
import { RateLimiter } from '../ratelimit.js';
import { createLedgerHttpClient, type LedgerApi, type LedgerClientOptions, type LedgerCredential } from './http-client.js';

export type { LedgerApi, LedgerClientOptions, LedgerCredential, Pacer } from './http-client.js';

/** The pacer for the account's allowance (AGENTFLOW_RATE_LIMIT_PER_MIN per AGENTFLOW_RATE_WINDOW_MS). */
export function ledgerLimiter(config: Config): RateLimiter {
  return new RateLimiter({
    limit: config.agentflowRateLimitPerMin,
    windowMs: config.agentflowRateWindowMs,
    // Our clock starts a window when we send, the server's when the request lands: keep a little slack.
    marginMs: Math.max(50, Math.round(config.agentflowRateWindowMs * 0.01)),
  });
}
export { retryAfterMs } from './http-client.js';

/**
 * The credential for this run: the API key when set, else the session cookie
 * (AGENTFLOW_SESSION_FILE read now). Missing credentials are a settings error.
 */
export function ledgerCredential(config: Config): LedgerCredential {
  if (config.agentflowApiKey) return { apiKey: config.agentflowApiKey };
  const sessionToken = readSessionToken(config);
  if (!sessionToken) {
    throw new FlowreconError(
      'CONFIG',
      'invalid setting AGENTFLOW_SESSION: no AgentFlow credentials; set AGENTFLOW_SESSION, AGENTFLOW_SESSION_FILE or AGENTFLOW_API_KEY',
    );
  }
  return { sessionToken };
}

export function createLedgerApi(config: Config, deps: { log: Logger; redactor: Redactor }, options: LedgerClientOptions = {}): LedgerApi {
  return createLedgerHttpClient(config, deps, {
    ...options,
    credential: options.credential ?? ledgerCredential(config),
    limiter: options.limiter ?? ledgerLimiter(config),
  });
}
