/**
 * What a scheduled job is, and the two job bodies that are not the full
 * pipeline: the ledger poll and the daily reports. The files in jobs/ tie
 * each to its schedule.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../clock.js';
import { readSessionToken, type Config } from '../config.js';
import type { Db } from '../db/connection.js';
import { isFlowreconError } from '../errors.js';
import type { LedgerApi } from '../ledger/client.js';
import type { Logger } from '../log.js';
import type { Redactor } from '../secrets.js';
import type { StripeApi } from '../stripe/client.js';
import { evaluateAlerts } from '../alert/index.js';
import { markLedgerSyncOk } from '../alert/inputs.js';
import { interrupted, throwIfStopped } from './abort.js';
import { missedDailyWindows, type DailyWindow } from './catchup.js';
import { parseSchedule } from './cron.js';
import { withLease } from './lease.js';
import { abandonStaleRuns, finishRun, startRun, withRun } from './runs.js';
import { runPipeline, type RunSummary } from '../pipeline/run.js';
import { stagesWith, type Stages } from './stages.js';

export type ScheduledJobName = 'ledger' | 'run' | 'daily';

export interface JobDeps {
  db: Db;
  config: Config;
  clock: Clock;
  log: Logger;
  redactor: Redactor;
  /** Built fresh for each job run, so a rotated AGENTFLOW_SESSION_FILE is picked up without a restart. */
  ledgerApi(): LedgerApi;
  stripeApi(): StripeApi;
  stages?: Partial<Stages>;
  holder?: string;
}

export interface JobContext {
  signal: AbortSignal;
  /** The time the schedule fired (or the catch-up time). */
  fireAt: Date;
}

export interface Job {
  readonly name: ScheduledJobName;
  /** The setting that holds its cron expression, for messages. */
  readonly setting: 'SCHEDULE_LEDGER' | 'SCHEDULE_RUN' | 'SCHEDULE_DAILY';
  schedule(config: Config): string;
  run(deps: JobDeps, ctx: JobContext): Promise<unknown>;
}

export function leaseOptions(deps: Pick<JobDeps, 'config' | 'holder'>, signal?: AbortSignal) {
  return {
    ttlSeconds: deps.config.leaseTtlSeconds,
    waitSeconds: deps.config.leaseWaitSeconds,
    ...(deps.holder ? { holder: deps.holder } : {}),
    ...(signal ? { signal } : {}),
  };
}

/** The session cookie is a secret the redactor must know, whichever source it came from this run. */
export function learnSessionSecret(deps: Pick<JobDeps, 'config' | 'redactor'>): void {
  try {
    deps.redactor.add(readSessionToken(deps.config));
  } catch {
    // an unreadable session file fails the ledger client with a clear CONFIG error
  }
}

/** Open the ledger client for one job run, close it however the job ends. */
export async function withLedgerApi<T>(deps: JobDeps, fn: (ledgerApi: LedgerApi) => Promise<T>): Promise<T> {
  learnSessionSecret(deps);
  const ledgerApi = deps.ledgerApi();
  try {
    return await fn(ledgerApi);
  } finally {
    await ledgerApi.close().catch(() => undefined);
  }
}

/** The full pipeline as a scheduled job. A client that cannot even be built (unreadable session file) is still a failed, recorded run. */
export async function runPipelineJob(deps: JobDeps, ctx: JobContext): Promise<RunSummary> {
  let opened: { ledgerApi: LedgerApi; stripeApi: StripeApi } | undefined;
  try {
    learnSessionSecret(deps);
    const ledgerApi = deps.ledgerApi();
    try {
      opened = { ledgerApi, stripeApi: deps.stripeApi() };
    } catch (err) {
      await ledgerApi.close().catch(() => undefined);
      throw err;
    }
  } catch (err) {
    const runId = startRun(deps.db, deps.clock, 'run');
    finishRun(deps.db, deps.clock, runId, { status: 'failed', error: deps.redactor.scrub(err instanceof Error ? err.message : String(err)) });
    throw err;
  }
  try {
    return await runPipeline({ ...deps, ...opened }, { signal: ctx.signal });
  } finally {
    await opened.ledgerApi.close().catch(() => undefined);
    await opened.stripeApi.close().catch(() => undefined);
  }
}

/** The ledger poll: sync, then the balance alerts (LOW_BALANCE, LOW_RUNWAY, SYNC_STALE, AUTH_FAILED). */
export async function runLedgerJob(deps: JobDeps, ctx: JobContext): Promise<{ runId: string }> {
  const stages = stagesWith(deps.stages);
  return withLease(deps, 'ledger', leaseOptions(deps, ctx.signal), (lease) => {
    abandonStaleRuns(deps.db, deps.clock, 'ledger');
    return withRun(deps, 'ledger', (runId) =>
      withLedgerApi(deps, async (ledgerApi) => {
        const log = deps.log.child({ job: 'ledger', runId });
        const signal = AbortSignal.any([ctx.signal, lease.lost]);
        const alertDeps = { ...deps, log };
        let result;
        try {
          result = await stages.syncLedger({ db: deps.db, api: ledgerApi, clock: deps.clock, log: log.child({ stage: 'ledger' }) }, { pageSize: deps.config.agentflowPageSize, signal });
        } catch (err) {
          await evaluateAlerts(alertDeps, { types: ['AUTH_FAILED', 'SYNC_STALE'], ...(isFlowreconError(err, 'AUTH') ? { authFailed: true } : {}), signal });
          throw err;
        }
        throwIfStopped(signal, 'the ledger sync');
        if (result.aborted) throw interrupted('the ledger sync');
        markLedgerSyncOk(deps.db, deps.clock);
        const alerts = await evaluateAlerts(alertDeps, { types: ['LOW_BALANCE', 'LOW_RUNWAY', 'AUTH_FAILED', 'SYNC_STALE'], authFailed: false, signal });
        const { balance: _balance, ...counts } = result;
        return { result: { runId }, counts: { ...counts, alerts: alerts.events.length } };
      }),
    );
  });
}

/** Report dates already produced by a successful daily run, and the end of the newest. */
export function dailyDone(db: Db): { lastDoneTo: string | null; doneDates: Set<string>; dates: Map<string, string> } {
  const rows = db.sqlite
    .prepare(`SELECT window_from, window_to, counts_json FROM runs WHERE job = 'daily' AND status = 'succeeded' AND window_to IS NOT NULL`)
    .all() as { window_from: string; window_to: string; counts_json: string }[];
  const doneDates = new Set<string>();
  const dates = new Map<string, string>();
  let lastDoneTo: string | null = null;
  for (const r of rows) {
    const date = (JSON.parse(r.counts_json) as { date?: string }).date;
    if (date) {
      doneDates.add(date);
      dates.set(date, r.window_to);
    }
    if (lastDoneTo === null || Date.parse(r.window_to) > Date.parse(lastDoneTo)) lastDoneTo = r.window_to;
  }
  return { lastDoneTo, doneDates, dates };
}

/** One daily window: its discrepancy report, the run summary and the three finance exports into <reports>/<date>/. */
export async function runDailyWindow(deps: JobDeps, window: DailyWindow, signal?: AbortSignal): Promise<{ runId: string; dir: string }> {
  const stages = stagesWith(deps.stages);
  const { db, config } = deps;
  const dir = join(config.reportsDir, window.date);
  return withRun(
    deps,
    'daily',
    async (runId) => {
      const log = deps.log.child({ job: 'daily', runId, date: window.date });
      mkdirSync(dir, { recursive: true });
      const span = { from: window.from, to: window.to };
      const report = await stages.writeDiscrepancyReport({ db, config }, { ...span, outPath: join(dir, `discrepancies-${window.date}.csv`) });
      throwIfStopped(signal, 'the daily reports');
      const summary = await stages.writeSummary(db, join(dir, `summary-${window.date}.csv`));
      const calls = await stages.exportCalls(db, config, span, join(dir, `calls-${window.date}.csv`));
      throwIfStopped(signal, 'the daily exports');
      const movements = await stages.exportMovements(db, span, join(dir, `movements-${window.date}.csv`));
      const charges = await stages.exportCharges(db, span, join(dir, `charges-${window.date}.csv`));
      const files = { discrepancies: report.path, summary: summary.path, calls: calls.path, movements: movements.path, charges: charges.path };
      log.info({ files }, 'daily reports written');
      return {
        result: { runId, dir },
        counts: { date: window.date, discrepancies: report.rows, calls: calls.rows, movements: movements.rows, charges: charges.rows, files },
      };
    },
    { window: { from: window.from, to: window.to } },
  );
}

/** Every daily window due by `ctx.fireAt` and not yet done, oldest first, each once. */
export async function runDailyJob(deps: JobDeps, ctx: JobContext): Promise<{ windows: string[] }> {
  const schedule = parseSchedule(deps.config.scheduleDaily, deps.config.timeZone, 'SCHEDULE_DAILY');
  return withLease(deps, 'daily', leaseOptions(deps, ctx.signal), async (lease) => {
    abandonStaleRuns(deps.db, deps.clock, 'daily');
    const signal = AbortSignal.any([ctx.signal, lease.lost]);
    // Decided inside the lease, so two processes never produce the same window.
    const upTo = Math.max(ctx.fireAt.getTime(), deps.clock.now().getTime());
    const { windows, dropped } = missedDailyWindows(schedule, upTo, dailyDone(deps.db));
    if (dropped > 0) deps.log.warn({ stage: 'daily', dropped }, 'more daily windows missed than are caught up at once; the oldest are skipped');
    const done: string[] = [];
    for (const w of windows) {
      throwIfStopped(signal, 'the daily catch-up');
      await runDailyWindow(deps, w, signal);
      done.push(w.date);
    }
    return { windows: done };
  });
}
