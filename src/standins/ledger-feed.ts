/**
 * Builds AgentFlow feeds (CONTRACT 2 wire movements) that are consistent by
 * construction: unique ids, ascending ISO times, and a `balance_after` chain
 * that adds up. A movement can be deliberately dropped: it still moves the
 * balance but is not served, which is exactly the chain break a missing
 * movement causes (BALANCE_DRIFT). The demo generator and the tests use it.
 *
 *   const feed = new LedgerFeedBuilder({ start: '2026-12-01T00:00:00.000Z' });
 *   feed.topup('1000');
 *   feed.call({ callId: 'call_1', agentSlug: 'summarize', reserve: '2', settle: '0.75' });
 *   feed.add({ type: 'adjustment', amount: '-0.5' }, { drop: true });
 *   const dataset = feed.dataset({ sessions: ['s3cret'] });
 */
import { formatFlow, parseFlowMicro } from '../money.js';
import type { AgentflowDataset, WireMovement } from './types.js';

export type WireMovementType = 'topup' | 'reserve' | 'settle' | 'release' | 'refund' | 'adjustment';

/** One movement to add; the builder fills in id, time and balance_after. */
export interface MovementSpec {
  type: WireMovementType;
  /** Signed decimal string ("-2.000000") or signed micro-FLOW integer. */
  amount: string | number;
  callId?: string | null;
  agentSlug?: string | null;
  /** Defaults per type: reserve pending, settle succeeded, release/refund failed, else null. */
  callStatus?: string | null;
  /** Defaults to the builder's clock (start + stepMs per movement). */
  createdAt?: string;
  id?: string;
}

export interface FeedBuilderOptions {
  /** Time of the first movement (default 2026-12-01T00:00:00.000Z). */
  start?: string;
  /** Gap between consecutive movements' created_at (default 1000 ms). */
  stepMs?: number;
  /** Ids are `${idPrefix}${n}` zero-padded to 7 digits (default "mv_"). */
  idPrefix?: string;
  /** Balance before the first movement, micro-FLOW (default 0: a feed starts from nothing). */
  startBalanceMicro?: number;
  /** Number the first generated id with this (default 1). */
  firstNumber?: number;
}

const DEFAULT_STATUS: Record<WireMovementType, string | null> = {
  topup: null,
  reserve: 'pending',
  settle: 'succeeded',
  release: 'failed',
  refund: 'failed',
  adjustment: null,
};

const toMicro = (amount: string | number): number => (typeof amount === 'number' ? amount : parseFlowMicro(amount, 'feed amount'));

export class LedgerFeedBuilder {
  /** The movements that will be served (dropped ones excluded). */
  readonly movements: WireMovement[] = [];
  /** Movements that moved the balance but are not served. */
  readonly dropped: WireMovement[] = [];
  #balanceMicro: number;
  #timeMs: number;
  readonly #stepMs: number;
  readonly #idPrefix: string;
  #number: number;

  constructor(options: FeedBuilderOptions = {}) {
    this.#balanceMicro = options.startBalanceMicro ?? 0;
    this.#timeMs = Date.parse(options.start ?? '2026-12-01T00:00:00.000Z');
    this.#stepMs = options.stepMs ?? 1000;
    this.#idPrefix = options.idPrefix ?? 'mv_';
    this.#number = options.firstNumber ?? 1;
  }

  /** The balance after everything added so far (dropped movements included), micro-FLOW. */
  get balanceMicro(): number {
    return this.#balanceMicro;
  }

  /** The created_at the next movement gets unless its spec says otherwise. */
  get nextTime(): string {
    return new Date(this.#timeMs).toISOString();
  }

  /** Move the builder's clock (e.g. to leave a gap of days). */
  advance(ms: number): this {
    this.#timeMs += ms;
    return this;
  }

  /** Add one movement. With `drop`, the balance moves but the movement is not served: a chain break. */
  add(spec: MovementSpec, options: { drop?: boolean } = {}): WireMovement {
    const amountMicro = toMicro(spec.amount);
    this.#balanceMicro += amountMicro;
    const createdAt = spec.createdAt ?? new Date(this.#timeMs).toISOString();
    this.#timeMs = Math.max(this.#timeMs, Date.parse(createdAt)) + this.#stepMs;
    const m: WireMovement = {
      id: spec.id ?? `${this.#idPrefix}${String(this.#number++).padStart(7, '0')}`,
      type: spec.type,
      amount: formatFlow(amountMicro),
      call_id: spec.callId ?? null,
      agent_slug: spec.agentSlug ?? null,
      call_status: spec.callStatus !== undefined ? spec.callStatus : DEFAULT_STATUS[spec.type],
      created_at: createdAt,
      balance_after: formatFlow(this.#balanceMicro),
    };
    (options.drop ? this.dropped : this.movements).push(m);
    return m;
  }

  topup(amount: string | number): WireMovement {
    return this.add({ type: 'topup', amount });
  }

  /**
   * A whole call: a reserve of `reserve` FLOW (positive number, the card price),
   * then optionally its final movement: `settle` (the unused part returned),
   * `release` (everything returned) or `refund` (this part returned).
   */
  call(c: {
    callId: string;
    agentSlug?: string;
    reserve: string | number;
    settle?: string | number;
    release?: boolean;
    refund?: string | number;
    /** ms between the reserve and its final movement (default stepMs). */
    durationMs?: number;
  }): WireMovement[] {
    const reserveMicro = toMicro(c.reserve);
    const base = { callId: c.callId, agentSlug: c.agentSlug ?? 'summarize' };
    const out = [this.add({ ...base, type: 'reserve', amount: -reserveMicro })];
    if (c.durationMs !== undefined) this.#timeMs += c.durationMs - this.#stepMs;
    if (c.settle !== undefined) out.push(this.add({ ...base, type: 'settle', amount: toMicro(c.settle) }));
    else if (c.release) out.push(this.add({ ...base, type: 'release', amount: reserveMicro }));
    else if (c.refund !== undefined) out.push(this.add({ ...base, type: 'refund', amount: toMicro(c.refund) }));
    return out;
  }

  /** A data set for startAgentflowStandin. */
  dataset(options: { accountId?: string; sessions?: string[]; apiKeys?: string[]; reserved?: string } = {}): AgentflowDataset {
    return {
      accountId: options.accountId ?? 'acc_test',
      movements: this.movements,
      sessions: options.sessions ?? [],
      ...(options.apiKeys ? { apiKeys: options.apiKeys } : {}),
      ...(options.reserved !== undefined ? { reserved: options.reserved } : {}),
    };
  }
}

/** A small deterministic PRNG (mulberry32), so generated feeds are the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const AGENTS = ['summarize', 'translate', 'classify', 'extract', 'draft'];

/**
 * Add about `count` movements of ordinary traffic: a top-up first, then calls
 * that mostly succeed, some released, a few refunded, and top-ups whenever the
 * balance runs low. Deterministic for a given seed. Calls are finished in the
 * order they start (a reserve is followed by its final movement, with other
 * calls' reserves interleaved when `interleave` > 0).
 */
export function addSyntheticTraffic(
  feed: LedgerFeedBuilder,
  count: number,
  options: { seed?: number; callPrefix?: string; interleave?: number } = {},
): void {
  const rand = seededRandom(options.seed ?? 42);
  const prefix = options.callPrefix ?? 'call_';
  const interleave = options.interleave ?? 2;
  const open: { callId: string; agentSlug: string; reserveMicro: number }[] = [];
  let callNo = 0;
  const target = feed.movements.length + count;
  if (feed.balanceMicro < 100_000_000) feed.topup(1_000_000_000);
  while (feed.movements.length < target) {
    if (feed.balanceMicro < 50_000_000) {
      feed.topup(1_000_000_000);
      continue;
    }
    // Start a call when few are open, otherwise finish the oldest.
    if (open.length === 0 || (open.length <= interleave && feed.movements.length < target - open.length - 1)) {
      const callId = `${prefix}${++callNo}`;
      const agentSlug = AGENTS[Math.floor(rand() * AGENTS.length)] as string;
      const reserveMicro = (1 + Math.floor(rand() * 400)) * 10_000; // 0.01 .. 4.00 FLOW
      feed.add({ type: 'reserve', amount: -reserveMicro, callId, agentSlug });
      open.push({ callId, agentSlug, reserveMicro });
      continue;
    }
    const c = open.shift();
    if (!c) break;
    const roll = rand();
    const base = { callId: c.callId, agentSlug: c.agentSlug };
    if (roll < 0.85) feed.add({ ...base, type: 'settle', amount: Math.floor(rand() * c.reserveMicro) });
    else if (roll < 0.95) feed.add({ ...base, type: 'release', amount: c.reserveMicro });
    else feed.add({ ...base, type: 'refund', amount: Math.max(1, Math.floor(rand() * c.reserveMicro)) });
  }
}

/** `count` movements of synthetic traffic as a ready data set. */
export function syntheticDataset(
  count: number,
  options: { seed?: number; sessions?: string[]; apiKeys?: string[]; accountId?: string; start?: string; stepMs?: number } = {},
): AgentflowDataset {
  const feed = new LedgerFeedBuilder({
    ...(options.start ? { start: options.start } : {}),
    ...(options.stepMs !== undefined ? { stepMs: options.stepMs } : {}),
  });
  addSyntheticTraffic(feed, count, options.seed !== undefined ? { seed: options.seed } : {});
  return feed.dataset(options);
}
