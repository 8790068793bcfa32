/**
 * CONTRACT 8 `export calls`: columns, window on the reserve, start-time order,
 * pending rows, batch splits by largest remainder (ties to the smaller call
 * id), margins, every charge id listed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { exportCalls } from '../src/report/export-calls.js';
import { at, insertCharge, movementsFor, storeLedger, world } from './reconcile-fixtures.js';

describe('export calls', () => {
  it('writes one row per call reserved in the window, with shares, margins and charge ids', async () => {
    const w = world();
    after(() => w.db.close());
    storeLedger(
      w.db,
      movementsFor([
        { id: 'call_early', reserve: 10, start: 2000, end: { at: 1999, type: 'settle', returned: 2 } },
        { id: 'call_a', reserve: 200, start: 300, end: { at: 299, type: 'settle', returned: 40 } }, // 2.00 USD, cost 1.60
        { id: 'call_b', reserve: 100, start: 290, end: { at: 289, type: 'settle', returned: 20 } }, // 1.00 USD, cost 0.80
        { id: 'call_t2', reserve: 8, start: 280, end: { at: 279, type: 'settle', returned: 0 } }, // 0.10
        { id: 'call_t1', reserve: 8, start: 270, end: { at: 269, type: 'settle', returned: 0 } }, // 0.10
        { id: 'call_f', reserve: 200, start: 260, end: { at: 259, type: 'refund', returned: 40, }, adjust: [{ at: 250, amount: -1 }] },
        { id: 'call_p', reserve: 5, start: 20 },
      ]),
    );
    insertCharge(w.db, { id: 'ch_early', calls: ['call_early'], amount: 10, created: 1990 });
    insertCharge(w.db, { id: 'ch_batch', calls: ['call_a', 'call_b'], amount: 301, created: 280, refunds: [{ amount: 31 }] });
    insertCharge(w.db, { id: 'ch_tie', calls: ['call_t2', 'call_t1'], amount: 21, created: 260 });
    insertCharge(w.db, { id: 'ch_f2', calls: ['call_f'], amount: 250, created: 250, refunds: [{ amount: 49 }, { amount: 7, status: 'failed' }] });
    insertCharge(w.db, { id: 'ch_f1', calls: ['call_f'], amount: 250, created: 250, status: 'failed' });
    insertCharge(w.db, { id: 'ch_eur', calls: ['call_p'], amount: 9, created: 10, currency: 'eur' });
    const out = join(w.dir, 'calls.csv');
    const r = await exportCalls(w.db, w.config, { from: at(1000), to: at(0) }, out);
    assert.equal(r.rows, 6);
    const text = readFileSync(out, 'utf8');
    assert.ok(text.startsWith('call_id,agent_slug,started_at,status,flow_reserved,flow_returned,flow_net,expected_usd,charged_usd,refunded_usd,margin_usd,stripe_charge_ids\r\n'));
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    const pick = (id: string) => rows.find((x) => x.call_id === id)!;
    assert.deepEqual(rows.map((x) => x.call_id), ['call_a', 'call_b', 'call_t2', 'call_t1', 'call_f', 'call_p']);
    // 301 split 200:100 -> 200.67 / 100.33: the extra cent to call_a; refund 31 -> 20.67 / 10.33.
    assert.deepEqual(pick('call_a'), {
      call_id: 'call_a',
      agent_slug: 'summarize',
      started_at: at(300),
      status: 'succeeded',
      flow_reserved: '200.000000',
      flow_returned: '40.000000',
      flow_net: '160.000000',
      expected_usd: '2.00',
      charged_usd: '2.01',
      refunded_usd: '0.21',
      margin_usd: '0.20',
      stripe_charge_ids: 'ch_batch',
    });
    assert.deepEqual([pick('call_b').charged_usd, pick('call_b').refunded_usd, pick('call_b').margin_usd], ['1.00', '0.10', '0.10']);
    // Equal weights, 21 cents: the odd cent goes to the smaller call id.
    assert.equal(pick('call_t1').charged_usd, '0.11');
    assert.equal(pick('call_t2').charged_usd, '0.10');
    // Failed call with an adjustment: net 161, 2.01 USD expected, cost 1.61; only succeeded charges and refunds count.
    assert.deepEqual(
      [pick('call_f').status, pick('call_f').flow_net, pick('call_f').expected_usd, pick('call_f').charged_usd, pick('call_f').refunded_usd, pick('call_f').margin_usd, pick('call_f').stripe_charge_ids],
      ['failed', '161.000000', '2.01', '2.50', '0.49', '0.40', 'ch_f1;ch_f2'],
    );
    // Pending: no expected, no margin; a charge in another currency is listed, not counted.
    assert.deepEqual(
      [pick('call_p').status, pick('call_p').flow_returned, pick('call_p').expected_usd, pick('call_p').charged_usd, pick('call_p').margin_usd, pick('call_p').stripe_charge_ids],
      ['pending', '0.000000', '', '0.00', '', 'ch_eur'],
    );
  });
});
