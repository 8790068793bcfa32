/**
 * The `detail` column: the numbers and the rule, so a finance person can act
 * without opening the database. Texts depend only on the data and the
 * settings (never on the run's time), so the same data gives the same report.
 */
import { formatCents, formatFlow, formatMinor } from '../money.js';
import type { CallFacts, ChargeFacts } from './facts.js';
import { billedOf } from './facts.js';
import type { Pricer } from './pricing.js';

/** Stripe's zero-decimal currencies: amounts are whole units. */
const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);
const SHOWN = 5; // calls or charges spelled out before "and N more"

export function money(amount: number, currency: string): string {
  return `${formatMinor(amount, ZERO_DECIMAL.has(currency.toLowerCase()) ? 0 : 2)} ${currency.toUpperCase()}`;
}

function more(total: number): string {
  return total > SHOWN ? ` + ${total - SHOWN} more` : '';
}

/** "expected 1.56 USD = 1.250000 FLOW x 0.01 x 1.25, rounded half-even from 1.5625" */
export function explainExpected(calls: readonly CallFacts[], pricer: Pricer, currency: string): string {
  const cur = currency.toUpperCase();
  if (calls.length === 0) return `expected 0.00 ${cur} (no ledger call named)`;
  if (calls.length === 1) {
    const c = calls[0] as CallFacts;
    const e = pricer.explainExpected(c.netMicro, c.agentSlug, c.startedAt);
    return `expected ${formatCents(e.cents)} ${cur} = ${e.formula}, rounded half-even from ${e.exactUsd}`;
  }
  let total = 0;
  const parts: string[] = [];
  for (const c of calls) {
    const e = pricer.explainExpected(c.netMicro, c.agentSlug, c.startedAt);
    total += e.cents;
    if (parts.length < SHOWN) parts.push(`${formatCents(e.cents)} for ${c.callId} (${e.formula}, rounded half-even from ${e.exactUsd})`);
  }
  return `expected ${formatCents(total)} ${cur} = ${parts.join(' + ')}${more(calls.length)}`;
}

function chargeText(ch: ChargeFacts): string {
  const refunds = ch.refundedCents !== 0 ? ` (captured ${money(ch.capturedCents, ch.currency)}, refunded ${money(ch.refundedCents, ch.currency)})` : '';
  return `${ch.chargeId}${refunds}`;
}

/** "billed 2.00 by ch_123" / "billed 1.50 by ch_1 (captured 2.00 USD, refunded 0.50 USD) + ch_2" */
export function explainBilled(charges: readonly ChargeFacts[]): string {
  const total = charges.reduce((s, ch) => s + billedOf(ch), 0);
  const shown = charges.slice(0, SHOWN).map(chargeText).join(' + ');
  return `billed ${formatCents(total)} by ${shown}${more(charges.length)}`;
}

export function explainTolerance(toleranceCents: number): string {
  return `tolerance ${formatCents(toleranceCents)}`;
}

export function listIds(ids: readonly string[]): string {
  return ids.slice(0, SHOWN).join(', ') + (ids.length > SHOWN ? ` and ${ids.length - SHOWN} more` : '');
}

export function flowText(micro: number): string {
  return `${formatFlow(micro)} FLOW`;
}

/** A setting in minutes as quoted in texts. */
export function minutesText(minutes: number): string {
  return `${minutes} min`;
}
