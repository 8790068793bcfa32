// STUB (issue 3 owner replaces the body; keep the exported names; StripeApi's shape is the owner's).
import type { Config } from '../config.js';
import { FlowreconError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Redactor } from '../secrets.js';

/** The narrow interface the Stripe sync depends on (owner defines its methods). */
export interface StripeApi {
  close(): Promise<void>;
}

export function createStripeApi(config: Config, deps: { log: Logger; redactor: Redactor }): StripeApi {
  void config;
  void deps;
  throw new FlowreconError('INTERNAL', 'stripe client not implemented yet');
}
