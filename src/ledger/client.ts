// STUB (issue 2 owner replaces the body; keep the exported names and shapes).
import type { Config } from '../config.js';
import type { LedgerPage } from '../domain.js';
import { FlowreconError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Redactor } from '../secrets.js';

/** The narrow interface the ledger sync depends on. */
export interface LedgerApi {
  /** One validated page from `cursor` (null = from the first movement ever). */
  fetchPage(params: { cursor: string | null; limit: number }, signal?: AbortSignal): Promise<LedgerPage>;
  close(): Promise<void>;
}

export function createLedgerApi(config: Config, deps: { log: Logger; redactor: Redactor }): LedgerApi {
  void config;
  void deps;
  throw new FlowreconError('INTERNAL', 'ledger client not implemented yet');
}
