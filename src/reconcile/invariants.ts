/**
 * The invariants checked on every run: every final call and every succeeded
 * charge lands in exactly one bucket (matched, discrepancy, waiting), the
 * sums of FLOW and of billed cents over the buckets equal the sums over the
 * inputs, and no call or charge appears in two discrepancy rows. A violation
 * means the engine lost or double-counted something: the run stops with
 * INVARIANT before anything is written. An incremental run checks the same
 * over what it judged (the inputs summed from the tables for exactly those
 * calls and charges); a full run, at least daily, checks the whole book.
 */
import { FlowreconError } from '../errors.js';
import { formatCents, formatFlow } from '../money.js';
import type { Bucket, CallFacts, ChargeFacts, Finding } from './facts.js';
import { billedOf } from './facts.js';
import type { BucketSink } from './rules.js';

export interface Totals {
  calls: number;
  flowMicro: number;
  charges: number;
  billedCents: number;
}

export type BucketTotals = Record<Bucket, Totals>;

const zero = (): Totals => ({ calls: 0, flowMicro: 0, charges: 0, billedCents: 0 });

export class Tally implements BucketSink {
  readonly buckets: BucketTotals = { matched: zero(), discrepancy: zero(), waiting: zero() };

  call(call: CallFacts, bucket: Bucket): void {
    const t = this.buckets[bucket];
    t.calls += 1;
    t.flowMicro += call.netMicro;
  }

  charge(charge: ChargeFacts, bucket: Bucket): void {
    const t = this.buckets[bucket];
    t.charges += 1;
    t.billedCents += billedOf(charge);
  }

  /** Many matched single components at once (the scan's fast path). */
  addMatched(calls: number, flowMicro: number, charges: number, billedCents: number): void {
    const t = this.buckets.matched;
    t.calls += calls;
    t.flowMicro += flowMicro;
    t.charges += charges;
    t.billedCents += billedCents;
  }

  sum(): Totals {
    const s = zero();
    for (const t of Object.values(this.buckets)) {
      s.calls += t.calls;
      s.flowMicro += t.flowMicro;
      s.charges += t.charges;
      s.billedCents += t.billedCents;
    }
    return s;
  }
}

/** Throws FlowreconError('INVARIANT') naming every sum that does not add up. */
export function checkInvariants(tally: Tally, inputs: Totals, findings: readonly Finding[]): void {
  const got = tally.sum();
  const problems: string[] = [];
  if (got.calls !== inputs.calls) problems.push(`final calls: ${got.calls} in buckets, ${inputs.calls} in the ledger`);
  if (got.flowMicro !== inputs.flowMicro) {
    problems.push(`net FLOW of final calls: ${formatFlow(got.flowMicro)} in buckets, ${formatFlow(inputs.flowMicro)} in the ledger`);
  }
  if (got.charges !== inputs.charges) problems.push(`succeeded charges: ${got.charges} in buckets, ${inputs.charges} in Stripe`);
  if (got.billedCents !== inputs.billedCents) {
    problems.push(`billed cents: ${formatCents(got.billedCents)} in buckets, ${formatCents(inputs.billedCents)} in Stripe`);
  }
  const seenCalls = new Map<string, string>();
  const seenCharges = new Map<string, string>();
  for (const f of findings) {
    // ORPHAN_CHARGE call ids are ids the ledger does not have: not calls.
    if (f.type !== 'ORPHAN_CHARGE') {
      for (const id of f.callIds) {
        const prev = seenCalls.get(id);
        if (prev !== undefined) problems.push(`call ${id} is in two rows (${prev}, ${f.type})`);
        seenCalls.set(id, f.type);
      }
    }
    for (const id of f.chargeIds) {
      const prev = seenCharges.get(id);
      if (prev !== undefined) problems.push(`charge ${id} is in two rows (${prev}, ${f.type})`);
      seenCharges.set(id, f.type);
    }
  }
  if (problems.length > 0) {
    throw new FlowreconError('INVARIANT', `reconciliation does not add up, nothing written: ${problems.slice(0, 10).join('; ')}`);
  }
}
