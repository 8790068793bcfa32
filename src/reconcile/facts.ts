/**
 * What reconciliation reads (one call, one charge, one chain break) and what
 * it produces (a finding: one discrepancy as found by this run).
 */
import type { CallStatus, DiscrepancyType } from '../domain.js';

export interface CallFacts {
  readonly callId: string;
  readonly status: CallStatus;
  readonly netMicro: number;
  readonly agentSlug: string | null;
  /** First reserve's time; null for a call with no reserve (adjustments only). */
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

/** A succeeded charge (failed and pending ones bill nothing and are never read). */
export interface ChargeFacts {
  readonly chargeId: string;
  /** Stripe `created`, unix seconds. */
  readonly createdS: number;
  readonly currency: string;
  readonly capturedCents: number;
  /** Sum of its succeeded refunds. */
  readonly refundedCents: number;
  /** Named call ids the ledger has, sorted. */
  readonly callIds: readonly string[];
  /** Named call ids the ledger does not have, sorted. */
  readonly unknownIds: readonly string[];
}

export interface BreakFacts {
  readonly movementId: string;
  readonly missingMicro: number;
  readonly expectedBalanceMicro: number;
  readonly actualBalanceMicro: number;
  readonly createdAt: string;
}

export type Severity = 'high' | 'medium' | 'low';

/** Where every final call and every succeeded charge ends up in a run (the invariant's buckets). */
export type Bucket = 'matched' | 'discrepancy' | 'waiting';

/** A probable counterpart search for UNBILLED_CALL / ORPHAN_CHARGE, settled after the scan. */
export interface Probe {
  readonly cents: number;
  /** The call's finish or the charge's creation, ms. */
  readonly atMs: number;
  readonly id: string;
}

export interface Finding {
  readonly type: DiscrepancyType;
  /** The problem's identity (ids involved); with the type it makes the stable discrepancy id. */
  readonly key: string;
  readonly severity: Severity;
  readonly callIds: readonly string[];
  readonly chargeIds: readonly string[];
  readonly agentSlug: string | null;
  readonly flowNetMicro: number | null;
  readonly expectedCents: number | null;
  readonly billedCents: number | null;
  readonly deltaCents: number | null;
  readonly atStakeCents: number;
  /** ISO-8601 UTC with milliseconds. */
  readonly occurredAt: string;
  detail: string;
  /** Set on UNBILLED_CALL and ORPHAN_CHARGE (and on waiting unlinked charges) for the counterpart search. */
  readonly probe?: Probe;
}

export const isLive = (ch: ChargeFacts): boolean => ch.capturedCents - ch.refundedCents > 0;
export const billedOf = (ch: ChargeFacts): number => ch.capturedCents - ch.refundedCents;

export function isoMs(text: string): string {
  return new Date(Date.parse(text)).toISOString();
}
