import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { systemClock } from '../src/clock.js';
import { configFor } from '../src/config.js';
import { immediate, openDatabase, type Db } from '../src/db/connection.js';
import { isFlowreconError } from '../src/errors.js';
import { createLedgerApi, type LedgerApi } from '../src/ledger/client.js';
import { exportMovements } from '../src/ledger/export.js';
import { storeMovements } from '../src/ledger/store.js';
import { readLedgerState, syncLedger } from '../src/ledger/sync.js';
import { parseLedgerPage } from '../src/ledger/wire.js';
import { tryParseFlowMicro } from '../src/money.js';
import { Redactor } from '../src/secrets.js';
import { startAgentflowStandin, type AgentflowFaults, type AgentflowStandin } from '../src/standins/agentflow.js';
import { addSyntheticTraffic, LedgerFeedBuilder, seededRandom } from '../src/standins/ledger-feed.js';
import type { WireMovement } from '../src/standins/types.js';
import { memoryLogger, tempDir } from './helpers.js';
import { movementExportRow } from './ledger-e2e.js';

const SESSION = 'sess-sync-test-0001';

interface Rig {
  standin: AgentflowStandin;
  db: Db;
  api: LedgerApi;
  sync: (opts?: Parameters<typeof syncLedger>[1]) => ReturnType<typeof syncLedger>;
}

async function rig(movements: WireMovement[], options: { faults?: AgentflowFaults; accountId?: string } = {}): Promise<Rig> {
  const standin = await startAgentflowStandin({
    dataset: { accountId: options.accountId ?? 'acc_sync', movements, sessions: [SESSION] },
    rateLimitPerMin: 0,
    ...(options.faults ? { faults: options.faults } : {}),
  });
  const dir = tempDir();
  const config = configFor({
    AGENTFLOW_BASE_URL: standin.url,
    AGENTFLOW_SESSION: SESSION,
    AGENTFLOW_RETRY_BASE_MS: '1',
    FLOWRECON_DB: join(dir, 'flowrecon.db'),
  });
  const db = openDatabase(config.dbPath);
  const { log } = memoryLogger();
  const api = createLedgerApi(config, { log, redactor: new Redactor() });
  after(async () => {
    await api.close();
    await db.close();
    await standin.close();
  });
  return { standin, db, api, sync: (opts = {}) => syncLedger({ db, api, clock: systemClock, log }, { pageSize: 250, ...opts }) };
}

function traffic(count: number, seed = 7): LedgerFeedBuilder {
  const feed = new LedgerFeedBuilder();
  addSyntheticTraffic(feed, count, { seed });
  return feed;
}

const heldIds = (db: Db) => db.sqlite.prepare('SELECT movement_id FROM ledger_movements ORDER BY seq').pluck().all() as string[];

/** Per-call aggregates computed straight from wire movements: an independent model of ledger_calls. */
function callModel(movements: readonly WireMovement[]) {
  const calls = new Map<string, { reserved: number; returned: number; adjusted: number; net: number; status: string; started_at: string | null; finished_at: string | null }>();
  for (const m of movements) {
    if (!m.call_id) continue;
    const amount = tryParseFlowMicro(m.amount) as number;
    const c = calls.get(m.call_id) ?? { reserved: 0, returned: 0, adjusted: 0, net: 0, status: 'pending', started_at: null, finished_at: null };
    c.net -= amount;
    if (m.type === 'reserve') {
      c.reserved -= amount;
      c.started_at ??= m.created_at;
    } else if (m.type === 'adjustment') c.adjusted += amount;
    else {
      c.returned += amount;
      if (c.status === 'pending') {
        c.status = m.type === 'settle' ? 'succeeded' : 'failed';
        c.finished_at = m.created_at;
      }
    }
    calls.set(m.call_id, c);
  }
  return calls;
}

function heldCalls(db: Db) {
  const rows = db.sqlite
    .prepare('SELECT call_id, reserved_micro, returned_micro, adjusted_micro, net_micro, status, started_at, finished_at FROM ledger_calls')
    .all() as { call_id: string; reserved_micro: number; returned_micro: number; adjusted_micro: number; net_micro: number; status: string; started_at: string | null; finished_at: string | null }[];
  return new Map(
    rows.map((r) => [
      r.call_id,
      { reserved: r.reserved_micro, returned: r.returned_micro, adjusted: r.adjusted_micro, net: r.net_micro, status: r.status, started_at: r.started_at, finished_at: r.finished_at },
    ]),
  );
}

describe('ledger sync', () => {
  it('syncs several thousand movements, then fetches only what is new', async () => {
    const feed = traffic(4000);
    const r = await rig(feed.movements);
    const first = await r.sync();
    assert.equal(first.inserted, feed.movements.length);
    assert.equal(first.pages, Math.ceil(feed.movements.length / 250));
    assert.deepEqual(heldIds(r.db), feed.movements.map((m) => m.id));
    assert.deepEqual(heldCalls(r.db), callModel(feed.movements));
    assert.equal(first.balance?.balanceMicro, tryParseFlowMicro(feed.movements.at(-1)?.balance_after));
    assert.equal(r.db.sqlite.prepare('SELECT count(*) FROM ledger_breaks').pluck().get(), 0);

    // Nothing new: one request from the stored cursor, nothing fetched.
    const before = r.standin.requests.length;
    const idle = await r.sync();
    assert.equal(idle.fetched, 0);
    assert.equal(r.standin.requests.length - before, 1);
    assert.notEqual(r.standin.requests.at(-1)?.cursor, null);

    const known = feed.movements.length;
    addSyntheticTraffic(feed, 600, { seed: 8, callPrefix: 'late_' });
    r.standin.append(feed.movements.slice(known));
    const start = r.standin.requests.length;
    const second = await r.sync();
    assert.equal(second.fetched, feed.movements.length - known, 'only the new movements are fetched');
    assert.equal(second.inserted, feed.movements.length - known);
    assert.equal(r.standin.requests.length - start, Math.ceil((feed.movements.length - known) / 250));
    assert.deepEqual(heldIds(r.db), feed.movements.map((m) => m.id));
    assert.deepEqual(heldCalls(r.db), callModel(feed.movements));
    const snapshots = r.db.sqlite.prepare('SELECT count(*) FROM balance_snapshots').pluck().get() as number;
    assert.equal(snapshots, first.pages + idle.pages + second.pages, 'one balance snapshot per page');
    assert.ok(readLedgerState(r.db).lastSyncAt);
  });

  it('keeps movements repeated across pages once', async () => {
    const feed = traffic(1500, 11);
    const r = await rig(feed.movements, { faults: { repeat: 40 } });
    const result = await r.sync();
    assert.ok(result.duplicates >= 40 * (result.pages - 1), `expected repeats, got ${result.duplicates}`);
    assert.equal(result.inserted, feed.movements.length);
    assert.deepEqual(heldIds(r.db), feed.movements.map((m) => m.id));
    assert.deepEqual(heldCalls(r.db), callModel(feed.movements));
  });

  it('records a break in the balance_after chain where a movement is missing', async () => {
    const feed = new LedgerFeedBuilder();
    feed.topup('100');
    feed.call({ callId: 'c1', reserve: '2', settle: '0.5' });
    const lost = feed.add({ type: 'reserve', amount: '-3.250000', callId: 'c2' }, { drop: true });
    const breaking = feed.add({ type: 'release', amount: '3.250000', callId: 'c2' });
    feed.call({ callId: 'c3', reserve: '1', settle: '0' });
    const r = await rig(feed.movements);
    const result = await r.sync();
    assert.equal(result.breaks, 1);
    const rows = r.db.sqlite.prepare('SELECT movement_id, missing_micro, created_at FROM ledger_breaks').all();
    assert.deepEqual(rows, [{ movement_id: breaking.id, missing_micro: tryParseFlowMicro(lost.amount), created_at: breaking.created_at }]);
  });

  it('fails on a malformed page and keeps nothing of it; the pages before it stay, and a later run finishes', async () => {
    const feed = traffic(1200, 3);
    const bad = feed.movements[612] as WireMovement;
    const r = await rig(feed.movements, { faults: { malformed: { movementId: bad.id, field: 'amount', value: '1.2345678' } } });
    await assert.rejects(r.sync(), (err: unknown) => {
      assert.ok(isFlowreconError(err, 'BAD_FEED'));
      assert.match((err as Error).message, new RegExp(`movement ${bad.id}: field "amount": "1.2345678"`));
      return true;
    });
    // Pages 1 and 2 (500 movements) were committed; page 3 (holding the bad one) was not.
    assert.deepEqual(heldIds(r.db), feed.movements.slice(0, 500).map((m) => m.id));
    r.standin.setFaults({ malformed: undefined });
    const result = await r.sync();
    assert.equal(result.inserted, feed.movements.length - 500);
    assert.deepEqual(heldIds(r.db), feed.movements.map((m) => m.id));
  });

  it('refuses a feed whose account changes', async () => {
    const feed = traffic(300, 5);
    const r = await rig(feed.movements);
    await r.sync();
    const other = await rig(feed.movements, { accountId: 'acc_other' });
    // Point the second stand-in's client at the first database.
    const { log } = memoryLogger();
    const before = heldIds(r.db).length;
    await assert.rejects(syncLedger({ db: r.db, api: other.api, clock: systemClock, log }), (err: unknown) => {
      assert.ok(isFlowreconError(err, 'BAD_FEED'));
      assert.match((err as Error).message, /"account_id": "acc_other" differs/);
      return true;
    });
    assert.equal(heldIds(r.db).length, before);
  });

  it('stops between pages when aborted, and the next run continues', async () => {
    const feed = traffic(2000, 9);
    const r = await rig(feed.movements);
    const controller = new AbortController();
    const result = await r.sync({
      onPage: (p) => {
        if (p.pages === 2) controller.abort();
      },
      signal: controller.signal,
    });
    assert.equal(result.aborted, true);
    assert.equal(result.pages, 2);
    assert.equal(heldIds(r.db).length, 500);
    const rest = await r.sync();
    assert.equal(rest.aborted, false);
    assert.deepEqual(heldIds(r.db), feed.movements.map((m) => m.id));
  });

  it('exports the movements of a window in feed order, formatted as on the wire', async () => {
    const feed = traffic(900, 13);
    const r = await rig(feed.movements);
    await r.sync();
    const from = (feed.movements[100] as WireMovement).created_at;
    const to = (feed.movements[700] as WireMovement).created_at;
    const out = join(tempDir(), 'movements.csv');
    const result = await exportMovements(r.db, { from, to }, out);
    const text = readFileSync(out, 'utf8');
    assert.ok(text.includes('\r\n'));
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    const expected = feed.movements.filter((m) => m.created_at >= from && m.created_at < to);
    assert.equal(result.rows, 600);
    assert.deepEqual(
      rows,
      expected.map(movementExportRow),
    );
  });
});

describe('ledger store', () => {
  it('matches a row-by-row model for random pages with repeats, breaks and adjustments', () => {
    for (let round = 0; round < 5; round++) {
      const rand = seededRandom(100 + round);
      const feed = new LedgerFeedBuilder();
      addSyntheticTraffic(feed, 700, { seed: round });
      for (let i = 0; i < 20; i++) {
        feed.add({ type: 'adjustment', amount: Math.floor(rand() * 2_000_000) - 1_000_000, callId: rand() < 0.5 ? `call_${1 + Math.floor(rand() * 50)}` : null }, { drop: rand() < 0.3 });
      }
      addSyntheticTraffic(feed, 300, { seed: round + 50, callPrefix: 'more_' });
      const all = feed.movements;
      // Pages of random sizes that overlap their predecessors by a random amount.
      const db = openDatabase(join(tempDir(), 's.db'));
      let pos = 0;
      while (pos < all.length) {
        const start = Math.max(0, pos - Math.floor(rand() * 30));
        const size = 1 + Math.floor(rand() * 260);
        const wire = all.slice(start, start + size);
        if (rand() < 0.2 && wire.length > 1) wire.push(wire[0] as WireMovement); // a repeat inside one page
        const page = parseLedgerPage({ account_id: 'a', currency: 'FLOW', balance: '0', reserved: '0', as_of: '2026-12-04T00:00:00Z', movements: wire, next_cursor: 'x', has_more: true });
        immediate(db, () => storeMovements(db.sqlite, 'a', page.movements, '2026-12-04T00:00:00.000Z'));
        pos = Math.max(pos, start + size);
      }
      assert.deepEqual(heldIds(db), all.map((m) => m.id));
      assert.deepEqual(heldCalls(db), callModel(all));
      // Breaks: every served movement right after a dropped one (model: recompute the chain).
      const expectedBreaks: string[] = [];
      let prev = 0;
      for (const m of all) {
        if ((tryParseFlowMicro(m.balance_after) as number) !== prev + (tryParseFlowMicro(m.amount) as number)) expectedBreaks.push(m.id);
        prev = tryParseFlowMicro(m.balance_after) as number;
      }
      assert.deepEqual(db.sqlite.prepare('SELECT movement_id FROM ledger_breaks ORDER BY seq').pluck().all(), expectedBreaks);
      void db.close();
    }
  });
});
