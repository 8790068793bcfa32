import type { Command } from 'commander';

/** `run`, `schedule`, `status`, `alerts test` (issue 5). */
export function registerOpsCommands(program: Command): void {
  void program;
}
