/** SCHEDULE_RUN: the full pipeline (ledger, Stripe, reconcile, reports, alerts). */
import { runPipelineJob, type Job } from '../src/ops/jobs.js';

export const runJob: Job = {
  name: 'run',
  setting: 'SCHEDULE_RUN',
  schedule: (config) => config.scheduleRun,
  run: runPipelineJob,
};
