/** Seeded randomness for the demo: the same seed gives the same history, byte for byte. */
import { seededRandom } from '../standins/ledger-feed.js';

export class Rng {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = seededRandom(seed);
  }
  /** [0, 1) */
  float(): number {
    return this.#next();
  }
  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.#next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.#next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#next() * items.length)] as T;
  }
  weighted<T extends { weight: number }>(items: readonly T[]): T {
    const total = items.reduce((s, i) => s + i.weight, 0);
    let r = this.#next() * total;
    for (const item of items) {
      r -= item.weight;
      if (r < 0) return item;
    }
    return items[items.length - 1] as T;
  }
  /** Remove and return up to `n` random items of `pool` (which is changed). */
  take<T>(pool: T[], n: number): T[] {
    const out: T[] = [];
    while (out.length < n && pool.length > 0) out.push(pool.splice(Math.floor(this.#next() * pool.length), 1)[0] as T);
    return out;
  }
}
