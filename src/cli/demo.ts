import type { Command } from 'commander';

/** `demo` (issue 6). */
export function registerDemoCommand(program: Command): void {
  void program;
}
