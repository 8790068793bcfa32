import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { openDatabase } from '../src/db/connection.js';
import { listMigrations, migrate } from '../src/db/migrate.js';
import { tempDir } from './helpers.js';

test('a new database gets a 0700 directory, a 0600 file, WAL and the baseline', async () => {
  const dir = join(tempDir(), 'nested', 'data');
  const path = join(dir, 'flowrecon.db');
  const db = openDatabase(path);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(db.sqlite.pragma('journal_mode', { simple: true }), 'wal');
  const versions = db.sqlite.prepare('SELECT version FROM schema_migrations').pluck().all();
  assert.deepEqual(versions, listMigrations().map((m) => m.version));
  await db.close();
  // Opening again applies nothing twice.
  const again = openDatabase(path);
  assert.equal(again.sqlite.prepare('SELECT count(*) FROM schema_migrations').pluck().get(), versions.length);
  await again.close();
});

test('a failed migration is rolled back whole and stops with a clear error', () => {
  const sqlite = new BetterSqlite3(join(tempDir(), 'm.db'));
  const migrations = [
    { version: 1, name: 'baseline', sql: 'CREATE TABLE a (x INTEGER);' },
    { version: 2, name: 'broken', sql: 'CREATE TABLE b (y INTEGER); INSERT INTO nowhere VALUES (1);' },
  ];
  assert.throws(() => migrate(sqlite, migrations), /migration 2 \(broken\) failed and was rolled back/);
  const tables = sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
  assert.deepEqual(tables, ['a', 'schema_migrations'], 'table b must not survive the failed migration');
  assert.deepEqual(sqlite.prepare('SELECT version FROM schema_migrations').pluck().all(), [1]);
  sqlite.close();
});
