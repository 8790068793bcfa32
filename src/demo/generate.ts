/**
 * A realistic, seeded history for the demo and the end-to-end tests: an app
 * reselling AgentFlow agent calls, its FLOW ledger (top-ups, reserves, settles,
 * releases, refunds, adjustments) and its Stripe charges and refunds, ending at
 * `now`. Most of it is right; a handful of each CONTRACT 7 mistake is injected,
 * each on its own calls and charges and clear of the billing grace and the
 * reservation TTL, so that under the rule order each is exactly one row.
 *
 * Everything is derived from the seed and offsets from `now`: the same seed
 * gives the same data shifted in time, and the same report numbers.
 */
import type { IdSequence } from '../standins/stripe-data.js';
import type { AgentflowDataset, StripeDataset } from '../standins/types.js';
import { buildStripe } from './billing.js';
import { planCalls } from './calls.js';
import { buildLedger } from './ledger.js';
import { chooseMistakes } from './mistakes.js';
import { DAY, MIN, iso, type Frame, type InjectedProblem } from './model.js';
import { Rng } from './random.js';
import { computeTruth, DEFAULT_RULES, type Truth, type TruthRules } from './truth.js';

export type { InjectedProblem } from './model.js';

export interface GenerateOptions {
  /** Agent calls in the history (default 20,000). */
  calls?: number;
  /** Days of history (default 7). */
  days?: number;
  seed?: number;
  /** End of the history (default: the current time). */
  now?: Date | number | string;
  /** Pricing, currency, metadata key, grace and TTL: the settings the app bills with and the truth checks against. */
  rules?: Partial<TruthRules>;
  /** How many of each mistake (default: about one per 4,000 calls, 3..8). */
  problemsPerType?: number;
  accountId?: string;
  sessions?: string[];
  apiKeys?: string[];
  stripeKeys?: string[];
}

export interface DemoData {
  agentflow: AgentflowDataset;
  stripe: StripeDataset;
  /** The truth as of `now`. Recompute with computeTruth after changing the data sets. */
  truth: Truth;
  injected: InjectedProblem[];
  rules: TruthRules;
  now: string;
  /** Typical FLOW spent per hour (micro), for choosing alert thresholds. */
  spendPerHourMicro: number;
  /** The Stripe id sequence, so later edits keep ids unique. */
  stripeIds: IdSequence;
}

export function generateDemo(options: GenerateOptions = {}): DemoData {
  const callCount = options.calls ?? 20_000;
  const days = options.days ?? 7;
  const seed = options.seed ?? 1;
  if (!Number.isInteger(callCount) || callCount < 200) throw new RangeError('generateDemo: calls must be a whole number >= 200');
  if (!Number.isInteger(days) || days < 1 || days > 60) throw new RangeError('generateDemo: days must be a whole number from 1 to 60');
  const rules: TruthRules = { ...DEFAULT_RULES, ...(options.rules ?? {}) };
  const K = options.problemsPerType ?? Math.min(8, Math.max(3, Math.round(callCount / 4000)));
  const rng = new Rng(seed);
  // Whole seconds, so Stripe's unix-second times and the feed's ISO times agree.
  const nowMs = Math.floor(new Date(options.now ?? Date.now()).getTime() / 1000) * 1000;
  const startMs = nowMs - Math.round(days * DAY);
  // The margins below (bills within 20 min, young calls inside 45 min) are cut for these floors.
  if (rules.billingGraceMinutes < 30 || rules.reservationTtlMinutes < 60) {
    throw new RangeError('generateDemo: needs a billing grace of at least 30 minutes and a reservation TTL of at least 60');
  }
  const frame: Frame = { rng, rules, nowMs, startMs, days, callCount, K, quietFrom: nowMs - DAY - 15 * MIN, quietTo: nowMs - DAY + 3 * MIN };

  const calls = planCalls(frame);
  const mistakes = chooseMistakes(frame, calls);
  const ledger = buildLedger(frame, calls, options);
  const billing = buildStripe(frame, calls, mistakes, options);
  const injected: InjectedProblem[] = [
    ...ledger.drifts,
    ...mistakes.stale.map((c) => ({ type: 'STALE_RESERVATION', callIds: [c.id], chargeIds: [], note: 'reserved, never settled' })),
    ...billing.injected,
  ];
  const truth = computeTruth(ledger.agentflow, billing.stripe, nowMs, rules);
  return {
    agentflow: ledger.agentflow,
    stripe: billing.stripe,
    truth,
    injected,
    rules,
    now: iso(nowMs),
    spendPerHourMicro: ledger.spendPerHourMicro,
    stripeIds: billing.stripeIds,
  };
}
