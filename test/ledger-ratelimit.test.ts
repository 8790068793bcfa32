import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { RateLimiter } from '../src/ratelimit.js';

/**
 * The limiter's own clock is injected (`now`); the test moves it forward in
 * small steps and lets the limiter's short real sleeps run out between steps.
 * Grants are recorded on the injected clock, so the sliding-window property is
 * checked exactly, whatever the real timing.
 */
async function drive(limiter: RateLimiter, clock: { t: number }, takes: number, stepMs: number, until = 10_000): Promise<number[]> {
  const grants: number[] = [];
  for (let i = 0; i < takes; i++) void limiter.take().then(() => grants.push(clock.t));
  while (grants.length < takes && clock.t < until) {
    await new Promise((r) => setTimeout(r, 1));
    clock.t += stepMs;
  }
  return grants;
}

function maxInWindow(times: number[], windowMs: number): number {
  let best = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while ((times[i] as number) - (times[j] as number) >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('RateLimiter (sliding window)', () => {
  it('grants the whole allowance at once, then nothing until the oldest permit leaves the window', async () => {
    const clock = { t: 0 };
    const limiter = new RateLimiter({ limit: 3, windowMs: 30, now: () => clock.t });
    const granted: number[] = [];
    for (let i = 0; i < 4; i++) void limiter.take().then(() => granted.push(i));
    await nextTurn();
    assert.deepEqual(granted, [0, 1, 2]);
    await new Promise((r) => setTimeout(r, 60)); // real time passes, the injected clock does not
    assert.deepEqual(granted, [0, 1, 2], 'no permit while the window is full on the limiter clock');
    clock.t = 30;
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(granted, [0, 1, 2, 3]);
  });

  it('never lets more than the limit into any window, however the requests bunch up', async () => {
    const clock = { t: 0 };
    const limiter = new RateLimiter({ limit: 5, windowMs: 20, now: () => clock.t });
    const grants = await drive(limiter, clock, 23, 1);
    assert.equal(grants.length, 23);
    assert.ok(maxInWindow(grants, 20) <= 5, `saw ${maxInWindow(grants, 20)} in one window`);
    // And it uses the allowance: 23 permits need just over 4 windows.
    assert.ok((grants.at(-1) as number) <= 4 * 20 + 10, `last grant at ${grants.at(-1)}`);
  });

  it('keeps the margin past the window edge', async () => {
    const clock = { t: 0 };
    const limiter = new RateLimiter({ limit: 2, windowMs: 20, marginMs: 5, now: () => clock.t });
    const grants = await drive(limiter, clock, 4, 1);
    assert.ok((grants[2] as number) >= 25, `third grant at ${grants[2]}`);
  });

  it('pause() holds every caller until the pause ends, even with permits left', async () => {
    const clock = { t: 1000 };
    const limiter = new RateLimiter({ limit: 100, windowMs: 1000, now: () => clock.t });
    await limiter.take();
    limiter.pause(20);
    const grants = await drive(limiter, clock, 3, 1);
    for (const g of grants) assert.ok(g >= 1020, `granted at ${g} during the pause`);
  });

  it('serves callers in order and survives an aborted waiter', async () => {
    const clock = { t: 0 };
    const limiter = new RateLimiter({ limit: 1, windowMs: 10, now: () => clock.t });
    await limiter.take();
    const controller = new AbortController();
    const aborted = limiter.take(controller.signal);
    controller.abort(new Error('stop'));
    await assert.rejects(aborted, /stop/);
    const order: number[] = [];
    const done = [limiter.take().then(() => order.push(1)), limiter.take().then(() => order.push(2))];
    while (order.length < 2) {
      await new Promise((r) => setTimeout(r, 1));
      clock.t += 2;
    }
    await Promise.all(done);
    assert.deepEqual(order, [1, 2]);
  });
});

describe('RateLimiter.answered', () => {
  it('counts the latest permit from the answer, so a slow request cannot crowd the next window', async () => {
    const clock = { t: 0 };
    const limiter = new RateLimiter({ limit: 1, windowMs: 20, now: () => clock.t });
    await limiter.take();
    clock.t = 15; // the answer came late: the server may have counted the request only now
    limiter.answered();
    const grants = await drive(limiter, clock, 1, 1);
    assert.ok((grants[0] as number) >= 35, `second permit at ${grants[0]}, before 15 + 20`);
  });
});
