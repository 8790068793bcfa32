/**
 * CONTRACT 8 `export movements`: every movement created in [from, to), in
 * feed order, amounts as FLOW with 6 decimals. Rows stream from SQLite
 * straight into the CSV writer, so a year of movements needs no memory.
 */
import type { Db } from '../db/connection.js';
import { formatFlow } from '../money.js';
import { writeCsvFile, type Cell, type CsvWriteResult } from '../report/csv.js';

export interface ExportWindow {
  /** ISO timestamp, inclusive. */
  from: string;
  /** ISO timestamp, exclusive. */
  to: string;
}

export const MOVEMENT_COLUMNS = ['movement_id', 'type', 'call_id', 'agent_slug', 'call_status', 'amount', 'balance_after', 'created_at'] as const;

interface Row {
  movement_id: string;
  type: string;
  call_id: string | null;
  agent_slug: string | null;
  call_status: string | null;
  amount_micro: number;
  balance_after_micro: number;
  created_at: string;
}

function* movementRows(db: Db, window: ExportWindow): Generator<readonly Cell[]> {
  // created_at is stored canonical (UTC, milliseconds, Z), so text order is time order.
  const stmt = db.sqlite.prepare(
    `SELECT movement_id, type, call_id, agent_slug, call_status, amount_micro, balance_after_micro, created_at
       FROM ledger_movements
      WHERE created_at >= ? AND created_at < ?
      ORDER BY seq`,
  );
  for (const r of stmt.iterate(window.from, window.to) as IterableIterator<Row>) {
    yield [r.movement_id, r.type, r.call_id, r.agent_slug, r.call_status, formatFlow(r.amount_micro), formatFlow(r.balance_after_micro), r.created_at];
  }
}

/** CONTRACT 8 `export movements`: movements created in the window, in feed order. */
export async function exportMovements(db: Db, window: ExportWindow, outPath: string): Promise<CsvWriteResult> {
  return writeCsvFile(outPath, MOVEMENT_COLUMNS, movementRows(db, window));
}
