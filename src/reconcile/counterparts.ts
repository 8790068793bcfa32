/**
 * Probable counterparts: an unbilled call and a charge that bills nothing we
 * know are often the two halves of one mislinked sale (a typo in the metadata,
 * a missing key). For each UNBILLED_CALL we name the nearest orphan or
 * still-waiting unlinked charge of exactly the call's expected amount within
 * an hour of the call's finish; for each ORPHAN_CHARGE the nearest unbilled
 * call priced at exactly the charge's billed amount within an hour. Nearest in
 * time, ties to the smaller id, so the text is the same on every run.
 */
import { formatCents } from '../money.js';
import type { Finding, Probe } from './facts.js';

const WINDOW_MS = 60 * 60 * 1000;

function index(probes: Iterable<Probe>): Map<number, Probe[]> {
  const byCents = new Map<number, Probe[]>();
  for (const p of probes) {
    let list = byCents.get(p.cents);
    if (!list) byCents.set(p.cents, (list = []));
    list.push(p);
  }
  return byCents;
}

function nearest(byCents: Map<number, Probe[]>, target: Probe): Probe | undefined {
  let best: Probe | undefined;
  let bestGap = Infinity;
  for (const p of byCents.get(target.cents) ?? []) {
    const gap = Math.abs(p.atMs - target.atMs);
    if (gap > WINDOW_MS) continue;
    if (gap < bestGap || (gap === bestGap && best !== undefined && p.id < best.id)) {
      best = p;
      bestGap = gap;
    }
  }
  return best;
}

function minutesApart(a: number, b: number): string {
  const min = Math.round(Math.abs(a - b) / 60_000);
  return `${min} min ${a >= b ? 'after' : 'before'}`;
}

/**
 * Append "probable match: ..." to the details of UNBILLED_CALL and ORPHAN_CHARGE
 * findings. `otherCharges` / `otherCalls`: candidates that are not findings of
 * this run (unlinked charges still within the grace; standing open ones).
 */
export function addCounterparts(findings: Finding[], otherCharges: readonly Probe[], otherCalls: readonly Probe[] = []): void {
  const unbilled = findings.filter((f) => f.type === 'UNBILLED_CALL' && f.probe);
  const orphans = findings.filter((f) => f.type === 'ORPHAN_CHARGE' && f.probe);
  if (unbilled.length === 0 && orphans.length === 0) return;
  const chargeIndex = index([...orphans.map((f) => f.probe as Probe), ...otherCharges]);
  const callIndex = index([...unbilled.map((f) => f.probe as Probe), ...otherCalls]);
  for (const f of unbilled) {
    const p = f.probe as Probe;
    const m = nearest(chargeIndex, p);
    if (m) f.detail += `; probable match: ${m.id} (a charge not linked to a known call, ${formatCents(m.cents)} created ${minutesApart(m.atMs, p.atMs)} the call finished)`;
  }
  for (const f of orphans) {
    const p = f.probe as Probe;
    const m = nearest(callIndex, p);
    if (m) f.detail += `; probable match: ${m.id} (an unbilled call priced ${formatCents(m.cents)}, finished ${minutesApart(m.atMs, p.atMs)} the charge)`;
  }
}
