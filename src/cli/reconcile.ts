/**
 * `flowrecon reconcile [--json] [--fail-on-discrepancy]`, `flowrecon report
 * [--from D] [--to D] [--out FILE]`, `flowrecon ack <id> --note TEXT`
 * (CONTRACT 6). `export calls` is registered by cli/export.ts.
 */
import { isAbsolute, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { FlowreconError } from '../errors.js';
import { withRun } from '../ops/runs.js';
import { reconcile, type ReconcileResult } from '../reconcile/index.js';
import { acknowledge } from '../reconcile/lifecycle.js';
import { reportPath, writeDiscrepancyReport, writeRunReports } from '../report/reports.js';
import { createContext, type AppContext } from './context.js';
import { parseWindow } from './dates.js';

/** CONTRACT 6 `reconcile --json` object. */
export interface ReconcileCommandResult {
  run_id: string;
  discrepancies: ReconcileResult['discrepancies'];
  reports: { discrepancies: string; summary: string };
}

/** Paths as shown to the user: relative to the working directory when inside it, else absolute. */
export function shownPath(path: string, cwd = process.cwd()): string {
  const rel = relative(cwd, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** One recorded reconcile run: diff, lifecycle, reports. */
export async function reconcileCommand(ctx: AppContext, options: { full?: boolean } = {}): Promise<ReconcileCommandResult> {
  const db = ctx.db();
  return withRun({ db, clock: ctx.clock, redactor: ctx.redactor }, 'reconcile', async (runId) => {
    const log = ctx.log.child({ stage: 'reconcile', runId });
    const result = await reconcile({ db, config: ctx.config, clock: ctx.clock, log }, { runId, full: options.full === true });
    const reports = await writeRunReports({ db, config: ctx.config, clock: ctx.clock }, { runId });
    const out: ReconcileCommandResult = {
      run_id: runId,
      discrepancies: result.discrepancies,
      reports: { discrepancies: shownPath(reports.discrepancies), summary: shownPath(reports.summary) },
    };
    return { result: out, counts: { ...result.discrepancies, unacknowledged: result.unacknowledged } };
  });
}

function printResult(ctx: AppContext, r: ReconcileCommandResult, json: boolean): void {
  if (json) {
    ctx.print(JSON.stringify(r));
    return;
  }
  const d = r.discrepancies;
  const types = Object.entries(d.by_type)
    .map(([t, n]) => `${t} ${n}`)
    .join(', ');
  ctx.print(`reconcile ${r.run_id}: ${d.open} open (${d.new} new), ${d.resolved} resolved${types ? `; ${types}` : ''}`);
  ctx.print(`report:  ${r.reports.discrepancies}`);
  ctx.print(`summary: ${r.reports.summary}`);
}

export function registerReconcileCommands(program: Command): void {
  program
    .command('reconcile')
    .description('reconcile what is in the database and write the discrepancy report and summary')
    .option('--json', 'print one JSON object on stdout')
    .option('--fail-on-discrepancy', 'exit 3 when open discrepancies remain')
    .option('--full', 'judge the whole book, not only what changed since the last run')
    .action(async (opts: { json?: boolean; failOnDiscrepancy?: boolean; full?: boolean }, cmd: Command) => {
      const ctx = createContext(cmd);
      try {
        const r = await reconcileCommand(ctx, { full: opts.full === true });
        printResult(ctx, r, Boolean(opts.json));
        if (opts.failOnDiscrepancy && r.discrepancies.open > 0) {
          throw new FlowreconError('DISCREPANCIES', `${r.discrepancies.open} open discrepancies (see ${r.reports.discrepancies})`);
        }
      } finally {
        await ctx.close();
      }
    });

  program
    .command('report')
    .description('write the discrepancy report again from the database (no network)')
    .option('--from <date>', 'occurred_at from, inclusive (ISO date or timestamp)')
    .option('--to <date>', 'occurred_at to, exclusive')
    .option('--out <file>', 'CSV file to write (default: under the reports directory)')
    .action(async (opts: { from?: string; to?: string; out?: string }, cmd: Command) => {
      const window = parseWindow(opts.from, opts.to, false);
      const ctx = createContext(cmd);
      try {
        const out = opts.out !== undefined ? resolve(opts.out) : reportPath(ctx.config.reportsDir, ctx.config.timeZone, 'discrepancies', ctx.clock.now());
        const r = await writeDiscrepancyReport({ db: ctx.db(), config: ctx.config }, { ...window, outPath: out });
        ctx.log.info({ stage: 'report', rows: r.rows, path: r.path }, 'report written');
        ctx.print(shownPath(r.path));
      } finally {
        await ctx.close();
      }
    });

  program
    .command('ack')
    .description('acknowledge a discrepancy: it stays in the report as acknowledged and no longer alerts')
    .argument('<discrepancy_id>', 'the discrepancy_id column of the report')
    .requiredOption('--note <text>', 'why it is known (kept with it)')
    .action(async (id: string, opts: { note: string }, cmd: Command) => {
      if (opts.note.trim() === '') throw new FlowreconError('USAGE', '--note must not be empty');
      const ctx = createContext(cmd);
      try {
        const r = acknowledge(ctx.db(), ctx.clock, id.trim(), opts.note);
        ctx.print(`acknowledged ${r.discrepancyId} (${r.type})`);
      } finally {
        await ctx.close();
      }
    });
}
