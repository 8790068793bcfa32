/**
 * Property tests: random healthy books with problems injected on chosen
 * calls must yield exactly those problems; the same data reconciled twice
 * gives byte-identical reports; Stripe rows arriving in another order and
 * ledger pages cut differently or delivered twice give the same report.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { writeRunReports } from '../src/report/reports.js';
import { AS_OF, insertCharge, movementsFor, storeLedger, world, type CallSpec, type ChargeSpec } from './reconcile-fixtures.js';
import { tempDir } from './helpers.js';

const PROBLEMS = ['none', 'UNBILLED_CALL', 'AMOUNT_MISMATCH', 'DUPLICATE_CHARGE', 'CURRENCY_MISMATCH', 'OVER_REFUNDED', 'REFUND_NOT_PASSED_ON'] as const;
type Problem = (typeof PROBLEMS)[number];

interface CallPlan {
  /** FLOW reserved, in 0.01 steps (1.25 cents per FLOW: expected cents stay exact-ish but random). */
  reserveCentiFlow: number;
  /** Share of the reservation kept, 1..100 %. */
  keepPct: number;
  kind: 'settle' | 'refund';
  problem: Problem;
  delta: number;
  batch: boolean;
}

interface Plan {
  calls: CallPlan[];
  orphans: number[];
  stale: number;
}

const callPlan: fc.Arbitrary<CallPlan> = fc.record({
  reserveCentiFlow: fc.integer({ min: 100, max: 100_000 }),
  keepPct: fc.integer({ min: 1, max: 100 }),
  kind: fc.constantFrom('settle' as const, 'refund' as const),
  problem: fc.constantFrom(...PROBLEMS, 'none', 'none', 'none'),
  delta: fc.integer({ min: 1, max: 500 }),
  batch: fc.boolean(),
});

const planArb: fc.Arbitrary<Plan> = fc.record({
  calls: fc.array(callPlan, { minLength: 1, maxLength: 12 }),
  orphans: fc.array(fc.integer({ min: 1, max: 10_000 }), { maxLength: 2 }),
  stale: fc.integer({ min: 0, max: 2 }),
});

/** 1.25 cents per FLOW, half-even: the same rule as the engine, written out independently on integers. */
function expectedCents(netMicro: number): number {
  // net micro x 1.25 / 10^6 cents
  const num = BigInt(netMicro) * 125n;
  const den = 100_000_000n;
  let q = num / den;
  const r = num % den;
  if (2n * r > den || (2n * r === den && q % 2n === 1n)) q += 1n;
  return Number(q);
}

interface Built {
  calls: CallSpec[];
  charges: ChargeSpec[];
  expected: string[];
}

function build(plan: Plan): Built {
  const calls: CallSpec[] = [];
  const charges: ChargeSpec[] = [];
  const expected: string[] = [];
  const batch: { ids: string[]; cents: number } = { ids: [], cents: 0 };
  plan.calls.forEach((p, i) => {
    const id = `call_${String(i).padStart(3, '0')}`;
    const reserveMicro = p.reserveCentiFlow * 10_000;
    let netMicro = Math.floor((reserveMicro * p.keepPct) / 100);
    let kind = p.kind;
    if (p.problem === 'REFUND_NOT_PASSED_ON') {
      kind = 'refund';
      netMicro = Math.min(netMicro, reserveMicro - 1_000_000); // at least 1 FLOW back
    }
    if (p.problem === 'AMOUNT_MISMATCH' || p.problem === 'OVER_REFUNDED') kind = 'settle';
    const end = 500 - i;
    calls.push({ id, reserve: reserveMicro / 1e6, start: end + 1, end: { at: end, type: kind, returned: (reserveMicro - netMicro) / 1e6 } });
    const cents = expectedCents(netMicro);
    const chId = `ch_${String(i).padStart(3, '0')}`;
    const created = end - 5;
    switch (p.problem) {
      case 'none':
        if (cents <= 0) break;
        if (p.batch) {
          batch.ids.push(id);
          batch.cents += cents;
        } else if (kind === 'refund') {
          // Billed at the reservation's price, the difference refunded later: correct.
          const full = expectedCents(reserveMicro);
          const extra = full - cents;
          charges.push({ id: chId, calls: [id], amount: full, created, ...(extra > 0 ? { refunds: [{ amount: extra, created: 1 }] } : {}) });
        } else charges.push({ id: chId, calls: [id], amount: cents, created });
        break;
      case 'UNBILLED_CALL':
        if (cents > 0) expected.push(`UNBILLED_CALL|${id}|`);
        break;
      case 'AMOUNT_MISMATCH':
        charges.push({ id: chId, calls: [id], amount: cents + p.delta, created });
        expected.push(`AMOUNT_MISMATCH|${id}|${chId}`);
        break;
      case 'DUPLICATE_CHARGE':
        charges.push({ id: chId, calls: [id], amount: Math.max(cents, 1), created });
        charges.push({ id: `${chId}_dup`, calls: [id], amount: Math.max(cents, 1), created: created - 1 });
        expected.push(`DUPLICATE_CHARGE|${id}|${chId};${chId}_dup`);
        break;
      case 'CURRENCY_MISMATCH':
        charges.push({ id: chId, calls: [id], amount: cents, created, currency: 'eur' });
        expected.push(`CURRENCY_MISMATCH|${id}|${chId}`);
        break;
      case 'OVER_REFUNDED': {
        const charged = cents + 10;
        charges.push({ id: chId, calls: [id], amount: charged, created, refunds: [{ amount: 10 + p.delta, created: 1 }] });
        expected.push(`OVER_REFUNDED|${id}|${chId}`);
        break;
      }
      case 'REFUND_NOT_PASSED_ON':
        charges.push({ id: chId, calls: [id], amount: expectedCents(reserveMicro), created });
        expected.push(`REFUND_NOT_PASSED_ON|${id}|${chId}`);
        break;
    }
  });
  if (batch.ids.length > 0) charges.push({ id: 'ch_batch', calls: batch.ids, amount: batch.cents, created: 10 });
  plan.orphans.forEach((amount, i) => {
    charges.push({ id: `ch_orphan_${i}`, calls: i % 2 === 0 ? [] : [`call_unknown_${i}`], amount, created: 200 });
    expected.push(`ORPHAN_CHARGE|${i % 2 === 0 ? '' : `call_unknown_${i}`}|ch_orphan_${i}`);
  });
  for (let i = 0; i < plan.stale; i += 1) {
    const id = `call_stale_${i}`;
    calls.push({ id, reserve: 2, start: 600 + i });
    expected.push(`STALE_RESERVATION|${id}|`);
  }
  return { calls, charges, expected: expected.sort() };
}

async function reconcileToReport(b: Built, options: { pageSize?: number; repeat?: boolean; shuffle?: number } = {}): Promise<{ found: string[]; bytes: string; newOnSecond: number }> {
  const w = world({}, tempDir('flowrecon-prop-'));
  try {
    const movements = movementsFor(b.calls);
    const pageSize = options.pageSize ?? 500;
    storeLedger(w.db, movements, pageSize);
    if (options.repeat) storeLedger(w.db, movements, Math.max(1, pageSize - 1)); // at-least-once delivery
    const charges = [...b.charges];
    if (options.shuffle !== undefined) {
      let seed = options.shuffle;
      for (let i = charges.length - 1; i > 0; i -= 1) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        const j = seed % (i + 1);
        [charges[i], charges[j]] = [charges[j]!, charges[i]!];
      }
    }
    for (const ch of charges) insertCharge(w.db, ch);
    await w.run('run_p');
    const found = w.open().map((r) => `${r.type}|${r.call_ids}|${r.stripe_charge_ids}`).sort();
    const paths = await writeRunReports({ db: w.db, config: w.config, clock: w.clock }, { runId: 'run_p', dir: join(w.dir, 'out') });
    const bytes = readFileSync(paths.discrepancies, 'utf8');
    const second = await w.run('run_q');
    return { found, bytes, newOnSecond: second.discrepancies.new };
  } finally {
    await w.db.close();
  }
}

describe('reconciliation properties', () => {
  it('finds exactly the injected problems, and nothing new on a second run', async () => {
    await fc.assert(
      fc.asyncProperty(planArb, async (plan) => {
        const b = build(plan);
        const r = await reconcileToReport(b);
        assert.deepEqual(r.found, b.expected);
        assert.equal(r.newOnSecond, 0);
      }),
      { numRuns: 60 },
    );
  });

  it('same data twice, Stripe rows in another order, ledger pages cut otherwise or repeated: byte-identical report', async () => {
    await fc.assert(
      fc.asyncProperty(planArb, fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 1_000_000 }), async (plan, pageSize, seed) => {
        const b = build(plan);
        const a = await reconcileToReport(b);
        const again = await reconcileToReport(b);
        const reordered = await reconcileToReport(b, { pageSize, repeat: true, shuffle: seed });
        assert.equal(again.bytes, a.bytes);
        assert.equal(reordered.bytes, a.bytes);
      }),
      { numRuns: 25 },
    );
  });

  it('an incremental run after more data arrives finds what a full run on the same data finds', async () => {
    await fc.assert(
      fc.asyncProperty(planArb, fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), async (plan, mvCut, chCut) => {
        const built = build(plan);
        // Young when first seen, due 45 minutes later: only re-judging what waited finds them.
        const b: Built = {
          calls: [
            ...built.calls,
            { id: 'call_young', reserve: 200, start: 21, end: { at: 20, type: 'settle', returned: 40 } },
            { id: 'call_young_pending', reserve: 2, start: 40 },
          ],
          charges: [{ id: 'ch_young_orphan', calls: [], amount: 55, created: 20 }, ...built.charges],
          expected: [...built.expected, 'ORPHAN_CHARGE||ch_young_orphan', 'STALE_RESERVATION|call_young_pending|', 'UNBILLED_CALL|call_young|'].sort(),
        };
        const movements = movementsFor(b.calls);
        const m = Math.floor(movements.length * mvCut);
        const c = Math.floor(b.charges.length * chCut);
        const inc = world({}, tempDir('flowrecon-inc-'));
        const full = world({}, tempDir('flowrecon-full-'));
        try {
          storeLedger(inc.db, movements.slice(0, m));
          for (const ch of b.charges.slice(0, c)) insertCharge(inc.db, ch);
          // Synced one by one, an hour ago: the next run's scope starts after the newest.
          inc.db.sqlite.prepare(`UPDATE stripe_charges SET synced_at = strftime('%Y-%m-%dT%H:%M:%fZ', ?, '-3600 seconds', '+' || rowid || ' seconds')`).run(AS_OF);
          inc.db.sqlite.prepare(`UPDATE stripe_refunds SET synced_at = strftime('%Y-%m-%dT%H:%M:%fZ', ?, '-3600 seconds')`).run(AS_OF);
          await inc.run('run_1');
          storeLedger(inc.db, movements.slice(m));
          // What arrives later is synced later.
          for (const ch of b.charges.slice(c)) insertCharge(inc.db, ch);
          inc.db.sqlite.prepare(`UPDATE stripe_charges SET synced_at = ? WHERE rowid > ?`).run(new Date(Date.parse(AS_OF) + 1000).toISOString(), c);
          inc.clock.advance(45 * 60_000);
          await inc.run('run_2');
          storeLedger(full.db, movements);
          for (const ch of b.charges) insertCharge(full.db, ch);
          full.clock.advance(45 * 60_000);
          await full.run('run_full');
          const open = (w: typeof inc) => w.open().map((r) => `${r.type}|${r.call_ids}|${r.stripe_charge_ids}|${r.expected_cents}|${r.billed_cents}`).sort();
          assert.deepEqual(open(inc), open(full));
          assert.deepEqual(open(full).map((x) => x.split('|').slice(0, 3).join('|')), b.expected);
        } finally {
          await inc.db.close();
          await full.db.close();
        }
      }),
      { numRuns: 40 },
    );
  });
});
