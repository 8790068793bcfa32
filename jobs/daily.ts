/** SCHEDULE_DAILY: yesterday's (in FLOWRECON_TZ) discrepancy report, summary and finance exports, plus any missed days. */
import { runDailyJob, type Job } from '../src/ops/jobs.js';

export const dailyJob: Job = {
  name: 'daily',
  setting: 'SCHEDULE_DAILY',
  schedule: (config) => config.scheduleDaily,
  run: runDailyJob,
};
