/**
 * A validated page packed into one string for the hop from the fetch worker to
 * the main thread. Structured clone of 500 small objects costs more than
 * parsing the JSON did; one string crosses threads almost free and splits back
 * quickly. A page whose text holds the separator characters (never seen in
 * practice, but legal) is sent as objects instead.
 */
import type { LedgerPage, Movement } from '../domain.js';

const SEP = '\u001f';
const NULL = '\u001e';
const FIELDS = 8;

export interface PackedPage {
  page: Omit<LedgerPage, 'movements'> & { movements: readonly Movement[] };
  /** Present when the movements were packed; then page.movements is empty. */
  packed?: string;
}

const clean = (s: string | null): boolean => s === null || (!s.includes(SEP) && !s.includes(NULL));

export function packPage(page: LedgerPage): PackedPage {
  const parts: string[] = [];
  for (const m of page.movements) {
    if (!clean(m.id) || !clean(m.callId) || !clean(m.agentSlug) || !clean(m.callStatus)) return { page };
    parts.push(m.id, m.type, String(m.amountMicro), String(m.balanceAfterMicro), m.callId ?? NULL, m.agentSlug ?? NULL, m.callStatus ?? NULL, m.createdAt);
  }
  return { page: { ...page, movements: [] }, packed: parts.join(SEP) };
}

export function unpackPage(p: PackedPage): LedgerPage {
  if (p.packed === undefined) return p.page;
  const parts = p.packed === '' ? [] : p.packed.split(SEP);
  const movements = new Array<Movement>(parts.length / FIELDS);
  const orNull = (s: string) => (s === NULL ? null : s);
  for (let i = 0, j = 0; i < parts.length; i += FIELDS, j++) {
    movements[j] = {
      id: parts[i] as string,
      type: parts[i + 1] as Movement['type'],
      amountMicro: Number(parts[i + 2]),
      balanceAfterMicro: Number(parts[i + 3]),
      callId: orNull(parts[i + 4] as string),
      agentSlug: orNull(parts[i + 5] as string),
      callStatus: orNull(parts[i + 6] as string),
      createdAt: parts[i + 7] as string,
    };
  }
  return { ...p.page, movements };
}
