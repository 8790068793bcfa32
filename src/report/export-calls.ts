// STUB (issue 4 owner replaces the body; keep the exported names and shapes).
import type { Config } from '../config.js';
import type { Db } from '../db/connection.js';
import { FlowreconError } from '../errors.js';
import type { ExportWindow } from '../ledger/export.js';
import type { CsvWriteResult } from './csv.js';

/** CONTRACT 8 `export calls`: calls whose reserve lies in the window, by start time. */
export async function exportCalls(db: Db, config: Config, window: ExportWindow, outPath: string): Promise<CsvWriteResult> {
  void db;
  void config;
  void window;
  void outPath;
  throw new FlowreconError('INTERNAL', 'export calls not implemented yet');
}
