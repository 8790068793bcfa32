// STUB (issue 4 owner replaces the body; keep the exported names and shapes).
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Db } from '../db/connection.js';
import { FlowreconError } from '../errors.js';

export interface RunReports {
  /** Paths as written (absolute). */
  discrepancies: string;
  summary: string;
}

/** The run's discrepancy report and summary under `<reportsDir>/<YYYY-MM-DD>/`. */
export async function writeRunReports(
  deps: { db: Db; config: Config; clock: Clock },
  options: { runId: string; dir?: string },
): Promise<RunReports> {
  void deps;
  void options;
  throw new FlowreconError('INTERNAL', 'reports not implemented yet');
}

/** `flowrecon report`: every open discrepancy (optionally filtered on occurred_at) to `outPath`. */
export async function writeDiscrepancyReport(
  deps: { db: Db; config: Config },
  options: { from?: string; to?: string; outPath: string },
): Promise<{ path: string; rows: number }> {
  void deps;
  void options;
  throw new FlowreconError('INTERNAL', 'report not implemented yet');
}
