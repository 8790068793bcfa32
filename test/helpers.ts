/** Shared test plumbing: temp dirs, the CLI spawned as a real process, in-memory logs. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { createLogger, type Logger } from '../src/log.js';
import { Redactor } from '../src/secrets.js';

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
export const BIN = join(REPO_ROOT, 'bin', 'flowrecon.js');

/** A fresh temp directory, removed when the test file finishes. */
export function tempDir(prefix = 'flowrecon-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface SpawnOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Kill with this signal after ms (for crash tests). */
  killAfterMs?: number;
  killSignal?: NodeJS.Signals;
  timeoutMs?: number;
  /** Called with the child right after spawn (e.g. to kill it when a server sees its Nth request). */
  onSpawn?: (child: ChildProcess) => void;
}

/**
 * Run `flowrecon ...args` as a child process. The environment is minimal and
 * explicit: only PATH/HOME plus what the test passes, so the developer's own
 * settings never leak into a test.
 */
export function runCli(args: string[], options: SpawnOptions = {}): Promise<CliResult> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info' };
  for (const [k, v] of Object.entries(options.env ?? {})) if (v !== undefined) env[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    options.onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timers: NodeJS.Timeout[] = [];
    if (options.killAfterMs !== undefined) {
      timers.push(setTimeout(() => child.kill(options.killSignal ?? 'SIGKILL'), options.killAfterMs));
    }
    timers.push(setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const t of timers) clearTimeout(t);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A logger writing JSON lines into memory, for asserting on logs. */
export function memoryLogger(redactor = new Redactor(), level = 'debug'): { log: Logger; lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  const log = createLogger({ level, redactor, destination });
  return {
    log,
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
