/**
 * The discrepancy lifecycle in `discrepancies`, one transaction per run:
 * a problem found for the first time is inserted (first seen in this run:
 * `new`); one seen before is refreshed (numbers, detail, last seen) keeping its
 * first sighting and its acknowledgement; one no longer found is resolved
 * (resolved_at, resolved_run_id; counted as resolved in this run); a resolved
 * one found again reopens as new (first seen reset, acknowledgement cleared).
 */
import type { Clock } from '../clock.js';
import { immediate, type Db } from '../db/connection.js';
import { DISCREPANCY_TYPES, type DiscrepancyType } from '../domain.js';
import { FlowreconError } from '../errors.js';
import type { Finding } from './facts.js';
import { discrepancyId } from './ids.js';

export const LAST_RUN_STATE = 'reconcile.last_run_id';

export interface LifecycleCounts {
  open: number;
  new: number;
  resolved: number;
  by_type: Partial<Record<DiscrepancyType, number>>;
  unacknowledged: number;
  newIds: string[];
}

const FOUND_TABLE = `
CREATE TEMP TABLE IF NOT EXISTS rc_found (
  discrepancy_id TEXT PRIMARY KEY, type TEXT NOT NULL, severity TEXT NOT NULL,
  call_ids TEXT NOT NULL, stripe_charge_ids TEXT NOT NULL, agent_slug TEXT,
  flow_net_micro INTEGER, expected_cents INTEGER, billed_cents INTEGER, delta_cents INTEGER,
  at_stake_cents INTEGER NOT NULL, occurred_at TEXT NOT NULL, detail TEXT NOT NULL)`;

const UPSERT = `
INSERT INTO discrepancies (discrepancy_id, type, severity, call_ids, stripe_charge_ids, agent_slug,
       flow_net_micro, expected_cents, billed_cents, delta_cents, at_stake_cents, occurred_at, detail,
       first_seen_at, first_seen_run_id, last_seen_at, last_seen_run_id)
SELECT discrepancy_id, type, severity, call_ids, stripe_charge_ids, agent_slug,
       flow_net_micro, expected_cents, billed_cents, delta_cents, at_stake_cents, occurred_at, detail,
       @now, @run, @now, @run
  FROM temp.rc_found WHERE true
ON CONFLICT (discrepancy_id) DO UPDATE SET
  type = excluded.type, severity = excluded.severity, call_ids = excluded.call_ids,
  stripe_charge_ids = excluded.stripe_charge_ids, agent_slug = excluded.agent_slug,
  flow_net_micro = excluded.flow_net_micro, expected_cents = excluded.expected_cents,
  billed_cents = excluded.billed_cents, delta_cents = excluded.delta_cents,
  at_stake_cents = excluded.at_stake_cents, occurred_at = excluded.occurred_at, detail = excluded.detail,
  first_seen_at     = CASE WHEN discrepancies.resolved_at IS NULL THEN discrepancies.first_seen_at ELSE excluded.first_seen_at END,
  first_seen_run_id = CASE WHEN discrepancies.resolved_at IS NULL THEN discrepancies.first_seen_run_id ELSE excluded.first_seen_run_id END,
  acknowledged_at   = CASE WHEN discrepancies.resolved_at IS NULL THEN discrepancies.acknowledged_at ELSE NULL END,
  ack_note          = CASE WHEN discrepancies.resolved_at IS NULL THEN discrepancies.ack_note ELSE NULL END,
  last_seen_at = excluded.last_seen_at, last_seen_run_id = excluded.last_seen_run_id,
  resolved_at = NULL, resolved_run_id = NULL`;

const RESOLVE = `
UPDATE discrepancies SET resolved_at = @now, resolved_run_id = @run
 WHERE resolved_at IS NULL AND discrepancy_id NOT IN (SELECT discrepancy_id FROM temp.rc_found)`;

export interface ApplyOptions {
  /**
   * Incremental runs: what was judged. An open discrepancy about none of these
   * stands; only those about judged calls or charges (and every BALANCE_DRIFT)
   * can be resolved. Null or absent: the whole book was judged.
   */
  judged?: { calls: ReadonlySet<string>; charges: ReadonlySet<string> } | null;
  /** The calls and charges to judge again next time (replaces the previous list). */
  waiting?: { calls: readonly string[]; charges: readonly string[] };
  /** The incremental state to keep for the next run (sync_state `reconcile.state`). */
  state?: unknown;
}

export const STATE_NAME = 'reconcile.state';

function about(row: { type: string; call_ids: string; stripe_charge_ids: string }, judged: NonNullable<ApplyOptions['judged']>): boolean {
  if (row.type === 'BALANCE_DRIFT') return true;
  // ORPHAN_CHARGE call ids are ids the ledger does not have: its charge decides.
  if (row.type !== 'ORPHAN_CHARGE' && row.call_ids !== '' && row.call_ids.split(';').some((id) => judged.calls.has(id))) return true;
  return row.stripe_charge_ids !== '' && row.stripe_charge_ids.split(';').some((id) => judged.charges.has(id));
}

/** Apply one run's findings. All or nothing. */
export function applyFindings(db: Db, findings: readonly Finding[], runId: string, now: string, options: ApplyOptions = {}): LifecycleCounts {
  const sqlite = db.sqlite;
  return immediate(db, () => {
    sqlite.exec(FOUND_TABLE);
    sqlite.exec('DELETE FROM temp.rc_found');
    const insert = sqlite.prepare(`INSERT INTO temp.rc_found VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const seen = new Set<string>();
    for (const f of findings) {
      const id = discrepancyId(f.type, f.key);
      if (seen.has(id)) throw new FlowreconError('INVARIANT', `two findings share discrepancy id ${id} (${f.type} ${f.key}); nothing written`);
      seen.add(id);
      insert.run(
        id,
        f.type,
        f.severity,
        f.callIds.join(';'),
        f.chargeIds.join(';'),
        f.agentSlug,
        f.flowNetMicro,
        f.expectedCents,
        f.billedCents,
        f.deltaCents,
        f.atStakeCents,
        f.occurredAt,
        f.detail,
      );
    }
    sqlite.prepare(UPSERT).run({ now, run: runId });
    let resolved: number;
    if (options.judged) {
      const judged = options.judged;
      const gone = (
        sqlite
          .prepare(
            `SELECT discrepancy_id, type, call_ids, stripe_charge_ids FROM discrepancies
              WHERE resolved_at IS NULL AND discrepancy_id NOT IN (SELECT discrepancy_id FROM temp.rc_found)`,
          )
          .all() as { discrepancy_id: string; type: string; call_ids: string; stripe_charge_ids: string }[]
      ).filter((r) => about(r, judged));
      const resolve = sqlite.prepare(`UPDATE discrepancies SET resolved_at = ?, resolved_run_id = ? WHERE discrepancy_id = ?`);
      for (const r of gone) resolve.run(now, runId, r.discrepancy_id);
      resolved = gone.length;
    } else {
      resolved = sqlite.prepare(RESOLVE).run({ now, run: runId }).changes;
    }
    sqlite.exec('DELETE FROM temp.rc_found');
    if (options.waiting) {
      sqlite.exec('DELETE FROM reconcile_waiting');
      const ins = sqlite.prepare(`INSERT OR IGNORE INTO reconcile_waiting (kind, id) VALUES (?, ?)`);
      for (const id of options.waiting.calls) ins.run('call', id);
      for (const id of options.waiting.charges) ins.run('charge', id);
    }
    sqlite
      .prepare(
        `INSERT INTO sync_state (name, value, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      )
      .run(LAST_RUN_STATE, runId, now);
    if (options.state !== undefined) {
      sqlite
        .prepare(
          `INSERT INTO sync_state (name, value, updated_at) VALUES (?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
        )
        .run(STATE_NAME, JSON.stringify(options.state), now);
    }
    return { ...openCounts(db, runId), resolved };
  });
}

/** Counts of the open discrepancies; `new` = first seen in `runId`. */
export function openCounts(db: Db, runId: string | null): Omit<LifecycleCounts, 'resolved'> {
  const rows = db.sqlite
    .prepare(
      `SELECT type, COUNT(*) AS open, COALESCE(SUM(first_seen_run_id = ?), 0) AS new,
              COALESCE(SUM(acknowledged_at IS NULL), 0) AS unack
         FROM discrepancies WHERE resolved_at IS NULL GROUP BY type`,
    )
    .all(runId) as { type: DiscrepancyType; open: number; new: number; unack: number }[];
  const byType: Partial<Record<DiscrepancyType, number>> = {};
  let open = 0;
  let fresh = 0;
  let unack = 0;
  for (const t of DISCREPANCY_TYPES) {
    const r = rows.find((x) => x.type === t);
    if (!r) continue;
    byType[t] = r.open;
    open += r.open;
    fresh += r.new;
    unack += r.unack;
  }
  const newIds = (
    db.sqlite
      .prepare(`SELECT discrepancy_id FROM discrepancies WHERE resolved_at IS NULL AND first_seen_run_id = ? ORDER BY discrepancy_id`)
      .pluck()
      .all(runId) as string[]
  );
  return { open, new: fresh, by_type: byType, unacknowledged: unack, newIds };
}

/** The incremental state the last reconcile kept, if any. */
export function readState<T>(db: Db): T | null {
  const v = db.sqlite.prepare(`SELECT value FROM sync_state WHERE name = ?`).pluck().get(STATE_NAME) as string | undefined;
  return v === undefined ? null : (JSON.parse(v) as T);
}

/** The run id of the latest reconcile that updated the lifecycle (null before the first). */
export function lastReconcileRunId(db: Db): string | null {
  const v = db.sqlite.prepare(`SELECT value FROM sync_state WHERE name = ?`).pluck().get(LAST_RUN_STATE) as string | undefined;
  return v ?? null;
}

/** `flowrecon ack`: keep it open, mark it known, with a note. */
export function acknowledge(db: Db, clock: Clock, id: string, note: string): { discrepancyId: string; type: string } {
  return immediate(db, () => {
    const row = db.sqlite.prepare(`SELECT type, resolved_at FROM discrepancies WHERE discrepancy_id = ?`).get(id) as
      | { type: string; resolved_at: string | null }
      | undefined;
    if (!row) throw new FlowreconError('USAGE', `no discrepancy with id ${id}`);
    if (row.resolved_at !== null) throw new FlowreconError('USAGE', `discrepancy ${id} was resolved at ${row.resolved_at}; nothing to acknowledge`);
    db.sqlite
      .prepare(`UPDATE discrepancies SET acknowledged_at = ?, ack_note = ? WHERE discrepancy_id = ?`)
      .run(clock.now().toISOString(), note, id);
    return { discrepancyId: id, type: row.type };
  });
}
