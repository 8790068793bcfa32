/** The FLOW ledger of the history: the calls' movements, top-ups that keep the balance up, and the movements left out of the feed. */
import { LedgerFeedBuilder } from '../standins/ledger-feed.js';
import type { AgentflowDataset } from '../standins/types.js';
import { DAY, HOUR, iso, type CallPlan, type Frame, type InjectedProblem } from './model.js';

export interface LedgerOptions {
  accountId?: string;
  sessions?: string[];
  apiKeys?: string[];
}

export function buildLedger(
  frame: Frame,
  calls: CallPlan[],
  options: LedgerOptions,
): { agentflow: AgentflowDataset; drifts: InjectedProblem[]; spendPerHourMicro: number } {
  const { rng, startMs, days, callCount, K, quietFrom, quietTo } = frame;
  const injected: InjectedProblem[] = [];
  const meanNet = calls.reduce((s, c) => s + (c.outcome === 'pending' ? c.reserveMicro : c.netMicro), 0) / calls.length;
  const spendPerHourMicro = Math.round((meanNet * callCount) / (days * 24));
  const roundFlow = (micro: number) => Math.max(1_000_000_000, Math.round(micro / 1_000_000_000) * 1_000_000_000);
  const topupMicro = roundFlow(12 * spendPerHourMicro);
  const lowWaterMicro = roundFlow(4 * spendPerHourMicro);

  interface LedgerEvent {
    atMs: number;
    order: number;
    type: 'reserve' | 'settle' | 'release' | 'refund' | 'adjustment';
    amount: number;
    call: CallPlan | null;
  }
  const events: LedgerEvent[] = [];
  let order = 0;
  for (const c of calls) {
    events.push({ atMs: c.startMs, order: order++, type: 'reserve', amount: -c.reserveMicro, call: c });
    if (c.outcome !== 'pending') events.push({ atMs: c.finishMs, order: order++, type: c.outcome, amount: c.returnMicro, call: c });
    if (c.adjustMicro !== 0) events.push({ atMs: c.adjustMs, order: order++, type: 'adjustment', amount: c.adjustMicro, call: c });
  }
  const loose = Math.max(2 * K, Math.ceil(days * 2));
  for (let i = 0; i < loose; i++) {
    let t = startMs + HOUR + Math.floor(rng.float() * (days * DAY - 3 * HOUR));
    if (t >= quietFrom && t <= quietTo) t = quietFrom - HOUR;
    const size = rng.int(10, 500) * 1_000_000;
    events.push({ atMs: Math.floor(t / 1000) * 1000, order: order++, type: 'adjustment', amount: rng.chance(0.5) ? -size : size, call: null });
  }
  events.sort((a, b) => a.atMs - b.atMs || a.order - b.order);

  const feed = new LedgerFeedBuilder({ start: iso(startMs), stepMs: 0, idPrefix: 'mv_' });
  feed.add({ type: 'topup', amount: topupMicro * 2, createdAt: iso(startMs) });
  for (const e of events) {
    if (e.amount < 0 && feed.balanceMicro + e.amount < lowWaterMicro) feed.add({ type: 'topup', amount: topupMicro, createdAt: iso(e.atMs) });
    const c = e.call;
    feed.add({
      type: e.type,
      amount: e.amount,
      callId: c?.id ?? null,
      agentSlug: c?.agent.slug ?? null,
      callStatus: c === null ? null : e.type === 'reserve' ? 'pending' : c.outcome === 'settle' ? 'succeeded' : 'failed',
      createdAt: iso(e.atMs),
    });
  }

  // BALANCE_DRIFT: movements that moved the balance but never reached the feed.
  const served = feed.movements;
  const dropIdx = new Set<number>();
  const canDrop = (i: number) => i > 0 && i < served.length - 1 && !dropIdx.has(i - 1) && !dropIdx.has(i + 1) && !dropIdx.has(i);
  const topupIdx = served.map((m, i) => (m.type === 'topup' && canDrop(i) ? i : -1)).filter((i) => i > 0);
  const looseIdx = served.map((m, i) => (m.type === 'adjustment' && m.call_id === null && canDrop(i) ? i : -1)).filter((i) => i > 0);
  for (const i of rng.take(topupIdx, Math.ceil(K / 2))) if (canDrop(i)) dropIdx.add(i);
  const dropCount = dropIdx.size;
  for (const i of rng.take(looseIdx, K - dropCount)) if (canDrop(i)) dropIdx.add(i);
  for (const i of [...dropIdx].sort((a, b) => a - b)) {
    const m = served[i];
    const next = served[i + 1];
    if (m && next) injected.push({ type: 'BALANCE_DRIFT', callIds: [], chargeIds: [], note: `${m.type} ${m.id} (${m.amount}) left out; chain breaks at ${next.id}` });
  }
  const movements = served.filter((_, i) => !dropIdx.has(i));
  feed.dropped.push(...served.filter((_, i) => dropIdx.has(i)));
  const agentflow: AgentflowDataset = {
    accountId: options.accountId ?? 'acc_demo',
    movements,
    sessions: options.sessions ?? ['demo-session'],
    ...(options.apiKeys ? { apiKeys: options.apiKeys } : {}),
  };
  return { agentflow, drifts: injected, spendPerHourMicro };
}
