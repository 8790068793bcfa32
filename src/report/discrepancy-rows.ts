/**
 * CONTRACT 7 rows: the open discrepancies as the report shows them, streamed
 * from the database in a fixed order (rule order, then occurred_at, then id)
 * so the same state always gives the same bytes.
 */
import type { Db } from '../db/connection.js';
import { DISCREPANCY_TYPES } from '../domain.js';
import { formatCents, formatFlow } from '../money.js';
import type { Cell } from './csv.js';

export const DISCREPANCY_COLUMNS = [
  'discrepancy_id',
  'type',
  'status',
  'severity',
  'call_ids',
  'stripe_charge_ids',
  'agent_slug',
  'flow_net',
  'expected_usd',
  'billed_usd',
  'delta_usd',
  'occurred_at',
  'first_seen_at',
  'detail',
] as const;

export const TYPE_ORDER_SQL = `CASE type ${DISCREPANCY_TYPES.map((t, i) => `WHEN '${t}' THEN ${i}`).join(' ')} ELSE 99 END`;

export interface RowFilter {
  /** ISO, inclusive, on occurred_at. */
  from?: string;
  /** ISO, exclusive. */
  to?: string;
}

/**
 * `new` = first seen in `newRunId` (the run the report is for, or the latest
 * reconcile); `acknowledged` wins over both.
 */
export function* discrepancyRows(db: Db, newRunId: string | null, filter: RowFilter = {}): Generator<Cell[]> {
  const where = ['resolved_at IS NULL'];
  const params: Record<string, string> = {};
  if (filter.from !== undefined) {
    where.push('occurred_at >= @from');
    params.from = filter.from;
  }
  if (filter.to !== undefined) {
    where.push('occurred_at < @to');
    params.to = filter.to;
  }
  const stmt = db.sqlite.prepare(
    `SELECT discrepancy_id, type, severity, call_ids, stripe_charge_ids, agent_slug, flow_net_micro,
            expected_cents, billed_cents, delta_cents, occurred_at, first_seen_at, detail,
            first_seen_run_id, acknowledged_at
       FROM discrepancies WHERE ${where.join(' AND ')}
      ORDER BY ${TYPE_ORDER_SQL}, occurred_at, discrepancy_id`,
  );
  for (const r of stmt.iterate(params) as IterableIterator<Record<string, string | number | null>>) {
    const status = r.acknowledged_at !== null ? 'acknowledged' : r.first_seen_run_id === newRunId ? 'new' : 'open';
    yield [
      r.discrepancy_id as string,
      r.type as string,
      status,
      r.severity as string,
      r.call_ids as string,
      r.stripe_charge_ids as string,
      r.agent_slug as string | null,
      r.flow_net_micro === null ? '' : formatFlow(r.flow_net_micro as number),
      r.expected_cents === null ? '' : formatCents(r.expected_cents as number),
      r.billed_cents === null ? '' : formatCents(r.billed_cents as number),
      r.delta_cents === null ? '' : formatCents(r.delta_cents as number),
      r.occurred_at as string,
      r.first_seen_at as string,
      r.detail as string,
    ];
  }
}
