/**
 * Money is never a binary float. FLOW travels as integer micro-units
 * (1 FLOW = 1_000_000 micro), USD as integer cents. Rates and markups are
 * exact decimals held as rationals of bigints; conversions round half to even.
 */
import { FlowreconError } from './errors.js';

export const MICRO_PER_FLOW = 1_000_000;

/** An exact non-repeating decimal as numerator / 10^scale. */
export interface Decimal {
  readonly num: bigint;
  readonly den: bigint;
}

const DECIMAL_RE = /^(-?)(\d+)(?:\.(\d+))?$/;
const FLOW_RE = /^(-?)(\d{1,12})(?:\.(\d{1,6}))?$/;

/** Parse a decimal string ("0.01", "-2.5") exactly. Throws on anything else. */
export function parseDecimal(text: string, what = 'value'): Decimal {
  const m = DECIMAL_RE.exec(text.trim());
  if (!m) throw new FlowreconError('USAGE', `${what}: "${text}" is not a decimal number`);
  const frac = m[3] ?? '';
  const num = BigInt(`${m[1]}${m[2]}${frac}`);
  return { num, den: 10n ** BigInt(frac.length) };
}

/**
 * Parse a FLOW decimal string (up to 6 decimals) into micro-units.
 * Returns null when the text is not such a string, so callers can name the field.
 */
export function tryParseFlowMicro(text: unknown): number | null {
  if (typeof text !== 'string') return null;
  const m = FLOW_RE.exec(text);
  if (!m) return null;
  const frac = (m[3] ?? '').padEnd(6, '0');
  const abs = Number(m[2]) * MICRO_PER_FLOW + Number(frac);
  if (!Number.isSafeInteger(abs)) return null;
  return m[1] === '-' ? (abs === 0 ? 0 : -abs) : abs;
}

export function parseFlowMicro(text: string, what = 'FLOW amount'): number {
  const v = tryParseFlowMicro(text);
  if (v === null) throw new FlowreconError('USAGE', `${what}: "${text}" is not a FLOW amount with up to 6 decimals`);
  return v;
}

function formatScaled(value: number | bigint, scale: number): string {
  const v = BigInt(value);
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const unit = 10n ** BigInt(scale);
  const int = abs / unit;
  const frac = (abs % unit).toString().padStart(scale, '0');
  return `${neg ? '-' : ''}${int}${scale > 0 ? `.${frac}` : ''}`;
}

/** 1520250000 -> "1520.250000" */
export function formatFlow(micro: number | bigint): string {
  return formatScaled(micro, 6);
}

/** 156 -> "1.56" */
export function formatCents(cents: number | bigint): string {
  return formatScaled(cents, 2);
}

/** Format a minor-unit amount with the given number of decimals (0 for JPY-like currencies). */
export function formatMinor(amount: number | bigint, decimals: number): string {
  return formatScaled(amount, decimals);
}

/** Round num/den to the nearest integer, ties to even. den must be > 0. */
export function roundHalfEven(num: bigint, den: bigint): bigint {
  if (den <= 0n) throw new RangeError('roundHalfEven: denominator must be positive');
  let q = num / den; // truncates toward zero
  let r = num % den; // same sign as num
  if (r < 0n) {
    // normalise to floor division so the remainder is in [0, den)
    q -= 1n;
    r += den;
  }
  const twice = 2n * r;
  if (twice > den || (twice === den && q % 2n !== 0n)) q += 1n;
  return q;
}

export function mulDecimal(a: Decimal, b: Decimal): Decimal {
  return { num: a.num * b.num, den: a.den * b.den };
}

export function addDecimal(a: Decimal, b: Decimal): Decimal {
  return { num: a.num * b.den + b.num * a.den, den: a.den * b.den };
}

export const ONE: Decimal = { num: 1n, den: 1n };

/** Render a rational exactly when it terminates, else to 10 decimals (for explanations only). */
export function decimalToString(d: Decimal, maxScale = 10): string {
  const neg = d.num < 0n !== d.den < 0n && d.num !== 0n;
  let num = d.num < 0n ? -d.num : d.num;
  const den = d.den < 0n ? -d.den : d.den;
  const int = num / den;
  num %= den;
  let frac = '';
  while (num !== 0n && frac.length < maxScale) {
    num *= 10n;
    frac += (num / den).toString();
    num %= den;
  }
  return `${neg ? '-' : ''}${int}${frac ? `.${frac}` : ''}`;
}

/** Assert that a value read from SQLite is a safe integer (better-sqlite3 returns plain numbers). */
export function safeInt(value: unknown, what: string): number {
  if (typeof value === 'bigint') {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new FlowreconError('DATABASE', `${what}: ${value} is outside the safe integer range`);
    }
    return Number(value);
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new FlowreconError('DATABASE', `${what}: expected a safe integer, got ${String(value)}`);
  }
  return value;
}
