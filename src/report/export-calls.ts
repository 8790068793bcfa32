/**
 * CONTRACT 8 `export calls`: one row per call whose reserve lies in the
 * window, by start time (then call id), streamed straight from SQLite.
 *
 * Batch charges are split over their calls in proportion to the calls'
 * expected cents by largest remainder, ties to the smaller call id, for the
 * captured amount and the refunds alike. The split is computed in SQL (window
 * functions, the price through a registered function) into a temp table
 * before the stream starts, so the stream itself needs no second query.
 *
 * Choices where the contract is silent:
 * - charged/refunded count succeeded charges in CURRENCY only (a charge in
 *   another currency is not USD); stripe_charge_ids still lists every charge
 *   naming the call, whatever its status or currency.
 * - In a batch split, a call the ledger does not have weighs 0, a pending call
 *   weighs its current price; if no call of the batch has a positive price the
 *   charge is split evenly.
 * - margin = charged - refunded - cost, cost per CONTRACT 4 at the call's price.
 */
import type { Config } from '../config.js';
import type { Db } from '../db/connection.js';
import type { ExportWindow } from '../ledger/export.js';
import { safeInt } from '../money.js';
import { Pricer } from '../reconcile/pricing.js';
import { type Cell, type CsvWriteResult, writeCsvFile } from './csv.js';

export const CALL_COLUMNS = [
  'call_id',
  'agent_slug',
  'started_at',
  'status',
  'flow_reserved',
  'flow_returned',
  'flow_net',
  'expected_usd',
  'charged_usd',
  'refunded_usd',
  'margin_usd',
  'stripe_charge_ids',
] as const;

const REFUNDS = `COALESCE((SELECT SUM(r.amount) FROM stripe_refunds r WHERE r.charge_id = cc.charge_id AND r.status = 'succeeded'), 0)`;

const SHARES_SQL = `
INSERT INTO temp.rc_share (charge_id, call_id, charged, refunded)
WITH batch AS (
  SELECT DISTINCT cc.charge_id
    FROM ledger_calls lc JOIN stripe_charge_calls cc ON cc.call_id = lc.call_id
   WHERE lc.started_at >= @from AND lc.started_at < @to
     AND (SELECT COUNT(*) FROM stripe_charge_calls c2 WHERE c2.charge_id = cc.charge_id) > 1
),
parts AS (
  -- A JS function's number comes back REAL: cast, so the split stays in integer cents.
  SELECT cc.charge_id, cc.call_id, ch.amount_captured AS cap, ${REFUNDS} AS ref,
         CASE WHEN lc.call_id IS NULL THEN 0
              ELSE MAX(CAST(flowrecon_expected_cents(lc.net_micro, lc.agent_slug, lc.started_at) AS INTEGER), 0) END AS w
    FROM batch b
    JOIN stripe_charges ch ON ch.charge_id = b.charge_id AND ch.status = 'succeeded'
    JOIN stripe_charge_calls cc ON cc.charge_id = b.charge_id
    LEFT JOIN ledger_calls lc ON lc.call_id = cc.call_id
),
weighted AS (
  SELECT charge_id, call_id, cap, ref, w,
         SUM(w) OVER (PARTITION BY charge_id) AS wsum, COUNT(*) OVER (PARTITION BY charge_id) AS n
    FROM parts
),
fixed AS (
  SELECT charge_id, call_id, cap, ref,
         CASE WHEN wsum > 0 THEN w ELSE 1 END AS w, CASE WHEN wsum > 0 THEN wsum ELSE n END AS wsum
    FROM weighted
),
floors AS (
  SELECT charge_id, call_id, cap, ref,
         (cap * w) / wsum AS cap_floor, (cap * w) % wsum AS cap_rem,
         (ref * w) / wsum AS ref_floor, (ref * w) % wsum AS ref_rem
    FROM fixed
),
ranked AS (
  SELECT charge_id, call_id, cap_floor, ref_floor,
         cap - SUM(cap_floor) OVER (PARTITION BY charge_id) AS cap_left,
         ROW_NUMBER() OVER (PARTITION BY charge_id ORDER BY cap_rem DESC, call_id) AS cap_rank,
         ref - SUM(ref_floor) OVER (PARTITION BY charge_id) AS ref_left,
         ROW_NUMBER() OVER (PARTITION BY charge_id ORDER BY ref_rem DESC, call_id) AS ref_rank
    FROM floors
)
SELECT charge_id, call_id, cap_floor + (cap_rank <= cap_left), ref_floor + (ref_rank <= ref_left) FROM ranked`;

const ROWS_SQL = `
SELECT lc.call_id, lc.agent_slug, lc.started_at, lc.status, lc.reserved_micro, lc.returned_micro, lc.net_micro,
       cc.charge_id, ch.status, lower(ch.currency), ch.amount_captured,
       CASE WHEN s.charge_id IS NULL AND ch.status = 'succeeded' THEN ${REFUNDS} END,
       s.charged, s.refunded
  FROM ledger_calls lc
  LEFT JOIN stripe_charge_calls cc ON cc.call_id = lc.call_id
  LEFT JOIN stripe_charges ch ON ch.charge_id = cc.charge_id
  LEFT JOIN temp.rc_share s ON s.charge_id = cc.charge_id AND s.call_id = lc.call_id
 WHERE lc.started_at >= @from AND lc.started_at < @to
 ORDER BY lc.started_at, lc.call_id, cc.charge_id`;

type Row = unknown[];

/**
 * money.ts's formatFlow/formatCents give the same text through BigInt; at a
 * million rows the Number path matters, and every value here is a safe integer.
 */
function fixed(value: number, scale: number, unit: number): string {
  const neg = value < 0;
  const abs = neg ? -value : value;
  const int = Math.floor(abs / unit);
  return `${neg ? '-' : ''}${int}.${String(abs - int * unit).padStart(scale, '0')}`;
}
const formatFlow = (micro: number): string => fixed(micro, 6, 1_000_000);
const formatCents = (cents: number): string => fixed(cents, 2, 100);

function* callRows(db: Db, config: Config, pricer: Pricer, window: ExportWindow): Generator<Cell[]> {
  const currency = config.currency.toLowerCase();
  let cur: { row: Row; charged: number; refunded: number; ids: string[] } | null = null;
  const finish = (c: NonNullable<typeof cur>): Cell[] => {
    const [callId, slug, startedAt, status, reserved, returned, net] = c.row as [string, string | null, string, string, number, number, number];
    const pending = status === 'pending';
    const netMicro = safeInt(net, `ledger_calls.net_micro of ${callId}`);
    const expected = pending ? null : pricer.expectedCents(netMicro, slug, startedAt);
    const margin = pending ? null : c.charged - c.refunded - pricer.costCents(netMicro, slug, startedAt);
    return [
      callId,
      slug,
      startedAt,
      status,
      formatFlow(reserved),
      formatFlow(returned),
      formatFlow(netMicro),
      expected === null ? '' : formatCents(expected),
      formatCents(c.charged),
      formatCents(c.refunded),
      margin === null ? '' : formatCents(margin),
      c.ids.join(';'),
    ];
  };
  const stmt = db.sqlite.prepare(ROWS_SQL).raw();
  for (const row of stmt.iterate({ from: window.from, to: window.to }) as IterableIterator<Row>) {
    if (cur === null || cur.row[0] !== row[0]) {
      if (cur) yield finish(cur);
      cur = { row, charged: 0, refunded: 0, ids: [] };
    }
    const chargeId = row[7] as string | null;
    if (chargeId === null) continue;
    cur.ids.push(chargeId);
    if (row[8] !== 'succeeded' || row[9] !== currency) continue;
    if (row[12] !== null) {
      cur.charged += row[12] as number; // this call's share of a batch charge
      cur.refunded += row[13] as number;
    } else {
      cur.charged += row[10] as number;
      cur.refunded += row[11] as number;
    }
  }
  if (cur) yield finish(cur);
}

/** CONTRACT 8 `export calls`: calls whose reserve lies in the window, by start time. */
export async function exportCalls(db: Db, config: Config, window: ExportWindow, outPath: string): Promise<CsvWriteResult> {
  const pricer = new Pricer(config);
  const sqlite = db.sqlite;
  sqlite.function('flowrecon_expected_cents', { deterministic: true }, (net, slug, startedAt) =>
    pricer.expectedCents(Number(net), (slug as string | null) ?? null, (startedAt as string | null) ?? null),
  );
  sqlite.exec(
    `CREATE TEMP TABLE IF NOT EXISTS rc_share (charge_id TEXT NOT NULL, call_id TEXT NOT NULL,
       charged INTEGER NOT NULL, refunded INTEGER NOT NULL, PRIMARY KEY (charge_id, call_id))`,
  );
  sqlite.exec('DELETE FROM temp.rc_share');
  sqlite.prepare(SHARES_SQL).run({ from: window.from, to: window.to });
  try {
    return await writeCsvFile(outPath, CALL_COLUMNS, callRows(db, config, pricer, window));
  } finally {
    sqlite.exec('DELETE FROM temp.rc_share');
  }
}
