/** SCHEDULE_RUN: the full pipeline (ledger, Stripe, reconcile, reports, alerts). */
import { withApis, type Job } from '../src/ops/jobs.js';
import { runPipeline } from '../src/pipeline/run.js';

export const runJob: Job = {
  name: 'run',
  setting: 'SCHEDULE_RUN',
  schedule: (config) => config.scheduleRun,
  run: (deps, ctx) =>
    withApis(
      deps,
      ({ ledgerApi, stripeApi }) => runPipeline({ ...deps, ledgerApi, stripeApi: stripeApi ?? deps.stripeApi() }, { signal: ctx.signal }),
      true,
    ),
};
