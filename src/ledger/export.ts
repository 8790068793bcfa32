// STUB (issue 2 owner replaces the body; keep the exported names and shapes).
import type { Db } from '../db/connection.js';
import { FlowreconError } from '../errors.js';
import type { CsvWriteResult } from '../report/csv.js';

export interface ExportWindow {
  /** ISO timestamp, inclusive. */
  from: string;
  /** ISO timestamp, exclusive. */
  to: string;
}

/** CONTRACT 8 `export movements`: movements created in the window, in feed order. */
export async function exportMovements(db: Db, window: ExportWindow, outPath: string): Promise<CsvWriteResult> {
  void db;
  void window;
  void outPath;
  throw new FlowreconError('INTERNAL', 'export movements not implemented yet');
}
