/**
 * The alert rules (CONTRACT 9), pure: given the numbers, each rule says
 * whether its alert fires and renders `value`, `threshold` and `text` in the
 * contract's formats. Exact arithmetic on integers; nothing here reads a
 * clock or a database.
 */
import type { AlertType } from '../domain.js';
import { formatFlow, formatMinor, parseDecimal, roundHalfEven } from '../money.js';

export type AlertState = 'ok' | 'firing';

export interface AlertReading {
  readonly type: AlertType;
  readonly state: AlertState;
  readonly value: string;
  readonly threshold: string;
  readonly text: string;
}

const text = (type: AlertType, state: AlertState, detail: string) => `flowrecon: ${type} ${state}: ${detail}`;

/** LOW_BALANCE: the available balance below LOW_BALANCE_FLOW. */
export function lowBalance(balanceMicro: number, thresholdMicro: number): AlertReading {
  const firing = balanceMicro < thresholdMicro;
  const value = formatFlow(balanceMicro);
  const threshold = formatFlow(thresholdMicro);
  const state: AlertState = firing ? 'firing' : 'ok';
  return { type: 'LOW_BALANCE', state, value, threshold, text: text('LOW_BALANCE', state, `available ${value} FLOW ${firing ? '<' : '>='} ${threshold}`) };
}

/** Hours with one decimal, half to even: 12 -> "12.0". */
function tenths(num: bigint, den: bigint): string {
  return formatMinor(roundHalfEven(num * 10n, den), 1);
}

/**
 * LOW_RUNWAY: hours the available balance lasts at the trailing-24h net spend
 * rate, i.e. balance / (spend24h / 24) = balance * 24 / spend24h. No net spend
 * means no finite runway: ok, with an empty value.
 */
export function lowRunway(balanceMicro: number, spend24hMicro: number, minHours: string): AlertReading {
  const min = parseDecimal(minHours, 'RUNWAY_HOURS_MIN');
  const threshold = tenths(min.num, min.den);
  if (spend24hMicro <= 0) {
    return { type: 'LOW_RUNWAY', state: 'ok', value: '', threshold, text: text('LOW_RUNWAY', 'ok', `no net FLOW spent in the last 24 h; runway threshold ${threshold} h`) };
  }
  const balance = BigInt(Math.max(0, balanceMicro));
  const spend = BigInt(spend24hMicro);
  // balance * 24 / spend < num / den, compared exactly.
  const firing = balance * 24n * min.den < min.num * spend;
  const value = tenths(balance * 24n, spend);
  const state: AlertState = firing ? 'firing' : 'ok';
  return {
    type: 'LOW_RUNWAY',
    state,
    value,
    threshold,
    text: text('LOW_RUNWAY', state, `runway ${value} h at ${formatFlow(spend24hMicro)} FLOW net spend in the last 24 h ${firing ? '<' : '>='} ${threshold} h`),
  };
}

/** DISCREPANCIES: open, unacknowledged discrepancies exist. */
export function discrepancies(unacknowledged: number, newInRun = 0): AlertReading {
  const state: AlertState = unacknowledged > 0 ? 'firing' : 'ok';
  const detail =
    state === 'firing'
      ? `${unacknowledged} open unacknowledged discrepanc${unacknowledged === 1 ? 'y' : 'ies'}${newInRun > 0 ? ` (${newInRun} new in this run)` : ''}`
      : 'no open unacknowledged discrepancies';
  return { type: 'DISCREPANCIES', state, value: String(unacknowledged), threshold: '0', text: text('DISCREPANCIES', state, detail) };
}

/** AUTH_FAILED: AgentFlow answered 401 to the last ledger request. */
export function authFailed(failed: boolean): AlertReading {
  const state: AlertState = failed ? 'firing' : 'ok';
  const detail = failed
    ? 'AgentFlow refused the session (401): renew the af_session cookie (AGENTFLOW_SESSION_FILE) or the API key'
    : 'AgentFlow accepts the session again';
  return { type: 'AUTH_FAILED', state, value: '', threshold: '', text: text('AUTH_FAILED', state, detail) };
}

/** Minutes from ms: whole when whole, else one decimal. */
function minutes(ms: number): string {
  return ms % 60_000 === 0 ? String(ms / 60_000) : tenths(BigInt(ms), 60_000n);
}

/** SYNC_STALE: the last successful ledger sync is older than three SCHEDULE_LEDGER periods. */
export function syncStale(sinceLastOkMs: number, ledgerPeriodMs: number): AlertReading {
  const limitMs = 3 * ledgerPeriodMs;
  const firing = sinceLastOkMs > limitMs;
  const value = String(Math.max(0, Math.floor(sinceLastOkMs / 60_000)));
  const threshold = minutes(limitMs);
  const state: AlertState = firing ? 'firing' : 'ok';
  return {
    type: 'SYNC_STALE',
    state,
    value,
    threshold,
    text: text('SYNC_STALE', state, `last successful ledger sync ${value} min ago ${firing ? '>' : '<='} ${threshold} min (3 SCHEDULE_LEDGER periods)`),
  };
}

/** A threshold set to 0 turns its alert off; one left firing then resolves. */
export function turnedOff(type: 'LOW_BALANCE' | 'LOW_RUNWAY', setting: string): AlertReading {
  return { type, state: 'ok', value: '', threshold: '', text: text(type, 'ok', `alert turned off (${setting}=0)`) };
}
