import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { seededRandom } from '../src/standins/ledger-feed.js';
import { runCli } from './helpers.js';
import { e2eStandin, heldIds } from './ledger-e2e.js';

describe('ledger sync under SIGKILL (spawned)', () => {
  it('loses and doubles nothing when killed at random moments, then a run finishes the job', async () => {
    const s = await e2eStandin(2500, { latencyMs: 2 });
    const ids = s.feed.movements.map((m) => m.id);
    const env = s.env({ AGENTFLOW_PAGE_SIZE: '50' }); // 50 pages
    const rand = seededRandom(Date.now() % 100_000);
    let child: ChildProcess | null = null;
    let killAt = Number.POSITIVE_INFINITY;
    s.standin.onRequest(({ index }) => {
      if (index >= killAt && child) {
        const victim = child;
        child = null;
        // Sometimes at once (request in flight), sometimes a moment later (mid-insert or mid-commit).
        setTimeout(() => victim.kill('SIGKILL'), Math.floor(rand() * 4));
      }
    });
    let kills = 0;
    for (let round = 0; round < 5; round++) {
      killAt = s.standin.requests.length + 2 + Math.floor(rand() * 8);
      const r = await runCli(['sync', 'ledger'], { env, onSpawn: (c) => (child = c) });
      child = null;
      if (r.signal === 'SIGKILL') kills += 1;
      else assert.equal(r.code, 0, r.stderr);
      const held = heldIds(s.dbPath);
      // Whatever was committed is exactly a prefix of the feed: nothing skipped, nothing twice.
      assert.deepEqual(held, ids.slice(0, held.length), `round ${round}: held movements are not a prefix of the feed`);
      if (held.length === ids.length) break;
    }
    assert.ok(kills >= 2, `only ${kills} runs were killed`);
    const last = await runCli(['sync', 'ledger', '--json'], { env });
    assert.equal(last.code, 0, last.stderr);
    assert.deepEqual(heldIds(s.dbPath), ids);
    const db = new BetterSqlite3(s.dbPath, { readonly: true });
    try {
      const net = db.prepare('SELECT sum(net_micro) FROM ledger_calls').pluck().get() as number;
      const fromMovements = db.prepare('SELECT -sum(amount_micro) FROM ledger_movements WHERE call_id IS NOT NULL').pluck().get() as number;
      assert.equal(net, fromMovements, 'call aggregates agree with the movements after the crashes');
      assert.equal(db.prepare('SELECT count(*) FROM ledger_breaks').pluck().get(), 0);
    } finally {
      db.close();
    }
  });
});
