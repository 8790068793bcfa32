/**
 * `flowrecon demo`: the real `run` pipeline against the two stand-ins, started
 * in this process on free loopback ports and filled with a generated history.
 * Nothing is special-cased for the demo past this file: the settings go
 * through loadConfig, the clients are the production ones speaking HTTP, the
 * stages are the production stages (wrapped only to report progress).
 */
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Clock } from '../clock.js';
import { loadConfig, type Config } from '../config.js';
import { openDatabase, type Db } from '../db/connection.js';
import { createLedgerApi } from '../ledger/client.js';
import type { Logger } from '../log.js';
import { formatFlow } from '../money.js';
import type { Redactor } from '../secrets.js';
import { createStripeApi } from '../stripe/client.js';
import { latestSnapshot, netSpend24hMicro } from '../alert/inputs.js';
import { lowRunway } from '../alert/rules.js';
import { defaultStages } from '../ops/stages.js';
import { displayPath, runPipeline, type RunSummary } from '../pipeline/run.js';
import { reportPath } from '../report/reports.js';
import { summaryRows } from '../report/summary.js';
import { startAgentflowStandin } from '../standins/agentflow.js';
import { startStripeStandin } from '../standins/stripe.js';
import { generateDemo, type DemoData } from './generate.js';

export interface DemoOptions {
  calls: number;
  days: number;
  seed: number;
  /** Where ./data/demo.db and ./reports/demo/ go (default: the working directory). */
  cwd?: string;
  /** Extra settings (the caller's LOG_LEVEL, TZ...); the demo's own stand-in settings always win. */
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
  /** Progress lines (the CLI passes one only on a TTY). */
  progress?: (line: string) => void;
}

export interface DemoDeps {
  log: Logger;
  redactor: Redactor;
  clock: Clock;
}

export interface DemoTypeLine {
  type: string;
  open: number;
  usd_at_stake: string;
}

/** What the demo prints: the run's own summary plus what a person wants at a glance. */
export interface DemoResult {
  demo: { seed: number; calls: number; days: number; movements: number; charges: number; refunds: number };
  run: RunSummary;
  /** Every discrepancy type in rule order, zeros included, then TOTAL. */
  by_type: DemoTypeLine[];
  runway: { hours: string; spend_24h: string } | null;
  exports: { calls: string; movements: string; charges: string };
}

// The demo's own credentials: the stand-ins accept them, nothing else does.
const DEMO_SESSION = 'demo-session-af';
const DEMO_STRIPE_KEY = 'sk_test_demo_flowrecon';

/** The settings the demo runs with: production parsing, pointed at the stand-ins. */
export function demoConfig(urls: { agentflow: string; stripe: string }, data: DemoData, options: Pick<DemoOptions, 'cwd' | 'env' | 'days'>): Config {
  const env: Record<string, string | undefined> = {
    LOG_LEVEL: 'warn',
    ...(options.env ?? {}),
    AGENTFLOW_BASE_URL: urls.agentflow,
    AGENTFLOW_SESSION: DEMO_SESSION,
    AGENTFLOW_API_KEY: undefined,
    AGENTFLOW_SESSION_FILE: undefined,
    AGENTFLOW_RATE_LIMIT_PER_MIN: '100000',
    AGENTFLOW_RETRY_BASE_MS: '50',
    STRIPE_API_KEY: DEMO_STRIPE_KEY,
    STRIPE_API_BASE: urls.stripe,
    STRIPE_MAX_RPS: '100',
    STRIPE_RETRY_BASE_MS: '50',
    STRIPE_SINCE_DAYS: String(options.days + 2),
    FLOWRECON_DB: './data/demo.db',
    FLOWRECON_REPORTS_DIR: './reports/demo',
    FLOW_USD_RATE: data.rules.pricing.flowUsdRate,
    MARKUP: data.rules.pricing.markup,
    PRICING_FILE: undefined,
    CURRENCY: data.rules.currency,
    STRIPE_CALL_ID_KEY: data.rules.callIdKey,
    PRICE_TOLERANCE_CENTS: String(data.rules.toleranceCents),
    BILLING_GRACE_MINUTES: String(data.rules.billingGraceMinutes),
    RESERVATION_TTL_MINUTES: String(data.rules.reservationTtlMinutes),
    // Thresholds cut to this history, so the alert states have something to say.
    LOW_BALANCE_FLOW: formatFlow(Math.round(data.spendPerHourMicro * 2 / 1_000_000) * 1_000_000),
    RUNWAY_HOURS_MIN: '24',
    ALERT_WEBHOOK_URL: undefined,
    FLOWRECON_LEASE_WAIT_SECONDS: '0',
  };
  return loadConfig({ env, ...(options.cwd ? { cwd: options.cwd } : {}) });
}

function freshDatabase(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${path}${suffix}`, { force: true });
}

export async function runDemo(options: DemoOptions, deps: DemoDeps): Promise<DemoResult> {
  const started = performance.now();
  const progress = options.progress ?? (() => undefined);
  progress(`generating ${options.calls} calls over ${options.days} days (seed ${options.seed})`);
  const data = generateDemo({
    calls: options.calls,
    days: options.days,
    seed: options.seed,
    now: deps.clock.now(),
    sessions: [DEMO_SESSION],
    stripeKeys: [DEMO_STRIPE_KEY],
  });

  const agentflow = await startAgentflowStandin({ dataset: data.agentflow, rateLimitPerMin: 100_000 });
  let stripe: Awaited<ReturnType<typeof startStripeStandin>> | undefined;
  let db: Db | undefined;
  try {
    stripe = await startStripeStandin({ dataset: data.stripe });
    const config = demoConfig({ agentflow: agentflow.url, stripe: stripe.url }, data, options);
    deps.redactor.add(DEMO_SESSION);
    deps.redactor.add(DEMO_STRIPE_KEY);
    freshDatabase(config.dbPath);
    db = openDatabase(config.dbPath);
    const apiDeps = { log: deps.log, redactor: deps.redactor };
    const ledgerApi = createLedgerApi(config, apiDeps);
    const stripeApi = createStripeApi(config, apiDeps);
    let run: RunSummary;
    try {
      run = await runPipeline(
        {
          db,
          config,
          clock: deps.clock,
          log: deps.log,
          redactor: deps.redactor,
          ledgerApi,
          stripeApi,
          stages: {
            syncLedger: (d, o) => {
              progress('syncing the AgentFlow ledger');
              return defaultStages.syncLedger(d, {
                ...o,
                onPage: (p) => progress(`ledger: ${p.pages} pages, ${p.movements} of ${data.agentflow.movements.length} movements`),
              });
            },
            syncStripe: (d, o) => {
              progress('syncing Stripe charges, refunds and events');
              return defaultStages.syncStripe(d, o);
            },
            reconcile: (d, o) => {
              progress('reconciling');
              return defaultStages.reconcile(d, o);
            },
          },
        },
        options.signal ? { signal: options.signal } : {},
      );
    } finally {
      await ledgerApi.close().catch(() => undefined);
      await stripeApi.close().catch(() => undefined);
    }

    progress('writing the finance exports');
    const exports = await writeExports(db, config, deps.clock, data);
    const cwd = options.cwd ?? process.cwd();
    const shown = (p: string) => displayPath(p, cwd);

    const byType: DemoTypeLine[] = summaryRows(db, run.run_id).map((r) => ({ type: String(r[0]), open: Number(r[1]), usd_at_stake: String(r[5]) }));
    const snap = latestSnapshot(db);
    let runway: DemoResult['runway'] = null;
    if (snap) {
      const spend = netSpend24hMicro(db, snap.asOf);
      const reading = lowRunway(snap.balanceMicro, spend, config.runwayHoursMin);
      runway = { hours: reading.value, spend_24h: formatFlow(spend) };
    }
    progress(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return {
      demo: {
        seed: options.seed,
        calls: options.calls,
        days: options.days,
        movements: data.agentflow.movements.length,
        charges: data.stripe.charges.length,
        refunds: data.stripe.refunds.length,
      },
      run: { ...run, reports: { discrepancies: shown(resolve(cwd, run.reports.discrepancies)), summary: shown(resolve(cwd, run.reports.summary)) } },
      by_type: byType,
      runway,
      exports: { calls: shown(exports.calls), movements: shown(exports.movements), charges: shown(exports.charges) },
    };
  } finally {
    await db?.close();
    await stripe?.close();
    await agentflow.close();
  }
}

/** The three month-end exports over the whole history, beside the run's reports. */
async function writeExports(db: Db, config: Config, clock: Clock, data: DemoData) {
  const start = Date.parse(data.agentflow.movements[0]?.created_at ?? data.now);
  const window = { from: new Date(start - 86_400_000).toISOString(), to: new Date(Date.parse(data.now) + 86_400_000).toISOString() };
  const at = clock.now();
  const [calls, movements, charges] = ['calls', 'movements', 'charges'].map((kind) => reportPath(config.reportsDir, config.timeZone, kind, at)) as [string, string, string];
  await defaultStages.exportCalls(db, config, window, calls);
  await defaultStages.exportMovements(db, window, movements);
  await defaultStages.exportCharges(db, window, charges);
  return { calls, movements, charges };
}
