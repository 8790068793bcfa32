/**
 * Many generated histories through the real pipeline (production clients over
 * loopback HTTP to the stand-ins, a real SQLite file), in this process so that
 * several seeds fit in a few seconds: each seed lands the mistakes and traps on
 * different calls, amounts and batch shapes. The report and the calls export
 * must equal the truth every time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { systemClock } from '../src/clock.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/connection.js';
import { generateDemo } from '../src/demo/generate.js';
import { computeTruth, DEFAULT_RULES, type TruthRules } from '../src/demo/truth.js';
import { createLedgerApi } from '../src/ledger/client.js';
import { createLogger } from '../src/log.js';
import { runPipeline } from '../src/pipeline/run.js';
import { exportCalls } from '../src/report/export-calls.js';
import { Redactor } from '../src/secrets.js';
import { startAgentflowStandin } from '../src/standins/agentflow.js';
import { startStripeStandin } from '../src/standins/stripe.js';
import { createStripeApi } from '../src/stripe/client.js';
import { assertReportMatches, callExportMismatches, readCsv } from './e2e-support.js';
import { tempDir } from './helpers.js';

const redactor = new Redactor();
const log = createLogger({ level: 'error', redactor });

async function check(seed: number, calls: number, days: number, rules: TruthRules): Promise<void> {
  const dir = tempDir(`flowrecon-seed-${seed}-`);
  const data = generateDemo({ calls, days, seed, now: Date.now(), rules, sessions: ['seed-session'], stripeKeys: ['sk_test_seed'] });
  const af = await startAgentflowStandin({ dataset: data.agentflow, rateLimitPerMin: 100_000 });
  const st = await startStripeStandin({ dataset: data.stripe });
  const env: Record<string, string> = {
    AGENTFLOW_BASE_URL: af.url,
    AGENTFLOW_SESSION: 'seed-session',
    AGENTFLOW_RATE_LIMIT_PER_MIN: '100000',
    STRIPE_API_KEY: 'sk_test_seed',
    STRIPE_API_BASE: st.url,
    STRIPE_MAX_RPS: '100',
    FLOWRECON_DB: join(dir, 'seed.db'),
    FLOWRECON_REPORTS_DIR: join(dir, 'reports'),
    PRICE_TOLERANCE_CENTS: String(rules.toleranceCents),
  };
  if (rules.pricing.periods?.length) {
    env['PRICING_FILE'] = join(dir, 'pricing.json');
    const periods = rules.pricing.periods.map((p) => ({
      from: p.from,
      flow_usd_rate: p.flowUsdRate,
      markup: p.markup,
      agents: Object.fromEntries(Object.entries(p.agents ?? {}).map(([slug, o]) => [slug, { flow_usd_rate: o.flowUsdRate, markup: o.markup }])),
    }));
    writeFileSync(env['PRICING_FILE'], JSON.stringify(periods));
  }
  const config = loadConfig({ env, cwd: dir });
  const db = openDatabase(config.dbPath);
  const ledgerApi = createLedgerApi(config, { log, redactor });
  const stripeApi = createStripeApi(config, { log, redactor });
  try {
    const summary = await runPipeline({ db, config, clock: systemClock, log, redactor, ledgerApi, stripeApi });
    const truth = computeTruth(data.agentflow, data.stripe, Date.now(), data.rules);
    assertReportMatches(readCsv(resolve(summary.reports.discrepancies)).rows, truth);
    const out = join(dir, 'calls.csv');
    await exportCalls(db, config, { from: '2020-01-01T00:00:00.000Z', to: '2100-01-01T00:00:00.000Z' }, out);
    const mismatches = callExportMismatches(out, truth);
    assert.deepEqual(mismatches.slice(0, 10), [], `seed ${seed}: ${mismatches.length} cells differ`);
  } finally {
    await ledgerApi.close();
    await stripeApi.close();
    await db.close();
    await af.close();
    await st.close();
  }
}

for (const [seed, calls, days] of [
  [101, 400, 1],
  [102, 800, 3],
  [103, 1200, 2],
] as const) {
  test(`seed ${seed}: ${calls} calls over ${days} days`, () => check(seed, calls, days, DEFAULT_RULES));
}

test('seed 104: a price list with an agent override and a one-cent tolerance', () => {
  const from = new Date(Date.now() - 20 * 3_600_000).toISOString();
  return check(104, 800, 2, {
    ...DEFAULT_RULES,
    toleranceCents: 1,
    pricing: { flowUsdRate: '0.01', markup: '0.25', periods: [{ from, flowUsdRate: '0.011', markup: '0.2', agents: { 'code-review': { markup: '0.4' } } }] },
  });
});
