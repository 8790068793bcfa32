// STUB (issue 3 owner replaces the body; keep the exported names and shapes).
import type { Db } from '../db/connection.js';
import { FlowreconError } from '../errors.js';
import type { CsvWriteResult } from '../report/csv.js';
import type { ExportWindow } from '../ledger/export.js';

/** CONTRACT 8 `export charges`: charges created in the window, by created then id. */
export async function exportCharges(db: Db, window: ExportWindow, outPath: string): Promise<CsvWriteResult> {
  void db;
  void window;
  void outPath;
  throw new FlowreconError('INTERNAL', 'export charges not implemented yet');
}
