/**
 * A client-side pacer: at most `limit` acquisitions in any window of
 * `windowMs`, never a burst past it. It remembers when each of the last
 * `limit` permits was taken (a sliding log), so the guarantee holds for every
 * window, not just aligned ones. `pause(ms)` blocks everyone (a server's
 * Retry-After applies to the whole client, not just the request that got it).
 */
import { sleep } from './clock.js';

export interface RateLimiterOptions {
  limit: number;
  windowMs: number;
  /** Extra gap kept past the window edge so clock skew with the server never tips us over. */
  marginMs?: number;
  now?: () => number;
}

export class RateLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #marginMs: number;
  readonly #now: () => number;
  readonly #taken: number[] = [];
  #pausedUntil = 0;
  #queue: Promise<void> = Promise.resolve();

  constructor(options: RateLimiterOptions) {
    if (!(options.limit >= 1)) throw new RangeError('RateLimiter: limit must be >= 1');
    this.#limit = Math.floor(options.limit);
    this.#windowMs = options.windowMs;
    this.#marginMs = options.marginMs ?? 0;
    this.#now = options.now ?? Date.now;
  }

  /** Wait until a request may be sent, then count it. Callers are served in order. */
  take(signal?: AbortSignal): Promise<void> {
    const next = this.#queue.then(() => this.#acquire(signal));
    // Keep the chain alive after a rejected (aborted) waiter.
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /**
   * The request of the latest permit was answered: count that permit from now
   * instead. The server saw the request at some moment up to now, so a slow
   * first arrival can never put one request too many into the server's window.
   * Only ever moves a stamp later, so it can only make the limiter stricter.
   */
  answered(): void {
    const last = this.#taken.length - 1;
    if (last >= 0) this.#taken[last] = Math.max(this.#taken[last] as number, this.#now());
  }

  /** Hold every request until `ms` from now (e.g. a 429's Retry-After). */
  pause(ms: number): void {
    this.#pausedUntil = Math.max(this.#pausedUntil, this.#now() + ms);
  }

  async #acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = this.#now();
      let waitMs = this.#pausedUntil - now;
      if (this.#taken.length >= this.#limit) {
        const oldest = this.#taken[this.#taken.length - this.#limit] as number;
        waitMs = Math.max(waitMs, oldest + this.#windowMs + this.#marginMs - now);
      }
      if (waitMs <= 0) {
        this.#taken.push(now);
        if (this.#taken.length > this.#limit) this.#taken.splice(0, this.#taken.length - this.#limit);
        return;
      }
      await sleep(waitMs, signal);
    }
  }
}
