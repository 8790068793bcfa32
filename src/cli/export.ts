/** `flowrecon export calls|movements|charges --from D --to D --out FILE` (CONTRACT 8). */
import { resolve } from 'node:path';
import { Argument, type Command } from 'commander';
import { exportMovements } from '../ledger/export.js';
import { exportCalls } from '../report/export-calls.js';
import { exportCharges } from '../stripe/export.js';
import { createContext } from './context.js';
import { parseWindow } from './dates.js';

export function registerExportCommand(program: Command): void {
  program
    .command('export')
    .description('finance export of calls, movements or charges in a window, as CSV')
    .addArgument(new Argument('<kind>', 'what to export').choices(['calls', 'movements', 'charges']))
    .requiredOption('--from <date>', 'start, inclusive (ISO date or timestamp, UTC unless offset given)')
    .requiredOption('--to <date>', 'end, exclusive')
    .requiredOption('--out <file>', 'CSV file to write (written atomically)')
    .action(async (kind: 'calls' | 'movements' | 'charges', opts: { from: string; to: string; out: string }, cmd: Command) => {
      const window = parseWindow(opts.from, opts.to, true) as { from: string; to: string };
      const ctx = createContext(cmd);
      try {
        const out = resolve(opts.out);
        const db = ctx.db();
        const result =
          kind === 'calls'
            ? await exportCalls(db, ctx.config, window, out)
            : kind === 'movements'
              ? await exportMovements(db, window, out)
              : await exportCharges(db, window, out);
        ctx.log.info({ stage: 'export', kind, rows: result.rows, path: result.path }, 'export written');
        ctx.print(result.path);
      } finally {
        await ctx.close();
      }
    });
}
