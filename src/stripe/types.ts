/**
 * The plain objects the Stripe client hands to the sync: only the fields
 * flowrecon uses, in Stripe's own names, with expandable fields already
 * resolved. The sync never sees an SDK type.
 */

export interface PaymentIntentSnapshot {
  id: string;
  metadata: Record<string, string>;
}

export interface RefundSnapshot {
  id: string;
  charge: string | null;
  payment_intent: string | null;
  amount: number;
  currency: string;
  status: string;
  reason: string | null;
  created: number;
}

export interface ChargeSnapshot {
  id: string;
  created: number;
  status: string;
  currency: string;
  amount: number;
  amount_captured: number;
  amount_refunded: number;
  captured: boolean;
  refunded: boolean;
  disputed: boolean;
  livemode: boolean;
  payment_intent: string | null;
  /** The PaymentIntent when it came expanded; null when the charge has none or it was not expanded. */
  payment_intent_object: PaymentIntentSnapshot | null;
  /** The customer id (`cus_...`); null for a guest charge. */
  customer: string | null;
  description: string | null;
  metadata: Record<string, string>;
  /** The charge's refunds when they came expanded (retrieve), else null. */
  refunds: Page<RefundSnapshot> | null;
}

/** An event reduced to what it changed: which object, and which charge that object belongs to. */
export interface EventSummary {
  id: string;
  type: string;
  created: number;
  /** Stripe's `object` of `data.object`: charge, refund, dispute, ... */
  object_type: string;
  object_id: string | null;
  /** The charge the object belongs to (itself for a charge). */
  charge_id: string | null;
}

export interface Page<T> {
  data: T[];
  has_more: boolean;
}

export interface CreatedRange {
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
}

export interface ListParams {
  created?: CreatedRange;
  limit?: number;
  starting_after?: string;
}
