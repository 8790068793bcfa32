import type { Command } from 'commander';

/** `sync stripe`, `export charges` (issue 3). */
export function registerStripeCommands(program: Command): void {
  void program;
}
