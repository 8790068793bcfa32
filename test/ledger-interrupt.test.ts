import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { describe, it } from 'node:test';
import { progressLine } from '../src/ledger/progress.js';
import { runCli } from './helpers.js';
import { e2eStandin, heldIds } from './ledger-e2e.js';

describe('progress line and SIGTERM', () => {
  it('redraws one line in place, throttled, and ends it with the final figures', () => {
    const written: string[] = [];
    let t = 0;
    const line = progressLine({ write: (s: string) => written.push(s) }, 'sync ledger', () => t, 100);
    line.update({ pages: 1, movements: 500, inserted: 500 });
    t = 50;
    line.update({ pages: 2, movements: 1000, inserted: 1000 }); // throttled
    t = 1000;
    line.update({ pages: 3, movements: 1500, inserted: 1400 });
    t = 1010;
    line.update({ pages: 4, movements: 2000, inserted: 1900 }); // throttled, shown by done()
    line.done();
    assert.equal(written.length, 4);
    assert.ok(written.slice(0, 3).every((s) => s.startsWith('\r')));
    assert.match(written[1] ?? '', /3 pages, 1500 movements \(1400 new\), 1500\/s/);
    assert.match(written[2] ?? '', /4 pages, 2000 movements/);
    assert.equal(written[3], '\n');
  });

  it('stops between pages on SIGTERM: exit 0, the committed pages kept, the next run continues', async () => {
    const s = await e2eStandin(2000, { latencyMs: 5 });
    let child: ChildProcess | null = null;
    s.standin.onRequest(({ index }) => {
      if (index === 6 && child) child.kill('SIGTERM');
    });
    const env = s.env({ AGENTFLOW_PAGE_SIZE: '50' });
    const r = await runCli(['sync', 'ledger'], { env, onSpawn: (c) => (child = c) });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /interrupted after \d+ pages/);
    const held = heldIds(s.dbPath);
    assert.ok(held.length >= 250 && held.length < 2000, `held ${held.length}`);
    assert.equal(held.length % 50, 0, 'only whole pages are committed');
    const rest = await runCli(['sync', 'ledger'], { env });
    assert.equal(rest.code, 0, rest.stderr);
    assert.equal(heldIds(s.dbPath).length, s.feed.movements.length);
  });
});
