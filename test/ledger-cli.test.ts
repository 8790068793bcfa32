import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { addSyntheticTraffic } from '../src/standins/ledger-feed.js';
import { runCli, type CliResult } from './helpers.js';
import { CANARY_COOKIE, CANARY_FILE_COOKIE, CANARY_KEY, dumpDb, e2eStandin, everyFileText, movementExportRow } from './ledger-e2e.js';

const CANARIES = [CANARY_COOKIE, CANARY_FILE_COOKIE, CANARY_KEY];

function assertNoSecrets(where: string, text: string): void {
  for (const c of CANARIES) assert.ok(!text.includes(c), `${where} contains the secret ${c}`);
}
const output = (r: CliResult) => `${r.stdout}\n${r.stderr}`;

describe('flowrecon sync ledger / export movements (spawned)', () => {
  it('syncs, prints one JSON object with --json, and exports exactly the stand-in data', async () => {
    const s = await e2eStandin(3000);
    const first = await runCli(['sync', 'ledger'], { env: s.env({ AGENTFLOW_PAGE_SIZE: '200' }) });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /3000 movements fetched, 3000 new/);
    assert.ok(!first.stderr.includes('\r'), 'no progress line in a pipe');

    const json = await runCli(['sync', 'ledger', '--json'], { env: s.env() });
    assert.equal(json.code, 0, json.stderr);
    const obj = JSON.parse(json.stdout) as { ledger: { inserted: number; fetched: number; balance: { available: string } } };
    assert.equal(obj.ledger.inserted, 0);
    assert.equal(obj.ledger.balance.available, s.feed.movements.at(-1)?.balance_after);

    const out = join(s.dir, 'movements.csv');
    const exp = await runCli(['export', 'movements', '--from', '2026-01-01', '--to', '2027-01-01', '--out', out], { env: s.env() });
    assert.equal(exp.code, 0, exp.stderr);
    const rows = parse(readFileSync(out, 'utf8'), { columns: true }) as Record<string, string>[];
    const served = s.standin.movements();
    assert.equal(rows.length, served.length);
    assert.deepEqual(
      rows,
      served.map(movementExportRow),
    );
    for (const r of [first, json, exp]) assertNoSecrets('output', output(r));
    assertNoSecrets('the files written', everyFileText(s.dir));
  });

  it('fails a malformed page with exit 1 naming the field and movement, and leaves the database as it was', async () => {
    const s = await e2eStandin(400);
    assert.equal((await runCli(['sync', 'ledger'], { env: s.env() })).code, 0);
    const known = s.feed.movements.length;
    addSyntheticTraffic(s.feed, 150, { seed: 5, callPrefix: 'new_' });
    s.standin.append(s.feed.movements.slice(known));
    const bad = s.feed.movements[known + 3];
    assert.ok(bad);
    s.standin.setFaults({ malformed: { movementId: bad.id, field: 'type', value: 'bonus' } });
    const tables = ['ledger_movements', 'ledger_calls', 'ledger_breaks', 'balance_snapshots', 'sync_state'];
    const before = dumpDb(s.dbPath, tables);
    const r = await runCli(['sync', 'ledger'], { env: s.env() });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`flowrecon: bad_feed: AgentFlow feed: movement ${bad.id}: field "type": "bonus"`));
    assert.deepEqual(dumpDb(s.dbPath, tables), before);
    // The failure is on record as a failed run.
    const runs = dumpDb(s.dbPath, ['runs']).runs as { status: string; error: string | null }[];
    assert.equal(runs.at(-1)?.status, 'failed');
    assert.match(runs.at(-1)?.error ?? '', /field "type"/);
  });

  it('fails a wrong cookie with exit 1 and says the session is expired or revoked', async () => {
    const s = await e2eStandin(50);
    const r = await runCli(['sync', 'ledger'], { env: s.env({ AGENTFLOW_SESSION: 'stale-cookie-value-123' }) });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /flowrecon: auth: AgentFlow refused the session cookie \(HTTP 401\): it is expired or revoked/);
    assert.ok(!output(r).includes('stale-cookie-value-123'));
  });
});
