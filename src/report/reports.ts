/**
 * The discrepancy report (CONTRACT 7) and its summary, written atomically by
 * the one CSV writer, always under the reports directory:
 * `<reportsDir>/<YYYY-MM-DD in FLOWRECON_TZ>/discrepancies-<YYYYMMDDTHHMMSSZ>.csv`
 * and `summary-<same stamp>.csv` beside it. `flowrecon report` rebuilds the
 * same report from the database alone.
 */
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Db } from '../db/connection.js';
import { lastReconcileRunId } from '../reconcile/lifecycle.js';
import { pathInside, writeCsvFile } from './csv.js';
import { DISCREPANCY_COLUMNS, discrepancyRows } from './discrepancy-rows.js';
import { SUMMARY_COLUMNS, summaryRows } from './summary.js';

export interface RunReports {
  /** Paths as written (absolute). */
  discrepancies: string;
  summary: string;
}

/** "2026-12-04" for `at` in `timeZone`. */
export function localDate(at: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** "20261204T100000Z" */
export function utcStamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** Where a report named `<name>-<stamp>.csv` for time `at` goes. */
export function reportPath(reportsDir: string, timeZone: string, name: string, at: Date): string {
  return pathInside(reportsDir, `${localDate(at, timeZone)}/${name}-${utcStamp(at)}.csv`);
}

/** The run's discrepancy report and summary under `<reportsDir>/<YYYY-MM-DD>/`. */
export async function writeRunReports(
  deps: { db: Db; config: Config; clock: Clock },
  options: { runId: string; dir?: string },
): Promise<RunReports> {
  const at = deps.clock.now();
  const root = options.dir ?? deps.config.reportsDir;
  const discrepancies = reportPath(root, deps.config.timeZone, 'discrepancies', at);
  const summary = reportPath(root, deps.config.timeZone, 'summary', at);
  await writeCsvFile(discrepancies, DISCREPANCY_COLUMNS, discrepancyRows(deps.db, options.runId));
  await writeCsvFile(summary, SUMMARY_COLUMNS, summaryRows(deps.db, options.runId));
  return { discrepancies, summary };
}

/** `flowrecon report`: every open discrepancy (optionally filtered on occurred_at) to `outPath`. */
export async function writeDiscrepancyReport(
  deps: { db: Db; config: Config },
  options: { from?: string; to?: string; outPath: string },
): Promise<{ path: string; rows: number }> {
  const filter: { from?: string; to?: string } = {};
  if (options.from !== undefined) filter.from = options.from;
  if (options.to !== undefined) filter.to = options.to;
  return writeCsvFile(options.outPath, DISCREPANCY_COLUMNS, discrepancyRows(deps.db, lastReconcileRunId(deps.db), filter));
}
