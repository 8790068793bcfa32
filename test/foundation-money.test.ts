import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decimalToString, formatCents, formatFlow, parseDecimal, roundHalfEven, tryParseFlowMicro } from '../src/money.js';

test('FLOW strings parse to integer micro-units exactly', () => {
  const cases: [string, number | null][] = [
    ['1520.250000', 1_520_250_000],
    ['-2.000000', -2_000_000],
    ['0.75', 750_000],
    ['0', 0],
    ['-0.000001', -1],
    ['0.1234567', null], // 7 decimals
    ['1e3', null],
    [' 1.0', null],
    ['1.', null],
    ['', null],
    ['0x10', null],
  ];
  for (const [text, want] of cases) assert.equal(tryParseFlowMicro(text), want, text);
  assert.equal(tryParseFlowMicro(12 as unknown as string), null, 'numbers are not decimal strings');
});

test('formatting round-trips and keeps fixed decimals', () => {
  assert.equal(formatFlow(1_520_250_000), '1520.250000');
  assert.equal(formatFlow(-1), '-0.000001');
  assert.equal(formatCents(156), '1.56');
  assert.equal(formatCents(-5), '-0.05');
  assert.equal(formatCents(0), '0.00');
  fc.assert(
    fc.property(fc.integer({ min: -1e12, max: 1e12 }), (micro) => tryParseFlowMicro(formatFlow(micro)) === micro),
  );
});

test('roundHalfEven rounds ties to even, in both signs', () => {
  const cases: [bigint, bigint, bigint][] = [
    [15625n, 10000n, 2n], // 1.5625 -> 2
    [25n, 10n, 2n], // 2.5 -> 2 (half-up would say 3)
    [35n, 10n, 4n], // 3.5 -> 4
    [-25n, 10n, -2n],
    [-35n, 10n, -4n],
    [24n, 10n, 2n],
    [26n, 10n, 3n],
    [-26n, 10n, -3n],
    [0n, 7n, 0n],
  ];
  for (const [n, d, want] of cases) assert.equal(roundHalfEven(n, d), want, `${n}/${d}`);
  fc.assert(
    fc.property(fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }), fc.bigInt({ min: 1n, max: 10n ** 9n }), (n, d) => {
      const q = roundHalfEven(n, d);
      const diff2 = 2n * (n - q * d); // twice the error, scaled by d
      const abs = diff2 < 0n ? -diff2 : diff2;
      return abs < d || (abs === d && q % 2n === 0n);
    }),
  );
});

test('decimals are exact rationals', () => {
  const d = parseDecimal('0.0125');
  assert.deepEqual(d, { num: 125n, den: 10000n });
  assert.equal(decimalToString({ num: 15625n, den: 10000n }), '1.5625');
  assert.equal(decimalToString({ num: 1n, den: 3n }, 4), '0.3333');
  assert.throws(() => parseDecimal('abc', 'MARKUP'), /MARKUP/);
});
