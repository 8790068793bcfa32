// STUB (issue 3 owner replaces the body; keep the exported names and shapes).
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Db } from '../db/connection.js';
import { FlowreconError } from '../errors.js';
import type { Logger } from '../log.js';
import type { StripeApi } from './client.js';

export interface StripeSyncDeps {
  db: Db;
  stripe: StripeApi;
  config: Config;
  clock: Clock;
  log: Logger;
}

export interface StripeSyncOptions {
  /** Start of a first sync (no stored cursor). Default: STRIPE_SINCE_DAYS ago. */
  since?: Date;
  signal?: AbortSignal;
}

export interface StripeSyncResult {
  charges: number;
  refunds: number;
  events: number;
  aborted: boolean;
}

export async function syncStripe(deps: StripeSyncDeps, options: StripeSyncOptions = {}): Promise<StripeSyncResult> {
  void deps;
  void options;
  throw new FlowreconError('INTERNAL', 'stripe sync not implemented yet');
}
