// STUB (issue 2 owner replaces the body; keep the exported names and shapes).
import type { Clock } from '../clock.js';
import type { Db } from '../db/connection.js';
import { FlowreconError } from '../errors.js';
import type { Logger } from '../log.js';
import type { LedgerApi } from './client.js';

export interface LedgerSyncDeps {
  db: Db;
  api: LedgerApi;
  clock: Clock;
  log: Logger;
}

export interface LedgerSyncOptions {
  pageSize?: number;
  /** Abort between pages (SIGTERM): the current page's transaction finishes, then the sync stops. */
  signal?: AbortSignal;
  /** Called after each committed page (progress display). */
  onPage?: (progress: { pages: number; movements: number; inserted: number }) => void;
}

export interface LedgerSyncResult {
  pages: number;
  fetched: number;
  inserted: number;
  duplicates: number;
  breaks: number;
  aborted: boolean;
  /** The last page's snapshot, or null when no page was fetched. */
  balance: { accountId: string; balanceMicro: number; reservedMicro: number; asOf: string } | null;
}

export async function syncLedger(deps: LedgerSyncDeps, options: LedgerSyncOptions = {}): Promise<LedgerSyncResult> {
  void deps;
  void options;
  throw new FlowreconError('INTERNAL', 'ledger sync not implemented yet');
}
