/**
 * Pricing (CONTRACT 4): the USD a call should be billed and what it cost us,
 * in exact rational arithmetic on bigints, rounded half to even once at the end.
 *
 *   expected cents = round-half-even(net micro x rate x (1 + markup) x 100 / 10^6)
 *   cost cents     = round-half-even(net micro x rate x 100 / 10^6)
 *
 * The rate and markup in force are those of the PRICING_FILE period containing
 * the call's start (its reserve time), with that period's per-agent overrides;
 * calls started before the first period, or without a reserve at all, use
 * FLOW_USD_RATE / MARKUP.
 */
import type { Config, PricingPeriod } from '../config.js';
import { addDecimal, decimalToString, formatFlow, MICRO_PER_FLOW, ONE, parseDecimal, roundHalfEven, type Decimal } from '../money.js';

export interface Price {
  readonly flowUsdRate: string;
  readonly markup: string;
}

/** The price's factors folded to micro-FLOW -> cents rationals, computed once per (period, agent). */
interface Factors {
  readonly price: Price;
  readonly expected: Decimal; // cents per micro-FLOW, markup included
  readonly cost: Decimal; // cents per micro-FLOW
}

export interface PriceExplanation {
  readonly cents: number;
  /** e.g. "1.250000 FLOW x 0.01 x 1.25" */
  readonly formula: string;
  /** The unrounded USD value, exact when it terminates ("1.5625"). */
  readonly exactUsd: string;
}

const CENTS_PER_USD: Decimal = { num: 100n, den: 1n };
const PER_MICRO: Decimal = { num: 1n, den: BigInt(MICRO_PER_FLOW) };

function mul(...ds: Decimal[]): Decimal {
  return ds.reduce((a, b) => ({ num: a.num * b.num, den: a.den * b.den }), ONE);
}

export class Pricer {
  readonly #base: Price;
  readonly #periods: readonly PricingPeriod[];
  readonly #fromMs: readonly number[];
  readonly #cache = new Map<string, Factors>();

  constructor(config: Pick<Config, 'flowUsdRate' | 'markup' | 'pricing'>) {
    this.#base = { flowUsdRate: config.flowUsdRate, markup: config.markup };
    this.#periods = config.pricing; // sorted by `from` at load
    this.#fromMs = this.#periods.map((p) => Date.parse(p.from));
  }

  /** The rate and markup in force for a call of `agentSlug` started at `startedAt`. */
  priceFor(agentSlug: string | null, startedAt: string | null): Price {
    return this.#factors(agentSlug, startedAt).price;
  }

  expectedCents(netMicro: number, agentSlug: string | null, startedAt: string | null): number {
    const f = this.#factors(agentSlug, startedAt).expected;
    return Number(roundHalfEven(BigInt(netMicro) * f.num, f.den));
  }

  costCents(netMicro: number, agentSlug: string | null, startedAt: string | null): number {
    const f = this.#factors(agentSlug, startedAt).cost;
    return Number(roundHalfEven(BigInt(netMicro) * f.num, f.den));
  }

  /**
   * When every call has the same price (no PRICING_FILE), the expected-cents
   * factor as a reduced fraction num/den per micro-FLOW, so SQL can apply it;
   * null when prices vary by start or agent.
   */
  uniformExpected(): { num: bigint; den: bigint } | null {
    if (this.#periods.length > 0) return null;
    const f = this.#factors(null, null).expected;
    const g = gcd(f.num, f.den);
    return { num: f.num / g, den: f.den / g };
  }

  /** The numbers behind expectedCents, for the `detail` column. */
  explainExpected(netMicro: number, agentSlug: string | null, startedAt: string | null): PriceExplanation {
    const { price, expected } = this.#factors(agentSlug, startedAt);
    const onePlus = addDecimal(ONE, parseDecimal(price.markup));
    const exactCents: Decimal = { num: BigInt(netMicro) * expected.num, den: expected.den };
    return {
      cents: Number(roundHalfEven(exactCents.num, exactCents.den)),
      formula: `${formatFlow(netMicro)} FLOW x ${price.flowUsdRate} x ${decimalToString(onePlus)}`,
      exactUsd: atLeastCents(decimalToString({ num: exactCents.num, den: exactCents.den * 100n })),
    };
  }

  #periodIndex(startedAt: string | null): number {
    if (startedAt === null || this.#periods.length === 0) return -1;
    const t = Date.parse(startedAt);
    // Last period whose `from` is <= the start: binary search over the sorted list.
    let lo = 0;
    let hi = this.#fromMs.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((this.#fromMs[mid] as number) <= t) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  #factors(agentSlug: string | null, startedAt: string | null): Factors {
    const index = this.#periodIndex(startedAt);
    const key = `${index}\u0000${agentSlug ?? ''}`;
    let f = this.#cache.get(key);
    if (!f) {
      let price = this.#base;
      if (index >= 0) {
        const period = this.#periods[index] as PricingPeriod;
        const override = agentSlug !== null ? period.agents[agentSlug] : undefined;
        price = {
          flowUsdRate: override?.flowUsdRate ?? period.flowUsdRate,
          markup: override?.markup ?? period.markup,
        };
      }
      const rate = parseDecimal(price.flowUsdRate, 'flow_usd_rate');
      const onePlus = addDecimal(ONE, parseDecimal(price.markup, 'markup'));
      f = {
        price,
        expected: mul(PER_MICRO, rate, onePlus, CENTS_PER_USD),
        cost: mul(PER_MICRO, rate, CENTS_PER_USD),
      };
      this.#cache.set(key, f);
    }
    return f;
  }
}

/** "2" -> "2.00", "1.5" -> "1.50"; longer exact values stay as they are. */
function atLeastCents(text: string): string {
  const dot = text.indexOf('.');
  if (dot < 0) return `${text}.00`;
  return text.length - dot - 1 < 2 ? text.padEnd(dot + 3, '0') : text;
}

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x === 0n ? 1n : x;
}
