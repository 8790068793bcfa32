/**
 * Hostile strings from Stripe metadata (call ids), customer names and
 * descriptions, and from the ledger (agent slugs, call ids) come out
 * neutralised in every CSV we write, and the files parse back under RFC 4180.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { exportCalls } from '../src/report/export-calls.js';
import { writeRunReports } from '../src/report/reports.js';
import { at, insertCharge, movementsFor, storeLedger, world } from './reconcile-fixtures.js';

const HOSTILE = [
  '=HYPERLINK("http://evil.example","x")',
  '+1+cmd|\' /C calc\'!A0',
  '-2+3',
  '@SUM(A1:A9)',
  '\tTAB=1',
  '\r=CR',
  '\n=LF',
  ' =lead-space',
  '\u00a0=nbsp',
  'comma, "quote"\r\nnewline',
];

/** A spreadsheet would not run this cell: no formula start, unless it is a plain number or already quoted. */
function assertInert(cell: string, where: string): void {
  if (/^[-+]?\d+(\.\d+)?$/.test(cell)) return;
  assert.doesNotMatch(cell, /^[ \u00a0\u2000-\u200b\u202f\u205f\u3000\ufeff]*[=+\-@\t\r\n\0]/, `${where}: ${JSON.stringify(cell)}`);
}

function checkFile(path: string): Record<string, string>[] {
  const text = readFileSync(path, 'utf8');
  assert.ok(!text.startsWith('\ufeff'), 'no BOM');
  const rows = parse(text, { relax_quotes: false, record_delimiter: '\r\n' }) as string[][];
  const width = rows[0]!.length;
  rows.forEach((r, i) => {
    assert.equal(r.length, width, `${path} row ${i}`);
    r.forEach((c, j) => assertInert(c, `${path} row ${i} col ${rows[0]![j]}`));
  });
  return parse(text, { columns: true }) as Record<string, string>[];
}

describe('hostile strings in CSVs', () => {
  it('are neutralised in the discrepancy report, the summary and export calls, and parse back', async () => {
    const w = world();
    after(() => w.db.close());
    const calls = HOSTILE.map((h, i) => ({ id: `${h}#${i}`, slug: h, reserve: 200, start: 301 + i, end: { at: 300 + i, type: 'settle' as const, returned: 40 } }));
    storeLedger(w.db, movementsFor(calls));
    HOSTILE.forEach((h, i) => {
      // Alternately: unbilled; billed wrong by a charge with a hostile customer/description; orphan naming a hostile id.
      if (i % 3 === 1) insertCharge(w.db, { id: `ch_${i}`, calls: [calls[i]!.id], amount: 201, created: 290, customer: h, description: h });
      if (i % 3 === 2) insertCharge(w.db, { id: `${h}ch${i}`, calls: [`${h}:unknown`], amount: 77, created: 290, customer: h, description: h });
    });
    await w.run('run_h');
    const paths = await writeRunReports({ db: w.db, config: w.config, clock: w.clock }, { runId: 'run_h' });
    const report = checkFile(paths.discrepancies);
    assert.ok(report.length >= HOSTILE.length);
    assert.ok(report.some((r) => r.agent_slug === `'${HOSTILE[0]}`), 'a formula is kept as text, quoted with a leading apostrophe');
    assert.ok(report.some((r) => r.agent_slug === HOSTILE[9]), 'commas, quotes and line breaks survive the round trip');
    checkFile(paths.summary);
    const out = join(w.dir, 'calls.csv');
    await exportCalls(w.db, w.config, { from: at(10_000), to: at(0) }, out);
    const exported = checkFile(out);
    assert.equal(exported.length, HOSTILE.length);
    assert.ok(exported.some((r) => r.call_id === `'${HOSTILE[0]}#0`));
  });
});
