/** Shared plumbing of the spawned-CLI ledger tests: a stand-in in this process, an env for the child, dumps. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { startAgentflowStandin, type AgentflowStandinOptions } from '../src/standins/agentflow.js';
import { addSyntheticTraffic, LedgerFeedBuilder } from '../src/standins/ledger-feed.js';
import type { WireMovement } from '../src/standins/types.js';
import { tempDir } from './helpers.js';

export const CANARY_COOKIE = 'canary-cookie-e2e-51f0a7';
export const CANARY_FILE_COOKIE = 'canary-filecookie-e2e-9d33c2';
export const CANARY_KEY = 'canary-apikey-e2e-0be6d4';

export async function e2eStandin(count: number, options: Partial<AgentflowStandinOptions> = {}) {
  const feed = new LedgerFeedBuilder();
  addSyntheticTraffic(feed, count, { seed: 77 });
  const standin = await startAgentflowStandin({
    dataset: { accountId: 'acc_e2e', movements: feed.movements, sessions: [CANARY_COOKIE, CANARY_FILE_COOKIE], apiKeys: [CANARY_KEY] },
    rateLimitPerMin: 0,
    ...options,
  });
  after(() => standin.close());
  const dir = tempDir('flowrecon-ledger-e2e-');
  const env = (extra: Record<string, string | undefined> = {}): Record<string, string | undefined> => ({
    AGENTFLOW_BASE_URL: standin.url,
    AGENTFLOW_SESSION: CANARY_COOKIE,
    AGENTFLOW_RETRY_BASE_MS: '5',
    FLOWRECON_DB: join(dir, 'flowrecon.db'),
    FLOWRECON_REPORTS_DIR: join(dir, 'reports'),
    ...extra,
  });
  return { feed, standin, dir, env, dbPath: join(dir, 'flowrecon.db') };
}

/** Every row of the given tables (all tables when none given), as one comparable value. */
export function dumpDb(path: string, tables?: string[]): Record<string, unknown[]> {
  const db = new BetterSqlite3(path, { readonly: true });
  try {
    const names =
      tables ?? (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[]);
    const rows = (t: string) => {
      try {
        return db.prepare(`SELECT * FROM "${t}" ORDER BY rowid`).all();
      } catch {
        return db.prepare(`SELECT * FROM "${t}"`).all(); // WITHOUT ROWID tables: scan order
      }
    };
    return Object.fromEntries(names.map((t) => [t, rows(t)]));
  } finally {
    db.close();
  }
}

export function heldIds(path: string): string[] {
  const db = new BetterSqlite3(path, { readonly: true });
  try {
    return db.prepare('SELECT movement_id FROM ledger_movements ORDER BY seq').pluck().all() as string[];
  } finally {
    db.close();
  }
}

/** The text of every file under `dir` (the database and its WAL included, read as bytes). */
export function everyFileText(dir: string): string {
  let out = '';
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    out += statSync(p).isDirectory() ? everyFileText(p) : readFileSync(p).toString('latin1');
  }
  return out;
}

/** The `export movements` row (CONTRACT 8) a served wire movement must come out as. */
export function movementExportRow(m: WireMovement): Record<string, string> {
  return {
    movement_id: m.id,
    type: m.type,
    call_id: m.call_id ?? '',
    agent_slug: m.agent_slug ?? '',
    call_status: m.call_status ?? '',
    amount: m.amount,
    balance_after: m.balance_after,
    created_at: m.created_at,
  };
}
