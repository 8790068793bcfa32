/**
 * Which calls carry the mistakes (and the traps): each call at most one, each
 * clear of the billing grace and the reservation TTL, so that under the rule
 * order every injected mistake is exactly one report row.
 */
import { halfUpCents, HOUR, MIN, type CallPlan, type Frame } from './model.js';

export type OverKind = 'partial' | 'goodwill' | 'full';
export type AmountKind = 'wrong' | 'batch' | 'halfup' | 'under';

export interface Mistakes {
  stale: CallPlan[];
  unbilled: CallPlan[];
  currency: CallPlan[];
  duplicate: CallPlan[];
  rnpo: CallPlan[];
  over: { call: CallPlan; kind: OverKind }[];
  amount: { calls: CallPlan[]; kind: AmountKind }[];
  /** Right, but easy to get wrong. */
  traps: { refundedDuplicate: CallPlan[]; chargedAtStart: CallPlan[]; pendingCharge: CallPlan[] };
}

export function chooseMistakes(frame: Frame, calls: CallPlan[]): Mistakes {
  const { rng, rules, nowMs, K } = frame;
  const old = (c: CallPlan) => c.outcome !== 'pending' && c.finishMs < nowMs - 2 * HOUR && c.adjustMicro === 0;
  const pool = (pred: (c: CallPlan) => boolean) => calls.filter((c) => c.role === null && pred(c));
  const claim = (list: CallPlan[], role: string) => {
    for (const c of list) c.role = role;
    return list;
  };
  const settled = (c: CallPlan) => old(c) && c.outcome === 'settle' && !c.tie && c.expectedCents >= 2;
  // Mistakes on the dearer agents, so the USD at stake is worth a look.
  const dear = (c: CallPlan) => settled(c) && !c.agent.batch;

  const stale = claim(rng.take(pool((c) => c.outcome === 'settle' && c.startMs < nowMs - 3 * HOUR && c.adjustMicro === 0), K), 'stale');
  for (const c of stale) c.outcome = 'pending';
  const unbilled = claim(rng.take(pool(dear), K - 1), 'unbilled');
  unbilled.push(...claim(rng.take(pool((c) => old(c) && c.outcome === 'refund' && c.expectedCents > 0), 1), 'unbilled'));
  const currency = claim(rng.take(pool(dear), K), 'currency');
  const duplicate = claim(rng.take(pool(dear), K), 'duplicate');
  const rnpoRelease = claim(rng.take(pool((c) => old(c) && c.outcome === 'release' && c.fullCents > 0), Math.ceil(K / 2)), 'rnpo');
  const rnpoRefund = claim(rng.take(pool((c) => old(c) && c.outcome === 'refund' && c.fullCents > c.expectedCents), K - rnpoRelease.length), 'rnpo');
  const overKinds: readonly OverKind[] = ['partial', 'goodwill', 'full'];
  const over: Mistakes['over'] = [];
  for (let i = 0; i < K; i++) {
    const kind = overKinds[i % 3] as OverKind;
    const list =
      kind === 'goodwill'
        ? rng.take(pool(dear), 1)
        : rng.take(pool((c) => old(c) && c.outcome === 'refund' && c.fullCents > c.expectedCents && c.expectedCents >= 2), 1);
    const call = list[0] ?? rng.take(pool(settled), 1)[0];
    if (!call) continue;
    call.role = 'over';
    over.push({ call, kind: list[0] ? kind : 'goodwill' });
  }
  const amountKinds: readonly AmountKind[] = ['wrong', 'batch', 'halfup', 'under'];
  const amount: Mistakes['amount'] = [];
  for (let i = 0; i < K; i++) {
    let kind = amountKinds[i % 4] as AmountKind;
    let list: CallPlan[] = [];
    if (kind === 'batch') list = rng.take(pool((c) => settled(c) && c.agent.batch), rng.int(2, 3));
    if (kind === 'halfup') list = rng.take(pool((c) => old(c) && c.outcome === 'settle' && c.tie && halfUpDiffers(c, rules)), 1);
    if (kind === 'under') list = rng.take(pool((c) => old(c) && c.outcome === 'refund' && c.expectedCents >= 2), 1);
    if (list.length === 0 || (kind === 'batch' && list.length < 2)) {
      for (const c of list) c.role = null;
      kind = 'wrong';
      list = rng.take(pool(dear), 1);
    }
    if (list.length === 0) continue;
    claim(list, 'amount');
    amount.push({ calls: list, kind });
  }
  const refundedDuplicate = claim(rng.take(pool(settled), 2), 'trap-refunded-duplicate');
  const chargedAtStart = claim(rng.take(pool((c) => c.outcome === 'pending' && c.startMs > nowMs - 40 * MIN && c.startMs < nowMs - 10 * MIN), 1), 'trap-charged-pending');
  const pendingCharge = claim(
    rng.take(pool((c) => c.outcome === 'settle' && c.finishMs > nowMs - 20 * MIN && c.expectedCents > 0), 1),
    'trap-pending-charge',
  );

  return {
    stale,
    unbilled,
    currency,
    duplicate,
    rnpo: [...rnpoRelease, ...rnpoRefund],
    over,
    amount,
    traps: { refundedDuplicate, chargedAtStart, pendingCharge },
  };
}

function halfUpDiffers(c: CallPlan, rules: Frame['rules']): boolean {
  return halfUpCents(c, rules) !== c.expectedCents;
}
