/**
 * The stage functions the jobs call, gathered so a test (or the demo) can
 * replace any of them: `{ ...defaultStages, ...deps.stages }`.
 */
import { exportMovements } from '../ledger/export.js';
import { syncLedger } from '../ledger/sync.js';
import { reconcile } from '../reconcile/index.js';
import { exportCalls } from '../report/export-calls.js';
import type { Db } from '../db/connection.js';
import { lastReconcileRunId } from '../reconcile/lifecycle.js';
import { writeCsvFile, type CsvWriteResult } from '../report/csv.js';
import { writeDiscrepancyReport, writeRunReports } from '../report/reports.js';
import { SUMMARY_COLUMNS, summaryRows } from '../report/summary.js';
import { exportCharges } from '../stripe/export.js';
import { syncStripe } from '../stripe/sync.js';

export interface Stages {
  syncLedger: typeof syncLedger;
  syncStripe: typeof syncStripe;
  reconcile: typeof reconcile;
  writeRunReports: typeof writeRunReports;
  writeDiscrepancyReport: typeof writeDiscrepancyReport;
  exportCalls: typeof exportCalls;
  exportMovements: typeof exportMovements;
  exportCharges: typeof exportCharges;
  writeSummary: typeof writeSummary;
}

/** The summary of the latest reconciliation (the daily job's summary file; a run's own comes with writeRunReports). */
export async function writeSummary(db: Db, outPath: string): Promise<CsvWriteResult> {
  return writeCsvFile(outPath, SUMMARY_COLUMNS, summaryRows(db, lastReconcileRunId(db) ?? ''));
}

export const defaultStages: Stages = {
  syncLedger,
  syncStripe,
  reconcile,
  writeRunReports,
  writeDiscrepancyReport,
  exportCalls,
  exportMovements,
  exportCharges,
  writeSummary,
};

export function stagesWith(overrides: Partial<Stages> | undefined): Stages {
  return { ...defaultStages, ...overrides };
}
