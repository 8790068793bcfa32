/** The jobs `flowrecon schedule` runs. */
import { dailyJob } from './daily.js';
import { ledgerJob } from './ledger.js';
import { runJob } from './run.js';

export const JOBS = [ledgerJob, runJob, dailyJob] as const;
