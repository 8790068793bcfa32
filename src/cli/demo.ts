/** `flowrecon demo [--calls N] [--days D] [--seed S] [--json]`: the whole pipeline against local stand-ins (issue 6). */
import type { Command } from 'commander';
import { FlowreconError } from '../errors.js';
import { createLogger } from '../log.js';
import { runDemo } from '../demo/run.js';
import { formatDemoSummary } from '../demo/summary.js';
import { createContext } from './context.js';

function wholeNumber(text: string, option: string, min: number, max: number): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < min || Number(text) > max) {
    throw new FlowreconError('USAGE', `${option}: "${text}" must be a whole number from ${min} to ${max}`);
  }
  return Number(text);
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('the whole pipeline against built-in local AgentFlow and Stripe stand-ins with generated data; needs no account')
    .option('--calls <n>', 'agent calls to generate', '20000')
    .option('--days <d>', 'days of history', '7')
    .option('--seed <s>', 'random seed: the same seed gives the same data and the same summary', '1')
    .option('--json', 'print the summary as one JSON object on stdout')
    .action(async (opts: { calls: string; days: string; seed: string; json?: boolean }, cmd: Command) => {
      const calls = wholeNumber(opts.calls, '--calls', 200, 2_000_000);
      const days = wholeNumber(opts.days, '--days', 1, 60);
      const seed = wholeNumber(opts.seed, '--seed', 0, 2 ** 32 - 1);
      const ctx = createContext(cmd);
      // Quiet logs unless asked for: the summary is what a newcomer should see.
      const log = process.env['LOG_LEVEL'] ? ctx.log : createLogger({ level: 'error', redactor: ctx.redactor });
      const controller = new AbortController();
      const stop = () => controller.abort(new Error('signal'));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const result = await runDemo(
          {
            calls,
            days,
            seed,
            env: { LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'error', FLOWRECON_TZ: ctx.config.timeZone },
            signal: controller.signal,
            ...(ctx.interactive && !opts.json ? { progress: (line: string) => process.stderr.write(`\r\x1b[2K${line}${line.startsWith('done') ? '\n' : ''}`) } : {}),
          },
          { log, redactor: ctx.redactor, clock: ctx.clock },
        );
        ctx.print(opts.json ? JSON.stringify(result) : formatDemoSummary(result));
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        await ctx.close();
      }
    });
}
