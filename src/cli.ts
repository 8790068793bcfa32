/**
 * The command line (CONTRACT 6). This file only parses arguments and hands
 * them to the stage functions; the one place errors become exit codes and
 * messages is `main` below.
 */
import { Command, CommanderError } from 'commander';
import { exitCodeFor, FlowreconError } from './errors.js';
import { Redactor } from './secrets.js';
import { registerLedgerCommands } from './cli/ledger.js';
import { registerStripeCommands } from './cli/stripe.js';
import { registerReconcileCommands } from './cli/reconcile.js';
import { registerOpsCommands } from './cli/ops.js';
import { registerDemoCommand } from './cli/demo.js';
import { registerExportCommand } from './cli/export.js';

export function buildProgram(): Command {
  const program = new Command('flowrecon')
    .description('Reconcile the AgentFlow FLOW ledger with Stripe USD charges; write CSV reports and send alerts.')
    .option('--config <file>', 'JSON settings file (keys are the setting names in lower case; the environment wins)')
    .showHelpAfterError()
    .exitOverride();
  registerLedgerCommands(program);
  registerStripeCommands(program);
  registerReconcileCommands(program);
  registerOpsCommands(program);
  registerExportCommand(program);
  registerDemoCommand(program);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

/** Secrets known at failure time, so even an error thrown before a logger exists is scrubbed. */
export const failureRedactor = new Redactor();

export async function main(argv: string[] = process.argv): Promise<number> {
  for (const name of ['AGENTFLOW_SESSION', 'AGENTFLOW_API_KEY', 'STRIPE_API_KEY']) failureRedactor.add(process.env[name]);
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are successes; every other parse failure is bad usage.
      return err.exitCode === 0 ? 0 : 2;
    }
    const code = exitCodeFor(err);
    const message = err instanceof Error ? err.message : String(err);
    const label = err instanceof FlowreconError ? err.code.toLowerCase() : 'error';
    process.stderr.write(`flowrecon: ${label}: ${failureRedactor.scrub(message)}\n`);
    return code;
  }
}
