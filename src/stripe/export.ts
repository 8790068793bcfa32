/**
 * CONTRACT 8 `export charges`: every charge created in [from, to), by created
 * then charge id, amounts in the charge's own currency with its decimals. Rows
 * stream from SQLite into the CSV writer, so memory does not grow with them;
 * the writer applies the formula-injection rule to every cell.
 */
import type { Db } from '../db/connection.js';
import { FlowreconError } from '../errors.js';
import type { ExportWindow } from '../ledger/export.js';
import { formatMinor } from '../money.js';
import { writeCsvFile, type Cell, type CsvWriteResult } from '../report/csv.js';
import { currencyDecimals } from './currency.js';

export const CHARGE_EXPORT_COLUMNS = [
  'charge_id',
  'created_at',
  'status',
  'currency',
  'amount',
  'amount_captured',
  'amount_refunded',
  'call_ids',
  'payment_intent',
  'customer',
] as const;

interface ChargeExportRow {
  charge_id: string;
  created: number;
  status: string;
  currency: string;
  amount: number;
  amount_captured: number;
  amount_refunded: number;
  call_ids_json: string;
  payment_intent: string | null;
  customer: string | null;
}

/** First whole second at or after `iso` (created is in seconds; `from` inclusive, `to` exclusive). */
function ceilSeconds(iso: string, what: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new FlowreconError('USAGE', `export charges: ${what} "${iso}" is not a timestamp`);
  return Math.ceil(ms / 1000);
}

function* rows(db: Db, fromSec: number, toSec: number): Generator<Cell[]> {
  const stmt = db.sqlite.prepare(
    `SELECT c.charge_id, c.created, c.status, c.currency, c.amount, c.amount_captured, c.amount_refunded,
            (SELECT json_group_array(l.call_id) FROM stripe_charge_calls l WHERE l.charge_id = c.charge_id) AS call_ids_json,
            c.payment_intent, c.customer
       FROM stripe_charges c
      WHERE c.created >= ? AND c.created < ?
      ORDER BY c.created, c.charge_id`,
  );
  for (const r of stmt.iterate(fromSec, toSec) as IterableIterator<ChargeExportRow>) {
    const decimals = currencyDecimals(r.currency);
    const callIds = (JSON.parse(r.call_ids_json) as string[]).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    yield [
      r.charge_id,
      new Date(r.created * 1000).toISOString(),
      r.status,
      r.currency,
      formatMinor(r.amount, decimals),
      formatMinor(r.amount_captured, decimals),
      formatMinor(r.amount_refunded, decimals),
      callIds.join(';'),
      r.payment_intent,
      r.customer,
    ];
  }
}

/** CONTRACT 8 `export charges`: charges created in the window, by created then id. */
export async function exportCharges(db: Db, window: ExportWindow, outPath: string): Promise<CsvWriteResult> {
  return writeCsvFile(outPath, CHARGE_EXPORT_COLUMNS, rows(db, ceilSeconds(window.from, 'from'), ceilSeconds(window.to, 'to')));
}
