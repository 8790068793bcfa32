/**
 * The whole pipeline end to end: the real CLI spawned as a process against
 * both stand-ins serving a generated history. The generator knows what it
 * injected; its truth (src/demo/truth.ts, an independent reading of the
 * contract) says what the report and the calls export must hold, cell by cell.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { generateDemo, type DemoData } from '../src/demo/generate.js';
import { computeTruth, keyOf } from '../src/demo/truth.js';
import { formatFlow, parseFlowMicro } from '../src/money.js';
import { startAgentflowStandin, type AgentflowStandin } from '../src/standins/agentflow.js';
import { startStripeStandin, type StripeStandin } from '../src/standins/stripe.js';
import type { WireMovement } from '../src/standins/types.js';
import { runCli, tempDir } from './helpers.js';
import { assertReportMatches, byType, callExportMismatches, cents, readCsv, REPORT_COLUMNS, rowKey, type Row } from './e2e-support.js';

const SESSION = 'e2e-session-cookie-canary-7f3a';
const STRIPE_KEY = 'sk_test_e2e_canary_91ab';

let data: DemoData;
let af: AgentflowStandin;
let st: StripeStandin;
const dir = tempDir('flowrecon-e2e-');
let env: Record<string, string>;

before(async () => {
  data = generateDemo({ calls: 1500, days: 2, seed: 2026, now: Date.now(), sessions: [SESSION], stripeKeys: [STRIPE_KEY] });
  af = await startAgentflowStandin({ dataset: data.agentflow, rateLimitPerMin: 100_000 });
  // Changes made between runs are stamped two minutes back: Stripe's lists settle a little after the fact.
  st = await startStripeStandin({ dataset: data.stripe, now: () => Math.floor(Date.now() / 1000) - 120 });
  env = {
    AGENTFLOW_BASE_URL: af.url,
    AGENTFLOW_SESSION: SESSION,
    AGENTFLOW_RATE_LIMIT_PER_MIN: '100000',
    STRIPE_API_KEY: STRIPE_KEY,
    STRIPE_API_BASE: st.url,
    STRIPE_MAX_RPS: '100',
    STRIPE_SINCE_DAYS: '5',
    FLOWRECON_DB: join(dir, 'e2e.db'),
    FLOWRECON_REPORTS_DIR: join(dir, 'reports'),
    LOG_LEVEL: 'warn',
  };
});

after(async () => {
  await af?.close();
  await st?.close();
});

async function run(): Promise<{ summary: Record<string, unknown> & { discrepancies: Record<string, unknown> }; rows: Row[] }> {
  const res = await runCli(['run', '--json'], { env, cwd: dir, timeoutMs: 60_000 });
  assert.equal(res.code, 0, `run failed: ${res.stderr.slice(-2000)}`);
  for (const secret of [SESSION, STRIPE_KEY]) assert.ok(!res.stdout.includes(secret) && !res.stderr.includes(secret), 'secrets stay out of the output');
  const summary = JSON.parse(res.stdout) as Record<string, unknown> & { discrepancies: Record<string, unknown>; reports: { discrepancies: string } };
  const report = readCsv(resolve(dir, summary.reports.discrepancies));
  assert.equal(report.header, REPORT_COLUMNS);
  return { summary, rows: report.rows };
}

let first: Row[] = [];
let second: Row[] = [];

test('first run: the report holds exactly the injected problems', async () => {
  const truth = computeTruth(data.agentflow, data.stripe, Date.now(), data.rules);
  assert.deepEqual(
    truth.discrepancies.map((d) => keyOf({ type: d.type, callIds: d.callIds, chargeIds: d.chargeIds })).sort(),
    data.injected.map((p) => keyOf(p)).sort(),
    'the generator injected what its truth expects',
  );
  const { summary, rows } = await run();
  assertReportMatches(rows, truth);
  assert.ok(rows.every((r) => r['status'] === 'new'));
  assert.deepEqual(summary.discrepancies['by_type'], byType(truth));
  assert.equal(summary.discrepancies['open'], truth.discrepancies.length);
  assert.equal(summary.discrepancies['new'], truth.discrepancies.length);
  assert.equal(summary.discrepancies['resolved'], 0);
  first = rows;
});

test('export calls matches the truth for every column of every call', async () => {
  const truth = computeTruth(data.agentflow, data.stripe, Date.now(), data.rules);
  const out = join(dir, 'calls.csv');
  const from = new Date(Date.parse(data.now) - 3 * 86_400_000).toISOString();
  const to = new Date(Date.parse(data.now) + 86_400_000).toISOString();
  const res = await runCli(['export', 'calls', '--from', from, '--to', to, '--out', out], { env, cwd: dir });
  assert.equal(res.code, 0, res.stderr.slice(-2000));
  const mismatches = callExportMismatches(out, truth);
  assert.deepEqual(mismatches.slice(0, 20), [], `${mismatches.length} cells differ`);

  // The movements export is the feed as served, in feed order.
  const mvOut = join(dir, 'movements.csv');
  const mv = await runCli(['export', 'movements', '--from', from, '--to', to, '--out', mvOut], { env, cwd: dir });
  assert.equal(mv.code, 0, mv.stderr.slice(-2000));
  const movements = readCsv(mvOut).rows;
  assert.deepEqual(
    movements.map((m) => [m['movement_id'], m['type'], m['call_id'], m['amount'], m['balance_after']]),
    data.agentflow.movements.map((m) => [m.id, m.type, m.call_id ?? '', m.amount, m.balance_after]),
  );
});

test('second run after the data change: stable ids, new/open statuses, resolved counted', async () => {
  assert.ok(first.length > 0, 'needs the first run');
  const nowIso = () => new Date(Date.now() - 120_000).toISOString();
  const problems = data.truth.discrepancies;
  const firstOf = (type: string) => problems.find((d) => d.type === type) as (typeof problems)[number];
  const callRow = new Map(data.truth.calls.map((c) => [c.call_id, c]));
  const expectedCents = (callId: string) => cents(callRow.get(callId)?.expected_usd) as number;

  // Fixes.
  const unbilled = firstOf('UNBILLED_CALL');
  st.createCharge({ amount: expectedCents(unbilled.callIds[0] as string), callIds: unbilled.callIds });
  const rnpo = firstOf('REFUND_NOT_PASSED_ON');
  st.refundNow(rnpo.chargeIds[0] as string, { amount: (rnpo.billedCents as number) - (rnpo.expectedCents as number) });
  const dup = firstOf('DUPLICATE_CHARGE');
  st.refundNow(dup.chargeIds[1] as string);
  const orphan = problems.find((d) => d.type === 'ORPHAN_CHARGE' && d.callIds.length === 0) as (typeof problems)[number];
  st.refundNow(orphan.chargeIds[0] as string);
  const stale = firstOf('STALE_RESERVATION');
  const feed = af.movements();
  const reserve = feed.find((m) => m.call_id === stale.callIds[0] && m.type === 'reserve') as WireMovement;
  const appended: WireMovement[] = [];
  let balance = parseFlowMicro((feed[feed.length - 1] as WireMovement).balance_after);
  let nextId = feed.length + 100_000;
  const append = (type: string, amountMicro: number, callId: string | null, slug: string | null, status: string | null) => {
    balance += amountMicro;
    appended.push({
      id: `mv_e2e_${nextId++}`,
      type,
      amount: formatFlow(amountMicro),
      call_id: callId,
      agent_slug: slug,
      call_status: status,
      created_at: nowIso(),
      balance_after: formatFlow(balance),
    });
  };
  append('settle', Math.floor(-parseFlowMicro(reserve.amount) / 2), reserve.call_id, reserve.agent_slug, 'succeeded');

  // New problems, on calls that were billed right: a goodwill refund, a late surcharge, a double charge, ...
  const inProblem = new Set(problems.flatMap((d) => d.callIds));
  const clean = data.truth.calls.filter(
    (c) =>
      c.status === 'succeeded' &&
      !inProblem.has(c.call_id) &&
      c.stripe_charge_ids !== '' &&
      !c.stripe_charge_ids.includes(';') &&
      c.charged_usd === c.expected_usd &&
      c.refunded_usd === '0.00' &&
      (cents(c.expected_usd) as number) >= 2 &&
      data.stripe.charges.find((ch) => ch.id === c.stripe_charge_ids)?.metadata[data.rules.callIdKey] === c.call_id,
  );
  assert.ok(clean.length >= 3);
  const [goodwill, surcharge, doubled] = clean.slice(0, 3) as [(typeof clean)[number], (typeof clean)[number], (typeof clean)[number]];
  st.refundNow(goodwill.stripe_charge_ids, { amount: 1 });
  append('adjustment', -1_000_000, surcharge.call_id, surcharge.agent_slug, 'succeeded');
  st.createCharge({ amount: expectedCents(doubled.call_id), callIds: [doubled.call_id] });
  // A call charged at its start finishes: its waiting charge is compared at last (card price > what it cost).
  const waiting = data.truth.calls.find((c) => c.status === 'pending' && c.stripe_charge_ids !== '' && !inProblem.has(c.call_id));
  assert.ok(waiting, 'the generator made a call charged while still running');
  const waitingReserve = feed.find((m) => m.call_id === waiting.call_id && m.type === 'reserve') as WireMovement;
  append('settle', Math.floor(-parseFlowMicro(waitingReserve.amount) / 2), waiting.call_id, waiting.agent_slug, 'succeeded');
  // A refund passed on for a failed call bounces: the user paid for FLOW that came back (seen through events).
  const passedOn = data.truth.calls.find(
    (c) => c.status === 'failed' && !inProblem.has(c.call_id) && c.refunded_usd !== '0.00' && c.refunded_usd !== c.charged_usd && !c.stripe_charge_ids.includes(';'),
  );
  assert.ok(passedOn, 'the generator made a failed call billed at full price and refunded the difference');
  const bounced = st.dataset.refunds.find((r) => r.charge === passedOn.stripe_charge_ids && r.status === 'succeeded');
  st.setRefundStatus(bounced?.id as string, 'failed');
  // A charge with no call made just now: inside the grace, not an orphan yet.
  st.createCharge({ amount: 500, created: Math.floor(Date.now() / 1000) - 60 });
  af.append(appended);

  const truth = computeTruth({ ...data.agentflow, movements: af.movements() }, st.dataset, Date.now(), data.rules);
  const firstKeys = new Map(first.map((r) => [rowKey(r), r]));
  const truthKeys = new Set(truth.discrepancies.map((d) => keyOf(d)));
  const resolved = [...firstKeys.keys()].filter((k) => !truthKeys.has(k));
  const added = [...truthKeys].filter((k) => !firstKeys.has(k));
  assert.equal(resolved.length, 5, 'the truth sees the five fixes');
  assert.equal(added.length, 5, 'and the five new problems');

  const { summary, rows } = await run();
  assertReportMatches(rows, truth);
  for (const r of rows) {
    const before = firstKeys.get(rowKey(r));
    if (before) {
      assert.equal(r['discrepancy_id'], before['discrepancy_id'], `stable id for ${rowKey(r)}`);
      assert.equal(r['status'], 'open', `still open: ${rowKey(r)}`);
      assert.equal(r['first_seen_at'], before['first_seen_at']);
    } else assert.equal(r['status'], 'new', `new: ${rowKey(r)}`);
  }
  assert.deepEqual(
    rows.filter((r) => r['status'] === 'new').map(rowKey).sort(),
    added.sort(),
  );
  assert.equal(summary.discrepancies['resolved'], 5);

  // `flowrecon report` rebuilds the same report from the database alone.
  const again = join(dir, 'report-again.csv');
  const rep = await runCli(['report', '--out', again], { env: { ...env, AGENTFLOW_BASE_URL: 'http://127.0.0.1:9', STRIPE_API_BASE: 'http://127.0.0.1:9' }, cwd: dir });
  assert.equal(rep.code, 0, rep.stderr.slice(-2000));
  const rebuilt = readCsv(again).rows;
  const sortById = (list: Row[]) => [...list].sort((a, b) => ((a['discrepancy_id'] as string) < (b['discrepancy_id'] as string) ? -1 : 1));
  assert.deepEqual(sortById(rebuilt), sortById(rows));
  second = rows;
  assert.equal(summary.discrepancies['new'], 5);
  assert.equal(summary.discrepancies['open'], truth.discrepancies.length);
  assert.deepEqual(summary.discrepancies['by_type'], byType(truth));
});

test('a third run with nothing changed but one acknowledged: nothing new, nothing resolved, the same rows', async () => {
  assert.ok(second.length > 0, 'needs the second run');
  const known = second.find((r) => r['type'] === 'AMOUNT_MISMATCH') as Row;
  const ack = await runCli(['ack', known['discrepancy_id'] as string, '--note', 'priced by hand, agreed with the customer'], { env, cwd: dir });
  assert.equal(ack.code, 0, ack.stderr.slice(-2000));
  const { summary, rows } = await run();
  assert.equal(summary.discrepancies['new'], 0);
  assert.equal(summary.discrepancies['resolved'], 0);
  assert.equal(summary.discrepancies['open'], second.length, 'acknowledged ones still count as open');
  const strip = (list: Row[]) => list.map((r): Row => ({ ...r, status: '' })).sort((a, b) => ((a['discrepancy_id'] as string) < (b['discrepancy_id'] as string) ? -1 : 1));
  assert.deepEqual(strip(rows), strip(second));
  for (const r of rows) assert.equal(r['status'], r['discrepancy_id'] === known['discrepancy_id'] ? 'acknowledged' : 'open');
});
