/**
 * End to end with a price list that changes mid-history (PRICING_FILE with a
 * per-agent override) and a price tolerance: the engine must price each call
 * at the rate in force when it started, and let differences within the
 * tolerance pass, exactly as the truth does.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateDemo, type DemoData } from '../src/demo/generate.js';
import { computeTruth, DEFAULT_RULES, keyOf } from '../src/demo/truth.js';
import { startAgentflowStandin, type AgentflowStandin } from '../src/standins/agentflow.js';
import { startStripeStandin, type StripeStandin } from '../src/standins/stripe.js';
import { runCli, tempDir } from './helpers.js';
import { assertReportMatches, byType, callExportMismatches, readCsv } from './e2e-support.js';

const dir = tempDir('flowrecon-e2e-pricing-');
let data: DemoData;
let af: AgentflowStandin;
let st: StripeStandin;
let env: Record<string, string>;

before(async () => {
  const now = Date.now();
  const change = new Date(now - 30 * 3_600_000).toISOString();
  const rules = {
    ...DEFAULT_RULES,
    toleranceCents: 2,
    pricing: {
      flowUsdRate: '0.01',
      markup: '0.25',
      periods: [{ from: change, flowUsdRate: '0.0125', markup: '0.3', agents: { research: { markup: '0.45' }, summarize: { flowUsdRate: '0.009' } } }],
    },
  };
  data = generateDemo({ calls: 1200, days: 2, seed: 77, now, rules, sessions: ['s-pricing'], stripeKeys: ['sk_test_pricing'] });
  const pricingFile = join(dir, 'pricing.json');
  writeFileSync(
    pricingFile,
    JSON.stringify([
      {
        from: change,
        flow_usd_rate: '0.0125',
        markup: '0.3',
        agents: { research: { markup: '0.45' }, summarize: { flow_usd_rate: '0.009' } },
      },
    ]),
  );
  af = await startAgentflowStandin({ dataset: data.agentflow, rateLimitPerMin: 100_000 });
  st = await startStripeStandin({ dataset: data.stripe });
  env = {
    AGENTFLOW_BASE_URL: af.url,
    AGENTFLOW_SESSION: 's-pricing',
    AGENTFLOW_RATE_LIMIT_PER_MIN: '100000',
    STRIPE_API_KEY: 'sk_test_pricing',
    STRIPE_API_BASE: st.url,
    STRIPE_MAX_RPS: '100',
    STRIPE_SINCE_DAYS: '5',
    FLOWRECON_DB: join(dir, 'p.db'),
    FLOWRECON_REPORTS_DIR: join(dir, 'reports'),
    PRICING_FILE: pricingFile,
    PRICE_TOLERANCE_CENTS: '2',
    LOG_LEVEL: 'warn',
  };
});

after(async () => {
  await af?.close();
  await st?.close();
});

test('a mid-history price change and a tolerance: report and export calls agree with the truth', async () => {
  const truth = computeTruth(data.agentflow, data.stripe, Date.now(), data.rules);
  // The tolerance swallows some injected one- and two-cent mistakes: the truth knows which.
  const injected = new Set(data.injected.map((p) => keyOf(p)));
  const truthKeys = truth.discrepancies.map((d) => keyOf({ type: d.type, callIds: d.callIds, chargeIds: d.chargeIds }));
  assert.ok(truthKeys.every((k) => injected.has(k)), 'the tolerance only removes problems');
  assert.ok(truthKeys.length < injected.size, 'and it does remove some');

  const res = await runCli(['run', '--json'], { env, cwd: dir, timeoutMs: 60_000 });
  assert.equal(res.code, 0, res.stderr.slice(-2000));
  const summary = JSON.parse(res.stdout) as { discrepancies: { by_type: Record<string, number> }; reports: { discrepancies: string } };
  assertReportMatches(readCsv(resolve(dir, summary.reports.discrepancies)).rows, truth);
  assert.deepEqual(summary.discrepancies.by_type, byType(truth));

  const out = join(dir, 'calls.csv');
  const from = new Date(Date.parse(data.now) - 3 * 86_400_000).toISOString();
  const to = new Date(Date.parse(data.now) + 86_400_000).toISOString();
  const ex = await runCli(['export', 'calls', '--from', from, '--to', to, '--out', out], { env, cwd: dir });
  assert.equal(ex.code, 0, ex.stderr.slice(-2000));
  const mismatches = callExportMismatches(out, truth);
  assert.deepEqual(mismatches.slice(0, 20), [], `${mismatches.length} cells differ`);
});
