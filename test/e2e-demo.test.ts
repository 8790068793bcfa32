/** `flowrecon demo` as a newcomer runs it: a process, no account, reports on disk, a summary that agrees with them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { DISCREPANCY_TYPES } from '../src/domain.js';
import { BIN, runCli, tempDir } from './helpers.js';

const ARGS = ['demo', '--calls', '1500', '--days', '2', '--seed', '3'];

type Row = Record<string, string>;
const readCsv = (path: string) => parse(readFileSync(path, 'utf8'), { columns: true, skip_empty_lines: true }) as Row[];

interface Printed {
  types: Map<string, { count: number; usd: string }>;
  paths: Record<string, string>;
  balance: string;
  runway: string;
  alerts: string;
}

function readSummary(stdout: string): Printed {
  const types = new Map<string, { count: number; usd: string }>();
  const paths: Record<string, string> = {};
  let balance = '';
  let runway = '';
  let alerts = '';
  for (const line of stdout.split('\n')) {
    const t = /^ {2}([A-Z_]+)\s+(\d+)\s+(-?\d+\.\d{2})$/.exec(line);
    if (t) types.set(t[1] as string, { count: Number(t[2]), usd: t[3] as string });
    const p = /^ {2}(discrepancies|summary|calls|movements|charges)\s+(\S+)$/.exec(line);
    if (p) paths[p[1] as string] = p[2] as string;
    if (line.startsWith('Balance:')) balance = line;
    if (line.startsWith('Runway:')) runway = line;
    if (line.startsWith('Alerts:')) alerts = line;
  }
  return { types, paths, balance, runway, alerts };
}

test('flowrecon demo exits 0, writes the reports, and its summary agrees with the CSV', async () => {
  const cwd = tempDir('flowrecon-demo-');
  const started = Date.now();
  const res = await runCli(ARGS, { cwd, timeoutMs: 60_000 });
  assert.equal(res.code, 0, res.stderr.slice(-2000));
  assert.ok(Date.now() - started < 45_000, 'quick at this size');
  assert.equal(res.stderr.includes('\r'), false, 'no progress display off a TTY');
  const s = readSummary(res.stdout);
  assert.ok(existsSync(resolve(cwd, 'data/demo.db')));
  for (const kind of ['discrepancies', 'summary', 'calls', 'movements', 'charges']) {
    const p = s.paths[kind];
    assert.ok(p, `${kind} path printed`);
    assert.ok(p.startsWith('reports/demo/'), `${kind} under reports/demo/: ${p}`);
    assert.ok(existsSync(resolve(cwd, p)), `${kind} written`);
  }
  const report = readCsv(resolve(cwd, s.paths['discrepancies'] as string));
  const summary = readCsv(resolve(cwd, s.paths['summary'] as string));
  assert.ok(report.length > 0);
  for (const type of [...DISCREPANCY_TYPES, 'TOTAL']) {
    const printed = s.types.get(type);
    assert.ok(printed, `${type} printed`);
    const rows = type === 'TOTAL' ? report : report.filter((r) => r['type'] === type);
    assert.equal(printed.count, rows.length, `${type} count agrees with the report`);
    const line = summary.find((r) => r['type'] === type);
    assert.equal(printed.usd, line?.['usd_at_stake'], `${type} USD at stake agrees with the summary CSV`);
    assert.equal(String(printed.count), line?.['open']);
  }
  for (const type of DISCREPANCY_TYPES) assert.ok((s.types.get(type)?.count ?? 0) > 0, `the demo shows ${type}`);
  assert.match(s.balance, /^Balance: +\d+\.\d{6} FLOW available, \d+\.\d{6} FLOW reserved$/);
  assert.match(s.runway, /^Runway: +\d+\.\d h at \d+\.\d{6} FLOW/);
  assert.match(s.alerts, /DISCREPANCIES firing/);
  const calls = readCsv(resolve(cwd, s.paths['calls'] as string));
  assert.equal(calls.length, 1500);

  // Same seed, same numbers; and the database starts fresh, so everything is new again.
  const again = await runCli([...ARGS, '--json'], { cwd, timeoutMs: 60_000 });
  assert.equal(again.code, 0, again.stderr.slice(-2000));
  const j = JSON.parse(again.stdout) as {
    run: { discrepancies: { open: number; new: number; resolved: number }; balance: { available: string; reserved: string }; alerts: { type: string; state: string }[] };
    by_type: { type: string; open: number; usd_at_stake: string }[];
    runway: { hours: string; spend_24h: string };
  };
  assert.deepEqual(
    j.by_type.map((t) => [t.type, t.open, t.usd_at_stake]),
    [...DISCREPANCY_TYPES, 'TOTAL'].map((t) => [t, s.types.get(t)?.count, s.types.get(t)?.usd]),
  );
  assert.equal(j.run.discrepancies.new, j.run.discrepancies.open);
  assert.equal(j.run.discrepancies.resolved, 0);
  assert.ok(s.balance.includes(`${j.run.balance.available} FLOW available, ${j.run.balance.reserved} FLOW reserved`));
  assert.ok(s.runway.includes(`${j.runway.hours} h at ${j.runway.spend_24h} FLOW`));
  assert.equal(s.alerts, `Alerts:   ${j.run.alerts.map((a) => `${a.type} ${a.state}`).join(', ')}`);
  // The demo's own credentials never show.
  for (const out of [res.stdout, res.stderr, again.stdout, again.stderr]) {
    assert.ok(!out.includes('demo-session-af') && !out.includes('sk_test_demo_flowrecon'));
  }
});

test('flowrecon demo with bad arguments: exit 2 naming the option', async () => {
  const res = await runCli(['demo', '--calls', 'many'], { cwd: tempDir('flowrecon-demo-') });
  assert.equal(res.code, 2);
  assert.match(res.stderr, /--calls/);
});

test('on a terminal the demo shows its progress', async (t) => {
  const probe = spawnSync('script', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return t.skip('util-linux script(1) is not installed');
  const cwd = tempDir('flowrecon-demo-tty-');
  // script(1) gives the child a pseudo-terminal, as a person's shell would.
  const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} demo --calls 300 --days 1 --seed 9`;
  const res = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd, encoding: 'utf8', timeout: 60_000, env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '' } });
  assert.equal(res.status, 0, res.stdout.slice(-2000));
  assert.match(res.stdout, /syncing the AgentFlow ledger/);
  assert.match(res.stdout, /ledger: \d+ pages, \d+ of \d+ movements/);
  assert.match(res.stdout, /done in \d+\.\d s/);
  assert.match(res.stdout, /Discrepancies: \d+ open/);
});
