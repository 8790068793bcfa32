/**
 * Incremental Stripe sync: charges and refunds into SQL, kept current as
 * they change. Three passes, each a window over `created`:
 *
 * 1. charges created since the last window (minus an overlap: objects show up
 *    a few seconds after their `created`);
 * 2. refunds by their own `created`, so a refund today on a charge from weeks
 *    ago is seen, and that charge is re-fetched;
 * 3. events (refunds, disputes, status and metadata changes) up to a minute
 *    ago, each applied once, each changed charge re-fetched as it is now.
 *
 * Crash safety: Stripe lists newest first, so a page cursor alone cannot be a
 * watermark. Each pass stores its window (`gte`, `lt`) and how far into it it
 * got (`after`, the last id committed, used as `starting_after`), in the same
 * transaction as that page's rows. The watermark moves to `lt` only when the
 * window is done. A crash resumes the same window where it stopped: work may
 * repeat, nothing is skipped.
 */
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { immediate, type Db } from '../db/connection.js';
import type { Logger } from '../log.js';
import { needsPaymentIntent, resolveCallIds, type ChargeCallIds } from './callids.js';
import { MissingEndpointError, STRIPE_PAGE_LIMIT, type StripeApi } from './client.js';
import { CURSOR_NAMES, planCursors, type PassName, type WindowCursor } from './cursors.js';
import {
  chargeVersionMs,
  eventSeen,
  readState,
  recordEvent,
  storedRefund,
  upsertCharge,
  upsertRefund,
  writeState,
} from './store.js';
import type { ChargeSnapshot, ListParams, Page, RefundSnapshot } from './types.js';

export interface StripeSyncDeps {
  db: Db;
  stripe: StripeApi;
  config: Config;
  clock: Clock;
  log: Logger;
}

export interface StripeSyncOptions {
  /** Start of a first sync (no stored cursor). Default: STRIPE_SINCE_DAYS ago. An earlier date on a later sync backfills. */
  since?: Date;
  signal?: AbortSignal;
  /** Seconds each window reaches back before the previous one ended (default 300). */
  overlapSeconds?: number;
  /** Events younger than this are left for the next run: Stripe's event list is eventually consistent (default 60). */
  eventLagSeconds?: number;
  /** How long Stripe keeps events (default 30 days); an older event cursor falls back to re-listing. */
  eventRetentionDays?: number;
  /** Objects per list page (default 100, Stripe's maximum). */
  pageSize?: number;
}

export interface StripeSyncResult {
  charges: number;
  refunds: number;
  events: number;
  aborted: boolean;
  /** Requests sent to Stripe by this sync, retries included. */
  requests?: number;
  /** True when the event cursor was too old and charges and refunds were re-listed instead. */
  relisted?: boolean;
}

/** Event types whose objects change what we store about a charge. */
export const STRIPE_EVENT_TYPES = [
  'charge.captured',
  'charge.expired',
  'charge.failed',
  'charge.refunded',
  'charge.succeeded',
  'charge.updated',
  'charge.refund.updated',
  'charge.dispute.created',
  'charge.dispute.updated',
  'charge.dispute.closed',
  'charge.dispute.funds_withdrawn',
  'charge.dispute.funds_reinstated',
  'refund.created',
  'refund.updated',
  'refund.failed',
] as const;

interface FetchedCharge {
  charge: ChargeSnapshot;
  calls: ChargeCallIds;
  versionMs: number;
  refunds: RefundSnapshot[];
}

export async function syncStripe(deps: StripeSyncDeps, options: StripeSyncOptions = {}): Promise<StripeSyncResult> {
  const { db, stripe, config, clock } = deps;
  const log = deps.log; // the caller's child logger (stage, runId)
  const signal = options.signal;
  const overlap = options.overlapSeconds ?? 300;
  const lag = options.eventLagSeconds ?? 60;
  const retention = (options.eventRetentionDays ?? 30) * 86_400;
  const pageSize = Math.min(STRIPE_PAGE_LIMIT, Math.max(1, options.pageSize ?? STRIPE_PAGE_LIMIT));
  const key = config.stripeCallIdKey;
  const startMs = clock.now().getTime();
  const nowSec = Math.floor(startMs / 1000);
  const sinceSec = Math.floor((options.since?.getTime() ?? startMs - config.stripeSinceDays * 86_400_000) / 1000);
  const requestsBefore = stripe.requestCount;

  const chargesSeen = new Set<string>();
  const refundsSeen = new Set<string>();
  /**
   * Charges fetched in this run, so younger than any event this run reads:
   * 'listed' (the charge alone) or 'full' (with all its refunds).
   */
  const fetchedThisRun = new Map<string, 'listed' | 'full'>();
  let eventsApplied = 0;

  const nowIso = () => clock.now().toISOString();
  const nowMs = () => clock.now().getTime();

  // ---- cursors --------------------------------------------------------------
  // Nothing is written here: each cursor is stored with its pass's first page,
  // so a sync that fails before any page leaves the database as it was.
  const cursors = planCursors({
    stored: {
      charges: readState<WindowCursor>(db.sqlite, CURSOR_NAMES.charges),
      refunds: readState<WindowCursor>(db.sqlite, CURSOR_NAMES.refunds),
      events: readState<WindowCursor>(db.sqlite, CURSOR_NAMES.events),
    },
    nowSec,
    sinceSec,
    explicitSince: options.since !== undefined,
    overlapSeconds: overlap,
    eventLagSeconds: lag,
    retentionSeconds: retention,
  });
  const isoSec = (sec: number) => new Date(sec * 1000).toISOString();
  if (cursors.backfilled) log.info({ since: isoSec(sinceSec) }, 'backfilling charges and refunds from the earlier --since');
  if (cursors.relisted) {
    log.warn(
      { eventCursor: isoSec(cursors.relisted.eventsFrom), relistFrom: isoSec(cursors.relisted.relistFrom) },
      'Stripe event cursor is older than Stripe keeps events (30 days): re-listing all charges and refunds instead',
    );
  }

  // ---- fetching -------------------------------------------------------------
  const callsOf = async (charge: ChargeSnapshot): Promise<ChargeCallIds> => {
    let piMeta = charge.payment_intent_object?.metadata ?? null;
    if (needsPaymentIntent(charge, key)) {
      piMeta = (await stripe.retrievePaymentIntent(charge.payment_intent as string, signal))?.metadata ?? null;
    }
    return resolveCallIds(charge, key, piMeta);
  };

  /** A charge as it is now, with every one of its refunds. */
  const refetchCharge = async (id: string): Promise<FetchedCharge | null> => {
    const charge = await stripe.retrieveCharge(id, signal);
    if (!charge) {
      log.warn({ chargeId: id }, 'Stripe has no such charge any more; keeping what we have');
      return null;
    }
    const versionMs = nowMs();
    const refunds = [...(charge.refunds?.data ?? [])];
    if (charge.refunds === null || charge.refunds.has_more) {
      try {
        let after = refunds.at(-1)?.id;
        for (;;) {
          const page = await stripe.listRefunds({ charge: id, limit: STRIPE_PAGE_LIMIT, ...(after ? { starting_after: after } : {}) }, signal);
          refunds.push(...page.data);
          after = page.data.at(-1)?.id;
          if (!page.has_more || !after) break;
        }
      } catch (err) {
        // Without a refund list (some stand-ins), the charge's own refunds are all there is.
        if (!(err instanceof MissingEndpointError)) throw err;
      }
    }
    fetchedThisRun.set(id, 'full');
    return { charge, calls: await callsOf(charge), versionMs, refunds };
  };

  const refetchAll = async (ids: Iterable<string>): Promise<FetchedCharge[]> => {
    const out: FetchedCharge[] = [];
    for (const id of ids) {
      const f = await refetchCharge(id);
      if (f) out.push(f);
    }
    return out;
  };

  const writeFetched = (fetched: FetchedCharge[], at: string): void => {
    for (const f of fetched) {
      if (upsertCharge(db.sqlite, f.charge, f.calls, f.versionMs, at)) chargesSeen.add(f.charge.id);
      for (const r of f.refunds) if (upsertRefund(db.sqlite, r, f.versionMs, at) !== 'stale') refundsSeen.add(r.id);
    }
  };

  // ---- one window pass ------------------------------------------------------
  /**
   * Walk the pass's window page by page. `handle` does a page's extra fetches
   * and returns the writes, which run in one transaction with the cursor.
   */
  const runPass = async <T extends { id: string }>(
    name: PassName,
    cursor: WindowCursor,
    upper: number,
    list: (params: ListParams) => Promise<Page<T>>,
    handle: (items: T[], fetchedAtMs: number) => Promise<(at: string) => void>,
  ): Promise<boolean> => {
    // A window left unfinished by an earlier run is finished first; then one
    // more window reaches from there up to this run's `upper`.
    for (;;) {
      if (!cursor.window) {
        const gte = cursor.watermark === null ? cursor.origin : cursor.watermark - overlap;
        if (upper <= gte) return true;
        cursor.window = { gte, lt: upper, after: null };
      } else {
        log.info({ pass: name, window: cursor.window }, 'resuming an unfinished window');
      }
      const win = cursor.window;
      const fetchPage = (after: string | null) => {
        const p = list({ created: { gte: win.gte, lt: win.lt }, limit: pageSize, ...(after ? { starting_after: after } : {}) }).then(
          (page) => ({ page, fetchedAtMs: nowMs() }),
        );
        p.catch(() => undefined); // awaited below; a prefetch abandoned by an abort must not be "unhandled"
        return p;
      };
      let next = fetchPage(win.after);
      let pages = 0;
      for (let done = false; !done; ) {
        if (signal?.aborted) return false;
        const { page, fetchedAtMs } = await next;
        const last = page.data.at(-1);
        done = !page.has_more || !last;
        // The next page travels while this one is stored; the cursor still moves one committed page at a time.
        if (!done) {
          next = fetchPage((last as T).id);
          // Node writes the request from a tick that runs only once this chain of microtasks is
          // done: let the event loop turn first, or the request waits until the page is stored.
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        const write = await handle(page.data, fetchedAtMs);
        immediate(db, () => {
          const at = nowIso();
          write(at);
          if (done) {
            cursor.watermark = Math.max(cursor.watermark ?? win.lt, win.lt);
            cursor.window = null;
          } else {
            win.after = (last as T).id;
          }
          writeState(db.sqlite, CURSOR_NAMES[name], cursor, at);
        });
        pages += 1;
        log.debug({ pass: name, pages, items: page.data.length, done }, 'page committed');
      }
      if (win.lt >= upper) return true;
    }
  };

  // ---- the three passes -----------------------------------------------------
  const chargesPass = () =>
    runPass('charges', cursors.charges, nowSec + 1, (p) => stripe.listCharges(p, signal), async (charges, fetchedAtMs) => {
      const prepared: FetchedCharge[] = [];
      for (const charge of charges) {
        // A charge that came with its PaymentIntent (or has none) is resolved here, without an await (a microtask turn) each.
        const pi = charge.payment_intent_object;
        const calls = pi || charge.payment_intent === null ? resolveCallIds(charge, key, pi?.metadata ?? null) : await callsOf(charge);
        // Refunds a listed charge carries (older API versions, or expanded) are stored with it.
        prepared.push({ charge, calls, versionMs: fetchedAtMs, refunds: charge.refunds?.data ?? [] });
        if (!fetchedThisRun.has(charge.id)) fetchedThisRun.set(charge.id, 'listed');
      }
      return (at) => writeFetched(prepared, at);
    });

  const refundsPass = () =>
    runPass('refunds', cursors.refunds, nowSec + 1, (p) => stripe.listRefunds(p, signal), async (refunds, fetchedAtMs) => {
      const stale = new Set<string>();
      for (const r of refunds) {
        if (!r.charge) continue;
        const known = storedRefund(db.sqlite, r.id);
        const changed = !known || known.amount !== r.amount || known.status !== r.status;
        if (!changed) continue;
        const version = chargeVersionMs(db.sqlite, r.charge);
        // A charge snapshot taken well after the refund already counts it.
        const snapshotCovers = version !== undefined && known === undefined && version > (r.created + overlap) * 1000;
        if (!snapshotCovers) stale.add(r.charge);
      }
      const fetched = await refetchAll(stale);
      return (at) => {
        for (const r of refunds) if (upsertRefund(db.sqlite, r, fetchedAtMs, at) !== 'stale') refundsSeen.add(r.id);
        writeFetched(fetched, at);
      };
    }).catch((err: unknown) => {
      if (!(err instanceof MissingEndpointError)) throw err;
      log.warn("Stripe has no refund list here (404): refunds are taken from the charges' own lists and from events");
      return true;
    });

  const eventsPass = () =>
    runPass('events', cursors.events, nowSec - lag, (p) => stripe.listEvents({ ...p, types: STRIPE_EVENT_TYPES }, signal), async (events) => {
      const fresh = events.filter((e) => !eventSeen(db.sqlite, e.id));
      const charges = new Set<string>();
      const loneRefunds = new Set<string>();
      for (const e of fresh) {
        if (e.charge_id) {
          // A refund's change needs the charge's refunds; anything else the charge alone.
          const have = fetchedThisRun.get(e.charge_id);
          const enough = have === 'full' || (have === 'listed' && e.object_type !== 'refund');
          if (!enough) charges.add(e.charge_id);
        } else if (e.object_type === 'refund' && e.object_id) {
          loneRefunds.add(e.object_id);
        } else {
          log.debug({ eventId: e.id, type: e.type }, 'event names no charge; nothing to re-fetch');
        }
      }
      const fetched = await refetchAll(charges);
      const refunds: { refund: RefundSnapshot; versionMs: number }[] = [];
      for (const id of loneRefunds) {
        const refund = await stripe.retrieveRefund(id, signal);
        if (refund) refunds.push({ refund, versionMs: nowMs() });
      }
      return (at) => {
        writeFetched(fetched, at);
        for (const { refund, versionMs } of refunds) if (upsertRefund(db.sqlite, refund, versionMs, at) !== 'stale') refundsSeen.add(refund.id);
        for (const e of fresh) recordEvent(db.sqlite, e, at);
        eventsApplied += fresh.length;
      };
    }).catch((err: unknown) => {
      // Charges and refunds are stored by now; a Stripe without an event list
      // (some stand-ins) costs only the changes that refunds do not show.
      if (!(err instanceof MissingEndpointError)) throw err;
      log.warn('Stripe has no event list here (404): status and dispute changes of older charges are not followed');
      return true;
    });

  const finish = (aborted: boolean): StripeSyncResult => {
    const result: StripeSyncResult = {
      charges: chargesSeen.size,
      refunds: refundsSeen.size,
      events: eventsApplied,
      aborted,
      requests: stripe.requestCount - requestsBefore,
      relisted: cursors.relisted !== null,
    };
    log.info(result, aborted ? 'Stripe sync stopped early' : 'Stripe sync done');
    return result;
  };

  try {
    for (const pass of [chargesPass, refundsPass, eventsPass]) {
      if (!(await pass())) return finish(true);
    }
  } catch (err) {
    if (signal?.aborted) return finish(true);
    throw err;
  }
  return finish(false);
}
