// STUB (issue 4 owner replaces the body; keep the exported names and shapes).
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Db } from '../db/connection.js';
import type { DiscrepancyType } from '../domain.js';
import { FlowreconError } from '../errors.js';
import type { Logger } from '../log.js';

export interface ReconcileDeps {
  db: Db;
  config: Config;
  clock: Clock;
  log: Logger;
}

export interface ReconcileResult {
  runId: string;
  /** CONTRACT 6 `discrepancies` object. */
  discrepancies: { open: number; new: number; resolved: number; by_type: Partial<Record<DiscrepancyType, number>> };
  /** Open, unacknowledged discrepancies (the DISCREPANCIES alert's value). */
  unacknowledged: number;
  /** Ids first seen in this run. */
  newIds: string[];
}

/** Diff the database's two sides as of `clock.now()`, update the discrepancy lifecycle. */
export async function reconcile(deps: ReconcileDeps, options: { runId: string }): Promise<ReconcileResult> {
  void deps;
  void options;
  throw new FlowreconError('INTERNAL', 'reconcile not implemented yet');
}
