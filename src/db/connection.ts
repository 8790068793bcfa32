/**
 * The one place the SQL dialect is chosen. Everything else takes a `Db`.
 *
 * SQLite (better-sqlite3) is the embedded default. `db.kysely` is the typed
 * query builder for ordinary queries; `db.sqlite` is the raw synchronous
 * handle for hot paths (bulk page inserts, streaming reads) and for
 * `immediate()` transactions, which cannot interleave with other work because
 * better-sqlite3 is synchronous.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { FlowreconError } from '../errors.js';
import type { Database } from './types.js';
import { migrate } from './migrate.js';

export type Sqlite = BetterSqlite3.Database;

export interface Db {
  readonly path: string;
  readonly sqlite: Sqlite;
  readonly kysely: Kysely<Database>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** ms to wait on a locked database before SQLITE_BUSY. */
  busyTimeoutMs?: number;
  /** Apply pending migrations (default true). */
  migrate?: boolean;
}

export function openDatabase(path: string, options: OpenOptions = {}): Db {
  let sqlite: Sqlite;
  try {
    if (path !== ':memory:') {
      const dir = dirname(path);
      if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
      chmodSync(path, 0o600);
    }
    sqlite = new BetterSqlite3(path);
  } catch (err) {
    throw new FlowreconError('DATABASE', `cannot open database ${path}: ${(err as Error).message}`, { cause: err });
  }
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  if (options.migrate !== false) migrate(sqlite);
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  let closed = false;
  return {
    path,
    sqlite,
    kysely,
    async close() {
      if (closed) return;
      closed = true;
      await kysely.destroy(); // closes the sqlite handle too
    },
  };
}

/**
 * Run `fn` in a BEGIN IMMEDIATE transaction: the write lock is taken up front,
 * so two processes never both read-then-write the same state. All or nothing.
 */
export function immediate<T>(db: Db, fn: () => T): T {
  return db.sqlite.transaction(fn).immediate();
}
