/**
 * The run summary beside the discrepancy report: per code, how many are open
 * (new and acknowledged included, as in `--json`), new in this run,
 * acknowledged, resolved in this run, and the USD at stake in the open ones;
 * then a TOTAL row. Every code has a row, zeros included, so the file's shape
 * never changes.
 */
import type { Db } from '../db/connection.js';
import { DISCREPANCY_TYPES } from '../domain.js';
import { formatCents } from '../money.js';
import type { Cell } from './csv.js';

export const SUMMARY_COLUMNS = ['type', 'open', 'new', 'acknowledged', 'resolved', 'usd_at_stake'] as const;

interface Line {
  open: number;
  new: number;
  acknowledged: number;
  resolved: number;
  atStake: number;
}

export function summaryRows(db: Db, runId: string): Cell[][] {
  const open = db.sqlite
    .prepare(
      `SELECT type, COUNT(*) AS open, COALESCE(SUM(first_seen_run_id = @run AND acknowledged_at IS NULL), 0) AS new,
              COALESCE(SUM(acknowledged_at IS NOT NULL), 0) AS acknowledged, COALESCE(SUM(at_stake_cents), 0) AS atStake
         FROM discrepancies WHERE resolved_at IS NULL GROUP BY type`,
    )
    .all({ run: runId }) as ({ type: string } & Omit<Line, 'resolved'>)[];
  const resolved = db.sqlite
    .prepare(`SELECT type, COUNT(*) AS n FROM discrepancies WHERE resolved_run_id = ? GROUP BY type`)
    .all(runId) as { type: string; n: number }[];
  const total: Line = { open: 0, new: 0, acknowledged: 0, resolved: 0, atStake: 0 };
  const rows: Cell[][] = [];
  for (const type of DISCREPANCY_TYPES) {
    const o = open.find((r) => r.type === type);
    const line: Line = {
      open: o?.open ?? 0,
      new: o?.new ?? 0,
      acknowledged: o?.acknowledged ?? 0,
      resolved: resolved.find((r) => r.type === type)?.n ?? 0,
      atStake: o?.atStake ?? 0,
    };
    for (const k of Object.keys(total) as (keyof Line)[]) total[k] += line[k];
    rows.push(cells(type, line));
  }
  rows.push(cells('TOTAL', total));
  return rows;
}

function cells(type: string, l: Line): Cell[] {
  return [type, l.open, l.new, l.acknowledged, l.resolved, formatCents(l.atStake)];
}
