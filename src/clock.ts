/** Time is passed in; only the CLI and scheduler touch the real clock. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock tests can set and advance. */
export class ManualClock implements Clock {
  #ms: number;
  constructor(start: Date | string | number) {
    this.#ms = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.#ms);
  }
  set(t: Date | string | number): void {
    this.#ms = new Date(t).getTime();
  }
  advance(ms: number): void {
    this.#ms += ms;
  }
}

/** ISO-8601 UTC with milliseconds, the one timestamp format stored and printed. */
export function iso(d: Date | number): string {
  return new Date(d).toISOString();
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
