// STUB (issue 2 owner replaces the body; keep the exported names; options and handle are the owner's to extend).
import { FlowreconError } from '../errors.js';
import type { AgentflowDataset, WireMovement } from './types.js';

export interface AgentflowStandinOptions {
  dataset: AgentflowDataset;
  port?: number;
  /** Requests allowed per window per user; 0 = unlimited. Default 240. */
  rateLimitPerMin?: number;
  /** Length of the rate window, ms (default 60000; tests shrink it). */
  windowMs?: number;
  latencyMs?: number;
}

export interface AgentflowStandin {
  /** Base URL, e.g. http://127.0.0.1:43121 */
  readonly url: string;
  /** Append movements to the feed (balance_after chain is the caller's). */
  append(movements: WireMovement[]): void;
  close(): Promise<void>;
}

export async function startAgentflowStandin(options: AgentflowStandinOptions): Promise<AgentflowStandin> {
  void options;
  throw new FlowreconError('INTERNAL', 'AgentFlow stand-in not implemented yet');
}
