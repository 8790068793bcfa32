/**
 * The small pure pieces of the Stripe side, table-driven: which calls a
 * charge names, how a failed request is classified, how backoff behaves.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlowreconError } from '../src/errors.js';
import { RateLimiter } from '../src/ratelimit.js';
import { Redactor } from '../src/secrets.js';
import { needsPaymentIntent, parseCallIds, resolveCallIds } from '../src/stripe/callids.js';
import { currencyDecimals } from '../src/stripe/currency.js';
import { planCursors } from '../src/stripe/cursors.js';
import { classify, withRetry } from '../src/stripe/retry.js';
import type { ChargeSnapshot } from '../src/stripe/types.js';
import { memoryLogger } from './helpers.js';

const charge = (metadata: Record<string, string>, pi: Record<string, string> | null, piId: string | null = pi ? 'pi_1' : null): ChargeSnapshot => ({
  id: 'ch_1', created: 1, status: 'succeeded', currency: 'usd', amount: 100, amount_captured: 100, amount_refunded: 0,
  captured: true, refunded: false, disputed: false, livemode: false, payment_intent: piId,
  payment_intent_object: pi && piId ? { id: piId, metadata: pi } : null, customer: null, description: null, metadata, refunds: null,
});

describe('call ids of a charge', () => {
  const cases: [string | undefined, string[]][] = [
    [undefined, []],
    ['', []],
    ['call_1', ['call_1']],
    ['  call_1  ', ['call_1']],
    ['call_1,call_2,call_3', ['call_1', 'call_2', 'call_3']],
    [' call_1 , ,call_2,, call_1 ,', ['call_1', 'call_2']],
    ['\tcall_a\n,call_b', ['call_a', 'call_b']],
    [' , , ', []],
  ];
  for (const [raw, ids] of cases) {
    it(`parses ${JSON.stringify(raw)}`, () => assert.deepEqual(parseCallIds(raw), ids));
  }

  it('takes the charge metadata first, the PaymentIntent when the charge names none', () => {
    const key = 'agentflow_call_id';
    assert.deepEqual(resolveCallIds(charge({ [key]: 'a,b' }, { [key]: 'c' }), key, { [key]: 'c' }), { ids: ['a', 'b'], raw: 'a,b', source: 'charge' });
    assert.deepEqual(resolveCallIds(charge({}, { [key]: ' c ' }), key, { [key]: ' c ' }), { ids: ['c'], raw: ' c ', source: 'payment_intent' });
    assert.deepEqual(resolveCallIds(charge({ [key]: ' ' }, { [key]: 'c' }), key, { [key]: 'c' }), { ids: ['c'], raw: 'c', source: 'payment_intent' });
    assert.deepEqual(resolveCallIds(charge({ [key]: ' ' }, {}), key, {}), { ids: [], raw: ' ', source: 'charge' });
    assert.deepEqual(resolveCallIds(charge({ other: 'x' }, null), key, null), { ids: [], raw: null, source: null });
    // A configured key name is honoured, the default one then ignored.
    assert.deepEqual(resolveCallIds(charge({ [key]: 'a', billed: 'z' }, null), 'billed', null).ids, ['z']);
  });

  it('asks for the PaymentIntent only when the charge names no call and it did not come expanded', () => {
    const key = 'agentflow_call_id';
    assert.equal(needsPaymentIntent(charge({}, null, 'pi_9'), key), true);
    assert.equal(needsPaymentIntent(charge({}, {}, 'pi_9'), key), false);
    assert.equal(needsPaymentIntent(charge({ [key]: 'a' }, null, 'pi_9'), key), false);
    assert.equal(needsPaymentIntent(charge({}, null, null), key), false);
  });
});

describe('currency decimals', () => {
  for (const [c, d] of [['usd', 2], ['EUR', 2], ['gbp', 2], ['jpy', 0], ['krw', 0], ['xof', 0], ['kwd', 3], ['chf', 2]] as const) {
    it(`${c}: ${d}`, () => assert.equal(currencyDecimals(c), d));
  }
});

describe('classifying Stripe failures', () => {
  const redactor = new Redactor();
  redactor.add('sk_test_secretValue123');
  const sdkError = (statusCode: number | undefined, extra: Record<string, unknown> = {}) => ({ statusCode, requestId: 'req_1', ...extra });

  it('401: AUTH, without Stripe\'s text (which quotes a masked key)', () => {
    const v = classify(sdkError(401, { type: 'StripeAuthenticationError', message: 'Invalid API Key provided: sk_test_****e123' }), 'list charges', redactor);
    assert.equal(v.kind, 'fatal');
    assert.ok(v.kind === 'fatal' && v.error.code === 'AUTH' && /Stripe refused the API key \(401, request req_1\)/.test(v.error.message));
    assert.ok(v.kind === 'fatal' && !v.error.message.includes('****') && !v.error.message.includes('e123'));
  });

  it('403: AUTH naming the request and the permissions to grant', () => {
    const v = classify(sdkError(403), 'list events', redactor);
    assert.ok(v.kind === 'fatal' && v.error.code === 'AUTH' && /list events/.test(v.error.message) && /Events/.test(v.error.message));
  });

  it('429 and 5xx are retried, with Retry-After when given; 404 is a missing object', () => {
    assert.deepEqual(classify(sdkError(429, { headers: { 'retry-after': '2' } }), 'x', redactor), { kind: 'retry', status: 429, retryAfterMs: 2000, requestId: 'req_1' });
    assert.deepEqual(classify(sdkError(503), 'x', redactor), { kind: 'retry', status: 503, retryAfterMs: undefined, requestId: 'req_1' });
    assert.deepEqual(classify(sdkError(404), 'x', redactor), { kind: 'missing' });
    assert.equal(classify({ type: 'StripeConnectionError' }, 'x', redactor).kind, 'retry');
    assert.equal(classify(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'x', redactor).kind, 'retry');
  });

  it('other answers fail at once, key-like text masked', () => {
    const v = classify(sdkError(400, { raw: { message: 'No such thing for sk_live_abcDEF123 or sk_test_secretValue123' } }), 'list refunds', redactor);
    assert.ok(v.kind === 'fatal' && v.error.code === 'STRIPE');
    assert.ok(v.kind === 'fatal' && !/sk_live_abc|secretValue/.test(v.error.message), v.kind === 'fatal' ? v.error.message : '');
    const bug = classify(new TypeError('x is not a function'), 'list refunds', redactor);
    assert.equal(bug.kind, 'fatal', 'a programming error is not retried as if it were the network');
  });
});

describe('bounded backoff', () => {
  const deps = (sleeps: number[], limiter = new RateLimiter({ limit: 1000, windowMs: 1000 })) => ({
    limiter,
    log: memoryLogger().log,
    redactor: new Redactor(),
    sleep: async (ms: number) => void sleeps.push(ms),
    random: () => 1,
  });

  it('doubles its delay up to the cap, then gives up with the last status', async () => {
    const sleeps: number[] = [];
    let attempts = 0;
    await assert.rejects(
      withRetry('list charges', async () => {
        attempts += 1;
        throw { statusCode: 500, requestId: `req_${attempts}` };
      }, { maxRetries: 4, baseMs: 100, maxDelayMs: 500 }, deps(sleeps)),
      (err: unknown) => err instanceof FlowreconError && err.code === 'STRIPE' && /answered 500 and 4 retries/.test(err.message) && /req_5/.test(err.message),
    );
    assert.equal(attempts, 5);
    assert.deepEqual(sleeps, [100, 200, 400, 500]);
  });

  it('waits at least Retry-After and pauses the shared pacer on a 429', async () => {
    class SpyLimiter extends RateLimiter {
      readonly paused: number[] = [];
      override pause(ms: number): void {
        this.paused.push(ms);
        super.pause(ms);
      }
    }
    let now = 0;
    const limiter = new SpyLimiter({ limit: 1000, windowMs: 1000, now: () => now });
    const sleeps: number[] = [];
    let attempts = 0;
    const value = await withRetry('list refunds', async () => {
      if (++attempts === 1) throw { statusCode: 429, headers: { 'retry-after': '3' } };
      return 'ok';
    }, { maxRetries: 2, baseMs: 10 }, {
      ...deps(sleeps, limiter),
      sleep: async (ms: number) => {
        sleeps.push(ms);
        now += ms;
      },
    });
    assert.equal(value, 'ok');
    assert.deepEqual(sleeps, [3000]);
    assert.deepEqual(limiter.paused, [3000], 'every request on this pacer waits, not just the one that got the 429');
  });

  it('does not retry an AUTH failure, and answers null for a missing object', async () => {
    let attempts = 0;
    await assert.rejects(
      withRetry('x', async () => {
        attempts += 1;
        throw { statusCode: 401 };
      }, { maxRetries: 5, baseMs: 1 }, deps([])),
      (err: unknown) => err instanceof FlowreconError && err.code === 'AUTH',
    );
    assert.equal(attempts, 1);
    assert.equal(await withRetry('x', async () => { throw { statusCode: 404 }; }, { maxRetries: 5, baseMs: 1 }, deps([])), null);
  });
});

describe('planning the sync windows', () => {
  const base = { nowSec: 10_000_000, sinceSec: 10_000_000 - 90 * 86_400, explicitSince: false, overlapSeconds: 300, eventLagSeconds: 60, retentionSeconds: 30 * 86_400 };

  it('a first sync starts charges and refunds at since, events at now minus the lag', () => {
    const plan = planCursors({ ...base, stored: {} });
    assert.deepEqual(plan.charges, { origin: base.sinceSec, watermark: null, window: null });
    assert.deepEqual(plan.refunds, { origin: base.sinceSec, watermark: null, window: null });
    assert.deepEqual(plan.events, { origin: base.nowSec - 60, watermark: base.nowSec - 60, window: null });
    assert.equal(plan.relisted, null);
  });

  it('an event cursor inside the 30 days is kept; one past it re-lists from the origin', () => {
    const charges = { origin: base.sinceSec, watermark: base.nowSec - 29 * 86_400, window: null };
    const fresh = planCursors({ ...base, stored: { charges, refunds: charges, events: { origin: 0, watermark: base.nowSec - 29 * 86_400, window: null } } });
    assert.equal(fresh.relisted, null);
    assert.deepEqual(fresh.charges, charges);

    const inProgress = { origin: base.sinceSec, watermark: base.nowSec - 40 * 86_400, window: { gte: base.nowSec - 40 * 86_400, lt: base.nowSec - 31 * 86_400, after: 're_1' } };
    const stale = planCursors({ ...base, stored: { charges, refunds: inProgress, events: { origin: 0, watermark: base.nowSec - 31 * 86_400, window: null } } });
    assert.ok(stale.relisted);
    assert.equal(stale.charges.watermark, null, 'charges read again from their origin');
    assert.deepEqual(stale.refunds.window, { ...inProgress.window, gte: base.sinceSec }, 'an unfinished window is widened, its position kept');
    assert.equal(stale.events.watermark! - 300, base.nowSec - 30 * 86_400 + 60);
    assert.equal(charges.watermark, base.nowSec - 29 * 86_400, 'the stored cursor objects are not changed');
  });

  it('an explicit since before the origin backfills; a later one changes nothing', () => {
    const done = { origin: base.sinceSec, watermark: base.nowSec - 3600, window: null };
    const earlier = base.sinceSec - 10 * 86_400;
    const plan = planCursors({ ...base, sinceSec: earlier, explicitSince: true, stored: { charges: done, refunds: done, events: { origin: 0, watermark: base.nowSec - 3600, window: null } } });
    assert.equal(plan.backfilled, true);
    assert.deepEqual(plan.charges, { origin: earlier, watermark: earlier + 300, window: null });
    const later = planCursors({ ...base, sinceSec: base.sinceSec + 86_400, explicitSince: true, stored: { charges: done, refunds: done } });
    assert.equal(later.backfilled, false);
    assert.deepEqual(later.charges, done);
  });
});
