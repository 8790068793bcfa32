// STUB (issue 3 owner replaces the body; keep the exported names; options and handle are the owner's to extend).
import { FlowreconError } from '../errors.js';
import type { StripeDataset } from './types.js';

export interface StripeStandinOptions {
  dataset: StripeDataset;
  port?: number;
  latencyMs?: number;
  /** Unix-seconds clock the stand-in stamps new objects and events with (default real time). */
  now?: () => number;
}

export interface StripeStandin {
  /** Base URL for STRIPE_API_BASE, e.g. http://127.0.0.1:12111 */
  readonly url: string;
  close(): Promise<void>;
}

export async function startStripeStandin(options: StripeStandinOptions): Promise<StripeStandin> {
  void options;
  throw new FlowreconError('INTERNAL', 'Stripe stand-in not implemented yet');
}
