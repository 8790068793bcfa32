/** `flowrecon status`: what the database says now. Read only, no network. */
import { sql } from 'kysely';
import type { Db } from '../db/connection.js';
import { formatFlow } from '../money.js';
import { lastLedgerSyncOk, latestSnapshot } from '../alert/inputs.js';

export interface RunInfo {
  run_id: string;
  status: string;
  started_at: string;
  finished_at: string | null;
  window_from: string | null;
  window_to: string | null;
  error: string | null;
}

export interface StatusReport {
  account_id: string | null;
  balance: { available: string; reserved: string; as_of: string } | null;
  ledger: { last_sync_at: string | null; movements: number; calls: number };
  stripe: { last_sync_at: string | null; charges: number; refunds: number };
  /** Per job: the last run, the last success, and the five most recent runs, newest first. */
  runs: Record<string, { last: RunInfo; last_success_at: string | null; recent: RunInfo[] }>;
  discrepancies: { open: number; unacknowledged: number; by_type: Record<string, number> };
  alerts: { type: string; state: string; value: string; threshold: string; changed_at: string; last_notified_at: string | null }[];
  alert_outbox_pending: number;
}

export async function readStatus(db: Db): Promise<StatusReport> {
  const k = db.kysely;
  const snap = latestSnapshot(db);
  const count = async (table: 'ledger_movements' | 'ledger_calls' | 'stripe_charges' | 'stripe_refunds') =>
    Number((await k.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);

  const stripeSync = await k
    .selectFrom('sync_state')
    .select((eb) => eb.fn.max('updated_at').as('t'))
    .where('name', 'like', 'stripe%')
    .executeTakeFirst();
  const stripeSeen = await sql<{ t: string | null }>`SELECT MAX(t) AS t FROM (SELECT MAX(synced_at) AS t FROM stripe_charges UNION ALL SELECT MAX(synced_at) FROM stripe_refunds)`.execute(k);
  const stripeTimes = [stripeSync?.t ?? null, stripeSeen.rows[0]?.t ?? null].filter((t): t is string => typeof t === 'string');

  const recentRuns = await sql<RunInfo & { job: string; rn: number }>`
    SELECT job, run_id, status, started_at, finished_at, window_from, window_to, error, rn FROM (
      SELECT r.*, ROW_NUMBER() OVER (PARTITION BY job ORDER BY started_at DESC, run_id DESC) AS rn FROM runs r
    ) WHERE rn <= 5 ORDER BY job, rn`.execute(k);
  const successes = await k
    .selectFrom('runs')
    .select(['job', (eb) => eb.fn.max('started_at').as('t')])
    .where('status', '=', 'succeeded')
    .groupBy('job')
    .execute();
  const successAt = new Map(successes.map((s) => [s.job, s.t]));
  const runs: StatusReport['runs'] = {};
  for (const { job, rn: _rn, ...info } of recentRuns.rows) {
    const entry = (runs[job] ??= { last: info, last_success_at: successAt.get(job) ?? null, recent: [] });
    entry.recent.push(info);
  }

  const open = await k
    .selectFrom('discrepancies')
    .select(['type', (eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.sum<number>(sql`CASE WHEN acknowledged_at IS NULL THEN 1 ELSE 0 END`).as('unack')])
    .where('resolved_at', 'is', null)
    .groupBy('type')
    .orderBy('type')
    .execute();
  const byType: Record<string, number> = {};
  for (const r of open) byType[r.type] = Number(r.n);

  const alerts = await k
    .selectFrom('alert_states')
    .select(['alert_type as type', 'state', 'value', 'threshold', 'changed_at', 'last_notified_at'])
    .orderBy('alert_type')
    .execute();
  const pending = await k
    .selectFrom('alert_outbox')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('delivered_at', 'is', null)
    .executeTakeFirstOrThrow();

  return {
    account_id: snap?.accountId ?? null,
    balance: snap ? { available: formatFlow(snap.balanceMicro), reserved: formatFlow(snap.reservedMicro), as_of: snap.asOf } : null,
    ledger: { last_sync_at: lastLedgerSyncOk(db), movements: await count('ledger_movements'), calls: await count('ledger_calls') },
    stripe: {
      last_sync_at: stripeTimes.length ? stripeTimes.reduce((a, b) => (a > b ? a : b)) : null,
      charges: await count('stripe_charges'),
      refunds: await count('stripe_refunds'),
    },
    runs,
    discrepancies: {
      open: open.reduce((s, r) => s + Number(r.n), 0),
      unacknowledged: open.reduce((s, r) => s + Number(r.unack ?? 0), 0),
      by_type: byType,
    },
    alerts,
    alert_outbox_pending: Number(pending.n),
  };
}

/** The human-readable form. */
export function formatStatus(s: StatusReport): string {
  const lines: string[] = [];
  const or = (v: string | null | undefined, dash = '-') => v ?? dash;
  lines.push(`account        ${or(s.account_id)}`);
  lines.push(
    s.balance
      ? `balance        ${s.balance.available} FLOW available, ${s.balance.reserved} FLOW reserved (as of ${s.balance.as_of})`
      : 'balance        unknown (no ledger sync yet)',
  );
  lines.push(`ledger         ${s.ledger.movements} movements, ${s.ledger.calls} calls; last sync ${or(s.ledger.last_sync_at, 'never')}`);
  lines.push(`stripe         ${s.stripe.charges} charges, ${s.stripe.refunds} refunds; last sync ${or(s.stripe.last_sync_at, 'never')}`);
  lines.push('runs');
  const jobs = Object.keys(s.runs);
  if (jobs.length === 0) lines.push('  (none yet)');
  for (const job of jobs) {
    const r = s.runs[job];
    if (!r) continue;
    const window = r.last.window_from ? ` window ${r.last.window_from}..${r.last.window_to ?? ''}` : '';
    const err = r.last.error ? `: ${r.last.error}` : '';
    lines.push(`  ${job.padEnd(12)} ${r.last.status} ${r.last.started_at}${window} (${r.last.run_id})${err}; last success ${or(r.last_success_at, 'never')}`);
  }
  lines.push(`discrepancies  ${s.discrepancies.open} open (${s.discrepancies.unacknowledged} unacknowledged)`);
  for (const [type, n] of Object.entries(s.discrepancies.by_type)) lines.push(`  ${type.padEnd(22)} ${n}`);
  lines.push('alerts');
  if (s.alerts.length === 0) lines.push('  (none evaluated yet)');
  for (const a of s.alerts) {
    const value = a.value !== '' ? ` value ${a.value}${a.threshold !== '' ? ` / threshold ${a.threshold}` : ''}` : '';
    lines.push(`  ${a.type.padEnd(14)} ${a.state.padEnd(7)} since ${a.changed_at}${value}`);
  }
  if (s.alert_outbox_pending > 0) lines.push(`  ${s.alert_outbox_pending} alert webhook(s) waiting for delivery`);
  return lines.join('\n');
}
