/**
 * Both stand-ins with a small, hand-checkable account, for the pipeline, CLI
 * and daemon tests. The feed (times in the past, so everything is final and
 * past the billing grace):
 *   top-up 1000; call_1 reserve 2, settle 0.75 (net 1.25 FLOW -> 1.5625 -> 2 cents,
 *   billed by ch_1 for 2 cents: clean); call_2 reserve 4, settle 1 (net 3 FLOW, nobody
 *   billed it: UNBILLED_CALL). Balance after: 995.750000 FLOW.
 * `extraCalls` adds clean settled calls (more pages for the slow-sync tests).
 */
import { join } from 'node:path';
import { after } from 'node:test';
import { openDatabase } from '../src/db/connection.js';
import { startAgentflowStandin, type AgentflowStandin } from '../src/standins/agentflow.js';
import { LedgerFeedBuilder } from '../src/standins/ledger-feed.js';
import { startStripeStandin, type StripeStandin } from '../src/standins/stripe.js';
import { StripeDataBuilder } from '../src/standins/stripe-data.js';
import { tempDir } from './helpers.js';

export const SESSION = 'af_canary_session_5c1e9b0d77';
export const STRIPE_KEY = 'sk_test_opsRigCanary8e21f4';

export interface OpsRig {
  dir: string;
  /** The SQLite file the env points at. */
  dbPath: string;
  feed: LedgerFeedBuilder;
  agentflow: AgentflowStandin;
  stripe: StripeStandin;
  /** Environment for a spawned CLI or for configFor. */
  env: Record<string, string>;
  /** Append a top-up to the live feed. */
  topUp(flow: string): void;
  close(): Promise<void>;
}

export async function startOpsRig(options: { latencyMs?: number; extraCalls?: number; sessions?: string[]; env?: Record<string, string> } = {}): Promise<OpsRig> {
  const feed = new LedgerFeedBuilder({ start: '2026-12-01T09:00:00.000Z', stepMs: 1000 });
  feed.topup('1000');
  feed.call({ callId: 'call_1', reserve: '2', settle: '0.75' });
  feed.call({ callId: 'call_2', reserve: '4', settle: '1' });
  for (let i = 0; i < (options.extraCalls ?? 0); i++) feed.call({ callId: `call_x${String(i).padStart(4, '0')}`, reserve: '1', release: true });
  const agentflow = await startAgentflowStandin({
    dataset: feed.dataset({ accountId: 'acc_ops', sessions: options.sessions ?? [SESSION] }),
    rateLimitPerMin: 0,
    ...(options.latencyMs ? { latencyMs: options.latencyMs } : {}),
  });
  const b = new StripeDataBuilder([STRIPE_KEY]);
  b.addCharge({ id: 'ch_1', created: Math.floor(Date.parse('2026-12-01T09:05:00Z') / 1000), amount: 2, callIds: 'call_1' });
  const stripe = await startStripeStandin({ dataset: b.dataset });
  const dir = tempDir('flowrecon-ops-');
  const env: Record<string, string> = {
    AGENTFLOW_BASE_URL: agentflow.url,
    AGENTFLOW_SESSION: SESSION,
    AGENTFLOW_RETRY_BASE_MS: '5',
    AGENTFLOW_MAX_RETRIES: '2',
    STRIPE_API_KEY: STRIPE_KEY,
    STRIPE_API_BASE: stripe.url,
    STRIPE_MAX_RPS: '100',
    STRIPE_RETRY_BASE_MS: '5',
    STRIPE_SINCE_DAYS: '30',
    FLOWRECON_DB: join(dir, 'flowrecon.db'),
    FLOWRECON_REPORTS_DIR: join(dir, 'reports'),
    ALERT_RETRY_BASE_MS: '5',
    FLOWRECON_LEASE_WAIT_SECONDS: '0',
    ...(options.env ?? {}),
  };
  let closed = false;
  return {
    dir,
    dbPath: env.FLOWRECON_DB as string,
    feed,
    agentflow,
    stripe,
    env,
    topUp(flow) {
      agentflow.append([feed.topup(flow)]);
    },
    async close() {
      // Idempotent: a test may close its stand-ins early; the file's after() closes the rest.
      if (closed) return;
      closed = true;
      await agentflow.close();
      await stripe.close();
    },
  };
}

/** `rig(options)` for a test file: every rig it starts is closed when the file's tests end. */
export function opsRigs(): (options?: Parameters<typeof startOpsRig>[0]) => Promise<OpsRig> {
  const rigs: OpsRig[] = [];
  after(async () => {
    for (const r of rigs) await r.close();
  });
  return async (options = {}) => {
    const r = await startOpsRig(options);
    rigs.push(r);
    return r;
  };
}

/** `SELECT COUNT(*) AS n ...` on the rig's database file. */
export function countRows(dbPath: string, sql: string): number {
  const db = openDatabase(dbPath);
  try {
    return (db.sqlite.prepare(sql).get() as { n: number }).n;
  } finally {
    db.sqlite.close();
  }
}
