import type { Command } from 'commander';

/** `reconcile`, `report`, `ack`, `export calls` (issue 4). */
export function registerReconcileCommands(program: Command): void {
  void program;
}
