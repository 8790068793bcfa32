/**
 * Where each pass of the Stripe sync starts, decided from the stored cursors
 * and the time alone (pure, so the tricky cases are tested without a server).
 *
 * A pass walks windows over `created`. Stripe lists newest first, so the
 * position inside a window (`after`, the last id committed) is no watermark:
 * the watermark moves to the window's `lt` only once the window is done.
 */

/** A pass's position: its start, its completed watermark and the window in progress. */
export interface WindowCursor {
  /** Earliest `created` this pass has ever covered (the first sync's start). */
  origin: number;
  /** `lt` of the last completed window; null before the first completes. */
  watermark: number | null;
  window: { gte: number; lt: number; after: string | null } | null;
}

export const CURSOR_NAMES = { charges: 'stripe.charges', refunds: 'stripe.refunds', events: 'stripe.events' } as const;
export type PassName = keyof typeof CURSOR_NAMES;

export interface CursorPlan {
  charges: WindowCursor;
  refunds: WindowCursor;
  events: WindowCursor;
  /** The event cursor was older than Stripe keeps events: charges and refunds are read again from their origin. */
  relisted: { eventsFrom: number; relistFrom: number } | null;
  /** An explicit `since` before the origin moved it back. */
  backfilled: boolean;
}

export interface PlanInput {
  stored: Partial<Record<PassName, WindowCursor>>;
  nowSec: number;
  /** Start of a first sync, unix seconds. */
  sinceSec: number;
  /** True when `since` was asked for (not the default): an earlier one backfills. */
  explicitSince: boolean;
  overlapSeconds: number;
  eventLagSeconds: number;
  retentionSeconds: number;
}

/** Move a cursor's start back to `sec`; safe mid-window, since older objects come last in the window. */
function lowerStart(c: WindowCursor, sec: number, overlap: number): void {
  c.origin = Math.min(c.origin, sec);
  if (c.window) c.window.gte = Math.min(c.window.gte, sec);
  else if (c.watermark !== null) c.watermark = Math.min(c.watermark, sec + overlap);
}

/** Read everything again from the origin (the window in progress, if any, widened to it). */
function relistFromOrigin(c: WindowCursor): void {
  if (c.window) c.window.gte = Math.min(c.window.gte, c.origin);
  else c.watermark = null;
}

export function planCursors(input: PlanInput): CursorPlan {
  const { nowSec, sinceSec, overlapSeconds: overlap, eventLagSeconds: lag } = input;
  const copy = (c: WindowCursor | undefined) => (c ? structuredClone(c) : undefined);
  const charges = copy(input.stored.charges) ?? { origin: sinceSec, watermark: null, window: null };
  const refunds = copy(input.stored.refunds) ?? { origin: sinceSec, watermark: null, window: null };
  // A first sync reads the objects as they are now, so earlier events add nothing.
  const events = copy(input.stored.events) ?? { origin: nowSec - lag, watermark: nowSec - lag, window: null };

  let backfilled = false;
  if (input.explicitSince && sinceSec < Math.min(charges.origin, refunds.origin)) {
    lowerStart(charges, sinceSec, overlap);
    lowerStart(refunds, sinceSec, overlap);
    backfilled = true;
  }

  let relisted: CursorPlan['relisted'] = null;
  const eventsFrom = events.window?.gte ?? (events.watermark ?? nowSec) - overlap;
  const floor = nowSec - input.retentionSeconds;
  if (eventsFrom < floor) {
    // Events older than Stripe keeps are gone: what changed in the gap is only
    // found by reading every object again.
    relisted = { eventsFrom, relistFrom: Math.min(charges.origin, refunds.origin) };
    relistFromOrigin(charges);
    relistFromOrigin(refunds);
    // Start a minute inside what Stripe keeps, so nothing expires under the pass.
    events.window = null;
    events.watermark = floor + overlap + 60;
  }
  return { charges, refunds, events, relisted, backfilled };
}
