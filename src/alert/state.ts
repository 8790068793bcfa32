/**
 * The alert state machine. Per account and type the state is `ok` or
 * `firing` (table alert_states). A reading that changes the state, or a
 * firing state last notified ALERT_RENOTIFY_HOURS ago or more, becomes an
 * event; nothing else does. State and events are written in one immediate
 * transaction, so a crash or a failed webhook never loses either: events wait
 * in alert_outbox until delivered.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import { immediate, type Db } from '../db/connection.js';
import type { AlertType } from '../domain.js';
import type { AlertReading, AlertState } from './rules.js';

export interface StoredAlertState {
  account_id: string;
  alert_type: string;
  state: AlertState;
  value: string;
  threshold: string;
  changed_at: string;
  last_notified_at: string | null;
}

export type Decision = 'change' | 'renotify' | 'extra' | 'quiet';

/**
 * Pure: what a reading means against the stored state. `extra` is the one
 * exception to the renotify period: DISCREPANCIES is sent again when a run
 * finds new ones (at most once per run, since a run evaluates once).
 */
export function decide(
  prev: Pick<StoredAlertState, 'state' | 'last_notified_at'> | undefined,
  next: Pick<AlertReading, 'state'>,
  nowMs: number,
  renotifyMs: number,
  extra = false,
): Decision {
  if (!prev) return next.state === 'firing' ? 'change' : 'quiet';
  if (prev.state !== next.state) return 'change';
  if (next.state !== 'firing') return 'quiet';
  if (prev.last_notified_at === null || nowMs - Date.parse(prev.last_notified_at) >= renotifyMs) return 'renotify';
  return extra ? 'extra' : 'quiet';
}

/** The webhook body (CONTRACT 9). */
export interface AlertPayload {
  text: string;
  alert: { type: string; state: AlertState; value: string; threshold: string; at: string };
}

export interface AlertEvent {
  eventId: string;
  accountId: string;
  decision: Exclude<Decision, 'quiet'>;
  payload: AlertPayload;
}

export function newEventId(type: string, at: Date): string {
  return `alert_${type.toLowerCase()}_${at.toISOString().replace(/[-:.]/g, '')}_${randomBytes(4).toString('hex')}`;
}

export function payloadOf(reading: AlertReading, at: Date): AlertPayload {
  return { text: reading.text, alert: { type: reading.type, state: reading.state, value: reading.value, threshold: reading.threshold, at: at.toISOString() } };
}

/** Alert rows of an account that has none yet take over the rows kept under a placeholder (before the account was known). */
export const PLACEHOLDER_ACCOUNT = 'unknown';

export function readStates(db: Db, accountId: string): StoredAlertState[] {
  return db.sqlite.prepare('SELECT * FROM alert_states WHERE account_id = ? ORDER BY alert_type').all(accountId) as StoredAlertState[];
}

/**
 * Apply readings for one account at `clock.now()`. Returns the events to
 * notify. Outbox rows are written only when a webhook is configured
 * (`queue`); the caller logs every event either way.
 */
export function applyReadings(
  deps: { db: Db; clock: Clock },
  accountId: string,
  readings: readonly AlertReading[],
  options: { renotifyHours: number; queue: boolean; extra?: ReadonlySet<AlertType> },
): AlertEvent[] {
  const at = deps.clock.now();
  const nowIso = at.toISOString();
  const renotifyMs = options.renotifyHours * 3_600_000;
  const { sqlite } = deps.db;
  return immediate(deps.db, () => {
    if (accountId !== PLACEHOLDER_ACCOUNT) {
      sqlite
        .prepare(
          `UPDATE alert_states SET account_id = ? WHERE account_id = ?
             AND alert_type NOT IN (SELECT alert_type FROM alert_states WHERE account_id = ?)`,
        )
        .run(accountId, PLACEHOLDER_ACCOUNT, accountId);
      sqlite.prepare('DELETE FROM alert_states WHERE account_id = ?').run(PLACEHOLDER_ACCOUNT);
    }
    const get = sqlite.prepare('SELECT * FROM alert_states WHERE account_id = ? AND alert_type = ?');
    const upsert = sqlite.prepare(
      `INSERT INTO alert_states (account_id, alert_type, state, value, threshold, changed_at, last_notified_at)
       VALUES (@account_id, @alert_type, @state, @value, @threshold, @changed_at, @last_notified_at)
       ON CONFLICT (account_id, alert_type) DO UPDATE SET state = excluded.state, value = excluded.value,
         threshold = excluded.threshold, changed_at = excluded.changed_at, last_notified_at = excluded.last_notified_at`,
    );
    const enqueue = sqlite.prepare(
      `INSERT INTO alert_outbox (event_id, account_id, alert_type, payload_json, created_at) VALUES (?, ?, ?, ?, ?)`,
    );
    const events: AlertEvent[] = [];
    for (const reading of readings) {
      const prev = get.get(accountId, reading.type) as StoredAlertState | undefined;
      const decision = decide(prev, reading, at.getTime(), renotifyMs, options.extra?.has(reading.type) ?? false);
      const notify = decision !== 'quiet';
      upsert.run({
        account_id: accountId,
        alert_type: reading.type,
        state: reading.state,
        value: reading.value,
        threshold: reading.threshold,
        changed_at: !prev || prev.state !== reading.state ? nowIso : prev.changed_at,
        // Notified means "the event exists": the period runs from then even if delivery lags.
        last_notified_at: notify ? nowIso : (prev?.last_notified_at ?? null),
      });
      if (!notify) continue;
      const event: AlertEvent = { eventId: newEventId(reading.type, at), accountId, decision, payload: payloadOf(reading, at) };
      if (options.queue) enqueue.run(event.eventId, accountId, reading.type, JSON.stringify(event.payload), nowIso);
      events.push(event);
    }
    return events;
  });
}
