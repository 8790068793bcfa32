/**
 * Data sets the local stand-ins serve. The AgentFlow shapes follow CONTRACT 2
 * (the pinned wire format); the Stripe shapes are Stripe's own JSON objects,
 * trimmed to the fields flowrecon and the SDK care about (extra fields allowed).
 */

/** One movement exactly as the AgentFlow feed serves it. */
export interface WireMovement {
  id: string;
  type: string;
  amount: string;
  call_id: string | null;
  agent_slug: string | null;
  call_status: string | null;
  created_at: string;
  balance_after: string;
  [extra: string]: unknown;
}

export interface AgentflowDataset {
  accountId: string;
  /** In server sequence order. */
  movements: WireMovement[];
  /** Reported `reserved`; when absent the stand-in sums the open reservations. */
  reserved?: string;
  /** Cookie values (`af_session`) the stand-in accepts. */
  sessions: string[];
  /** Bearer keys the stand-in accepts. */
  apiKeys?: string[];
}

export interface StripeChargeObject {
  id: string;
  object: 'charge';
  amount: number;
  amount_captured: number;
  amount_refunded: number;
  captured: boolean;
  paid: boolean;
  refunded: boolean;
  disputed: boolean;
  status: 'succeeded' | 'pending' | 'failed';
  currency: string;
  created: number;
  metadata: Record<string, string>;
  payment_intent: string | null;
  balance_transaction: string | null;
  customer: string | null;
  billing_details: { name: string | null; email: string | null; phone: string | null; address: unknown };
  description: string | null;
  livemode: boolean;
  [extra: string]: unknown;
}

export interface StripeRefundObject {
  id: string;
  object: 'refund';
  amount: number;
  charge: string | null;
  payment_intent: string | null;
  currency: string;
  status: 'succeeded' | 'pending' | 'failed' | 'canceled' | 'requires_action';
  created: number;
  reason: string | null;
  metadata: Record<string, string>;
  balance_transaction: string | null;
  [extra: string]: unknown;
}

export interface StripePaymentIntentObject {
  id: string;
  object: 'payment_intent';
  amount: number;
  currency: string;
  status: string;
  created: number;
  metadata: Record<string, string>;
  latest_charge: string | null;
  customer: string | null;
  description: string | null;
  livemode: boolean;
  [extra: string]: unknown;
}

export interface StripeEventObject {
  id: string;
  object: 'event';
  type: string;
  created: number;
  data: { object: StripeChargeObject | StripeRefundObject | StripePaymentIntentObject | Record<string, unknown> };
  api_version: string;
  livemode: boolean;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  [extra: string]: unknown;
}

export interface StripeDataset {
  charges: StripeChargeObject[];
  refunds: StripeRefundObject[];
  paymentIntents: StripePaymentIntentObject[];
  events: StripeEventObject[];
  balanceTransactions?: Record<string, unknown>[];
  /** Secret/restricted keys the stand-in accepts as Bearer tokens. */
  apiKeys: string[];
}
