/**
 * The nine discrepancy rules of CONTRACT 7, in contract order, in one place.
 * Pure: given facts, the settings and `asOf`, they emit findings and put every
 * final call and every succeeded charge in exactly one bucket.
 *
 *   1 BALANCE_DRIFT         judgeBreak      one row per balance_after chain break
 *   2 STALE_RESERVATION     judgeLoneCall   pending call, reserved longer ago than the TTL
 *   3 ORPHAN_CHARGE         judgeComponent  live charge past the grace naming no call / unknown calls
 *   4 UNBILLED_CALL         judgeLoneCall   final call, expected > 0, past the grace, no succeeded charge
 *   5 CURRENCY_MISMATCH     judgeComponent  a succeeded charge of the group not in CURRENCY
 *   6 DUPLICATE_CHARGE      judgeComponent  a call named by more than one live charge
 *   7 REFUND_NOT_PASSED_ON  judgeComponent  billed - expected > tolerance and a call failed
 *   8 OVER_REFUNDED         judgeComponent  expected - billed > tolerance and refunds exist
 *   9 AMOUNT_MISMATCH       judgeComponent  any other |billed - expected| > tolerance
 *
 * Rules 2 and 4 concern calls no succeeded charge names (or pending calls),
 * rules 3 and 5-9 the charges and the calls they name, so "first match wins"
 * reduces to the order inside each function.
 *
 * A **component** is a set of succeeded charges and the ledger calls they
 * name, closed under "names": usually one charge and its call (or its batch of
 * calls). When a call is named by several charges, all of them and all their
 * calls form one component, judged as one group (so a call with a live and a
 * fully refunded charge is one group whose billed counts both, not a duplicate).
 *
 * Interpretations chosen where the contract is silent (a finance reading):
 * - Ages are strict: a call is due for billing once finished longer ago than
 *   the grace, a reservation stale once older than the TTL, a charge orphan
 *   once created longer ago than the grace.
 * - A component waits (every charge and final call in it is `waiting`) while
 *   any call in it is not final, or while a live charge in it that would be an
 *   orphan is still within the grace (its calls may still reach the ledger).
 * - A batch charge naming both known and unknown ids is an ORPHAN_CHARGE with
 *   call_ids = the unknown ids; its known calls are then not compared (they
 *   land in the discrepancy bucket with it) unless another charge names them.
 * - A charge that is not live (fully refunded, or nothing captured) is never
 *   an orphan: it bills nothing.
 * - CURRENCY_MISMATCH takes the whole group: all its calls, all its succeeded
 *   charges (the one in another currency and the others), billed left empty as
 *   amounts in two currencies do not add up.
 * - DUPLICATE_CHARGE names the doubly billed calls and the live charges naming
 *   them; the rest of the component is not compared further.
 * - A group's occurred_at is the latest finish among its calls (the moment
 *   the group became complete), agent_slug its calls' distinct slugs.
 * - Emptiness per row: BALANCE_DRIFT has only flow_net (the missing FLOW);
 *   STALE_RESERVATION flow_net (the FLOW held); ORPHAN_CHARGE billed only;
 *   UNBILLED_CALL billed 0.00 and delta = -expected; CURRENCY_MISMATCH no
 *   billed/delta; the others all four amounts.
 *
 * One shortcut lives outside this file: scan.ts's fast path counts, in SQL,
 * the single components judgeComponent would call matched (final call, one
 * succeeded charge in CURRENCY naming only it, within the tolerance). The
 * property tests compare it with these functions (full against incremental).
 */
import type { DiscrepancyType } from '../domain.js';
import { formatCents } from '../money.js';
import type { BreakFacts, Bucket, CallFacts, ChargeFacts, Finding, Severity } from './facts.js';
import { billedOf, isLive, isoMs } from './facts.js';
import { explainBilled, explainExpected, explainTolerance, flowText, listIds, minutesText, money } from './explain.js';
import { groupKey } from './ids.js';
import type { Pricer } from './pricing.js';

/** Customer harm is high, lost revenue medium, housekeeping low. */
export const SEVERITY: Readonly<Record<DiscrepancyType, Severity>> = {
  BALANCE_DRIFT: 'high',
  STALE_RESERVATION: 'low',
  ORPHAN_CHARGE: 'high',
  UNBILLED_CALL: 'medium',
  CURRENCY_MISMATCH: 'medium',
  DUPLICATE_CHARGE: 'high',
  REFUND_NOT_PASSED_ON: 'high',
  OVER_REFUNDED: 'medium',
  AMOUNT_MISMATCH: 'medium',
};

export interface RuleContext {
  readonly asOfMs: number;
  readonly currency: string;
  readonly toleranceCents: number;
  readonly graceMinutes: number;
  readonly ttlMinutes: number;
  readonly pricer: Pricer;
}

/** Receives each final call's and each succeeded charge's bucket (the invariant tally). */
export interface BucketSink {
  call(call: CallFacts, bucket: Bucket): void;
  charge(charge: ChargeFacts, bucket: Bucket): void;
}

const MINUTE = 60_000;

function olderThan(ctx: RuleContext, atMs: number, minutes: number): boolean {
  return ctx.asOfMs - atMs > minutes * MINUTE;
}

function finding(
  type: DiscrepancyType,
  key: string,
  fields: Omit<Finding, 'type' | 'key' | 'severity'>,
): Finding {
  return { type, key, severity: SEVERITY[type], ...fields };
}

// ---------------------------------------------------------------- rule 1 ----

export function judgeBreak(b: BreakFacts, ctx: RuleContext): Finding {
  const missing = b.missingMicro;
  return finding('BALANCE_DRIFT', b.movementId, {
    callIds: [],
    chargeIds: [],
    agentSlug: null,
    flowNetMicro: missing,
    expectedCents: null,
    billedCents: null,
    deltaCents: null,
    atStakeCents: Math.abs(ctx.pricer.costCents(missing, null, b.createdAt)),
    occurredAt: isoMs(b.createdAt),
    detail:
      `BALANCE_DRIFT: movement ${b.movementId} has balance_after ${flowText(b.actualBalanceMicro)} but the previous ` +
      `balance_after plus its amount gives ${flowText(b.expectedBalanceMicro)}: ` +
      `${flowText(missing)} moved in movements missing from the feed`,
  });
}

// ------------------------------------------------------------ rules 2, 4 ----

/**
 * A call no succeeded charge names (`named` false), or any pending call.
 * Pending calls are in no bucket: only final calls are expected to be billed.
 */
export function judgeLoneCall(call: CallFacts, named: boolean, ctx: RuleContext, sink: BucketSink, out: Finding[]): void {
  if (call.status === 'pending') {
    // Rule 2. A call without a reserve (adjustments only) holds no reservation.
    if (call.startedAt !== null && olderThan(ctx, Date.parse(call.startedAt), ctx.ttlMinutes)) {
      out.push(
        finding('STALE_RESERVATION', call.callId, {
          callIds: [call.callId],
          chargeIds: [],
          agentSlug: call.agentSlug,
          flowNetMicro: call.netMicro,
          expectedCents: null,
          billedCents: null,
          deltaCents: null,
          atStakeCents: Math.abs(ctx.pricer.costCents(call.netMicro, call.agentSlug, call.startedAt)),
          occurredAt: isoMs(call.startedAt),
          detail:
            `STALE_RESERVATION: ${flowText(call.netMicro)} reserved at ${isoMs(call.startedAt)} for ${call.callId}` +
            `${call.agentSlug ? ` (${call.agentSlug})` : ''} with no settle, release or refund after the ` +
            `reservation TTL of ${minutesText(ctx.ttlMinutes)}` +
            (named ? '; the charges naming it wait until it is final' : ''),
        }),
      );
    }
    return;
  }
  if (named) return; // judged with its charges
  const expected = ctx.pricer.expectedCents(call.netMicro, call.agentSlug, call.startedAt);
  const finishedMs = call.finishedAt !== null ? Date.parse(call.finishedAt) : ctx.asOfMs;
  if (expected <= 0) {
    sink.call(call, 'matched'); // costs the user nothing: nothing to bill
    return;
  }
  if (!olderThan(ctx, finishedMs, ctx.graceMinutes)) {
    sink.call(call, 'waiting');
    return;
  }
  // Rule 4.
  sink.call(call, 'discrepancy');
  out.push(
    finding('UNBILLED_CALL', call.callId, {
      callIds: [call.callId],
      chargeIds: [],
      agentSlug: call.agentSlug,
      flowNetMicro: call.netMicro,
      expectedCents: expected,
      billedCents: 0,
      deltaCents: -expected,
      atStakeCents: expected,
      occurredAt: isoMs(call.finishedAt ?? new Date(ctx.asOfMs).toISOString()),
      detail:
        `UNBILLED_CALL: ${explainExpected([call], ctx.pricer, ctx.currency)}; no succeeded Stripe charge names ` +
        `${call.callId} (${call.status}, finished ${isoMs(call.finishedAt ?? '')}), billing grace ${minutesText(ctx.graceMinutes)}`,
      probe: { cents: expected, atMs: finishedMs, id: call.callId },
    }),
  );
}

// ------------------------------------------------------ rules 3, 5 to 9 ----

function slugOf(calls: readonly CallFacts[]): string | null {
  const slugs = [...new Set(calls.map((c) => c.agentSlug).filter((s): s is string => s !== null))].sort();
  return slugs.length === 0 ? null : slugs.join(';');
}

function latestFinish(calls: readonly CallFacts[]): string {
  let best = '';
  let bestMs = -Infinity;
  for (const c of calls) {
    const ms = c.finishedAt !== null ? Date.parse(c.finishedAt) : -Infinity;
    if (ms > bestMs) {
      bestMs = ms;
      best = c.finishedAt as string;
    }
  }
  return isoMs(best);
}

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function orphanFinding(ch: ChargeFacts, knownCalls: readonly string[], ctx: RuleContext): Finding {
  const billed = billedOf(ch);
  const what =
    ch.unknownIds.length === 0
      ? 'names no call id'
      : `names call ids the ledger does not have: ${listIds(ch.unknownIds)}` +
        (knownCalls.length > 0 ? ` (it also names ${listIds(knownCalls)}, not compared)` : '');
  return finding('ORPHAN_CHARGE', ch.chargeId, {
    callIds: ch.unknownIds,
    chargeIds: [ch.chargeId],
    agentSlug: null,
    flowNetMicro: null,
    expectedCents: null,
    billedCents: billed,
    deltaCents: null,
    atStakeCents: billed,
    occurredAt: new Date(ch.createdS * 1000).toISOString(),
    detail:
      `ORPHAN_CHARGE: ${ch.chargeId} bills ${money(billed, ch.currency)} (captured ${formatCents(ch.capturedCents)}, refunded ` +
      `${formatCents(ch.refundedCents)}), created ${new Date(ch.createdS * 1000).toISOString()}, past the billing grace of ` +
      `${minutesText(ctx.graceMinutes)}, and ${what}`,
    probe: { cents: billed, atMs: ch.createdS * 1000, id: ch.chargeId },
  });
}

/**
 * Judge one component. `calls` are the ledger calls its charges name (each
 * once); `charges` its succeeded charges, sorted by id.
 * Returns the unlinked live charges still within the grace (probable
 * counterparts for unbilled calls).
 */
export function judgeComponent(
  charges: readonly ChargeFacts[],
  calls: readonly CallFacts[],
  ctx: RuleContext,
  sink: BucketSink,
  out: Finding[],
  waitingUnlinked?: ChargeFacts[],
): void {
  const wouldBeOrphan = (ch: ChargeFacts) => isLive(ch) && (ch.unknownIds.length > 0 || ch.callIds.length === 0);
  const waitAll = () => {
    for (const ch of charges) {
      sink.charge(ch, 'waiting');
      if (waitingUnlinked && wouldBeOrphan(ch) && ch.callIds.length === 0) waitingUnlinked.push(ch);
    }
    for (const c of calls) if (c.status !== 'pending') sink.call(c, 'waiting');
  };

  // "A charge whose calls are not all final yet waits (it is neither orphan nor compared)."
  if (calls.some((c) => c.status === 'pending')) return waitAll();
  if (charges.some((ch) => wouldBeOrphan(ch) && !olderThan(ctx, ch.createdS * 1000, ctx.graceMinutes))) return waitAll();

  // Rule 3: ORPHAN_CHARGE.
  let group: readonly ChargeFacts[] = charges;
  if (charges.some(wouldBeOrphan)) {
    const kept: ChargeFacts[] = [];
    for (const ch of charges) {
      if (wouldBeOrphan(ch)) {
        out.push(orphanFinding(ch, ch.callIds, ctx));
        sink.charge(ch, 'discrepancy');
      } else kept.push(ch);
    }
    group = kept;
  }
  let groupCalls = calls;
  if (group !== charges) {
    const named = new Set(group.flatMap((ch) => ch.callIds));
    groupCalls = calls.filter((c) => named.has(c.callId));
    // Calls only an orphan charge names go down with it.
    for (const c of calls) if (!named.has(c.callId)) sink.call(c, 'discrepancy');
  }
  if (group.length === 0) return;
  // Only charges that bill nothing (fully refunded, or nothing captured) naming calls the
  // ledger does not have: nothing to compare and nothing owed. When those calls arrive,
  // their movements bring this charge back into scope.
  if (groupCalls.length === 0) {
    for (const ch of group) sink.charge(ch, 'matched');
    return;
  }

  const callIds = groupCalls.map((c) => c.callId);
  const chargeIds = group.map((ch) => ch.chargeId);
  const flowNet = groupCalls.reduce((s, c) => s + c.netMicro, 0);
  const expected = groupCalls.reduce((s, c) => s + ctx.pricer.expectedCents(c.netMicro, c.agentSlug, c.startedAt), 0);
  const billed = group.reduce((s, ch) => s + billedOf(ch), 0);
  const settle = (bucket: Bucket) => {
    for (const ch of group) sink.charge(ch, bucket);
    for (const c of groupCalls) sink.call(c, bucket);
  };

  // Rule 5: CURRENCY_MISMATCH.
  const foreign = group.filter((ch) => ch.currency.toLowerCase() !== ctx.currency);
  if (foreign.length > 0) {
    settle('discrepancy');
    out.push(
      finding('CURRENCY_MISMATCH', groupKey(callIds, chargeIds), {
        callIds,
        chargeIds,
        agentSlug: slugOf(groupCalls),
        flowNetMicro: flowNet,
        expectedCents: expected,
        billedCents: null,
        deltaCents: null,
        atStakeCents: Math.abs(expected),
        occurredAt: latestFinish(groupCalls),
        detail:
          `CURRENCY_MISMATCH: ${foreign.map((ch) => `${ch.chargeId} is in ${ch.currency.toUpperCase()} (${money(billedOf(ch), ch.currency)} net)`).join(', ')}` +
          `, not ${ctx.currency.toUpperCase()}; ${explainExpected(groupCalls, ctx.pricer, ctx.currency)}; not compared further`,
      }),
    );
    return;
  }

  // Rule 6: DUPLICATE_CHARGE (only possible when several charges share a call).
  if (group.length > 1) {
    const live = group.filter(isLive);
    const namedBy = new Map<string, number>();
    for (const ch of live) for (const id of ch.callIds) namedBy.set(id, (namedBy.get(id) ?? 0) + 1);
    const dupIds = [...namedBy].filter(([, n]) => n > 1).map(([id]) => id).sort(byId);
    if (dupIds.length > 0) {
      const dupSet = new Set(dupIds);
      const dupCalls = groupCalls.filter((c) => dupSet.has(c.callId));
      const dupCharges = live.filter((ch) => ch.callIds.some((id) => dupSet.has(id)));
      const dupExpected = dupCalls.reduce((s, c) => s + ctx.pricer.expectedCents(c.netMicro, c.agentSlug, c.startedAt), 0);
      const dupBilled = dupCharges.reduce((s, ch) => s + billedOf(ch), 0);
      settle('discrepancy');
      out.push(
        finding('DUPLICATE_CHARGE', dupIds.join(';'), {
          callIds: dupIds,
          chargeIds: dupCharges.map((ch) => ch.chargeId),
          agentSlug: slugOf(dupCalls),
          flowNetMicro: dupCalls.reduce((s, c) => s + c.netMicro, 0),
          expectedCents: dupExpected,
          billedCents: dupBilled,
          deltaCents: dupBilled - dupExpected,
          atStakeCents: Math.abs(dupBilled - dupExpected),
          occurredAt: latestFinish(dupCalls),
          detail:
            `DUPLICATE_CHARGE: ${listIds(dupIds)} named by ${dupCharges.length} live charges; ` +
            `${explainExpected(dupCalls, ctx.pricer, ctx.currency)}; ${explainBilled(dupCharges)}; not compared further`,
        }),
      );
      return;
    }
  }

  // Rules 7-9: compare the group.
  const delta = billed - expected;
  const tol = ctx.toleranceCents;
  let type: DiscrepancyType | null = null;
  let why = '';
  if (delta > tol && groupCalls.some((c) => c.status === 'failed')) {
    type = 'REFUND_NOT_PASSED_ON';
    const failed = groupCalls.filter((c) => c.status === 'failed').map((c) => c.callId);
    why = `billed exceeds expected by ${formatCents(delta)} (> ${explainTolerance(tol)}) and ${listIds(failed)} failed: AgentFlow gave FLOW back (release/refund) that the user still paid for`;
  } else if (-delta > tol && group.some((ch) => ch.refundedCents > 0)) {
    type = 'OVER_REFUNDED';
    why = `billed is ${formatCents(-delta)} below expected (> ${explainTolerance(tol)}) after Stripe refunds: the user got back more than the FLOW returned warrants`;
  } else if (Math.abs(delta) > tol) {
    type = 'AMOUNT_MISMATCH';
    why = `billed differs from expected by ${formatCents(delta)} (> ${explainTolerance(tol)})`;
  }
  if (type === null) {
    settle('matched');
    return;
  }
  settle('discrepancy');
  out.push(
    finding(type, groupKey(callIds, chargeIds), {
      callIds,
      chargeIds,
      agentSlug: slugOf(groupCalls),
      flowNetMicro: flowNet,
      expectedCents: expected,
      billedCents: billed,
      deltaCents: delta,
      atStakeCents: Math.abs(delta),
      occurredAt: groupCalls.length > 0 ? latestFinish(groupCalls) : new Date(Math.max(...group.map((ch) => ch.createdS)) * 1000).toISOString(),
      detail: `${type}: ${explainExpected(groupCalls, ctx.pricer, ctx.currency)}; ${explainBilled(group)}; ${why}`,
    }),
  );
}
