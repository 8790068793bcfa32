/**
 * Decimals of a currency's minor unit as Stripe counts amounts: most are
 * two-decimal (cents), Stripe's zero-decimal currencies count whole units, and
 * a few are three-decimal.
 * https://docs.stripe.com/currencies#zero-decimal
 */
const ZERO_DECIMAL: ReadonlySet<string> = new Set([
  'bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf',
]);
const THREE_DECIMAL: ReadonlySet<string> = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

export function currencyDecimals(currency: string): number {
  const c = currency.toLowerCase();
  if (ZERO_DECIMAL.has(c)) return 0;
  if (THREE_DECIMAL.has(c)) return 3;
  return 2;
}
