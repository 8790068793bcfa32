/**
 * The generator's answer key: a second, deliberately naive implementation of
 * CONTRACT 2-4, 7 and 8, computed in memory from the data sets exactly as the
 * stand-ins serve them. It shares no code with src/reconcile on purpose: the
 * end-to-end tests compare the engine's report and exports with this, so a
 * misreading of the contract has to be made twice, independently, to pass.
 */
import { formatCents, formatFlow, parseDecimal, parseFlowMicro, roundHalfEven, type Decimal } from '../money.js';
import type { AgentflowDataset, StripeChargeObject, StripeDataset } from '../standins/types.js';

/** A price in force from `from` (ISO), with optional per-agent overrides (CONTRACT 5 PRICING_FILE). */
export interface TruthPricePeriod {
  from: string;
  flowUsdRate: string;
  markup: string;
  agents?: Record<string, { flowUsdRate?: string; markup?: string }>;
}

export interface TruthPricing {
  flowUsdRate: string;
  markup: string;
  periods?: TruthPricePeriod[];
}

export interface TruthRules {
  pricing: TruthPricing;
  currency: string;
  callIdKey: string;
  toleranceCents: number;
  billingGraceMinutes: number;
  reservationTtlMinutes: number;
}

export const DEFAULT_RULES: TruthRules = {
  pricing: { flowUsdRate: '0.01', markup: '0.25' },
  currency: 'usd',
  callIdKey: 'agentflow_call_id',
  toleranceCents: 0,
  billingGraceMinutes: 30,
  reservationTtlMinutes: 60,
};

export interface TruthDiscrepancy {
  type: string;
  /** Sorted. */
  callIds: string[];
  /** Sorted. */
  chargeIds: string[];
  /** Where the contract pins it unambiguously (single-call rows, orphans, drifts, stale reservations). */
  occurredAt?: string;
  /** BALANCE_DRIFT: the missing amount. */
  flowNetMicro?: number;
  /** Compared groups (REFUND_NOT_PASSED_ON, OVER_REFUNDED, AMOUNT_MISMATCH). */
  expectedCents?: number;
  billedCents?: number;
}

/** One CONTRACT 8 `export calls` row, as the strings the CSV must hold. */
export interface TruthCallRow {
  call_id: string;
  agent_slug: string;
  started_at: string;
  status: 'pending' | 'succeeded' | 'failed';
  flow_reserved: string;
  flow_returned: string;
  flow_net: string;
  expected_usd: string;
  charged_usd: string;
  refunded_usd: string;
  margin_usd: string;
  stripe_charge_ids: string;
}

export const CALL_EXPORT_COLUMNS = [
  'call_id',
  'agent_slug',
  'started_at',
  'status',
  'flow_reserved',
  'flow_returned',
  'flow_net',
  'expected_usd',
  'charged_usd',
  'refunded_usd',
  'margin_usd',
  'stripe_charge_ids',
] as const;

export interface Truth {
  /** The instant the truth is computed for (the pipeline's clock must be within minutes of it). */
  asOf: string;
  /** In rule order, then by first call id / charge id. */
  discrepancies: TruthDiscrepancy[];
  /** Ordered by start time, then call id. */
  calls: TruthCallRow[];
}

interface CallAgg {
  callId: string;
  agentSlug: string | null;
  startedAt: string | null;
  reservedMicro: number;
  returnedMicro: number;
  netMicro: number;
  status: 'pending' | 'succeeded' | 'failed';
  finishedAt: string | null;
}

interface ChargeInfo {
  charge: StripeChargeObject;
  callIds: string[];
  succeededRefunds: number;
  live: boolean;
}

const RULE_ORDER = [
  'BALANCE_DRIFT',
  'STALE_RESERVATION',
  'ORPHAN_CHARGE',
  'UNBILLED_CALL',
  'CURRENCY_MISMATCH',
  'DUPLICATE_CHARGE',
  'REFUND_NOT_PASSED_ON',
  'OVER_REFUNDED',
  'AMOUNT_MISMATCH',
];

const FINAL: Record<string, 'succeeded' | 'failed' | undefined> = { settle: 'succeeded', release: 'failed', refund: 'failed' };

/** The rate and markup in force for a call of `slug` started at `startedAt`. */
export function priceFor(pricing: TruthPricing, slug: string | null, startedAt: string | null): { rate: Decimal; markup: Decimal } {
  let rate = pricing.flowUsdRate;
  let markup = pricing.markup;
  const t = startedAt ? Date.parse(startedAt) : Number.NaN;
  const periods = [...(pricing.periods ?? [])].sort((a, b) => Date.parse(a.from) - Date.parse(b.from));
  for (const p of periods) {
    if (!(Date.parse(p.from) <= t)) continue;
    rate = p.flowUsdRate;
    markup = p.markup;
    const o = slug ? p.agents?.[slug] : undefined;
    if (o?.flowUsdRate !== undefined) rate = o.flowUsdRate;
    if (o?.markup !== undefined) markup = o.markup;
  }
  return { rate: parseDecimal(rate), markup: parseDecimal(markup) };
}

/** CONTRACT 4: round-half-even(net x rate x (1 + markup) x 100), net in micro-FLOW. */
export function expectedCentsOf(netMicro: number, price: { rate: Decimal; markup: Decimal }): number {
  const { rate, markup } = price;
  const num = BigInt(netMicro) * rate.num * (markup.den + markup.num) * 100n;
  const den = 1_000_000n * rate.den * markup.den;
  return Number(roundHalfEven(num, den));
}

/** CONTRACT 4: what AgentFlow charged us, round-half-even(net x rate x 100). */
export function costCentsOf(netMicro: number, price: { rate: Decimal }): number {
  return Number(roundHalfEven(BigInt(netMicro) * price.rate.num * 100n, 1_000_000n * price.rate.den));
}

/** Call ids a charge names: its metadata key, else its PaymentIntent's; comma-separated, trimmed. */
export function namedCallIds(charge: StripeChargeObject, intents: ReadonlyMap<string, Record<string, string>>, key: string): string[] {
  let value = charge.metadata?.[key];
  if (value === undefined && charge.payment_intent) value = intents.get(charge.payment_intent)?.[key];
  if (value === undefined) return [];
  return [...new Set(value.split(',').map((s) => s.trim()).filter((s) => s !== ''))];
}

/**
 * Split `total` cents over calls in proportion to their weights, largest
 * remainder, ties to the smaller call id (CONTRACT 8).
 */
export function splitLargestRemainder(total: number, parts: { callId: string; weight: number }[]): Map<string, number> {
  const out = new Map<string, number>();
  const sum = parts.reduce((s, p) => s + p.weight, 0);
  // Without any weight there is no proportion to follow: equal shares.
  const weighted = sum > 0 ? parts : parts.map((p) => ({ ...p, weight: 1 }));
  const den = BigInt(sum > 0 ? sum : parts.length);
  const T = BigInt(total);
  let given = 0n;
  const rems: { callId: string; rem: bigint }[] = [];
  for (const p of weighted) {
    const prod = T * BigInt(p.weight);
    const q = prod / den;
    out.set(p.callId, Number(q));
    given += q;
    rems.push({ callId: p.callId, rem: prod % den });
  }
  rems.sort((a, b) => (a.rem !== b.rem ? (a.rem > b.rem ? -1 : 1) : a.callId < b.callId ? -1 : a.callId > b.callId ? 1 : 0));
  let left = Number(T - given);
  for (const r of rems) {
    if (left <= 0) break;
    out.set(r.callId, (out.get(r.callId) ?? 0) + 1);
    left -= 1;
  }
  return out;
}

const byStr = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Aggregate the served feed into calls (CONTRACT 2), in feed order. */
export function aggregateCalls(agentflow: AgentflowDataset): Map<string, CallAgg> {
  const calls = new Map<string, CallAgg>();
  const seen = new Set<string>();
  for (const m of agentflow.movements) {
    if (seen.has(m.id)) continue;
    seen.add(m.id);
    if (m.call_id === null) continue;
    const amount = parseFlowMicro(m.amount);
    let c = calls.get(m.call_id);
    if (!c) {
      c = { callId: m.call_id, agentSlug: null, startedAt: null, reservedMicro: 0, returnedMicro: 0, netMicro: 0, status: 'pending', finishedAt: null };
      calls.set(m.call_id, c);
    }
    c.agentSlug ??= m.agent_slug;
    c.netMicro -= amount;
    if (m.type === 'reserve') {
      c.reservedMicro -= amount;
      c.startedAt ??= m.created_at;
    }
    const final = FINAL[m.type];
    if (final) {
      c.returnedMicro += amount;
      if (c.status === 'pending') {
        c.status = final;
        c.finishedAt = m.created_at;
      }
    }
  }
  return calls;
}

/** Everything the report and the calls export must show for these data sets at `asOf`. */
export function computeTruth(agentflow: AgentflowDataset, stripe: StripeDataset, asOf: Date | string | number, rules: TruthRules = DEFAULT_RULES): Truth {
  const nowMs = new Date(asOf).getTime();
  const graceMs = rules.billingGraceMinutes * 60_000;
  const ttlMs = rules.reservationTtlMinutes * 60_000;
  const out: TruthDiscrepancy[] = [];

  // BALANCE_DRIFT: the chain in feed order; the first movement starts from 0.
  let prev = 0;
  const seen = new Set<string>();
  for (const m of agentflow.movements) {
    if (seen.has(m.id)) continue;
    seen.add(m.id);
    const after = parseFlowMicro(m.balance_after);
    const expected = prev + parseFlowMicro(m.amount);
    if (after !== expected) out.push({ type: 'BALANCE_DRIFT', callIds: [], chargeIds: [], occurredAt: m.created_at, flowNetMicro: after - expected });
    prev = after;
  }

  const calls = aggregateCalls(agentflow);
  const expectedOf = new Map<string, number>();
  const costOf = new Map<string, number>();
  for (const c of calls.values()) {
    const price = priceFor(rules.pricing, c.agentSlug, c.startedAt);
    expectedOf.set(c.callId, expectedCentsOf(c.netMicro, price));
    costOf.set(c.callId, costCentsOf(c.netMicro, price));
  }

  const refundsBy = new Map<string, number>();
  for (const r of stripe.refunds) {
    if (r.status === 'succeeded' && r.charge) refundsBy.set(r.charge, (refundsBy.get(r.charge) ?? 0) + r.amount);
  }
  const intents = new Map(stripe.paymentIntents.map((p) => [p.id, p.metadata ?? {}]));
  const charges: ChargeInfo[] = stripe.charges.map((charge) => {
    const succeededRefunds = refundsBy.get(charge.id) ?? 0;
    return {
      charge,
      callIds: namedCallIds(charge, intents, rules.callIdKey),
      succeededRefunds,
      live: charge.status === 'succeeded' && succeededRefunds < charge.amount_captured,
    };
  });
  const succeeded = charges.filter((c) => c.charge.status === 'succeeded');
  const namedBySucceeded = new Map<string, ChargeInfo[]>();
  for (const ci of succeeded) for (const id of ci.callIds) namedBySucceeded.set(id, [...(namedBySucceeded.get(id) ?? []), ci]);

  const claimedCalls = new Set<string>();
  const claimedCharges = new Set<string>();

  // STALE_RESERVATION
  for (const c of calls.values()) {
    if (c.status !== 'pending' || c.startedAt === null) continue;
    if (nowMs - Date.parse(c.startedAt) > ttlMs) {
      out.push({ type: 'STALE_RESERVATION', callIds: [c.callId], chargeIds: [], occurredAt: c.startedAt });
      claimedCalls.add(c.callId);
    }
  }

  // ORPHAN_CHARGE
  for (const ci of succeeded) {
    if (!ci.live || nowMs - ci.charge.created * 1000 <= graceMs) continue;
    const unknown = ci.callIds.filter((id) => !calls.has(id)).sort(byStr);
    if (ci.callIds.length === 0 || unknown.length > 0) {
      out.push({ type: 'ORPHAN_CHARGE', callIds: unknown, chargeIds: [ci.charge.id], occurredAt: new Date(ci.charge.created * 1000).toISOString() });
      claimedCharges.add(ci.charge.id);
    }
  }

  // UNBILLED_CALL
  for (const c of calls.values()) {
    if (claimedCalls.has(c.callId) || c.status === 'pending' || c.finishedAt === null) continue;
    if ((expectedOf.get(c.callId) ?? 0) <= 0) continue;
    if (nowMs - Date.parse(c.finishedAt) <= graceMs) continue;
    if ((namedBySucceeded.get(c.callId) ?? []).length > 0) continue;
    out.push({ type: 'UNBILLED_CALL', callIds: [c.callId], chargeIds: [], occurredAt: c.finishedAt });
    claimedCalls.add(c.callId);
  }

  // The remaining succeeded charges that name known calls, all final: the ones that get compared.
  const comparable = succeeded.filter(
    (ci) =>
      !claimedCharges.has(ci.charge.id) &&
      ci.callIds.length > 0 &&
      ci.callIds.every((id) => calls.has(id) && calls.get(id)?.status !== 'pending' && !claimedCalls.has(id)),
  );

  // CURRENCY_MISMATCH
  for (const ci of comparable) {
    if (ci.charge.currency.toLowerCase() === rules.currency.toLowerCase()) continue;
    const ids = [...ci.callIds].sort(byStr);
    out.push({ type: 'CURRENCY_MISMATCH', callIds: ids, chargeIds: [ci.charge.id], ...occurredFor(ids, calls) });
    claimedCharges.add(ci.charge.id);
    for (const id of ids) claimedCalls.add(id);
  }

  // DUPLICATE_CHARGE
  const liveBy = new Map<string, ChargeInfo[]>();
  for (const ci of comparable) {
    if (!ci.live || claimedCharges.has(ci.charge.id)) continue;
    for (const id of ci.callIds) liveBy.set(id, [...(liveBy.get(id) ?? []), ci]);
  }
  for (const [callId, list] of [...liveBy].sort((a, b) => byStr(a[0], b[0]))) {
    if (list.length < 2 || claimedCalls.has(callId)) continue;
    const ids = list.map((ci) => ci.charge.id).sort(byStr);
    out.push({ type: 'DUPLICATE_CHARGE', callIds: [callId], chargeIds: ids, ...occurredFor([callId], calls) });
    claimedCalls.add(callId);
    for (const id of ids) claimedCharges.add(id);
  }

  // Call groups: calls and the succeeded charges naming them, joined where they share either.
  const rest = comparable.filter((ci) => !claimedCharges.has(ci.charge.id) && ci.callIds.every((id) => !claimedCalls.has(id)));
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let r = x;
    while (parent.get(r) !== r) r = parent.get(r) as string;
    parent.set(x, r);
    return r;
  };
  const union = (a: string, b: string) => parent.set(find(a), find(b));
  for (const ci of rest) {
    const key = `ch:${ci.charge.id}`;
    parent.set(key, key);
    for (const id of ci.callIds) if (!parent.has(`call:${id}`)) parent.set(`call:${id}`, `call:${id}`);
  }
  for (const ci of rest) for (const id of ci.callIds) union(`ch:${ci.charge.id}`, `call:${id}`);
  const groups = new Map<string, { calls: Set<string>; charges: ChargeInfo[] }>();
  for (const ci of rest) {
    const root = find(`ch:${ci.charge.id}`);
    let g = groups.get(root);
    if (!g) groups.set(root, (g = { calls: new Set(), charges: [] }));
    g.charges.push(ci);
    for (const id of ci.callIds) g.calls.add(id);
  }
  for (const g of groups.values()) {
    const ids = [...g.calls].sort(byStr);
    const expected = ids.reduce((s, id) => s + (expectedOf.get(id) ?? 0), 0);
    const billed = g.charges.reduce((s, ci) => s + ci.charge.amount_captured - ci.succeededRefunds, 0);
    const delta = billed - expected;
    if (Math.abs(delta) <= rules.toleranceCents) continue;
    const failed = ids.some((id) => calls.get(id)?.status === 'failed');
    const refunded = g.charges.some((ci) => ci.succeededRefunds > 0);
    const type = delta > 0 && failed ? 'REFUND_NOT_PASSED_ON' : delta < 0 && refunded ? 'OVER_REFUNDED' : 'AMOUNT_MISMATCH';
    const chargeIds = g.charges.map((ci) => ci.charge.id).sort(byStr);
    out.push({ type, callIds: ids, chargeIds, expectedCents: expected, billedCents: billed, ...occurredFor(ids, calls) });
  }

  out.sort((a, b) => RULE_ORDER.indexOf(a.type) - RULE_ORDER.indexOf(b.type) || byStr(keyOf(a), keyOf(b)));

  return { asOf: new Date(nowMs).toISOString(), discrepancies: out, calls: callRows(calls, charges, expectedOf, costOf, rules.currency) };
}

function occurredFor(ids: string[], calls: Map<string, CallAgg>): { occurredAt?: string } {
  if (ids.length !== 1) return {};
  const at = calls.get(ids[0] as string)?.finishedAt;
  return at ? { occurredAt: at } : {};
}

/** A discrepancy's identity for comparisons: type, calls, charges (and the time, for drifts). */
export function keyOf(d: Pick<TruthDiscrepancy, 'type' | 'callIds' | 'chargeIds'> & { occurredAt?: string }): string {
  const base = `${d.type}|${d.callIds.join(';')}|${d.chargeIds.join(';')}`;
  return d.type === 'BALANCE_DRIFT' && d.occurredAt ? `${base}|${new Date(d.occurredAt).toISOString()}` : base;
}

/**
 * CONTRACT 8 rows. Where the contract's words leave room, the finance reading:
 * charged_usd / refunded_usd count only charges in CURRENCY (a EUR charge's
 * cents are not dollars; it is a CURRENCY_MISMATCH), while stripe_charge_ids
 * lists every charge naming the call, whatever its status or currency.
 */
function callRows(calls: Map<string, CallAgg>, charges: ChargeInfo[], expectedOf: Map<string, number>, costOf: Map<string, number>, currency: string): TruthCallRow[] {
  const charged = new Map<string, number>();
  const refunded = new Map<string, number>();
  const named = new Map<string, string[]>();
  for (const ci of charges) {
    for (const id of ci.callIds) named.set(id, [...(named.get(id) ?? []), ci.charge.id]);
    if (ci.charge.status !== 'succeeded' || ci.callIds.length === 0) continue;
    if (ci.charge.currency.toLowerCase() !== currency.toLowerCase()) continue;
    const weights = ci.callIds.map((id) => ({ callId: id, weight: expectedOf.get(id) ?? 0 }));
    const cap = ci.callIds.length === 1 ? new Map([[ci.callIds[0] as string, ci.charge.amount_captured]]) : splitLargestRemainder(ci.charge.amount_captured, weights);
    const ref = ci.callIds.length === 1 ? new Map([[ci.callIds[0] as string, ci.succeededRefunds]]) : splitLargestRemainder(ci.succeededRefunds, weights);
    for (const [id, v] of cap) charged.set(id, (charged.get(id) ?? 0) + v);
    for (const [id, v] of ref) refunded.set(id, (refunded.get(id) ?? 0) + v);
  }
  const rows = [...calls.values()]
    .filter((c) => c.startedAt !== null)
    .map((c) => ({ c, at: Date.parse(c.startedAt as string) }))
    .sort((a, b) => a.at - b.at || byStr(a.c.callId, b.c.callId));
  return rows.map(({ c }) => {
    const ch = charged.get(c.callId) ?? 0;
    const re = refunded.get(c.callId) ?? 0;
    const pending = c.status === 'pending';
    return {
      call_id: c.callId,
      agent_slug: c.agentSlug ?? '',
      started_at: c.startedAt as string,
      status: c.status,
      flow_reserved: formatFlow(c.reservedMicro),
      flow_returned: formatFlow(c.returnedMicro),
      flow_net: formatFlow(c.netMicro),
      expected_usd: pending ? '' : formatCents(expectedOf.get(c.callId) ?? 0),
      charged_usd: formatCents(ch),
      refunded_usd: formatCents(re),
      margin_usd: pending ? '' : formatCents(ch - re - (costOf.get(c.callId) ?? 0)),
      stripe_charge_ids: [...(named.get(c.callId) ?? [])].sort(byStr).join(';'),
    };
  });
}
