import type { Command } from 'commander';

/** `sync ledger`, `export movements` (issue 2). */
export function registerLedgerCommands(program: Command): void {
  void program;
}
