/**
 * Schema migrations. `schema.sql` is migration 1 (the baseline); later
 * changes are `src/db/migrations/NNNN_name.sql`. Each is applied in its own
 * transaction and recorded in `schema_migrations`; a failure rolls that
 * migration back and stops the program.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type BetterSqlite3 from 'better-sqlite3';
import { FlowreconError } from '../errors.js';

const ROOT = new URL('../../', import.meta.url);
const BASELINE = fileURLToPath(new URL('schema.sql', ROOT));
const MIGRATIONS_DIR = fileURLToPath(new URL('src/db/migrations/', ROOT));

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function listMigrations(): Migration[] {
  const list: Migration[] = [{ version: 1, name: 'baseline', sql: readFileSync(BASELINE, 'utf8') }];
  let files: string[] = [];
  try {
    files = readdirSync(MIGRATIONS_DIR).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f));
  } catch {
    files = [];
  }
  for (const file of files.sort()) {
    const version = Number(file.slice(0, 4));
    if (version <= 1) throw new FlowreconError('DATABASE', `migration ${file}: numbers start at 0002 (0001 is schema.sql)`);
    list.push({ version, name: file.slice(5, -4), sql: readFileSync(MIGRATIONS_DIR + file, 'utf8') });
  }
  return list;
}

export function migrate(sqlite: BetterSqlite3.Database, migrations: Migration[] = listMigrations()): number[] {
  sqlite.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
  );
  const applied = new Set(
    (sqlite.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
  );
  const done: number[] = [];
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    try {
      sqlite
        .transaction(() => {
          sqlite.exec(m.sql);
          sqlite
            .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
            .run(m.version, m.name, new Date().toISOString());
        })
        .immediate();
    } catch (err) {
      throw new FlowreconError('DATABASE', `migration ${m.version} (${m.name}) failed and was rolled back: ${(err as Error).message}`, {
        cause: err,
      });
    }
    done.push(m.version);
  }
  return done;
}
