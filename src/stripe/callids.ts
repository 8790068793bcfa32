/**
 * Which calls a charge bills (CONTRACT 3): the value under the call-id key in
 * the charge's metadata or, failing that, in its PaymentIntent's; one id or a
 * comma-separated batch. Ids are trimmed, empties dropped, repeats kept once.
 */
import type { ChargeSnapshot } from './types.js';

export interface ChargeCallIds {
  ids: string[];
  /** The metadata value the ids came from, verbatim; null when neither object has the key. */
  raw: string | null;
  source: 'charge' | 'payment_intent' | null;
}

export function parseCallIds(raw: string | null | undefined): string[] {
  if (raw === null || raw === undefined) return [];
  const seen = new Set<string>();
  for (const part of raw.split(',')) {
    const id = part.trim();
    if (id) seen.add(id);
  }
  return [...seen];
}

/**
 * `piMetadata` is the PaymentIntent's metadata when known (expanded or fetched);
 * a charge whose own value names no id falls back to it.
 */
export function resolveCallIds(charge: ChargeSnapshot, key: string, piMetadata: Record<string, string> | null): ChargeCallIds {
  const own = charge.metadata[key];
  const ownIds = parseCallIds(own);
  if (ownIds.length > 0) return { ids: ownIds, raw: own ?? null, source: 'charge' };
  const pi = piMetadata?.[key];
  const piIds = parseCallIds(pi);
  if (piIds.length > 0) return { ids: piIds, raw: pi ?? null, source: 'payment_intent' };
  if (own !== undefined) return { ids: [], raw: own, source: 'charge' };
  if (pi !== undefined) return { ids: [], raw: pi, source: 'payment_intent' };
  return { ids: [], raw: null, source: null };
}

/** True when the PaymentIntent must be fetched to know the calls: the charge names none and its PI did not come expanded. */
export function needsPaymentIntent(charge: ChargeSnapshot, key: string): boolean {
  return parseCallIds(charge.metadata[key]).length === 0 && charge.payment_intent !== null && charge.payment_intent_object === null;
}
