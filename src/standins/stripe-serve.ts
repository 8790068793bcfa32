/**
 * Run the Stripe stand-in as its own process with a synthetic account:
 *   node --import tsx src/standins/stripe-serve.ts --charges 50000 --key sk_test_x [--latency-ms 0]
 * Prints one JSON line `{"url": ...}` on stdout once listening; stops on SIGTERM.
 * Benchmarks use it so the server's work is not counted in the client's process.
 */
import { parseArgs } from 'node:util';
import { startStripeStandin } from './stripe.js';
import { syntheticStripeDataset } from './stripe-data.js';

const { values } = parseArgs({
  options: {
    charges: { type: 'string', default: '1000' },
    key: { type: 'string', default: 'sk_test_standin' },
    'latency-ms': { type: 'string', default: '0' },
  },
});
const now = Math.floor(Date.now() / 1000);
const dataset = syntheticStripeDataset({ charges: Number(values.charges), apiKeys: [values.key as string], now: now - 120 });
const standin = await startStripeStandin({ dataset, latencyMs: Number(values['latency-ms']) });
process.stdout.write(`${JSON.stringify({ url: standin.url, charges: dataset.charges.length, refunds: dataset.refunds.length })}\n`);
const stop = () => void standin.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
