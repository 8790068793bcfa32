/**
 * Webhook delivery with undici: JSON POST, a timeout, no redirects, bounded
 * retries with exponential backoff and jitter, and an `Idempotency-Key`
 * header that is the alert event's id — identical on every retry, so a
 * receiver can drop repeats. Delivery never throws into the run: the outcome
 * is recorded on the outbox row and a failure is retried next evaluation.
 */
import { Agent, request } from 'undici';
import { sleep, type Clock } from '../clock.js';
import type { Db } from '../db/connection.js';
import type { Logger } from '../log.js';
import type { Redactor } from '../secrets.js';

export interface WebhookOptions {
  url: string;
  timeoutMs: number;
  maxRetries: number;
  retryBaseMs: number;
}

export interface DeliveryOutcome {
  ok: boolean;
  attempts: number;
  status?: number;
  error?: string;
}

/** Where a webhook goes, for logs: the origin only (Slack-style URLs carry a token in the path). */
export function describeUrl(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}

async function postOnce(dispatcher: Agent, options: WebhookOptions, body: string, key: string): Promise<{ ok: boolean; retryable: boolean; status?: number; error?: string }> {
  try {
    const res = await request(options.url, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json', 'idempotency-key': key, 'user-agent': 'flowrecon' },
      body,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    await res.body.dump();
    const status = res.statusCode;
    if (status >= 200 && status < 300) return { ok: true, retryable: false, status };
    // A redirect is not followed: a webhook URL that moved is a configuration problem.
    const retryable = status === 408 || status === 429 || status >= 500;
    return { ok: false, retryable, status, error: status >= 300 && status < 400 ? `HTTP ${status} (redirects are not followed)` : `HTTP ${status}` };
  } catch (err) {
    const e = err as Error & { code?: string };
    return { ok: false, retryable: true, error: e.name === 'TimeoutError' ? `timeout after ${options.timeoutMs} ms` : (e.code ?? e.message) };
  }
}

/** POST one payload, retrying transient failures up to `maxRetries` times. */
export async function postWebhook(
  options: WebhookOptions,
  payload: unknown,
  idempotencyKey: string,
  deps: { signal?: AbortSignal; dispatcher?: Agent } = {},
): Promise<DeliveryOutcome> {
  const body = JSON.stringify(payload);
  const dispatcher = deps.dispatcher ?? new Agent({ connect: { timeout: options.timeoutMs }, keepAliveTimeout: 1000 });
  let attempts = 0;
  let last: { status?: number; error?: string } = {};
  try {
    for (;;) {
      attempts++;
      const r = await postOnce(dispatcher, options, body, idempotencyKey);
      if (r.ok) return { ok: true, attempts, ...(r.status !== undefined ? { status: r.status } : {}) };
      last = r;
      if (!r.retryable || attempts > options.maxRetries || deps.signal?.aborted) break;
      const backoff = options.retryBaseMs * 2 ** (attempts - 1);
      await sleep(backoff / 2 + Math.random() * (backoff / 2), deps.signal).catch(() => undefined);
    }
  } finally {
    if (!deps.dispatcher) await dispatcher.close();
  }
  return { ok: false, attempts, ...last };
}

interface OutboxRow {
  event_id: string;
  alert_type: string;
  payload_json: string;
  attempts: number;
}

/**
 * Deliver waiting outbox events, oldest first. Stops at the first failure so
 * a receiver never sees a recovery before the alert it recovers.
 */
export async function deliverOutbox(
  deps: { db: Db; clock: Clock; log: Logger; redactor: Redactor },
  options: WebhookOptions,
  control: { signal?: AbortSignal; limit?: number } = {},
): Promise<{ delivered: number; failed: number; pending: number }> {
  const { sqlite } = deps.db;
  const rows = sqlite
    .prepare('SELECT event_id, alert_type, payload_json, attempts FROM alert_outbox WHERE delivered_at IS NULL ORDER BY created_at, rowid LIMIT ?')
    .all(control.limit ?? 100) as OutboxRow[];
  const mark = sqlite.prepare(
    'UPDATE alert_outbox SET attempts = attempts + ?, last_attempt_at = ?, delivered_at = ?, last_error = ? WHERE event_id = ?',
  );
  let delivered = 0;
  let failed = 0;
  const dispatcher = new Agent({ connect: { timeout: options.timeoutMs }, keepAliveTimeout: 1000 });
  try {
    for (const row of rows) {
      const payload = JSON.parse(deps.redactor.scrub(row.payload_json)) as unknown;
      const outcome = await postWebhook(options, payload, row.event_id, { dispatcher, ...(control.signal ? { signal: control.signal } : {}) });
      const now = deps.clock.now().toISOString();
      mark.run(outcome.attempts, now, outcome.ok ? now : null, outcome.ok ? null : (outcome.error ?? 'failed'), row.event_id);
      const fields = { alertType: row.alert_type, eventId: row.event_id, attempts: row.attempts + outcome.attempts, webhook: describeUrl(options.url) };
      if (outcome.ok) {
        delivered++;
        deps.log.info(fields, 'alert webhook delivered');
      } else {
        failed++;
        deps.log.warn({ ...fields, error: outcome.error }, 'alert webhook delivery failed; it is retried at the next evaluation');
        break;
      }
    }
  } finally {
    await dispatcher.close();
  }
  return { delivered, failed, pending: rows.length - delivered };
}
