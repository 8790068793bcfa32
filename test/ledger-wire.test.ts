import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFlowreconError } from '../src/errors.js';
import { parseLedgerPage } from '../src/ledger/wire.js';

const movement = (over: Record<string, unknown> = {}) => ({
  id: 'mv_0042',
  type: 'reserve',
  amount: '-2.000000',
  call_id: 'call_9',
  agent_slug: 'summarize',
  call_status: 'pending',
  created_at: '2026-12-01T09:01:00.000Z',
  balance_after: '998.000000',
  ...over,
});

const page = (over: Record<string, unknown> = {}) => ({
  account_id: 'acc_7f3a',
  currency: 'FLOW',
  balance: '1520.250000',
  reserved: '12.500000',
  as_of: '2026-12-04T10:00:00.000Z',
  movements: [movement()],
  next_cursor: 'c_0003',
  has_more: false,
  ...over,
});

function badFeed(body: unknown): string {
  try {
    parseLedgerPage(body);
  } catch (err) {
    assert.ok(isFlowreconError(err, 'BAD_FEED'), `expected BAD_FEED, got ${String(err)}`);
    return (err as Error).message;
  }
  assert.fail('the page was accepted');
}

describe('wire validation (CONTRACT 2)', () => {
  it('maps the contract example to micro-FLOW and keeps the order', () => {
    const p = parseLedgerPage({
      ...page(),
      movements: [
        movement({ id: 'mv_0001', type: 'topup', amount: '1000.000000', call_id: null, agent_slug: null, call_status: null, balance_after: '1000.000000' }),
        movement({ id: 'mv_0002' }),
        movement({ id: 'mv_0003', type: 'settle', amount: '0.750000', call_status: 'succeeded', balance_after: '998.750000' }),
      ],
    });
    assert.equal(p.accountId, 'acc_7f3a');
    assert.equal(p.balanceMicro, 1_520_250_000);
    assert.equal(p.reservedMicro, 12_500_000);
    assert.deepEqual(
      p.movements.map((m) => [m.id, m.type, m.amountMicro, m.balanceAfterMicro, m.callId]),
      [
        ['mv_0001', 'topup', 1_000_000_000, 1_000_000_000, null],
        ['mv_0002', 'reserve', -2_000_000, 998_000_000, 'call_9'],
        ['mv_0003', 'settle', 750_000, 998_750_000, 'call_9'],
      ],
    );
    assert.equal(p.nextCursor, 'c_0003');
    assert.equal(p.hasMore, false);
  });

  it('ignores unknown extra fields and accepts short decimals and offsets', () => {
    const p = parseLedgerPage(page({ extra: { nested: true }, movements: [movement({ amount: '-2.5', fee_note: 'x', created_at: '2026-12-01T10:01:00+01:00' })] }));
    assert.equal(p.movements[0]?.amountMicro, -2_500_000);
    // Stored in one canonical form so text order is time order.
    assert.equal(p.movements[0]?.createdAt, '2026-12-01T09:01:00.000Z');
  });

  it('accepts settle 0, adjustments of either sign with or without a call, and a final page with a null cursor', () => {
    const p = parseLedgerPage(
      page({
        next_cursor: null,
        movements: [
          movement({ id: 'a', type: 'settle', amount: '0.000000' }),
          movement({ id: 'b', type: 'adjustment', amount: '-1.000000', call_id: null }),
          movement({ id: 'c', type: 'adjustment', amount: '1.000000' }),
        ],
      }),
    );
    assert.equal(p.movements.length, 3);
    assert.equal(p.nextCursor, null);
  });

  // [what is broken, the body, words the message must contain]
  const cases: [string, unknown, string[]][] = [
    ['body is not an object', [1, 2], ['not a JSON object']],
    ['account_id missing', page({ account_id: undefined }), ['"account_id"']],
    ['currency not FLOW', page({ currency: 'USD' }), ['"currency"', 'USD']],
    ['balance a number', page({ balance: 1520.25 }), ['"balance"', 'decimal string']],
    ['reserved with 7 decimals', page({ reserved: '1.1234567' }), ['"reserved"']],
    ['as_of not a timestamp', page({ as_of: 'yesterday' }), ['"as_of"']],
    ['as_of without a zone', page({ as_of: '2026-12-04T10:00:00' }), ['"as_of"']],
    ['movements not an array', page({ movements: {} }), ['"movements"']],
    ['next_cursor a number', page({ next_cursor: 3 }), ['"next_cursor"']],
    ['next_cursor null while has_more', page({ next_cursor: null, has_more: true }), ['"next_cursor"', 'has_more']],
    ['has_more a string', page({ has_more: 'false' }), ['"has_more"']],
    ['movement not an object', page({ movements: ['mv_1'] }), ['movement #1', 'not an object']],
    ['movement id empty', page({ movements: [movement({ id: '' })] }), ['movement #1', '"id"']],
    ['movement id a number', page({ movements: [movement(), movement({ id: 7 })] }), ['movement #2', '"id"']],
    ['unknown type', page({ movements: [movement({ type: 'bonus' })] }), ['movement mv_0042', '"type"', 'bonus']],
    ['amount too precise', page({ movements: [movement({ amount: '12.3456789' })] }), ['movement mv_0042: field "amount": "12.3456789" is not a decimal string with up to 6 decimals']],
    ['amount a float', page({ movements: [movement({ amount: -2 })] }), ['movement mv_0042', '"amount"']],
    ['amount with exponent', page({ movements: [movement({ amount: '-2e3' })] }), ['"amount"']],
    ['reserve positive', page({ movements: [movement({ amount: '2.000000' })] }), ['"amount"', 'must be negative']],
    ['topup negative', page({ movements: [movement({ type: 'topup', amount: '-1.000000', call_id: null })] }), ['"amount"', 'must be positive']],
    ['topup zero', page({ movements: [movement({ type: 'topup', amount: '0.000000', call_id: null })] }), ['"amount"']],
    ['settle negative', page({ movements: [movement({ type: 'settle', amount: '-0.100000' })] }), ['"amount"', 'zero or positive']],
    ['release negative', page({ movements: [movement({ type: 'release', amount: '-2.000000' })] }), ['"amount"']],
    ['refund zero', page({ movements: [movement({ type: 'refund', amount: '0.000000' })] }), ['"amount"']],
    ['reserve without call', page({ movements: [movement({ call_id: null })] }), ['movement mv_0042', '"call_id"']],
    ['settle with empty call', page({ movements: [movement({ type: 'settle', amount: '1.000000', call_id: '' })] }), ['"call_id"']],
    ['topup with numeric call', page({ movements: [movement({ type: 'topup', amount: '1.000000', call_id: 5 })] }), ['"call_id"']],
    ['created_at missing', page({ movements: [movement({ created_at: undefined })] }), ['"created_at"', 'missing']],
    ['created_at impossible', page({ movements: [movement({ created_at: '2026-13-45T99:00:00.000Z' })] }), ['"created_at"']],
    ['balance_after missing', page({ movements: [movement({ balance_after: null })] }), ['"balance_after"']],
    ['agent_slug a number', page({ movements: [movement({ agent_slug: 3 })] }), ['"agent_slug"']],
    ['call_status an object', page({ movements: [movement({ call_status: {} })] }), ['"call_status"']],
  ];
  for (const [what, body, words] of cases) {
    it(`rejects: ${what}`, () => {
      const message = badFeed(body);
      assert.ok(message.startsWith('AgentFlow feed: '), message);
      for (const w of words) assert.ok(message.includes(w), `"${message}" should mention ${w}`);
    });
  }

  it('names the first bad movement of a long page, not the first movement', () => {
    const list = Array.from({ length: 400 }, (_, i) => movement({ id: `mv_${i}` }));
    list[321] = movement({ id: 'mv_321', amount: 'abc' });
    assert.match(badFeed(page({ movements: list })), /movement mv_321: field "amount"/);
  });

  it('cuts a huge offending value short in the message', () => {
    const message = badFeed(page({ movements: [movement({ amount: 'x'.repeat(10_000) })] }));
    assert.ok(message.length < 300, message);
  });
});

describe('page packing for the worker hop', () => {
  it('round-trips pages exactly, and falls back to objects when a field holds a separator', async () => {
    const { packPage, unpackPage } = await import('../src/ledger/page-pack.js');
    const p = parseLedgerPage({
      ...page(),
      movements: [
        movement({ id: 'mv_1', type: 'topup', amount: '5', call_id: null, agent_slug: null, call_status: null }),
        movement({ id: 'mv_2', agent_slug: '', call_status: 'pending' }),
        movement({ id: 'mv_3', type: 'adjustment', amount: '-0.000001', call_id: 'c,"x"' }),
      ],
    });
    const packed = packPage(p);
    assert.ok(packed.packed !== undefined);
    assert.deepEqual(unpackPage(structuredClone(packed)), p);
    const odd = parseLedgerPage({ ...page(), movements: [movement({ id: 'mv\u001f4' })] });
    const fallback = packPage(odd);
    assert.equal(fallback.packed, undefined);
    assert.deepEqual(unpackPage(structuredClone(fallback)), odd);
    const empty = parseLedgerPage({ ...page(), movements: [] });
    assert.deepEqual(unpackPage(packPage(empty)), empty);
  });
});
