/**
 * `flowrecon schedule`: the jobs on their cron schedules (node-cron 4, in
 * FLOWRECON_TZ). One daemon per database (the `schedule` lease); within it
 * jobs run one at a time; each job also takes its own lease, so a manual
 * `flowrecon run` beside it never runs the same job twice at once.
 *
 * At start it catches up: a `run` when the last successful one is older than
 * its period, then every missed `daily` window. On abort (SIGTERM/SIGINT) it
 * stops scheduling, lets the current job finish its transaction and stop,
 * releases its leases and returns.
 */
import cron, { type ScheduledTask } from 'node-cron';
import { FlowreconError, isFlowreconError } from '../errors.js';
import { runCatchUpDue } from './catchup.js';
import { nextFire, parseSchedule, type Schedule } from './cron.js';
import type { Job, JobDeps, ScheduledJobName } from './jobs.js';
import { acquireLease } from './lease.js';

export interface DaemonOptions {
  signal: AbortSignal;
  /** Skip the catch-up at start (tests of the live schedule alone). */
  catchUp?: boolean;
}

function lastSuccess(deps: JobDeps, job: ScheduledJobName): string | null {
  const row = deps.db.sqlite
    .prepare(`SELECT MAX(started_at) AS t FROM runs WHERE job = ? AND status = 'succeeded'`)
    .get(job) as { t: string | null };
  return row.t;
}

export async function runDaemon(deps: JobDeps, jobs: readonly Job[], options: DaemonOptions): Promise<void> {
  const { signal } = options;
  const log = deps.log.child({ stage: 'schedule' });
  const schedules = new Map<ScheduledJobName, Schedule>(jobs.map((j) => [j.name, parseSchedule(j.schedule(deps.config), deps.config.timeZone, j.setting)]));

  const daemonLease = await acquireLease(deps, 'schedule', {
    ttlSeconds: deps.config.leaseTtlSeconds,
    waitSeconds: deps.config.leaseWaitSeconds,
    ...(deps.holder ? { holder: deps.holder } : {}),
    signal,
  });
  const stop = AbortSignal.any([signal, daemonLease.lost]);
  const tasks: ScheduledTask[] = [];
  const queued = new Set<ScheduledJobName>();
  let chain: Promise<void> = Promise.resolve();

  const execute = async (job: Job, fireAt: Date, reason: 'scheduled' | 'catch-up') => {
    if (stop.aborted) return;
    const started = Date.now();
    let status: 'succeeded' | 'failed' | 'skipped' = 'succeeded';
    let error: string | undefined;
    try {
      await job.run(deps, { signal: stop, fireAt });
    } catch (err) {
      if (isFlowreconError(err, 'LOCKED')) {
        status = 'skipped';
        log.warn({ job: job.name, err }, 'job skipped: another process holds it');
      } else {
        status = 'failed';
        error = deps.redactor.scrub(err instanceof Error ? err.message : String(err));
        if (!stop.aborted) log.error({ job: job.name, err }, 'job failed; the daemon keeps going');
      }
    }
    const next = nextFire(schedules.get(job.name) as Schedule, Date.now());
    log.info(
      { job: job.name, reason, status, ...(error ? { error } : {}), durationMs: Date.now() - started, next: next === null ? null : new Date(next).toISOString() },
      'heartbeat',
    );
  };

  /** Jobs run one at a time, in trigger order; a job already waiting is not queued twice. */
  const enqueue = (job: Job, fireAt: Date, reason: 'scheduled' | 'catch-up'): Promise<void> => {
    if (queued.has(job.name) || stop.aborted) return Promise.resolve();
    queued.add(job.name);
    chain = chain.then(async () => {
      queued.delete(job.name);
      await execute(job, fireAt, reason);
    });
    return chain;
  };

  try {
    if (options.catchUp !== false) {
      const now = deps.clock.now();
      const runJob = jobs.find((j) => j.name === 'run');
      if (runJob && runCatchUpDue(schedules.get('run') as Schedule, now.getTime(), lastSuccess(deps, 'run'))) {
        log.info({ job: 'run' }, 'catch-up: the last successful run is older than its period');
        void enqueue(runJob, now, 'catch-up');
      }
      const dailyJob = jobs.find((j) => j.name === 'daily');
      if (dailyJob) void enqueue(dailyJob, now, 'catch-up');
    }

    const cronLogger = {
      info: (m: string) => log.debug({ source: 'node-cron' }, m),
      warn: (m: string) => log.warn({ source: 'node-cron' }, m),
      error: (m: string | Error) => log.error({ source: 'node-cron', err: m }, 'node-cron error'),
      debug: (m: string | Error) => log.debug({ source: 'node-cron' }, String(m)),
    };
    for (const job of jobs) {
      const expression = (schedules.get(job.name) as Schedule).expression;
      const task = cron.schedule(expression, (c) => enqueue(job, c.date ?? deps.clock.now(), 'scheduled'), {
        name: job.name,
        timezone: deps.config.timeZone,
        noOverlap: true,
        logger: cronLogger,
      });
      tasks.push(task);
    }
    log.info(
      { timeZone: deps.config.timeZone, jobs: jobs.map((j) => ({ job: j.name, schedule: j.schedule(deps.config) })) },
      'scheduler started',
    );

    await new Promise<void>((resolve) => {
      if (stop.aborted) resolve();
      else stop.addEventListener('abort', () => resolve(), { once: true });
    });
    log.info({ reason: daemonLease.lost.aborted ? 'lease lost' : 'signal' }, 'stopping: no new jobs; waiting for the current one to finish');
  } finally {
    for (const t of tasks) await t.destroy();
    await chain.catch(() => undefined);
    daemonLease.release();
  }
  log.info('scheduler stopped');
  if (daemonLease.lost.aborted && !signal.aborted) {
    throw new FlowreconError('LOCKED', 'another flowrecon daemon took over this database (the schedule lease expired while this one was stalled); stopped');
  }
}
