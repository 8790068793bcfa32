/** What the demo generator's parts share: the agents, one planned call, and the run's frame. */
import { priceFor, type TruthRules } from './truth.js';
import type { Rng } from './random.js';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;

export interface Agent {
  slug: string;
  /** The card price: what a call of this agent reserves. */
  reserveMicro: number;
  weight: number;
  /** Cheap agents are mostly billed in batches. */
  batch: boolean;
}

export const AGENTS: readonly Agent[] = [
  { slug: 'summarize', reserveMicro: 8_000_000, weight: 30, batch: true },
  { slug: 'translate', reserveMicro: 20_000_000, weight: 20, batch: true },
  { slug: 'image-gen', reserveMicro: 50_000_000, weight: 15, batch: false },
  { slug: 'code-review', reserveMicro: 150_000_000, weight: 15, batch: false },
  { slug: 'research', reserveMicro: 400_000_000, weight: 12, batch: false },
  { slug: 'deep-research', reserveMicro: 1_200_000_000, weight: 8, batch: false },
];

export type Outcome = 'settle' | 'release' | 'refund' | 'pending';

export interface CallPlan {
  id: string;
  agent: Agent;
  customer: number;
  startMs: number;
  finishMs: number;
  outcome: Outcome;
  reserveMicro: number;
  /** What the final movement returns. */
  returnMicro: number;
  adjustMicro: number;
  adjustMs: number;
  /** Net FLOW cost including the adjustment. */
  netMicro: number;
  expectedCents: number;
  /** Price of the whole reservation: what "full price" means for a failed call. */
  fullCents: number;
  tie: boolean;
  /** Set once the call is spoken for by an injected problem or a trap. */
  role: string | null;
}

/** One generation: its randomness, its clock and its settings. */
export interface Frame {
  rng: Rng;
  rules: TruthRules;
  /** End of the history, whole seconds. */
  nowMs: number;
  startMs: number;
  days: number;
  callCount: number;
  /** How many of each mistake. */
  K: number;
  /** The trailing-24h window edge stays quiet so the runway is the same however long the run takes. */
  quietFrom: number;
  quietTo: number;
}

export interface InjectedProblem {
  type: string;
  callIds: string[];
  chargeIds: string[];
  /** How it was made, for people reading a failing test. */
  note: string;
}

export const iso = (ms: number): string => new Date(ms).toISOString();
export const sec = (ms: number): number => Math.floor(ms / 1000);

function exact(c: CallPlan, rules: TruthRules): { num: bigint; den: bigint } {
  const { rate, markup } = priceFor(rules.pricing, c.agent.slug, iso(c.startMs));
  return { num: BigInt(c.netMicro) * rate.num * (markup.den + markup.num) * 100n, den: 1_000_000n * rate.den * markup.den };
}

/** What a half-up rounding would bill: the classic off-by-a-cent. */
export function halfUpCents(c: CallPlan, rules: TruthRules): number {
  const { num, den } = exact(c, rules);
  return Number((2n * num + den) / (2n * den));
}
