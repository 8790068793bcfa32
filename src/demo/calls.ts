/** The agent calls of the history: when they start, which agent, how they end, what they cost. */
import { expectedCentsOf, priceFor } from './truth.js';
import { AGENTS, HOUR, iso, MIN, type Agent, type CallPlan, type Frame, type Outcome } from './model.js';

export function planCalls(frame: Frame): CallPlan[] {
  const { rng, rules, nowMs, startMs, callCount, quietFrom, quietTo } = frame;
  const priceOf = (agent: Agent, atMs: number) => priceFor(rules.pricing, agent.slug, iso(atMs));
  const from = startMs + 10 * MIN;
  const to = nowMs - 3 * MIN;
  const quietLen = quietTo > from && quietFrom < to ? Math.min(quietTo, to) - Math.max(quietFrom, from) : 0;
  const starts: number[] = [];
  for (let i = 0; i < callCount; i++) {
    let t = from + Math.floor(rng.float() * (to - from - quietLen));
    if (quietLen > 0 && t >= quietFrom) t += quietLen;
    starts.push(Math.floor(t / 1000) * 1000);
  }
  starts.sort((a, b) => a - b);

  return starts.map((s, i) => {
    const agent = rng.weighted(AGENTS);
    const reserveMicro = agent.reserveMicro;
    const finishMs = s + rng.int(2, 180) * 1000;
    const young = s > nowMs - 45 * MIN;
    let outcome: Outcome;
    if (finishMs > nowMs - 2 * MIN || (young && rng.chance(0.35))) outcome = 'pending';
    else if (rng.chance(0.03)) outcome = rng.chance(0.5) ? 'release' : 'refund';
    else outcome = 'settle';
    let returnMicro = 0;
    let tie = false;
    if (outcome === 'release') returnMicro = reserveMicro;
    if (outcome === 'refund') returnMicro = Math.round((reserveMicro * rng.int(300, 900)) / 1000 / 1000) * 1000;
    if (outcome === 'settle') {
      const r = rng.float();
      if (r < 0.02) returnMicro = 0; // used the whole card price
      else if (r < 0.025) returnMicro = reserveMicro; // cost nothing
      else if (r < 0.04) {
        // A net of an odd multiple of 0.4 FLOW lands on half a cent at the default price: half-even matters.
        const maxJ = Math.floor((reserveMicro / 400_000 - 1) / 2);
        const net = 400_000 * (2 * rng.int(0, maxJ) + 1);
        returnMicro = reserveMicro - net;
        tie = true;
      } else {
        const net = Math.max(1000, Math.round((reserveMicro * rng.int(150, 999)) / 1000 / 1000) * 1000);
        returnMicro = reserveMicro - net;
      }
    }
    let adjustMicro = 0;
    let adjustMs = 0;
    const net0 = reserveMicro - returnMicro;
    if (outcome === 'settle' && !tie && net0 > 100_000 && finishMs < nowMs - 3 * HOUR && rng.chance(0.01)) {
      const size = Math.max(1000, Math.round((net0 * rng.int(5, 20)) / 100 / 1000) * 1000);
      adjustMicro = rng.chance(0.7) ? size : -size; // a credit for a slow call, or a late surcharge
      adjustMs = finishMs + rng.int(60, 300) * 1000;
    }
    const netMicro = net0 - adjustMicro;
    const price = priceOf(agent, s);
    return {
      id: `call_${String(i + 1).padStart(6, '0')}`,
      agent,
      customer: rng.int(0, 39),
      startMs: s,
      finishMs,
      outcome,
      reserveMicro,
      returnMicro,
      adjustMicro,
      adjustMs,
      netMicro,
      expectedCents: outcome === 'pending' ? 0 : expectedCentsOf(netMicro, price),
      fullCents: expectedCentsOf(reserveMicro, price),
      tie,
      role: null,
    };
  });

}
