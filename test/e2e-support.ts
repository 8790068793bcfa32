/** Plumbing shared by the end-to-end tests: reading the CSVs and comparing them with the demo truth. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { CALL_EXPORT_COLUMNS, keyOf, type Truth } from '../src/demo/truth.js';
import { formatFlow } from '../src/money.js';

export const REPORT_COLUMNS =
  'discrepancy_id,type,status,severity,call_ids,stripe_charge_ids,agent_slug,flow_net,expected_usd,billed_usd,delta_usd,occurred_at,first_seen_at,detail';

export type Row = Record<string, string>;

export function readCsv(path: string): { header: string; rows: Row[]; text: string } {
  const text = readFileSync(path, 'utf8');
  assert.ok(!text.startsWith('\ufeff'), `${path}: no BOM`);
  assert.ok(text === '' || text.endsWith('\r\n'), `${path}: records end with CRLF`);
  const header = text.slice(0, text.indexOf('\r\n'));
  return { header, rows: parse(text, { columns: true, skip_empty_lines: true }) as Row[], text };
}

/** A report row's identity, the same as the truth's keyOf. */
export const rowKey = (r: Row): string =>
  keyOf({
    type: r['type'] ?? '',
    callIds: r['call_ids'] ? (r['call_ids'] as string).split(';') : [],
    chargeIds: r['stripe_charge_ids'] ? (r['stripe_charge_ids'] as string).split(';') : [],
    ...(r['type'] === 'BALANCE_DRIFT' ? { occurredAt: r['occurred_at'] as string } : {}),
  });

export const cents = (usd: string | undefined): number | null => (usd === undefined || usd === '' ? null : Math.round(Number(usd) * 100));

/** Every truth row is in the report and nothing else, and the cells the contract pins agree. */
export function assertReportMatches(rows: Row[], truth: Truth): void {
  const got = rows.map(rowKey).sort();
  const want = truth.discrepancies.map((d) => keyOf(d)).sort();
  const missing = want.filter((k) => !got.includes(k));
  const extra = got.filter((k) => !want.includes(k));
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, 'the report holds exactly the expected problems');
  const byKey = new Map(rows.map((r) => [rowKey(r), r]));
  for (const d of truth.discrepancies) {
    const r = byKey.get(keyOf(d)) as Row;
    const where = `${d.type} ${d.callIds.join(';')} ${d.chargeIds.join(';')}`;
    if (d.occurredAt) assert.equal(Date.parse(r['occurred_at'] as string), Date.parse(d.occurredAt), `occurred_at of ${where}`);
    assert.match(r['occurred_at'] as string, /Z$/);
    assert.match(r['first_seen_at'] as string, /Z$/);
    assert.ok(['high', 'medium', 'low'].includes(r['severity'] as string), `severity of ${where}`);
    if (d.flowNetMicro !== undefined) assert.equal(r['flow_net'], formatFlow(d.flowNetMicro), `flow_net of ${where}`);
    if (d.expectedCents !== undefined) {
      assert.equal(cents(r['expected_usd']), d.expectedCents, `expected_usd of ${where}`);
      assert.equal(cents(r['billed_usd']), d.billedCents, `billed_usd of ${where}`);
      assert.equal(cents(r['delta_usd']), (d.billedCents as number) - d.expectedCents, `delta_usd of ${where}`);
    }
  }
}

/** `export calls` against the truth, every column of every row; returns the differing cells. */
export function callExportMismatches(path: string, truth: Truth): string[] {
  const { header, rows } = readCsv(path);
  assert.equal(header, CALL_EXPORT_COLUMNS.join(','));
  assert.equal(rows.length, truth.calls.length, 'one row per call');
  const out: string[] = [];
  truth.calls.forEach((want, i) => {
    const got = rows[i] as Row;
    for (const col of CALL_EXPORT_COLUMNS) {
      const g = got[col] ?? '';
      const w = want[col];
      const same = col === 'started_at' ? Date.parse(g) === Date.parse(w) && g.endsWith('Z') : g === w;
      if (!same) out.push(`row ${i + 1} ${want.call_id} ${col}: expected "${w}", got "${g}"`);
    }
  });
  return out;
}

export function byType(truth: Truth): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of truth.discrepancies) out[d.type] = (out[d.type] ?? 0) + 1;
  return out;
}
