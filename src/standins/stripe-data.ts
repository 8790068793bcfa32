/**
 * Builders and mutations that keep a Stripe data set consistent the way
 * Stripe keeps its own: a refund raises its charge's `amount_refunded` and may
 * flip `refunded`; each change can leave the event Stripe would emit, carrying
 * a snapshot of the object as it was then. The stand-in server, the demo
 * generator and the tests all build their data through these, so the objects
 * they serve agree with each other.
 *
 * Times are unix seconds, as in Stripe's wire format. Amounts are integers in
 * the currency's minor unit.
 */
import type {
  StripeChargeObject,
  StripeDataset,
  StripeEventObject,
  StripePaymentIntentObject,
  StripeRefundObject,
} from './types.js';

export const STANDIN_API_VERSION = '2026-11-18.endive';

export interface ChargeSpec {
  id?: string;
  /** Unix seconds. */
  created: number;
  amount: number;
  currency?: string;
  status?: 'succeeded' | 'pending' | 'failed';
  /** Default: the whole amount for a succeeded charge, 0 otherwise. */
  amountCaptured?: number;
  /** Call ids this charge bills; written as one comma-separated metadata value. */
  callIds?: string[] | string;
  /** Where the call ids go: the charge's metadata (default) or its PaymentIntent's. */
  callIdsOn?: 'charge' | 'payment_intent';
  /** Metadata key (default `agentflow_call_id`). */
  callIdKey?: string;
  /** Extra charge metadata, kept verbatim. */
  metadata?: Record<string, string>;
  paymentIntentMetadata?: Record<string, string>;
  /** Create a PaymentIntent for the charge (default true; forced when callIdsOn is payment_intent). */
  withPaymentIntent?: boolean;
  customer?: string | null;
  customerName?: string | null;
  customerEmail?: string | null;
  description?: string | null;
  livemode?: boolean;
}

export interface RefundSpec {
  id?: string;
  /** Default: what is left to refund on the charge. */
  amount?: number;
  created: number;
  status?: StripeRefundObject['status'];
  reason?: string | null;
  metadata?: Record<string, string>;
}

/** Counts refunds that hold money back from the user (Stripe's `amount_refunded`). */
const HOLDS_MONEY: ReadonlySet<string> = new Set(['succeeded', 'pending', 'requires_action']);

export function emptyStripeDataset(apiKeys: string[] = []): StripeDataset {
  return { charges: [], refunds: [], paymentIntents: [], events: [], balanceTransactions: [], apiKeys };
}

/** Hands out ids unique within one data set (`ch_b00000001`, `re_b00000002`, ...). */
export class IdSequence {
  #n = 0;
  constructor(readonly tag = 'b') {}
  next(prefix: string): string {
    this.#n += 1;
    return `${prefix}_${this.tag}${String(this.#n).padStart(8, '0')}`;
  }
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function joinCallIds(callIds: string[] | string | undefined): string | undefined {
  if (callIds === undefined) return undefined;
  return Array.isArray(callIds) ? callIds.join(',') : callIds;
}

/**
 * Mutations on one data set. Every method keeps the objects consistent and,
 * unless `emitEvents` is off, appends the event(s) Stripe would emit.
 */
export class StripeDataEditor {
  readonly dataset: StripeDataset;
  readonly ids: IdSequence;
  emitEvents: boolean;

  constructor(dataset: StripeDataset, options: { ids?: IdSequence; emitEvents?: boolean } = {}) {
    this.dataset = dataset;
    this.ids = options.ids ?? new IdSequence();
    this.emitEvents = options.emitEvents ?? true;
  }

  charge(id: string): StripeChargeObject {
    const c = this.dataset.charges.find((x) => x.id === id);
    if (!c) throw new Error(`stripe data: no charge ${id}`);
    return c;
  }

  refund(id: string): StripeRefundObject {
    const r = this.dataset.refunds.find((x) => x.id === id);
    if (!r) throw new Error(`stripe data: no refund ${id}`);
    return r;
  }

  paymentIntent(id: string): StripePaymentIntentObject {
    const p = this.dataset.paymentIntents.find((x) => x.id === id);
    if (!p) throw new Error(`stripe data: no payment intent ${id}`);
    return p;
  }

  /** A charge (with its PaymentIntent and balance transaction), and its `charge.succeeded`/`charge.failed`/`charge.pending` event. */
  addCharge(spec: ChargeSpec): StripeChargeObject {
    const status = spec.status ?? 'succeeded';
    const currency = (spec.currency ?? 'usd').toLowerCase();
    const key = spec.callIdKey ?? 'agentflow_call_id';
    const callIds = joinCallIds(spec.callIds);
    const onPi = spec.callIdsOn === 'payment_intent';
    const id = spec.id ?? this.ids.next('ch');
    const withPi = onPi || spec.withPaymentIntent !== false;
    const captured = status === 'succeeded' ? (spec.amountCaptured ?? spec.amount) : 0;
    const txn = status === 'succeeded' ? this.ids.next('txn') : null;

    const metadata: Record<string, string> = { ...(spec.metadata ?? {}) };
    if (callIds !== undefined && !onPi) metadata[key] = callIds;

    let piId: string | null = null;
    if (withPi) {
      piId = this.ids.next('pi');
      const piMetadata: Record<string, string> = { ...(spec.paymentIntentMetadata ?? {}) };
      if (callIds !== undefined && onPi) piMetadata[key] = callIds;
      this.dataset.paymentIntents.push({
        id: piId,
        object: 'payment_intent',
        amount: spec.amount,
        amount_received: captured,
        currency,
        status: status === 'succeeded' ? 'succeeded' : status === 'pending' ? 'processing' : 'requires_payment_method',
        created: spec.created,
        metadata: piMetadata,
        latest_charge: id,
        customer: spec.customer ?? null,
        description: spec.description ?? null,
        livemode: spec.livemode ?? false,
      });
    }

    const charge: StripeChargeObject = {
      id,
      object: 'charge',
      amount: spec.amount,
      amount_captured: captured,
      amount_refunded: 0,
      application_fee_amount: null,
      balance_transaction: txn,
      billing_details: { name: spec.customerName ?? null, email: spec.customerEmail ?? null, phone: null, address: null },
      calculated_statement_descriptor: 'FLOWRECON',
      captured: status === 'succeeded',
      created: spec.created,
      currency,
      customer: spec.customer ?? null,
      description: spec.description ?? null,
      disputed: false,
      failure_code: status === 'failed' ? 'card_declined' : null,
      failure_message: status === 'failed' ? 'Your card was declined.' : null,
      fraud_details: {},
      livemode: spec.livemode ?? false,
      metadata,
      outcome: null,
      paid: status === 'succeeded',
      payment_intent: piId,
      payment_method: null,
      receipt_email: spec.customerEmail ?? null,
      refunded: false,
      statement_descriptor: null,
      status,
    };
    this.dataset.charges.push(charge);
    if (txn) this.#addBalanceTransaction(txn, id, captured, currency, spec.created, 'charge');
    this.#emit(`charge.${status}`, charge, spec.created);
    return charge;
  }

  /** Refund (part of) a charge at `spec.created`: `refund.created` (+ `charge.refunded` when money is held back). */
  addRefund(chargeId: string, spec: RefundSpec): StripeRefundObject {
    const charge = this.charge(chargeId);
    const status = spec.status ?? 'succeeded';
    const left = charge.amount_captured - charge.amount_refunded;
    const amount = spec.amount ?? left;
    if (amount <= 0) throw new Error(`stripe data: refund of ${amount} on ${chargeId}`);
    if (HOLDS_MONEY.has(status) && amount > left) {
      throw new Error(`stripe data: refund of ${amount} exceeds the ${left} left on ${chargeId}`);
    }
    const txn = HOLDS_MONEY.has(status) ? this.ids.next('txn') : null;
    const refund: StripeRefundObject = {
      id: spec.id ?? this.ids.next('re'),
      object: 'refund',
      amount,
      balance_transaction: txn,
      charge: chargeId,
      created: spec.created,
      currency: charge.currency,
      metadata: { ...(spec.metadata ?? {}) },
      payment_intent: charge.payment_intent,
      reason: spec.reason ?? null,
      receipt_number: null,
      status,
    };
    this.dataset.refunds.push(refund);
    if (txn) this.#addBalanceTransaction(txn, refund.id, -amount, charge.currency, spec.created, 'refund');
    this.#emit('refund.created', refund, spec.created);
    if (HOLDS_MONEY.has(status)) {
      this.#applyRefundAmount(charge, amount);
      this.#emit('charge.refunded', charge, spec.created);
    }
    return refund;
  }

  /** A refund's status changes (e.g. it fails): `refund.updated`, `charge.refund.updated`, maybe `refund.failed`. */
  setRefundStatus(refundId: string, status: StripeRefundObject['status'], at: number): StripeRefundObject {
    const refund = this.refund(refundId);
    const before = HOLDS_MONEY.has(refund.status);
    const after = HOLDS_MONEY.has(status);
    refund.status = status;
    if (refund.charge && before !== after) {
      this.#applyRefundAmount(this.charge(refund.charge), after ? refund.amount : -refund.amount);
    }
    this.#emit('refund.updated', refund, at);
    this.#emit('charge.refund.updated', refund, at);
    if (status === 'failed') this.#emit('refund.failed', refund, at);
    return refund;
  }

  /** A charge's status changes (a pending charge settles or fails): `charge.succeeded` / `charge.failed`, then `charge.updated`. */
  setChargeStatus(chargeId: string, status: StripeChargeObject['status'], at: number): StripeChargeObject {
    const charge = this.charge(chargeId);
    charge.status = status;
    charge.paid = status === 'succeeded';
    charge.captured = status === 'succeeded';
    charge.amount_captured = status === 'succeeded' ? charge.amount : 0;
    if (status === 'failed') {
      charge.failure_code = 'card_declined';
      charge.failure_message = 'Your card was declined.';
    }
    if (charge.payment_intent) {
      const pi = this.paymentIntent(charge.payment_intent);
      pi.status = status === 'succeeded' ? 'succeeded' : status === 'pending' ? 'processing' : 'requires_payment_method';
    }
    if (status !== 'pending') this.#emit(`charge.${status}`, charge, at);
    this.#emit('charge.updated', charge, at);
    return charge;
  }

  /** Edit charge fields (metadata, description, ...): `charge.updated`. */
  updateCharge(chargeId: string, patch: Partial<Pick<StripeChargeObject, 'metadata' | 'description' | 'customer' | 'billing_details'>>, at: number): StripeChargeObject {
    const charge = this.charge(chargeId);
    if (patch.metadata) charge.metadata = { ...patch.metadata };
    if (patch.description !== undefined) charge.description = patch.description;
    if (patch.customer !== undefined) charge.customer = patch.customer;
    if (patch.billing_details) charge.billing_details = clone(patch.billing_details);
    this.#emit('charge.updated', charge, at);
    return charge;
  }

  /** Replace a PaymentIntent's metadata: `payment_intent.updated` (not a charge event: Stripe emits none for the charge). */
  setPaymentIntentMetadata(piId: string, metadata: Record<string, string>, at: number): StripePaymentIntentObject {
    const pi = this.paymentIntent(piId);
    pi.metadata = { ...metadata };
    this.#emit('payment_intent.updated', pi, at);
    return pi;
  }

  /** A dispute opens on a charge: `charge.dispute.created`, the charge `disputed`. */
  disputeCharge(chargeId: string, at: number, amount?: number): Record<string, unknown> {
    const charge = this.charge(chargeId);
    charge.disputed = true;
    const dispute = {
      id: this.ids.next('dp'),
      object: 'dispute',
      amount: amount ?? charge.amount_captured,
      charge: chargeId,
      currency: charge.currency,
      created: at,
      livemode: charge.livemode,
      metadata: {},
      payment_intent: charge.payment_intent,
      reason: 'fraudulent',
      status: 'needs_response',
    };
    this.#emit('charge.dispute.created', dispute, at);
    return dispute;
  }

  /** Append an event with a snapshot of `object` (any object; used for hand-made out-of-order events too). */
  addEvent(type: string, object: Record<string, unknown>, created: number, id?: string): StripeEventObject {
    const event: StripeEventObject = {
      id: id ?? this.ids.next('evt'),
      object: 'event',
      api_version: STANDIN_API_VERSION,
      created,
      data: { object: clone(object) },
      livemode: Boolean(object['livemode']),
      pending_webhooks: 0,
      request: { id: null, idempotency_key: null },
      type,
    };
    this.dataset.events.push(event);
    return event;
  }

  #emit(type: string, object: object, at: number): void {
    if (this.emitEvents) this.addEvent(type, object as Record<string, unknown>, at);
  }

  #applyRefundAmount(charge: StripeChargeObject, delta: number): void {
    charge.amount_refunded += delta;
    charge.refunded = charge.amount_captured > 0 && charge.amount_refunded >= charge.amount_captured;
  }

  #addBalanceTransaction(id: string, source: string, amount: number, currency: string, created: number, type: string): void {
    (this.dataset.balanceTransactions ??= []).push({
      id,
      object: 'balance_transaction',
      amount,
      available_on: created + 2 * 86_400,
      created,
      currency,
      description: null,
      fee: 0,
      net: amount,
      reporting_category: type,
      source,
      status: 'available',
      type,
    });
  }
}

/**
 * Build a data set from scratch: `new StripeDataBuilder(['sk_test_x'])`, then
 * `addCharge` / `addRefund` / ..., then serve `builder.dataset`.
 */
export class StripeDataBuilder extends StripeDataEditor {
  constructor(apiKeys: string[] = [], options: { ids?: IdSequence; emitEvents?: boolean } = {}) {
    super(emptyStripeDataset(apiKeys), options);
  }
}

export interface SyntheticStripeOptions {
  charges: number;
  apiKeys: string[];
  /** Unix seconds; the newest charge is created just before. */
  now: number;
  /** Days the charges spread over (default 30). */
  spanDays?: number;
  callIdKey?: string;
}

/**
 * A large plausible account for benchmarks and manual runs: mostly succeeded
 * charges a call each, every 10th a batch of three, every 3rd named through
 * its PaymentIntent, a few failed, every 20th partly refunded an hour later.
 */
export function syntheticStripeDataset(options: SyntheticStripeOptions): StripeDataset {
  const b = new StripeDataBuilder(options.apiKeys, { emitEvents: false });
  const span = (options.spanDays ?? 30) * 86_400;
  const step = Math.max(1, Math.floor(span / Math.max(1, options.charges)));
  const start = options.now - step * options.charges;
  for (let i = 0; i < options.charges; i++) {
    const ids = i % 10 === 0 ? [`call_${i}_1`, `call_${i}_2`, `call_${i}_3`] : [`call_${i}`];
    const c = b.addCharge({
      created: start + i * step,
      amount: 25 + ((i * 37) % 2000),
      status: i % 50 === 7 ? 'failed' : 'succeeded',
      callIds: ids,
      callIdsOn: i % 3 === 0 ? 'payment_intent' : 'charge',
      ...(options.callIdKey ? { callIdKey: options.callIdKey } : {}),
      customer: `cus_${(i * 7919) % 5000}`,
      description: `AgentFlow calls ${ids.join(', ')}`,
    });
    if (c.status === 'succeeded' && i % 20 === 0) b.addRefund(c.id, { created: Math.min(options.now, c.created + 3600), amount: Math.max(1, Math.floor(c.amount / 4)) });
  }
  return b.dataset;
}
