/**
 * The demo end to end in this process: generating the history, then the whole
 * pipeline against the stand-ins (sync both sides, reconcile, reports,
 * exports). Size from BENCH_DEMO_CALLS / BENCH_DEMO_DAYS (default the demo's
 * own 20,000 calls over 7 days).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../src/clock.js';
import { generateDemo } from '../src/demo/generate.js';
import { runDemo } from '../src/demo/run.js';
import { createLogger } from '../src/log.js';
import { Redactor } from '../src/secrets.js';

export async function run(): Promise<void> {
  const calls = Number(process.env['BENCH_DEMO_CALLS'] ?? 20_000);
  const days = Number(process.env['BENCH_DEMO_DAYS'] ?? 7);
  let t = performance.now();
  const data = generateDemo({ calls, days, seed: 1 });
  const genMs = performance.now() - t;
  console.log(
    `generate: ${calls} calls, ${data.agentflow.movements.length} movements, ${data.stripe.charges.length} charges in ${(genMs / 1000).toFixed(2)} s`,
  );

  const cwd = mkdtempSync(join(tmpdir(), 'flowrecon-bench-demo-'));
  const redactor = new Redactor();
  const phases: [string, number][] = [];
  t = performance.now();
  try {
    const result = await runDemo(
      { calls, days, seed: 1, cwd, progress: (line) => void (line.startsWith('ledger:') || phases.push([line, performance.now() - t])) },
      { log: createLogger({ level: 'error', redactor }), redactor, clock: systemClock },
    );
    const total = performance.now() - t;
    for (const [line, at] of phases) console.log(`  ${(at / 1000).toFixed(2)} s  ${line}`);
    console.log(`demo: ${(total / 1000).toFixed(2)} s end to end, ${result.run.discrepancies.open} discrepancies, peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}
