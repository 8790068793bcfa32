/**
 * The stage functions the jobs call, gathered so a test (or the demo) can
 * replace any of them: `{ ...defaultStages, ...deps.stages }`.
 */
import { exportMovements } from '../ledger/export.js';
import { syncLedger } from '../ledger/sync.js';
import { reconcile } from '../reconcile/index.js';
import { exportCalls } from '../report/export-calls.js';
import { writeDiscrepancyReport, writeRunReports } from '../report/reports.js';
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
};

export function stagesWith(overrides: Partial<Stages> | undefined): Stages {
  return { ...defaultStages, ...overrides };
}
