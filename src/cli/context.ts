/**
 * What every command gets: the frozen config, the root logger, the redactor,
 * the clock, and a lazily opened database. Built once per process at the edge.
 */
import type { Command } from 'commander';
import { loadConfig, type Config } from '../config.js';
import { systemClock, type Clock } from '../clock.js';
import { openDatabase, type Db } from '../db/connection.js';
import { createLogger, type Logger } from '../log.js';
import { redactorFor, type Redactor } from '../secrets.js';

export interface AppContext {
  readonly config: Config;
  readonly log: Logger;
  readonly redactor: Redactor;
  readonly clock: Clock;
  /** True when stderr is a terminal (progress lines are shown only then). */
  readonly interactive: boolean;
  /** Print to stdout (results, JSON). Secrets are scrubbed. */
  print(text: string): void;
  /** The database, opened and migrated on first use. */
  db(): Db;
  close(): Promise<void>;
}

/** The root program's global options (`--config FILE`). */
export function globalOptions(cmd: Command): { config?: string } {
  let root: Command = cmd;
  while (root.parent) root = root.parent;
  return root.opts<{ config?: string }>();
}

export function createContext(cmd: Command, env: NodeJS.ProcessEnv = process.env): AppContext {
  const config = loadConfig({ env, configFile: globalOptions(cmd).config });
  const redactor = redactorFor(config);
  const log = createLogger({ level: config.logLevel, redactor });
  let db: Db | undefined;
  return {
    config,
    log,
    redactor,
    clock: systemClock,
    interactive: Boolean(process.stderr.isTTY),
    print(text: string) {
      process.stdout.write(`${redactor.scrub(text)}\n`);
    },
    db() {
      db ??= openDatabase(config.dbPath);
      return db;
    },
    async close() {
      await db?.close();
      db = undefined;
    },
  };
}
