/** The demo's closing summary, for a person to read at a glance. Numbers only from the run; no timing, so one seed prints one text. */
import type { DemoResult } from './run.js';

const n = (v: number) => v.toLocaleString('en-US');

export function formatDemoSummary(r: DemoResult): string {
  const { demo, run } = r;
  const lines: string[] = [];
  lines.push(
    `flowrecon demo, seed ${demo.seed}: ${n(demo.calls)} agent calls over ${demo.days} days ` +
      `(${n(demo.movements)} ledger movements, ${n(demo.charges)} Stripe charges, ${n(demo.refunds)} refunds)`,
  );
  lines.push('');
  const d = run.discrepancies;
  lines.push(`Discrepancies: ${d.open} open (${d.new} new, ${d.resolved} resolved)`);
  const width = Math.max(...r.by_type.map((t) => t.type.length), 4);
  lines.push(`  ${'type'.padEnd(width)}  ${'count'.padStart(5)}  ${'USD at stake'.padStart(12)}`);
  for (const t of r.by_type) {
    if (t.type === 'TOTAL') lines.push(`  ${'-'.repeat(width)}  -----  ------------`);
    lines.push(`  ${t.type.padEnd(width)}  ${String(t.open).padStart(5)}  ${t.usd_at_stake.padStart(12)}`);
  }
  lines.push('');
  if (run.balance) lines.push(`Balance:  ${run.balance.available} FLOW available, ${run.balance.reserved} FLOW reserved`);
  if (r.runway) lines.push(`Runway:   ${r.runway.hours ? `${r.runway.hours} h` : 'no spend'} at ${r.runway.spend_24h} FLOW net spend in the last 24 h`);
  lines.push(`Alerts:   ${run.alerts.map((a) => `${a.type} ${a.state}`).join(', ') || 'none'}`);
  lines.push('');
  lines.push('Reports:');
  lines.push(`  discrepancies  ${run.reports.discrepancies}`);
  lines.push(`  summary        ${run.reports.summary}`);
  lines.push(`  calls          ${r.exports.calls}`);
  lines.push(`  movements      ${r.exports.movements}`);
  lines.push(`  charges        ${r.exports.charges}`);
  lines.push('');
  lines.push("Each report row's detail column names the rule that fired and shows the arithmetic.");
  lines.push('The database is data/demo.db: FLOWRECON_DB=data/demo.db npx flowrecon status');
  return lines.join('\n');
}
