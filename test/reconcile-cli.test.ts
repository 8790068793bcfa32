/**
 * End to end through the real CLI process on a prepared database file:
 * `reconcile [--json] [--fail-on-discrepancy]`, `ack`, `report`, `export calls`.
 * The CLI runs on the real clock, so the fixtures are built relative to now.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { openDatabase } from '../src/db/connection.js';
import { runCli, tempDir } from './helpers.js';

process.env.FLOWRECON_TEST_AS_OF = new Date().toISOString();
const fx = await import('./reconcile-fixtures.js');

const HEADER = 'discrepancy_id,type,status,severity,call_ids,stripe_charge_ids,agent_slug,flow_net,expected_usd,billed_usd,delta_usd,occurred_at,first_seen_at,detail';

describe('reconcile, report, ack, export calls from the command line', () => {
  const dir = tempDir('flowrecon-cli-rec-');
  const env = { FLOWRECON_DB: join(dir, 'flowrecon.db'), FLOWRECON_REPORTS_DIR: join(dir, 'reports'), LOG_LEVEL: 'warn' };
  const cli = (args: string[]) => runCli(args, { env, cwd: dir });

  before(async () => {
    const w = fx.world({}, dir);
    fx.storeLedger(
      w.db,
      fx.movementsFor([
        { id: 'call_ok', reserve: 200, start: 3001, end: { at: 3000, type: 'settle', returned: 40 } },
        { id: 'call_unbilled', reserve: 200, start: 2401, end: { at: 2400, type: 'settle', returned: 40 } },
        { id: 'call_dup', reserve: 100, start: 1801, end: { at: 1800, type: 'settle', returned: 20 } },
      ]),
    );
    fx.insertCharge(w.db, { id: 'ch_ok', calls: ['call_ok'], amount: 200, created: 2990 });
    fx.insertCharge(w.db, { id: 'ch_dup1', calls: ['call_dup'], amount: 100, created: 1790 });
    fx.insertCharge(w.db, { id: 'ch_dup2', calls: ['call_dup'], amount: 100, created: 1780 });
    await w.db.close();
  });

  let firstId = '';

  it('reconcile --json prints one JSON object and writes both reports under the reports dir', async () => {
    const r = await cli(['reconcile', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      run_id: string;
      discrepancies: { open: number; new: number; resolved: number; by_type: Record<string, number> };
      reports: { discrepancies: string; summary: string };
    };
    assert.deepEqual(Object.keys(out), ['run_id', 'discrepancies', 'reports']);
    assert.deepEqual(out.discrepancies, { open: 2, new: 2, resolved: 0, by_type: { UNBILLED_CALL: 1, DUPLICATE_CHARGE: 1 } });
    assert.match(out.reports.discrepancies, /^reports\/\d{4}-\d{2}-\d{2}\/discrepancies-\d{8}T\d{6}Z\.csv$/);
    assert.match(out.reports.summary, /^reports\/\d{4}-\d{2}-\d{2}\/summary-\d{8}T\d{6}Z\.csv$/);
    const text = readFileSync(resolve(dir, out.reports.discrepancies), 'utf8');
    assert.ok(text.startsWith(`${HEADER}\r\n`));
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    assert.deepEqual(rows.map((x) => [x.type, x.status, x.call_ids, x.stripe_charge_ids]), [
      ['UNBILLED_CALL', 'new', 'call_unbilled', ''],
      ['DUPLICATE_CHARGE', 'new', 'call_dup', 'ch_dup1;ch_dup2'],
    ]);
    for (const row of rows) {
      assert.match(row.occurred_at!, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/);
      assert.match(row.first_seen_at!, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/);
    }
    firstId = rows[0]!.discrepancy_id!;
    assert.ok(existsSync(resolve(dir, out.reports.summary)));
  });

  it('--fail-on-discrepancy exits 3 when discrepancies are open; the run is recorded', async () => {
    const r = await cli(['reconcile', '--fail-on-discrepancy']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /2 open \(0 new\)/);
    assert.match(r.stderr, /flowrecon: discrepancies: 2 open discrepancies/);
    const db = openDatabase(env.FLOWRECON_DB);
    try {
      const runs = db.sqlite.prepare(`SELECT job, status FROM runs ORDER BY started_at`).all();
      assert.deepEqual(runs, [
        { job: 'reconcile', status: 'succeeded' },
        { job: 'reconcile', status: 'succeeded' },
      ]);
    } finally {
      await db.close();
    }
  });

  it('ack marks one acknowledged; report rebuilds the report from the database', async () => {
    const bad = await cli(['ack', 'd_does_not_exist', '--note', 'x']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /no discrepancy with id d_does_not_exist/);
    const ok = await cli(['ack', firstId, '--note', 'invoiced by hand']);
    assert.equal(ok.code, 0, ok.stderr);
    const out = join(dir, 'again.csv');
    const rep = await cli(['report', '--out', out]);
    assert.equal(rep.code, 0, rep.stderr);
    const rows = parse(readFileSync(out), { columns: true }) as Record<string, string>[];
    assert.deepEqual(rows.map((x) => [x.type, x.status]), [
      ['UNBILLED_CALL', 'acknowledged'],
      ['DUPLICATE_CHARGE', 'open'],
    ]);
    // Dates filter on occurred_at: only the duplicate (finished 30 h ago) is in the last 35 h.
    const from = new Date(Date.now() - 35 * 3600_000).toISOString();
    const filtered = join(dir, 'filtered.csv');
    const rep2 = await cli(['report', '--from', from, '--out', filtered]);
    assert.equal(rep2.code, 0, rep2.stderr);
    const rows2 = parse(readFileSync(filtered), { columns: true }) as Record<string, string>[];
    assert.deepEqual(rows2.map((x) => x.type), ['DUPLICATE_CHARGE']);
    // Without --out: a default file under the reports directory.
    const rep3 = await cli(['report']);
    assert.equal(rep3.code, 0, rep3.stderr);
    assert.match(rep3.stdout.trim(), /^reports\/\d{4}-\d{2}-\d{2}\/discrepancies-\d{8}T\d{6}Z\.csv$/);
  });

  it('export calls writes the calls of the window', async () => {
    const out = join(dir, 'calls.csv');
    const from = new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10);
    const to = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const r = await cli(['export', 'calls', '--from', from, '--to', to, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const rows = parse(readFileSync(out), { columns: true }) as Record<string, string>[];
    assert.deepEqual(rows.map((x) => [x.call_id, x.charged_usd, x.stripe_charge_ids]), [
      ['call_ok', '2.00', 'ch_ok'],
      ['call_unbilled', '0.00', ''],
      ['call_dup', '2.00', 'ch_dup1;ch_dup2'],
    ]);
  });
});
