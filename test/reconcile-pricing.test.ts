/**
 * Pricing (CONTRACT 4 and PRICING_FILE): the price in force at the call's
 * start, per-agent overrides, half-even rounding in exact arithmetic, and the
 * explanation text.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { configFor } from '../src/config.js';
import { Pricer } from '../src/reconcile/pricing.js';
import { tempDir } from './helpers.js';
import { insertCharge, movementsFor, storeLedger, world } from './reconcile-fixtures.js';

const base = new Pricer({ flowUsdRate: '0.01', markup: '0.25', pricing: [] });

describe('pricing', () => {
  const cases: [string, number, number, number][] = [
    // name, net micro, expected cents, cost cents
    ['160 FLOW', 160_000_000, 200, 160],
    ['10 FLOW: 12.5 cents, half-even to 12 (half-up would say 13)', 10_000_000, 12, 10],
    ['14 FLOW: 17.5 cents, half-even to 18', 14_000_000, 18, 14],
    ['1.25 FLOW: 1.5625 cents to 2', 1_250_000, 2, 1],
    ['0.000001 FLOW: nothing', 1, 0, 0],
    ['-10 FLOW (adjusted below zero): -12.5 to -12', -10_000_000, -12, -10],
    ['a large call: 123456789.123456 FLOW', 123_456_789_123_456, 154320986, 123456789],
  ];
  for (const [name, net, expected, cost] of cases) {
    it(name, () => {
      assert.equal(base.expectedCents(net, 'summarize', null), expected);
      assert.equal(base.costCents(net, 'summarize', null), cost);
    });
  }

  it('explains the numbers', () => {
    const e = base.explainExpected(1_250_000, null, null);
    assert.deepEqual(e, { cents: 2, formula: '1.250000 FLOW x 0.01 x 1.25', exactUsd: '0.015625' });
  });

  it('takes the period in force at the start, with per-agent overrides', () => {
    const dir = tempDir();
    const file = join(dir, 'prices.json');
    writeFileSync(
      file,
      JSON.stringify([
        { from: '2026-12-01', flow_usd_rate: '0.02', markup: '0.5', agents: { translate: { markup: '1' } } },
        { from: '2026-11-01T00:00:00Z', flow_usd_rate: 0.01, markup: 0.1 },
      ]),
    );
    const config = configFor({ PRICING_FILE: file }, dir);
    const p = new Pricer(config);
    const net = 100_000_000; // 100 FLOW
    assert.equal(p.expectedCents(net, 'summarize', '2026-10-31T23:59:59.999Z'), 125, 'before any period: FLOW_USD_RATE / MARKUP');
    assert.equal(p.expectedCents(net, 'summarize', '2026-11-01T00:00:00.000Z'), 110, 'from is inclusive');
    assert.equal(p.expectedCents(net, 'summarize', '2026-12-01T00:00:00.000Z'), 300);
    assert.equal(p.expectedCents(net, 'translate', '2026-12-02T00:00:00.000Z'), 400, 'agent override of the markup only');
    assert.equal(p.costCents(net, 'translate', '2026-12-02T00:00:00.000Z'), 200);
    assert.equal(p.expectedCents(net, 'summarize', null), 125, 'no reserve: the base price');
    assert.equal(p.uniformExpected(), null);
    assert.deepEqual(base.uniformExpected(), { num: 1n, den: 800_000n });
  });

  it('reconciles a re-run of last month at last month\'s price', async () => {
    const dir = tempDir();
    const file = join(dir, 'prices.json');
    // In force from 2026-12-04T08:00Z: a call started at 07:00 keeps the old price.
    writeFileSync(file, JSON.stringify([{ from: '2026-12-04T08:00:00Z', flow_usd_rate: '0.02', markup: '0.25' }]));
    const w = world({ PRICING_FILE: file }, dir);
    after(() => w.db.close());
    storeLedger(
      w.db,
      movementsFor([
        { id: 'call_old', reserve: 200, start: 180, end: { at: 179, type: 'settle', returned: 40 } }, // 07:00, 2.00 USD
        { id: 'call_new', reserve: 200, start: 100, end: { at: 99, type: 'settle', returned: 40 } }, // 08:20, 4.00 USD
      ]),
    );
    insertCharge(w.db, { id: 'ch_old', calls: ['call_old'], amount: 200, created: 170 });
    insertCharge(w.db, { id: 'ch_new', calls: ['call_new'], amount: 200, created: 90 });
    await w.run();
    assert.deepEqual(
      w.open().map((r) => [r.type, r.call_ids, r.expected_cents, r.billed_cents]),
      [['AMOUNT_MISMATCH', 'call_new', 400, 200]],
    );
    assert.match(w.open()[0]!.detail, /160\.000000 FLOW x 0\.02 x 1\.25/);
  });
});
