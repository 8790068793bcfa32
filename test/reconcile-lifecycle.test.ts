/**
 * The discrepancy lifecycle across runs: stable ids, new/open/acknowledged,
 * resolved counted in the run that resolves, reopening as new; and the
 * invariant check stopping a run before anything is written.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { isFlowreconError } from '../src/errors.js';
import { acknowledge } from '../src/reconcile/lifecycle.js';
import { writeRunReports } from '../src/report/reports.js';
import { insertCharge, movementsFor, storeLedger, world, type World } from './reconcile-fixtures.js';

function seed(w: World): void {
  storeLedger(
    w.db,
    movementsFor([
      { id: 'call_ok', reserve: 200, start: 301, end: { at: 300, type: 'settle', returned: 40 } },
      { id: 'call_unbilled', reserve: 200, start: 241, end: { at: 240, type: 'settle', returned: 40 } },
      { id: 'call_wrong', reserve: 200, start: 181, end: { at: 180, type: 'settle', returned: 40 } },
    ]),
  );
  insertCharge(w.db, { id: 'ch_ok', calls: ['call_ok'], amount: 200, created: 290 });
  insertCharge(w.db, { id: 'ch_wrong', calls: ['call_wrong'], amount: 300, created: 170 });
  insertCharge(w.db, { id: 'ch_orphan', calls: [], amount: 999, created: 100 });
}

const byType = (w: World) => Object.fromEntries(w.open().map((r) => [r.type, r]));

async function reportRows(w: World, runId: string): Promise<Record<string, string>[]> {
  const paths = await writeRunReports({ db: w.db, config: w.config, clock: w.clock }, { runId });
  return parse(readFileSync(paths.discrepancies), { columns: true }) as Record<string, string>[];
}

describe('discrepancy lifecycle', () => {
  it('keeps ids stable, counts new and resolved, acknowledges, reopens as new', async () => {
    const w = world();
    after(() => w.db.close());
    seed(w);

    const r1 = await w.run('run_1');
    assert.deepEqual(r1.discrepancies, { open: 3, new: 3, resolved: 0, by_type: { ORPHAN_CHARGE: 1, UNBILLED_CALL: 1, AMOUNT_MISMATCH: 1 } });
    assert.equal(r1.newIds.length, 3);
    const first = byType(w);
    assert.ok((await reportRows(w, 'run_1')).every((r) => r.status === 'new'));

    // Same data again, later: nothing new, same ids, first sighting kept.
    w.clock.advance(15 * 60_000);
    const r2 = await w.run('run_2');
    assert.deepEqual(r2.discrepancies, { ...r1.discrepancies, new: 0 });
    const second = byType(w);
    for (const t of Object.keys(first)) {
      assert.equal(second[t]!.discrepancy_id, first[t]!.discrepancy_id);
      assert.equal(second[t]!.first_seen_run_id, 'run_1');
    }
    assert.ok((await reportRows(w, 'run_2')).every((r) => r.status === 'open'));

    // Acknowledge the mismatch: still open, no longer unacknowledged.
    acknowledge(w.db, w.clock, first.AMOUNT_MISMATCH!.discrepancy_id, 'price promo, known');
    assert.throws(() => acknowledge(w.db, w.clock, 'd_nope', 'x'), (e) => isFlowreconError(e, 'USAGE'));

    // Fix two problems: bill the unbilled call, refund the orphan in full.
    insertCharge(w.db, { id: 'ch_late', calls: ['call_unbilled'], amount: 200, created: 5 });
    w.db.sqlite.prepare(`INSERT INTO stripe_refunds VALUES ('re_orphan', 'ch_orphan', NULL, 999, 'usd', 'succeeded', NULL, 0, 0, '2026-12-04T10:15:00.000Z')`).run();
    w.clock.advance(15 * 60_000);
    const r3 = await w.run('run_3');
    assert.deepEqual(r3.discrepancies, { open: 1, new: 0, resolved: 2, by_type: { AMOUNT_MISMATCH: 1 } });
    assert.equal(r3.unacknowledged, 0);
    const rows3 = await reportRows(w, 'run_3');
    assert.deepEqual(rows3.map((r) => [r.type, r.status]), [['AMOUNT_MISMATCH', 'acknowledged']]);
    const resolved = w.db.sqlite
      .prepare(`SELECT type, resolved_run_id FROM discrepancies WHERE resolved_at IS NOT NULL ORDER BY type`)
      .all();
    assert.deepEqual(resolved, [
      { type: 'ORPHAN_CHARGE', resolved_run_id: 'run_3' },
      { type: 'UNBILLED_CALL', resolved_run_id: 'run_3' },
    ]);
    const summary = readdirSync(`${w.config.reportsDir}/2026-12-04`).filter((f) => f.startsWith('summary-')).sort().at(-1)!;
    const sumRows = parse(readFileSync(`${w.config.reportsDir}/2026-12-04/${summary}`), { columns: true }) as Record<string, string>[];
    assert.deepEqual(sumRows.find((r) => r.type === 'UNBILLED_CALL'), { type: 'UNBILLED_CALL', open: '0', new: '0', acknowledged: '0', resolved: '1', usd_at_stake: '0.00' });
    assert.deepEqual(sumRows.find((r) => r.type === 'TOTAL'), { type: 'TOTAL', open: '1', new: '0', acknowledged: '1', resolved: '2', usd_at_stake: '1.00' });

    // The orphan's refund is cancelled: the same problem comes back, as new, with its old id.
    w.db.sqlite.prepare(`UPDATE stripe_refunds SET status = 'canceled', synced_at = '2026-12-04T10:30:00.000Z' WHERE refund_id = 're_orphan'`).run();
    w.clock.advance(15 * 60_000);
    const r4 = await w.run('run_4');
    assert.equal(r4.discrepancies.new, 1);
    assert.deepEqual(r4.newIds, [first.ORPHAN_CHARGE!.discrepancy_id]);
    const back = byType(w).ORPHAN_CHARGE!;
    assert.equal(back.first_seen_run_id, 'run_4');
    assert.equal(back.acknowledged_at, null);
  });

  it('an invariant violation stops the run with INVARIANT and writes nothing', async () => {
    const w = world();
    after(() => w.db.close());
    seed(w);
    await w.run('run_ok');
    const before = w.db.sqlite.prepare(`SELECT * FROM discrepancies ORDER BY discrepancy_id`).all();
    insertCharge(w.db, { id: 'ch_new_orphan', calls: [], amount: 5, created: 100 });
    await assert.rejects(
      w.run('run_bad', (scan) => {
        scan.tally.buckets.matched.calls -= 1; // a call lost by the engine
      }),
      (e) => isFlowreconError(e, 'INVARIANT') && /final calls: (\d+) in buckets, (\d+) in the ledger/.test(e.message),
    );
    await assert.rejects(
      w.run('run_bad2', (scan) => {
        scan.tally.buckets.discrepancy.billedCents += 1;
      }),
      (e) => isFlowreconError(e, 'INVARIANT') && /billed cents/.test(e.message),
    );
    assert.deepEqual(w.db.sqlite.prepare(`SELECT * FROM discrepancies ORDER BY discrepancy_id`).all(), before);
  });
});
