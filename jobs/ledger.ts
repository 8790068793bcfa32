/** SCHEDULE_LEDGER: poll the AgentFlow ledger and check the balance alerts. */
import { runLedgerJob, type Job } from '../src/ops/jobs.js';

export const ledgerJob: Job = {
  name: 'ledger',
  setting: 'SCHEDULE_LEDGER',
  schedule: (config) => config.scheduleLedger,
  run: runLedgerJob,
};
