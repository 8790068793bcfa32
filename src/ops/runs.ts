/**
 * Run records: every job run is a row in `runs` (id, job, window, started,
 * finished, status, error, counts). The ops engineer extends this module.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Db } from '../db/connection.js';
import type { Redactor } from '../secrets.js';

export type JobName = 'run' | 'ledger' | 'daily' | 'sync-ledger' | 'sync-stripe' | 'sync-all' | 'reconcile' | 'demo';

/** `run_20261204T100000Z_3fa1`: sortable by start, unique across processes. */
export function newRunId(clock: Clock): string {
  const stamp = clock.now().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  return `run_${stamp}_${randomBytes(3).toString('hex')}`;
}

export interface RunWindow {
  from?: string;
  to?: string;
}

export function startRun(db: Db, clock: Clock, job: JobName, options: { runId?: string; window?: RunWindow } = {}): string {
  const runId = options.runId ?? newRunId(clock);
  db.sqlite
    .prepare(
      `INSERT INTO runs (run_id, job, window_from, window_to, started_at, status, counts_json)
       VALUES (?, ?, ?, ?, ?, 'running', '{}')`,
    )
    .run(runId, job, options.window?.from ?? null, options.window?.to ?? null, clock.now().toISOString());
  return runId;
}

export function finishRun(
  db: Db,
  clock: Clock,
  runId: string,
  outcome: { status: 'succeeded' | 'failed'; error?: string; counts?: Record<string, unknown> },
): void {
  db.sqlite
    .prepare(`UPDATE runs SET finished_at = ?, status = ?, error = ?, counts_json = ? WHERE run_id = ?`)
    .run(clock.now().toISOString(), outcome.status, outcome.error ?? null, JSON.stringify(outcome.counts ?? {}), runId);
}

/**
 * Record `fn` as a run of `job`: a `running` row first, then `succeeded` with
 * the counts it returns, or `failed` with the (scrubbed) error message, rethrown.
 */
export async function withRun<T>(
  deps: { db: Db; clock: Clock; redactor: Redactor },
  job: JobName,
  fn: (runId: string) => Promise<{ result: T; counts?: Record<string, unknown> }>,
  options: { runId?: string; window?: RunWindow } = {},
): Promise<T> {
  const runId = startRun(deps.db, deps.clock, job, options);
  try {
    const { result, counts } = await fn(runId);
    finishRun(deps.db, deps.clock, runId, { status: 'succeeded', counts: counts ?? {} });
    return result;
  } catch (err) {
    const message = deps.redactor.scrub(err instanceof Error ? err.message : String(err));
    finishRun(deps.db, deps.clock, runId, { status: 'failed', error: message });
    throw err;
  }
}

/**
 * Runs of `job` still marked running when this process has just taken the
 * job's lease belong to a process that died holding it (the lease expired):
 * close them as failed so status and catch-up do not count them as running.
 */
export function abandonStaleRuns(db: Db, clock: Clock, job: JobName): number {
  return db.sqlite
    .prepare(`UPDATE runs SET status = 'failed', finished_at = ?, error = ? WHERE job = ? AND status = 'running'`)
    .run(clock.now().toISOString(), 'abandoned: the process running it stopped without finishing (its lease expired)', job).changes;
}
