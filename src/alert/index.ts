/**
 * Alert evaluation: read the numbers, apply the rules, move the state
 * machine, log every event, deliver the outbox. Never throws: an alert
 * problem is logged and must not fail the job that evaluates it.
 */
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Db } from '../db/connection.js';
import { ALERT_TYPES, type AlertType } from '../domain.js';
import type { Logger } from '../log.js';
import type { Redactor } from '../secrets.js';
import { parseSchedule, periodMs } from '../ops/cron.js';
import { lastLedgerSyncOk, latestSnapshot, netSpend24hMicro, unacknowledgedCount } from './inputs.js';
import * as rules from './rules.js';
import { applyReadings, PLACEHOLDER_ACCOUNT, readStates, type AlertEvent } from './state.js';
import { deliverOutbox } from './webhook.js';

export type { AlertReading, AlertState } from './rules.js';
export type { AlertEvent, AlertPayload } from './state.js';

export interface AlertDeps {
  db: Db;
  config: Config;
  clock: Clock;
  log: Logger;
  redactor: Redactor;
}

export interface AlertFacts {
  /** Which alert types to evaluate now; the ledger job checks the balance ones, a run all of them. */
  types: readonly AlertType[];
  /** The ledger sync of this job: true = AgentFlow answered 401; false = it succeeded; undefined = not attempted. */
  authFailed?: boolean;
  /** Discrepancies first seen by this run (DISCREPANCIES is re-sent when > 0). */
  newDiscrepancies?: number;
  signal?: AbortSignal;
}

export interface AlertOutcome {
  accountId: string;
  events: AlertEvent[];
  /** The stored state of every type after this evaluation. */
  states: { type: string; state: 'ok' | 'firing' }[];
}

/** The readings for the requested types from what the database holds now. */
export function readAlerts(deps: Pick<AlertDeps, 'db' | 'config' | 'clock'>, facts: AlertFacts, accountId: string): rules.AlertReading[] {
  const { db, config, clock } = deps;
  const now = clock.now().getTime();
  const snap = latestSnapshot(db);
  const firing = new Set(readStates(db, accountId).filter((s) => s.state === 'firing').map((s) => s.alert_type));
  const out: rules.AlertReading[] = [];
  for (const type of facts.types) {
    switch (type) {
      case 'LOW_BALANCE':
        if (config.lowBalanceMicro > 0) {
          if (snap) out.push(rules.lowBalance(snap.balanceMicro, config.lowBalanceMicro));
        } else if (firing.has(type)) out.push(rules.turnedOff(type, 'LOW_BALANCE_FLOW'));
        break;
      case 'LOW_RUNWAY':
        if (Number(config.runwayHoursMin) > 0) {
          if (snap) out.push(rules.lowRunway(snap.balanceMicro, netSpend24hMicro(db, snap.asOf), config.runwayHoursMin));
        } else if (firing.has(type)) out.push(rules.turnedOff(type, 'RUNWAY_HOURS_MIN'));
        break;
      case 'DISCREPANCIES':
        out.push(rules.discrepancies(unacknowledgedCount(db), facts.newDiscrepancies ?? 0));
        break;
      case 'AUTH_FAILED':
        if (facts.authFailed !== undefined) out.push(rules.authFailed(facts.authFailed));
        break;
      case 'SYNC_STALE': {
        const last = lastLedgerSyncOk(db);
        const period = periodMs(parseSchedule(config.scheduleLedger, config.timeZone, 'SCHEDULE_LEDGER'), now);
        if (last !== null) out.push(rules.syncStale(Math.max(0, now - Date.parse(last)), period));
        break;
      }
    }
  }
  return out;
}

export function logEvent(log: Logger, event: AlertEvent): void {
  const line = { alert: event.payload.alert, accountId: event.accountId, eventId: event.eventId, decision: event.decision };
  if (event.payload.alert.state === 'firing') log.warn(line, event.payload.text);
  else log.info(line, event.payload.text);
}

export async function evaluateAlerts(deps: AlertDeps, facts: AlertFacts): Promise<AlertOutcome> {
  const log = deps.log.child({ stage: 'alert' });
  const accountId = latestSnapshot(deps.db)?.accountId ?? PLACEHOLDER_ACCOUNT;
  let events: AlertEvent[] = [];
  try {
    const readings = readAlerts(deps, facts, accountId);
    const extra = new Set<AlertType>((facts.newDiscrepancies ?? 0) > 0 ? ['DISCREPANCIES'] : []);
    events = applyReadings(deps, accountId, readings, { renotifyHours: deps.config.alertRenotifyHours, queue: Boolean(deps.config.alertWebhookUrl), extra });
    for (const e of events) logEvent(log, e);
  } catch (err) {
    log.error({ err }, 'alert evaluation failed');
  }
  await deliverPending(deps, facts.signal);
  const order = new Map<string, number>(ALERT_TYPES.map((t, i) => [t, i]));
  const states = readStates(deps.db, accountId)
    .sort((a, b) => (order.get(a.alert_type) ?? 99) - (order.get(b.alert_type) ?? 99))
    .map((s) => ({ type: s.alert_type, state: s.state }));
  return { accountId, events, states };
}

/** Deliver what waits in the outbox (this evaluation's events and earlier failures). Never throws. */
export async function deliverPending(deps: AlertDeps, signal?: AbortSignal): Promise<void> {
  const url = deps.config.alertWebhookUrl;
  if (!url) return;
  try {
    await deliverOutbox(
      deps,
      { url, timeoutMs: deps.config.alertTimeoutMs, maxRetries: deps.config.alertMaxRetries, retryBaseMs: deps.config.alertRetryBaseMs },
      signal ? { signal } : {},
    );
  } catch (err) {
    deps.log.child({ stage: 'alert' }).error({ err }, 'alert delivery failed');
  }
}
