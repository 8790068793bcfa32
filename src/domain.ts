/**
 * Glossary and the domain types shared by the stages.
 *
 * - **movement**: one signed change to the AgentFlow available balance, as the
 *   ledger feed delivers it (CONTRACT 2). Identified by `id`; ordered by the
 *   server's sequence, which is our `seq`.
 * - **call**: one AgentFlow agent call, the movements sharing a `call_id`. Its
 *   **net FLOW cost** is minus the sum of its movements' amounts. It is
 *   **final** once a settle/release/refund arrived (succeeded / failed), and
 *   **finished** at that movement's time; until then it is pending.
 * - **charge**: a Stripe charge. It **names** the calls listed in its metadata
 *   key (or its PaymentIntent's). It bills only when `status = succeeded`; it is
 *   **live** while not fully refunded.
 * - **call group**: the calls one charge names (one, or a batch), compared as a
 *   whole: the sum of their expected cents against the charge's billed cents.
 * - **discrepancy**: one problem found by reconciliation (CONTRACT 7), with an
 *   id stable across runs for the same problem.
 * - **run**: one execution of a job (`run`, `ledger`, `daily`, or a single
 *   stage command), recorded in `runs`.
 *
 * Money: FLOW in integer micro-units (`*Micro`), USD in integer cents (`*Cents`).
 */

export const MOVEMENT_TYPES = ['topup', 'reserve', 'settle', 'release', 'refund', 'adjustment'] as const;
export type MovementType = (typeof MOVEMENT_TYPES)[number];

export const CALL_STATUSES = ['pending', 'succeeded', 'failed'] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];

/** A validated ledger movement, amounts in micro-FLOW. */
export interface Movement {
  readonly id: string;
  readonly type: MovementType;
  readonly amountMicro: number;
  readonly balanceAfterMicro: number;
  readonly callId: string | null;
  readonly agentSlug: string | null;
  readonly callStatus: string | null;
  readonly createdAt: string; // ISO-8601 UTC
}

/** A validated page of the ledger feed. */
export interface LedgerPage {
  readonly accountId: string;
  readonly balanceMicro: number;
  readonly reservedMicro: number;
  readonly asOf: string;
  readonly movements: readonly Movement[];
  readonly nextCursor: string | null;
  readonly hasMore: boolean;
}

/** CONTRACT 7, in rule order: the first that applies to a call or charge wins. */
export const DISCREPANCY_TYPES = [
  'BALANCE_DRIFT',
  'STALE_RESERVATION',
  'ORPHAN_CHARGE',
  'UNBILLED_CALL',
  'CURRENCY_MISMATCH',
  'DUPLICATE_CHARGE',
  'REFUND_NOT_PASSED_ON',
  'OVER_REFUNDED',
  'AMOUNT_MISMATCH',
] as const;
export type DiscrepancyType = (typeof DISCREPANCY_TYPES)[number];

export const ALERT_TYPES = ['LOW_BALANCE', 'LOW_RUNWAY', 'DISCREPANCIES', 'AUTH_FAILED', 'SYNC_STALE'] as const;
export type AlertType = (typeof ALERT_TYPES)[number];
