/**
 * The ledger sync: pages from the stored cursor, each committed in one
 * immediate transaction together with the new cursor, the page's balance
 * snapshot and the last-sync time. A crash at any instant therefore repeats
 * at most the page in flight, and storeMovements keeps a repeated movement
 * once: nothing is skipped, nothing doubled.
 *
 * The next page is fetched while the current one is written (the insert is
 * synchronous CPU work, the fetch is mostly waiting), which is what makes a
 * large backfill run near the speed of the slower of the two.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Clock } from '../clock.js';
import { immediate, type Db } from '../db/connection.js';
import type { LedgerPage } from '../domain.js';
import { FlowreconError } from '../errors.js';
import type { Logger } from '../log.js';
import type { LedgerApi } from './client.js';
import { storeMovements } from './store.js';

export interface LedgerSyncDeps {
  db: Db;
  api: LedgerApi;
  clock: Clock;
  log: Logger;
}

export interface LedgerSyncOptions {
  pageSize?: number;
  /** Abort between pages (SIGTERM): the current page's transaction finishes, then the sync stops. */
  signal?: AbortSignal;
  /** Called after each committed page (progress display). */
  onPage?: (progress: { pages: number; movements: number; inserted: number }) => void;
}

export interface LedgerSyncResult {
  pages: number;
  fetched: number;
  inserted: number;
  duplicates: number;
  breaks: number;
  aborted: boolean;
  /** The last page's snapshot, or null when no page was fetched. */
  balance: { accountId: string; balanceMicro: number; reservedMicro: number; asOf: string } | null;
  /**
   * Where the time went: waiting for the feed (a page not yet fetched and validated) versus
   * writing pages to the database. Tells which of the two limits a backfill.
   */
  waitedForFeedMs?: number;
  writingMs?: number;
}

/**
 * WAL pages between automatic checkpoints while a sync runs. SQLite's default
 * (1000, about 4 MB) checkpoints every ~20 pages of a backfill, each time
 * copying the same hot index pages into the database file again and syncing
 * it; 10000 (at most about 40 MB of WAL) does that a tenth as often. Nothing
 * about durability changes: every commit is already in the WAL. The
 * connection's own setting is put back when the sync ends.
 */
const SYNC_WAL_AUTOCHECKPOINT = 10_000;

/** sync_state keys this stage owns. */
export const LEDGER_STATE = {
  cursor: 'ledger.cursor',
  accountId: 'ledger.account_id',
  lastSyncAt: 'ledger.last_sync_at',
} as const;

export function readLedgerState(db: Db): { cursor: string | null; accountId: string | null; lastSyncAt: string | null } {
  const rows = db.sqlite
    .prepare(`SELECT name, value FROM sync_state WHERE name IN (?, ?, ?)`)
    .all(LEDGER_STATE.cursor, LEDGER_STATE.accountId, LEDGER_STATE.lastSyncAt) as { name: string; value: string }[];
  const get = (name: string) => rows.find((r) => r.name === name)?.value ?? null;
  return { cursor: get(LEDGER_STATE.cursor), accountId: get(LEDGER_STATE.accountId), lastSyncAt: get(LEDGER_STATE.lastSyncAt) };
}

export async function syncLedger(deps: LedgerSyncDeps, options: LedgerSyncOptions = {}): Promise<LedgerSyncResult> {
  const { db, api, clock, log } = deps;
  const limit = options.pageSize ?? 500;
  const signal = options.signal;
  const state = readLedgerState(db);
  let cursor = state.cursor;
  let accountId = state.accountId;

  const setState = db.sqlite.prepare(
    `INSERT INTO sync_state (name, value, updated_at) VALUES (?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
  );
  const insertSnapshot = db.sqlite.prepare(
    `INSERT INTO balance_snapshots (account_id, balance_micro, reserved_micro, as_of, fetched_at) VALUES (?, ?, ?, ?, ?)`,
  );

  const result: LedgerSyncResult = {
    pages: 0,
    fetched: 0,
    inserted: 0,
    duplicates: 0,
    breaks: 0,
    aborted: false,
    balance: null,
    waitedForFeedMs: 0,
    writingMs: 0,
  };
  let waitedMs = 0;
  let writingMs = 0;
  const started = Date.now();
  log.info({ cursor: cursor === null ? 'start' : 'stored', pageSize: limit }, 'ledger sync started');

  const fetch = (from: string | null): Promise<LedgerPage> => {
    const p = api.fetchPage({ cursor: from, limit }, signal);
    p.catch(() => undefined); // observed when awaited; never an unhandled rejection while a page is being written
    return p;
  };

  const autocheckpoint = db.sqlite.pragma('wal_autocheckpoint', { simple: true }) as number;
  // 0 or less means checkpoints were turned off on purpose: left so.
  if (autocheckpoint > 0 && autocheckpoint < SYNC_WAL_AUTOCHECKPOINT) db.sqlite.pragma(`wal_autocheckpoint = ${SYNC_WAL_AUTOCHECKPOINT}`);
  try {
    let pending: Promise<LedgerPage> | null = fetch(cursor);
    while (pending) {
      let page: LedgerPage;
      const waitStarted = performance.now();
      try {
        page = await pending;
        waitedMs += performance.now() - waitStarted;
      } catch (err) {
        if (signal?.aborted) {
          result.aborted = true;
          break;
        }
        throw err;
      }
      pending = null;

      if (accountId !== null && page.accountId !== accountId) {
        throw new FlowreconError(
          'BAD_FEED',
          `AgentFlow feed: page: field "account_id": "${page.accountId}" differs from the account already synced ("${accountId}"); ` +
            'use a separate FLOWRECON_DB per account',
        );
      }
      if (page.hasMore && page.nextCursor === cursor) {
        throw new FlowreconError('BAD_FEED', 'AgentFlow feed: page: field "next_cursor": did not advance although has_more is true');
      }
      const nextCursor = page.nextCursor ?? cursor;

      if (page.hasMore && !signal?.aborted) {
        pending = fetch(nextCursor);
        await nextTurn(); // let the request leave before the synchronous insert holds the thread
      }

      const now = clock.now().toISOString();
      const writeStarted = performance.now();
      const stored = immediate(db, () => {
        const r = storeMovements(db.sqlite, page.accountId, page.movements, now);
        if (nextCursor !== null) setState.run(LEDGER_STATE.cursor, nextCursor, now);
        if (accountId === null) setState.run(LEDGER_STATE.accountId, page.accountId, now);
        setState.run(LEDGER_STATE.lastSyncAt, now, now);
        insertSnapshot.run(page.accountId, page.balanceMicro, page.reservedMicro, page.asOf, now);
        return r;
      });
      writingMs += performance.now() - writeStarted;
      accountId = page.accountId;
      cursor = nextCursor;

      result.pages += 1;
      result.fetched += page.movements.length;
      result.inserted += stored.inserted;
      result.duplicates += stored.duplicates;
      result.breaks += stored.breaks;
      result.balance = { accountId: page.accountId, balanceMicro: page.balanceMicro, reservedMicro: page.reservedMicro, asOf: page.asOf };
      if (stored.breaks > 0) log.warn({ breaks: stored.breaks, page: result.pages }, 'balance_after chain broken: a movement is missing from the feed');
      options.onPage?.({ pages: result.pages, movements: result.fetched, inserted: result.inserted });

      if (page.hasMore && signal?.aborted) {
        result.aborted = true;
        pending = null;
      }
    }
  } finally {
    if (db.sqlite.open) db.sqlite.pragma(`wal_autocheckpoint = ${autocheckpoint}`);
  }

  const seconds = (Date.now() - started) / 1000;
  result.waitedForFeedMs = Math.round(waitedMs);
  result.writingMs = Math.round(writingMs);
  log.info(
    {
      pages: result.pages,
      fetched: result.fetched,
      inserted: result.inserted,
      duplicates: result.duplicates,
      breaks: result.breaks,
      aborted: result.aborted,
      seconds,
      waitedForFeedMs: result.waitedForFeedMs,
      writingMs: result.writingMs,
    },
    result.aborted ? 'ledger sync interrupted; the next run continues from the last committed page' : 'ledger sync finished',
  );
  return result;
}
